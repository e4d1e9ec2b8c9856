// MasterPolicy: every decision the master makes, as a state machine without system calls. It
// takes events (a worker started, was ready, exited; a signal; a tick with the time; the outcome
// of preparing a reload) and returns the actions the master then carries out. Its clock is the
// time each event brings, so tests drive it in milliseconds with no processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "master/respawn_backoff.hpp"

namespace corral {

enum class MasterState { starting, running, reloading, stopping };

const char* master_state_name(MasterState state);

enum class ActionKind {
    spawn,                 // fork a worker of `generation` for `slot` (`replacement` of a dead one)
    drain,                 // worker `pid`: stop accepting, finish open connections
    stop,                  // worker `pid`: exit now
    kill_all,              // SIGKILL every worker, because `reason`
    clear_balance_slot,    // the current generation's board forgets `slot` and wakes the others
    close_slots_from,      // the current generation's listeners close their sockets for `slot` and above
    prepare_reload,        // re-read the config and bind a new generation's listeners
    adopt_pending,         // the prepared generation becomes the current one
    discard_pending,       // the prepared generation is dropped
    close_listeners,       // every listener of every generation closes
    reload_succeeded,      // count it and remember it for /status
    reload_failed,         // count it and remember `reason`
    notify_ready,          // READY=1 with the status line
    notify_reloading,      // RELOADING=1
    notify_stopping,       // STOPPING=1
    notify_status,         // STATUS= only
    reopen_logs,
    start_upgrade,         // start the binary on disk as the new master
    signal_upgrade_child,  // send `signal` to the new master of an unfinished upgrade
    hand_over,             // the new master `pid` is ready: it owns the sockets and the service now
    tell_previous_master,  // the master that started this one may leave
};

const char* action_kind_name(ActionKind kind);

struct Action {
    ActionKind kind = ActionKind::notify_status;
    unsigned generation = 0;
    unsigned slot = 0;
    bool replacement = false;
    pid_t pid = 0;
    int signal = 0;
    std::string reason;

    bool operator==(const Action&) const = default;
};

using Actions = std::vector<Action>;

// "spawn generation 2 slot 0", for logs and test failures.
std::string describe_action(const Action& action);

class MasterPolicy {
public:
    using Clock = std::chrono::steady_clock;
    using TimePoint = Clock::time_point;
    using Duration = std::chrono::milliseconds;

    // corral(8): a new generation that is not ready within this has failed.
    static constexpr Duration kReadyLimit{10'000};
    // Starting a binary and its workers takes well under a second; this is only for one that hangs.
    static constexpr Duration kUpgradeLimit{30'000};
    // A fast stop asks workers to exit at once; one that has not after this is killed, so the
    // master is gone well within the second that corral(8) promises.
    static constexpr Duration kFastStopGrace{500};
    // Workers enforce timeouts.shutdown themselves; this is how much longer the master waits
    // before it stops trusting them.
    static constexpr Duration kGracefulStopGrace{2'000};
    // Workers of the current generation that die in a row before they are ready. At
    // kMaxDeathsBeforeReady the first start has failed. Later, at kMaxReplacementDeaths (about
    // 13 s of doubling backoff, time for a passing shortage to pass), replacements stop until a
    // reload, and corral stops once no worker is left.
    static constexpr unsigned kMaxDeathsBeforeReady = 5;
    static constexpr unsigned kMaxReplacementDeaths = 8;

    // What a generation asks of the master: how many workers, how long they may finish their
    // connections on a stop, and how long they go on accepting after SIGTERM (timeouts.drain).
    struct GenerationShape {
        unsigned workers = 1;
        Duration shutdown{0};
        Duration drain{0};
    };

    // Events. Each returns what to do, in order; those that never lead to an action return nothing.
    Actions start(GenerationShape shape, TimePoint now);
    // The master could not bind or write what it needs before any worker ran.
    Actions start_failed();
    void spawned(unsigned generation, unsigned slot, pid_t pid, TimePoint now);
    Actions spawn_failed(unsigned generation, unsigned slot, TimePoint now);
    Actions worker_ready(pid_t pid);
    // start_failure: the sentence the worker sent if a service could not start, or empty.
    Actions worker_exited(pid_t pid, int status, const std::string& start_failure, TimePoint now);
    // sender: the pid that sent it, from the signalfd.
    Actions signal(int signal_number, pid_t sender, TimePoint now);
    Actions tick(TimePoint now);
    Actions reload_prepared(GenerationShape shape, TimePoint now);
    Actions reload_not_prepared(const std::string& reason);
    void upgrade_started(pid_t new_master, TimePoint now);
    // The new master of an unfinished upgrade exited, however that was heard.
    void upgrade_child_gone();

    // Whether a spawn action still stands when its turn comes: an earlier action of the same
    // batch may have failed the reload, begun a stop or refilled the slot.
    bool wants_worker(unsigned generation, unsigned slot) const;

    MasterState state() const { return state_; }
    // What /status reports: a master in its drain period is stopping, though it still serves.
    MasterState reported_state() const { return draining() ? MasterState::stopping : state_; }
    bool stopping() const { return state_ == MasterState::stopping; }
    // SIGTERM came, and the workers go on accepting until the drain period ends.
    bool draining() const { return drain_deadline_.has_value(); }
    // What /healthz says: the host takes new connections and means to go on doing so. Also true
    // once this master has handed over to a new one, which serves the same sockets.
    bool healthy() const;
    bool finished() const { return stopping() && workers_.empty(); }
    int exit_code() const { return exit_code_; }
    unsigned generation() const { return current_.number; }
    unsigned workers_wanted() const { return current_.shape.workers; }
    std::optional<unsigned> pending_generation() const;
    pid_t upgrade_child() const { return upgrade_child_; }
    Duration respawn_delay() const { return backoff_.current(); }
    // Workers alive of `generation` that are not draining.
    std::size_t count(unsigned generation) const;
    std::size_t live() const { return workers_.size(); }

private:
    enum class WorkerPhase { starting, ready, draining };

    struct Worker {
        pid_t pid;
        unsigned generation;
        unsigned slot;
        WorkerPhase phase;
        TimePoint started;
    };

    struct GenerationState {
        unsigned number = 0;
        GenerationShape shape;
        TimePoint started{};
    };

    struct PendingRespawn {
        unsigned slot;
        TimePoint due;
    };

    Worker* find(pid_t pid);
    const Worker* find_slot(unsigned generation, unsigned slot) const;
    bool generation_complete(const GenerationState& generation) const;
    // Drains every worker not yet draining for which `chosen` holds.
    template <typename Predicate>
    void drain_where(Predicate chosen, Actions& actions);
    void drain_generation(unsigned generation, Actions& actions);
    void begin_reload(Actions& actions);
    void finish_reload(Actions& actions);
    void fail_reload(const std::string& reason, Actions& actions);
    // Both stops: the state, the deadline, STOPPING=1, the new master of an unfinished upgrade
    // (sent `upgrade_child_signal`), and every listener closed.
    void enter_stopping(TimePoint deadline, int upgrade_child_signal, Actions& actions);
    void begin_graceful_stop(const char* why, TimePoint now, Actions& actions);
    void on_stop_signal(TimePoint now, Actions& actions);
    void begin_fast_stop(const char* why, TimePoint now, Actions& actions);
    void begin_upgrade(Actions& actions);
    void add_worker(Actions& actions);
    void remove_worker(Actions& actions);
    void on_current_worker_death(const Worker& worker, int status, const std::string& start_failure, TimePoint now,
                                 Actions& actions);
    void schedule_respawn(unsigned slot, Duration lived, TimePoint now, Actions& actions);
    void run_due_respawns(TimePoint now, Actions& actions);
    void stop_with_failure(const char* why, TimePoint now, Actions& actions);

    MasterState state_ = MasterState::starting;
    GenerationState current_;
    std::optional<GenerationState> pending_;  // a reload's generation until it is ready
    bool reload_requested_again_ = false;
    std::vector<Worker> workers_;
    std::vector<PendingRespawn> respawns_;
    RespawnBackoff backoff_;
    unsigned deaths_before_ready_ = 0;
    bool replacements_stopped_ = false;
    pid_t upgrade_child_ = 0;
    TimePoint upgrade_deadline_{};
    bool handed_over_ = false;
    std::optional<TimePoint> drain_deadline_;  // while draining: when the listeners close
    TimePoint stop_deadline_{};
    int exit_code_ = 0;
};

}  // namespace corral
