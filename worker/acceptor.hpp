// Acceptor: the worker's side of the shared listeners. Every listener is registered with
// EPOLLEXCLUSIVE so one connection wakes one worker, not all of them; accepting stops at
// max_connections and while descriptors are exhausted, and resumes by itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/config_types.hpp"
#include "common/descriptor_shortage.hpp"
#include "common/event_loop.hpp"
#include "common/fd.hpp"
#include "worker/connection.hpp"

namespace corral {

struct WorkerListener {
    Fd fd;
    ListenConfig config;
};

class Acceptor {
public:
    Acceptor(EventLoop& loop, ConnectionTable& connections, std::vector<WorkerListener> listeners,
             std::uint32_t max_connections);
    Acceptor(const Acceptor&) = delete;
    Acceptor& operator=(const Acceptor&) = delete;

    // Starts accepting. False (logged) when a listener cannot be added to the loop.
    bool start();

    // Draining: the listeners are closed for good, so this process accepts nothing more.
    void close_listeners();

    // Called after every batch of events and on every tick: pauses or resumes accepting as the
    // connection count and the descriptor pause require.
    void update(Clock::time_point now);

    std::uint64_t accepted = 0;
    std::uint64_t wakeups = 0;
    std::uint64_t empty_wakeups = 0;

private:
    struct ListenerHandler final : EventHandler {
        Acceptor* acceptor = nullptr;
        WatchedFd fd;
        ListenConfig config;
        void handle_event(std::uint32_t ready) override;
    };

    void accept_batch(ListenerHandler& handler);
    void pause_accepting();
    bool resume_accepting();

    EventLoop& loop_;
    ConnectionTable& connections_;
    std::vector<std::unique_ptr<ListenerHandler>> handlers_;
    std::uint32_t max_connections_;
    bool registered_ = false;
    bool closed_ = false;
    DescriptorShortage descriptor_shortage_;
    bool connection_limit_logged_ = false;
};

}  // namespace corral
