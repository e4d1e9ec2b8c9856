// Connections of one worker: a pool of plain structs, the list that orders them by last activity
// for the idle timeout, and the per-worker resources their services share.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/config_types.hpp"
#include "common/event_loop.hpp"
#include "common/fd.hpp"
#include "worker/output_queue.hpp"
#include "worker/service.hpp"

namespace corral {

class ConnectionTable;
using Clock = std::chrono::steady_clock;

// One connection: the transport a service speaks through.
struct Connection final : EventHandler {
    ConnectionTable* table = nullptr;
    WatchedFd fd;
    Service* service = nullptr;
    std::unique_ptr<ServiceState> state;  // the service's own, if it keeps any
    OutputQueue output;
    std::string unconsumed;  // received bytes the service has not consumed yet
    bool open = false;
    bool peer_done_sending = false;  // read() returned 0
    bool closing = false;  // close once the output is written
    Clock::time_point last_activity;
    // Idle list, oldest activity first; also the free list while the slot is unused.
    Connection* older = nullptr;
    Connection* newer = nullptr;
    // A service's own deadline, if it has set one, and the table's list of them, soonest first.
    std::optional<Clock::time_point> deadline;
    Connection* sooner = nullptr;
    Connection* later = nullptr;

    void handle_event(std::uint32_t ready) override;

    // For services. send() writes at once what the socket takes and queues the rest; bytes sent
    // after close_after_flush() are dropped.
    void send(std::span<const char> bytes);
    void close_after_flush();
    void close();
    // The service hears deadline_passed() once this long has gone by, unless it clears it first;
    // setting it again replaces the earlier one.
    void set_deadline(std::chrono::milliseconds from_now);
    void clear_deadline();
    // Whether the output queue holds its bound (or the worker's budget is spent): a service
    // stops answering then, and the transport offers what it left unconsumed again once the
    // output has been written.
    bool output_full() const;

private:
    void read_input();
    void offer(std::span<const char> bytes);
    void flush();
    // Watches for input unless the output is full, and for output while some is queued.
    void update_interest();
    void close_on_error(const char* call);
};

class ConnectionTable {
public:
    ConnectionTable(EventLoop& loop, const LimitsConfig& limits, std::chrono::milliseconds idle_timeout);
    ConnectionTable(const ConnectionTable&) = delete;
    ConnectionTable& operator=(const ConnectionTable&) = delete;
    ~ConnectionTable();

    // Takes ownership of an accepted socket and starts watching it for input. Returns the
    // connection, or nullptr (having closed the socket) when the loop refuses it.
    Connection* open(Fd fd, Service& service);

    // Closes at once. The slot is reused only after release_closed(), so an event for it still
    // queued in the current batch finds it closed instead of finding a stranger.
    void close(Connection& connection);
    void release_closed();

    // Changes the watched events; closes the connection if the loop refuses.
    bool watch(Connection& connection, std::uint32_t events);

    // Records activity: the connection moves to the newest end of the idle list. O(1).
    void touch(Connection& connection);

    // Closes every connection silent for the idle timeout. O(number closed): the list is ordered.
    void close_idle(Clock::time_point now);

    // Service deadlines, kept soonest first. Inserting walks from the latest: O(1) when a
    // service's deadlines are all the same length from now, which is how services use them.
    void set_deadline(Connection& connection, Clock::time_point at);
    void clear_deadline(Connection& connection);
    // Tells the service of every connection whose deadline has passed. O(number passed).
    void expire_deadlines(Clock::time_point now);
    void close_all();
    // Closes a connection whose service keeps leaving its input unconsumed past `limit`.
    void close_hoarding(Connection& connection, std::size_t limit);

    // Unsent output goes through these, so that the worker's total is always known.
    void queue_output(Connection& connection, std::span<const char> bytes);
    // Writes what the socket takes: the number of bytes written, or -1 (errno set) when the write
    // failed with something other than EAGAIN.
    std::int64_t flush_output(Connection& connection);

    // limits.max_output_buffer bounds one connection; this bounds the worker, whose clients could
    // otherwise hold max_connections times that by never reading. While it is spent, connections
    // with output waiting are not read (each other one can add at most one read's worth).
    bool output_budget_spent() const { return queued_ >= limits_.max_worker_output; }
    std::size_t output_queued() const { return queued_; }
    // Called on every tick. Logs when the budget is spent; if it stays spent for a while, closes
    // the connections holding the most until the worker is well within it again. O(connections)
    // then, nothing otherwise.
    void enforce_output_budget(Clock::time_point now);

    std::size_t active() const { return active_; }
    const LimitsConfig& limits() const { return limits_; }
    std::span<char> scratch() { return scratch_; }
    ChunkPool& chunks() { return chunks_; }

    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_sent = 0;

private:
    void unlink_idle(Connection& connection);
    void link_idle(Connection& connection);

    EventLoop& loop_;
    LimitsConfig limits_;
    std::chrono::milliseconds idle_timeout_;
    std::deque<Connection> slots_;  // a deque never moves its elements: the loop holds pointers
    Connection* free_ = nullptr;
    std::vector<Connection*> closed_;
    Connection* oldest_ = nullptr;
    Connection* newest_ = nullptr;
    Connection* soonest_deadline_ = nullptr;
    Connection* latest_deadline_ = nullptr;
    std::size_t active_ = 0;
    std::size_t queued_ = 0;  // unsent bytes over every connection
    std::optional<Clock::time_point> over_budget_since_;
    bool hoarding_logged_ = false;
    Clock::time_point budget_logged_at_{};
    std::vector<char> scratch_;  // where every read lands first; most bytes never leave it
    ChunkPool chunks_;
};

}  // namespace corral
