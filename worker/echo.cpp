// Echo. The common case costs one read() and one write(): bytes land in the worker's scratch
// buffer and go straight back. Only what the peer does not take at once is copied into the
// connection's output queue. A read never asks for more than the queue has room for, since none
// of it may be written at once, and a connection with output waiting is not read while its queue
// is full or the worker's budget spent, so clients that never read cannot make the worker grow.
#include "worker/echo.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/log.hpp"
#include "worker/connection.hpp"

namespace corral {
namespace {

bool is_transient(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

void close_on_error(Connection& connection, const char* call) {
    // Peers resetting or vanishing is ordinary traffic, not a server problem.
    log_debug("%s() on a connection failed: %m; closing it", call);
    connection.table->close(connection);
}

void flush_output(Connection& connection) {
    ConnectionTable& table = *connection.table;
    const std::int64_t written = table.flush_output(connection);
    if (written < 0) {
        close_on_error(connection, "writev");
        return;
    }
    if (written > 0) {
        table.bytes_sent += static_cast<std::uint64_t>(written);
        table.touch(connection);
    }
    if (!connection.output.empty()) return;
    if (connection.peer_done_sending) {
        table.close(connection);
        return;
    }
    table.watch(connection, EPOLLIN);
}

void read_and_echo(Connection& connection) {
    ConnectionTable& table = *connection.table;
    const std::size_t max_output = table.limits().max_output_buffer;
    const std::size_t queued = connection.output.size();
    if (queued >= max_output || (queued > 0 && table.output_budget_spent())) {
        table.watch(connection, EPOLLOUT);
        return;
    }
    std::span<char> scratch = table.scratch();
    const std::size_t room = std::min(scratch.size(), max_output - queued);

    const ssize_t received = ::read(connection.fd.get(), scratch.data(), room);
    if (received < 0) {
        if (!is_transient(errno)) close_on_error(connection, "read");
        return;
    }
    if (received == 0) {
        connection.peer_done_sending = true;
        if (connection.output.empty()) table.close(connection);
        else table.watch(connection, EPOLLOUT);
        return;
    }
    table.bytes_received += static_cast<std::uint64_t>(received);
    table.touch(connection);

    std::span<const char> pending(scratch.data(), static_cast<std::size_t>(received));
    if (connection.output.empty()) {
        const ssize_t written = ::write(connection.fd.get(), pending.data(), pending.size());
        if (written < 0 && !is_transient(errno)) {
            close_on_error(connection, "write");
            return;
        }
        if (written > 0) {
            table.bytes_sent += static_cast<std::uint64_t>(written);
            pending = pending.subspan(static_cast<std::size_t>(written));
        }
        if (pending.empty()) return;
    }
    table.queue_output(connection, pending);
    const bool full = connection.output.size() >= max_output || table.output_budget_spent();
    table.watch(connection, full ? EPOLLOUT : (EPOLLIN | EPOLLOUT));
}

}  // namespace

void serve_echo(Connection& connection, std::uint32_t ready) {
    if ((ready & EPOLLOUT) && !connection.output.empty()) {
        flush_output(connection);
        if (!connection.open) return;
    }
    if ((ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !connection.peer_done_sending) {
        read_and_echo(connection);
        return;
    }
    // Hung up while we still owe bytes and cannot read: nothing more will ever arrive or leave.
    if ((ready & (EPOLLHUP | EPOLLERR)) && connection.open) {
        if (connection.output.empty() || (ready & EPOLLERR)) connection.table->close(connection);
    }
}

}  // namespace corral
