// Supervisor: forks workers, hears from them over their socketpairs, reaps them and replaces the
// ones that die.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/config_types.hpp"
#include "common/event_loop.hpp"
#include "common/fd.hpp"
#include "common/ipc.hpp"
#include "master/listeners.hpp"

namespace corral {

enum class WorkerState { starting, ready, draining };

class Supervisor;

struct WorkerProcess final : EventHandler {
    Supervisor* supervisor = nullptr;
    pid_t pid = 0;
    unsigned slot = 0;
    Fd channel;
    WorkerState state = WorkerState::starting;
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::time_point last_heartbeat;
    WorkerCounters counters;

    void handle_event(std::uint32_t ready) override;
};

class Supervisor {
public:
    Supervisor(EventLoop& loop, ListenerSet& listeners);
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Forks `count` workers with this config. False (logged) if one could not be started.
    bool start(const Config& config, unsigned count);

    // Collects every exited child, logs each once, and replaces it unless stopping.
    void reap();

    // Frees what reap() retired. Called between batches of events: an event for a reaped
    // worker's socketpair may still be queued in the batch that reaped it.
    void release_retired() { retired_.clear(); }

    // Tells every worker to stop accepting and finish its connections (graceful stop), or to exit
    // now (fast stop). No worker is replaced from then on.
    void drain_all();
    void stop_all();
    void kill_all();

    std::size_t live() const { return workers_.size(); }
    bool all_ready() const;
    // Set once a worker exited with kWorkerExitFatal: the master must stop instead of respawning.
    bool fatal_exit() const { return fatal_exit_; }
    const std::vector<std::unique_ptr<WorkerProcess>>& workers() const { return workers_; }

private:
    friend struct WorkerProcess;
    bool spawn(unsigned slot);
    void on_message(WorkerProcess& worker);
    void forget_channel(WorkerProcess& worker);

    EventLoop& loop_;
    ListenerSet& listeners_;
    Config config_;
    std::vector<std::unique_ptr<WorkerProcess>> workers_;
    std::vector<std::unique_ptr<WorkerProcess>> retired_;
    bool stopping_ = false;
    bool fatal_exit_ = false;
    bool announced_ready_ = false;
};

}  // namespace corral
