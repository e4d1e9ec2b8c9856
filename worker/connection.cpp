// Connections: the transport services speak through, and the table that opens, closes and times
// them out.
#include "worker/connection.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <cerrno>
#include <vector>

#include "common/errno_text.hpp"
#include "common/log.hpp"
#include "common/units.hpp"

namespace corral {
namespace {

// How long the worker may stay over limits.max_worker_output before it closes connections: long
// enough for slow readers to catch up, short against a client that never will.
constexpr std::chrono::seconds kOverBudgetGrace{5};
// One warning per spell of spent budget, and no more often than this.
constexpr std::chrono::seconds kBudgetWarningQuietPeriod{10};

// Input a service may leave unconsumed: far above what a request of any sane protocol needs
// (an http head stops at 16 KiB), small against a service that never consumes anything.
constexpr std::size_t kMaxUnconsumed = 1024 * 1024;

bool is_transient(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

}  // namespace

void Service::peer_finished(Connection& connection) { connection.close_after_flush(); }

void Service::deadline_passed(Connection& connection) { connection.close(); }

void Connection::handle_event(std::uint32_t ready) {
    if (!open) return;  // closed earlier in this batch
    if ((ready & EPOLLOUT) && !output.empty()) {
        flush();
        if (!open) return;
    }
    if ((ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !peer_done_sending && !closing) {
        read_input();
        return;
    }
    // Hung up while we still owe bytes and cannot read: nothing more will ever arrive or leave.
    if ((ready & (EPOLLHUP | EPOLLERR)) && (output.empty() || (ready & EPOLLERR))) close();
}

void Connection::read_input() {
    if (output_full()) {
        table->watch(*this, EPOLLOUT);
        return;
    }
    // Never more than the output queue has room for: none of what a read brings may be written
    // at once, and an echo, for one, owes all of it back.
    std::span<char> scratch = table->scratch();
    const std::size_t room = std::min(scratch.size(), table->limits().max_output_buffer - output.size());
    const ssize_t received = ::read(fd.get(), scratch.data(), room);
    if (received < 0) {
        if (!is_transient(errno)) close_on_error("read");
        return;
    }
    if (received == 0) {
        peer_done_sending = true;
        service->peer_finished(*this);
        return;
    }
    table->bytes_received += static_cast<std::uint64_t>(received);
    table->touch(*this);
    offer(std::span<const char>(scratch.data(), static_cast<std::size_t>(received)));
    if (open) update_interest();
}

void Connection::offer(std::span<const char> bytes) {
    if (unconsumed.empty()) {
        const std::size_t consumed = service->received(*this, bytes);
        if (open && consumed < bytes.size()) unconsumed.assign(bytes.data() + consumed, bytes.size() - consumed);
        return;
    }
    unconsumed.append(bytes.data(), bytes.size());
    const std::size_t consumed = service->received(*this, unconsumed);
    if (!open) return;
    unconsumed.erase(0, consumed);
    if (unconsumed.size() > kMaxUnconsumed) table->close_hoarding(*this, kMaxUnconsumed);
}

void Connection::send(std::span<const char> bytes) {
    if (!open || closing || bytes.empty()) return;
    if (output.empty()) {
        const ssize_t written = ::write(fd.get(), bytes.data(), bytes.size());
        if (written < 0 && !is_transient(errno)) {
            close_on_error("write");
            return;
        }
        if (written > 0) {
            table->bytes_sent += static_cast<std::uint64_t>(written);
            bytes = bytes.subspan(static_cast<std::size_t>(written));
        }
        if (bytes.empty()) return;
    }
    table->queue_output(*this, bytes);
}

void Connection::close_after_flush() {
    if (!open) return;
    closing = true;
    if (output.empty()) close();
    else table->watch(*this, EPOLLOUT);
}

void Connection::close() { table->close(*this); }

void Connection::set_deadline(std::chrono::milliseconds from_now) {
    if (open) table->set_deadline(*this, Clock::now() + from_now);
}

void Connection::clear_deadline() { table->clear_deadline(*this); }

void Connection::flush() {
    const std::int64_t written = table->flush_output(*this);
    if (written < 0) {
        close_on_error("writev");
        return;
    }
    if (written > 0) {
        table->bytes_sent += static_cast<std::uint64_t>(written);
        table->touch(*this);
    }
    if (!output.empty()) return;
    if (closing || peer_done_sending) {
        close();
        return;
    }
    table->watch(*this, EPOLLIN);
    if (!open) return;
    service->drained(*this);
    // What the service left while the output was full: no read will bring it back.
    if (open && !closing && !unconsumed.empty()) {
        offer({});
        if (open) update_interest();
    }
}

bool Connection::output_full() const {
    return output.size() >= table->limits().max_output_buffer || (!output.empty() && table->output_budget_spent());
}

void Connection::update_interest() {
    if (closing) return;
    std::uint32_t wanted = EPOLLIN;
    if (!output.empty()) wanted = output_full() ? EPOLLOUT : (EPOLLIN | EPOLLOUT);
    // The common case, after every read: nothing changes.
    if (fd.events() != wanted) table->watch(*this, wanted);
}

void Connection::close_on_error(const char* call) {
    // Peers resetting or vanishing is ordinary traffic, not a server problem.
    log_debug("%s() on a connection failed: %s; closing it", call, errno_text().c_str());
    close();
}

ConnectionTable::ConnectionTable(EventLoop& loop, const LimitsConfig& limits,
                                 std::chrono::milliseconds idle_timeout)
    : loop_(loop), limits_(limits), idle_timeout_(idle_timeout), scratch_(limits.read_buffer) {}

ConnectionTable::~ConnectionTable() { close_all(); }

Connection* ConnectionTable::open(Fd fd, Service& service) {
    Connection* connection = free_;
    if (connection != nullptr) {
        free_ = connection->newer;
    } else {
        connection = &slots_.emplace_back();
    }
    connection->table = this;
    connection->fd = WatchedFd(loop_, std::move(fd));
    connection->service = &service;
    connection->peer_done_sending = false;
    connection->closing = false;
    connection->open = true;
    if (!connection->fd.watch(EPOLLIN, connection)) {
        log_error("epoll_ctl(ADD) for a new connection failed: %s", errno_text().c_str());
        connection->fd.close();
        connection->open = false;
        connection->newer = free_;
        free_ = connection;
        return nullptr;
    }
    ++active_;
    connection->last_activity = Clock::now();
    link_idle(*connection);
    service.opened(*connection);
    return connection;
}

void ConnectionTable::close(Connection& connection) {
    if (!connection.open) return;
    connection.open = false;
    unlink_idle(connection);
    clear_deadline(connection);
    connection.fd.close();
    queued_ -= connection.output.size();
    connection.output.clear(chunks_);
    connection.state.reset();
    // A slot may stay unused for long: it keeps no input memory meanwhile.
    if (connection.unconsumed.capacity() > 0) std::string().swap(connection.unconsumed);
    --active_;
    closed_.push_back(&connection);
}

void ConnectionTable::release_closed() {
    for (Connection* connection : closed_) {
        connection->newer = free_;
        free_ = connection;
    }
    closed_.clear();
}

bool ConnectionTable::watch(Connection& connection, std::uint32_t events) {
    if (connection.fd.watch(events, &connection)) return true;
    log_error("epoll_ctl(MOD) for a connection failed: %s", errno_text().c_str());
    close(connection);
    return false;
}

void ConnectionTable::touch(Connection& connection) {
    connection.last_activity = Clock::now();
    if (newest_ == &connection) return;
    unlink_idle(connection);
    link_idle(connection);
}

void ConnectionTable::close_idle(Clock::time_point now) {
    if (idle_timeout_.count() == 0) return;
    while (oldest_ != nullptr && now - oldest_->last_activity >= idle_timeout_) {
        log_debug("closing a connection idle for %lld ms", static_cast<long long>(idle_timeout_.count()));
        close(*oldest_);
    }
}

void ConnectionTable::set_deadline(Connection& connection, Clock::time_point at) {
    clear_deadline(connection);
    connection.deadline = at;
    Connection* sooner = latest_deadline_;
    while (sooner != nullptr && *sooner->deadline > at) sooner = sooner->sooner;
    connection.sooner = sooner;
    connection.later = sooner != nullptr ? sooner->later : soonest_deadline_;
    if (connection.later != nullptr) connection.later->sooner = &connection;
    else latest_deadline_ = &connection;
    if (sooner != nullptr) sooner->later = &connection;
    else soonest_deadline_ = &connection;
}

void ConnectionTable::clear_deadline(Connection& connection) {
    if (!connection.deadline) return;
    if (connection.sooner != nullptr) connection.sooner->later = connection.later;
    else soonest_deadline_ = connection.later;
    if (connection.later != nullptr) connection.later->sooner = connection.sooner;
    else latest_deadline_ = connection.sooner;
    connection.sooner = connection.later = nullptr;
    connection.deadline.reset();
}

void ConnectionTable::expire_deadlines(Clock::time_point now) {
    while (soonest_deadline_ != nullptr && *soonest_deadline_->deadline <= now) {
        Connection& connection = *soonest_deadline_;
        clear_deadline(connection);
        connection.service->deadline_passed(connection);
    }
}

void ConnectionTable::close_hoarding(Connection& connection, std::size_t limit) {
    if (!std::exchange(hoarding_logged_, true))
        log_warning("a service left more than %zu bytes of a connection's input unconsumed; closing such "
                    "connections (logged once)",
                    limit);
    close(connection);
}

void ConnectionTable::close_all() {
    while (oldest_ != nullptr) close(*oldest_);
}

void ConnectionTable::queue_output(Connection& connection, std::span<const char> bytes) {
    connection.output.append(bytes, chunks_);
    queued_ += bytes.size();
}

std::int64_t ConnectionTable::flush_output(Connection& connection) {
    const std::int64_t written = connection.output.write_to(connection.fd.get(), chunks_);
    if (written > 0) queued_ -= static_cast<std::size_t>(written);
    return written;
}

void ConnectionTable::enforce_output_budget(Clock::time_point now) {
    if (!output_budget_spent()) {
        over_budget_since_.reset();
        return;
    }
    const std::string limit = format_size(limits_.max_worker_output);
    if (!over_budget_since_) {
        over_budget_since_ = now;
        if (now - budget_logged_at_ >= kBudgetWarningQuietPeriod) {
            budget_logged_at_ = now;
            log_warning("unsent output reached limits.max_worker_output (%s) over %zu connections; not reading "
                        "from those with output waiting",
                        limit.c_str(), active_);
        }
        return;
    }
    if (now - *over_budget_since_ < kOverBudgetGrace) return;
    // Their clients are not reading: the ones owed the most go first, down to three quarters of
    // the budget so that this does not start again at once.
    std::vector<Connection*> holding;
    for (Connection& connection : slots_) {
        if (connection.open && !connection.output.empty()) holding.push_back(&connection);
    }
    std::sort(holding.begin(), holding.end(),
              [](const Connection* a, const Connection* b) { return a->output.size() > b->output.size(); });
    const std::size_t target = limits_.max_worker_output / 4 * 3;
    const std::size_t before = queued_;
    std::size_t closed = 0;
    for (Connection* connection : holding) {
        if (queued_ <= target) break;
        close(*connection);
        ++closed;
    }
    log_warning("unsent output stayed at limits.max_worker_output (%s) for %lld s; closed the %zu connections "
                "owed the most (%zu bytes unsent)",
                limit.c_str(), static_cast<long long>(kOverBudgetGrace.count()), closed, before - queued_);
    over_budget_since_.reset();
}

void ConnectionTable::unlink_idle(Connection& connection) {
    if (connection.older != nullptr) connection.older->newer = connection.newer;
    else oldest_ = connection.newer;
    if (connection.newer != nullptr) connection.newer->older = connection.older;
    else newest_ = connection.older;
    connection.older = connection.newer = nullptr;
}

void ConnectionTable::link_idle(Connection& connection) {
    connection.older = newest_;
    connection.newer = nullptr;
    if (newest_ != nullptr) newest_->newer = &connection;
    else oldest_ = &connection;
    newest_ = &connection;
}

}  // namespace corral
