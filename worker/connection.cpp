// ConnectionTable: opening, closing and timing out connections.
#include "worker/connection.hpp"

#include <algorithm>
#include <vector>

#include "common/log.hpp"
#include "common/units.hpp"
#include "worker/echo.hpp"

namespace corral {
namespace {

// How long the worker may stay over limits.max_worker_output before it closes connections: long
// enough for slow readers to catch up, short against a client that never will.
constexpr std::chrono::seconds kOverBudgetGrace{5};
// One warning per spell of spent budget, and no more often than this.
constexpr std::chrono::seconds kBudgetWarningQuietPeriod{10};

}  // namespace

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
    queued_ -= connection.output.size();
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
