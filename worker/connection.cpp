// ConnectionTable: opening, closing and timing out connections.
#include "worker/connection.hpp"

#include "common/log.hpp"
#include "worker/echo.hpp"

namespace corral {

void Connection::handle_event(std::uint32_t ready) {
    if (!open) return;  // closed earlier in this batch
    switch (service) {
        case Service::echo: serve_echo(*this, ready); return;
        case Service::http: break;
    }
    log_error("connection with unsupported service; closing");
    table->close(*this);
}

ConnectionTable::ConnectionTable(EventLoop& loop, const LimitsConfig& limits,
                                 std::chrono::milliseconds idle_timeout)
    : loop_(loop), limits_(limits), idle_timeout_(idle_timeout), scratch_(limits.read_buffer) {}

ConnectionTable::~ConnectionTable() { close_all(); }

bool ConnectionTable::open(Fd fd, Service service) {
    Connection* connection = free_;
    if (connection != nullptr) {
        free_ = connection->newer;
    } else {
        connection = &slots_.emplace_back();
    }
    connection->table = this;
    connection->fd = WatchedFd(loop_, std::move(fd));
    connection->service = service;
    connection->peer_done_sending = false;
    connection->open = true;
    if (!connection->fd.watch(EPOLLIN, connection)) {
        log_error("epoll_ctl(ADD) for a new connection failed: %m");
        connection->fd.close();
        connection->open = false;
        connection->newer = free_;
        free_ = connection;
        return false;
    }
    ++active_;
    connection->last_activity = Clock::now();
    link_idle(*connection);
    return true;
}

void ConnectionTable::close(Connection& connection) {
    if (!connection.open) return;
    connection.open = false;
    unlink_idle(connection);
    connection.fd.close();
    connection.output.clear(chunks_);
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
    log_error("epoll_ctl(MOD) for a connection failed: %m");
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

void ConnectionTable::close_all() {
    while (oldest_ != nullptr) close(*oldest_);
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
