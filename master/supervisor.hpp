// Supervisor: forks workers, hears from them over their socketpairs, watches their heartbeats
// and reaps them. What to do about a worker that is ready or gone is the master's decision.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "common/config_types.hpp"
#include "common/event_loop.hpp"
#include "common/fd.hpp"
#include "common/ipc.hpp"
#include "common/result.hpp"
#include "master/exit_status.hpp"
#include "master/generation.hpp"
#include "master/listeners.hpp"

namespace corral {

enum class WorkerState { starting, ready, draining };

const char* worker_state_name(WorkerState state);

class Supervisor;

struct WorkerProcess final : EventHandler {
    using Clock = std::chrono::steady_clock;

    Supervisor* supervisor = nullptr;
    pid_t pid = 0;
    unsigned generation = 0;
    unsigned slot = 0;
    WatchedFd channel;
    WorkerState state = WorkerState::starting;
    Clock::time_point started;
    std::time_t started_at = 0;  // Unix seconds, for /status
    Clock::time_point last_heartbeat;
    WorkerCounters counters;
    std::vector<ModuleCounterSample> module_counters;  // totals since it started, as last reported
    std::string start_failure;  // why a service could not start, when the worker said so
    bool killed = false;  // SIGKILL sent; waiting for the exit

    void handle_event(std::uint32_t ready) override;
};

// The master's side of what workers report.
class SupervisorEvents {
public:
    virtual void on_worker_ready(WorkerProcess& worker) = 0;
    // Called once per exit, after it has been logged; the record is gone afterwards.
    virtual void on_worker_exit(const WorkerProcess& worker, int status) = 0;

protected:
    ~SupervisorEvents() = default;
};

class Supervisor {
public:
    using Clock = std::chrono::steady_clock;

    Supervisor(EventLoop& loop, SupervisorEvents& events);
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Forks a worker for `slot` of a generation: its pid, or why it could not be started.
    Result<pid_t> spawn(const Generation& generation, unsigned slot);

    // Handles the exit of pid if it is a worker; false if it is not one of ours.
    bool on_exit(pid_t pid, int status);

    // Kills every worker whose last heartbeat is older than `timeout`, after reading what it has
    // sent meanwhile: if the master's own loop was held up, the heartbeats wait in the socketpair.
    void check_heartbeats(Clock::time_point now, std::chrono::milliseconds timeout);

    // passed_fd, when not -1, is handed to the worker with the message.
    void send(WorkerProcess& worker, MessageType type, int passed_fd = -1);
    void broadcast(MessageType type, int passed_fd = -1);
    // Stop accepting and finish open connections.
    void drain(WorkerProcess& worker);
    // Exit now (fast stop).
    void stop(WorkerProcess& worker);
    void kill_all(const char* why);

    // Frees what on_exit() retired. Called between batches of events: an event for a reaped
    // worker's socketpair may still be queued in the batch that reaped it.
    void release_retired() { retired_.clear(); }

    std::size_t live() const { return workers_.size(); }
    WorkerProcess* find(pid_t pid);
    const std::vector<std::unique_ptr<WorkerProcess>>& workers() const { return workers_; }

    // Counters of workers that have exited, so that totals never go backwards.
    const WorkerCounters& exited_totals() const { return exited_totals_; }
    const std::vector<ModuleCounterSample>& exited_module_totals() const { return exited_module_totals_; }

private:
    friend struct WorkerProcess;
    // Reads and acts on one packet from the worker; false when there was none to read.
    bool on_message(WorkerProcess& worker);
    void forget_channel(WorkerProcess& worker);
    void kill(WorkerProcess& worker);

    EventLoop& loop_;
    SupervisorEvents& events_;
    std::vector<std::unique_ptr<WorkerProcess>> workers_;
    std::vector<std::unique_ptr<WorkerProcess>> retired_;
    WorkerCounters exited_totals_;
    std::vector<ModuleCounterSample> exited_module_totals_;
    std::vector<std::byte> packet_;  // one packet more than the largest message
};

// Far more counters than modules publish; a bound, since module code in a worker could invent
// new names for ever.
inline constexpr std::size_t kMaxModuleCounterTotals = 4096;

// Adds each sample of `more` to the entry of `totals` with the same listener, module and name
// (new ones only while totals holds fewer than kMaxModuleCounterTotals).
void add_module_totals(std::vector<ModuleCounterSample>& totals, const std::vector<ModuleCounterSample>& more);

}  // namespace corral
