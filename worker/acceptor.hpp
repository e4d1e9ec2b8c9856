// Acceptor: the worker's side of the listeners. A shared listener (balance: exclusive) is
// registered with EPOLLEXCLUSIVE, so one connection wakes one worker, not all of them; a worker
// that holds clearly more than its share of its generation's connections leaves the shared
// listeners to the others until it does not. Accepting also stops at max_connections and while
// descriptors are exhausted, and resumes by itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/balance_board.hpp"
#include "common/config_types.hpp"
#include "common/descriptor_shortage.hpp"
#include "common/event_loop.hpp"
#include "common/fd.hpp"
#include "common/ipc.hpp"
#include "common/result.hpp"
#include "worker/connection.hpp"
#include "worker/service.hpp"

namespace corral {

struct WorkerListener {
    Fd fd;
    ListenConfig config;
};

// This worker's place on its generation's board; no board means nobody to balance with.
struct BalanceSeat {
    BalanceBoard* board = nullptr;
    unsigned slot = 0;
};

// Why a worker could not start. `service_reason` is set when a listener's service said why (a
// module that did not start): the master hears that sentence, and a start or reload fails with it.
struct StartRefusal {
    std::string reason;
    std::string service_reason;
};

class Acceptor {
public:
    Acceptor(EventLoop& loop, ConnectionTable& connections, std::vector<WorkerListener> listeners,
             std::uint32_t max_connections, BalanceSeat seat);
    Acceptor(const Acceptor&) = delete;
    Acceptor& operator=(const Acceptor&) = delete;

    // Starts accepting. Fails when a listener's service cannot be made or started, or a listener
    // or the nudge cannot be added to the loop.
    Result<void, StartRefusal> start();
    // Tells each service the worker is leaving; its connections are all closed by then.
    void stop_services();

    // Draining: the listeners are closed for good, so this process accepts nothing more.
    void close_listeners();

    // Called after every batch of events and on every tick: publishes this worker's count, and
    // takes part in accepting or steps aside as the connection limit, the descriptor pause and
    // the balance require.
    void update(Clock::time_point now);

    // Adds what the listeners' services count (their requests, by status class) to `counters`.
    void add_service_counters(WorkerCounters& counters) const;
    // Adds the counters modules publish, as many as fit in `room` bytes of a message (the rest
    // are left out, logged once).
    void add_module_counters(std::vector<ModuleCounterSample>& samples, std::size_t room);

    std::uint64_t accepted = 0;
    std::uint64_t wakeups = 0;
    std::uint64_t empty_wakeups = 0;

private:
    struct ListenerHandler final : EventHandler {
        Acceptor* acceptor = nullptr;
        WatchedFd fd;
        ListenConfig config;
        std::unique_ptr<Service> service;  // what its connections speak
        bool shared = false;  // balance: exclusive, the same socket in every worker
        void handle_event(std::uint32_t ready) override;
    };

    // Accepts what is queued, up to a batch; `balanced`: stopping once this worker holds more
    // than its share, and updating its registrations afterwards.
    void accept_batch(ListenerHandler& handler, bool balanced);
    void on_nudge();
    bool available() const;
    // More than the generation's mean by a margin that rounding and small counts cannot reach.
    bool holds_more_than_share() const;
    void publish();
    // Registers or deregisters each listener as wanted; fails, naming each call, when the loop
    // refuses. Every listener is tried either way.
    Outcome watch_listeners(bool shared_wanted, bool own_wanted);
    void step_aside();
    // Whether this worker waits on a shared listener now.
    bool accepting_shared() const;

    EventLoop& loop_;
    ConnectionTable& connections_;
    std::vector<std::unique_ptr<ListenerHandler>> handlers_;
    std::uint32_t max_connections_;
    BalanceSeat seat_;
    WatchedFd nudge_;
    MemberHandler<Acceptor> nudge_handler_{this, &Acceptor::on_nudge};
    bool closed_ = false;
    // Whether a shared listener may still hold connections nobody will be woken for: the last
    // accept on it did not come back empty.
    bool queue_may_hold_more_ = false;
    DescriptorShortage descriptor_shortage_;
    bool module_counters_cut_logged_ = false;
    bool connection_limit_logged_ = false;
};

}  // namespace corral
