// MasterPolicy: reload by generations, supervision with backoff, binary upgrade and stop, decided
// from events alone. The master carries out the actions; nothing here touches a process.
#include "master/master_policy.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cstring>

#include "common/balance_board.hpp"
#include "common/log.hpp"
#include "common/signals.hpp"
#include "master/exit_status.hpp"
#include "worker/worker.hpp"

namespace corral {
namespace {

Action act(ActionKind kind) {
    Action action;
    action.kind = kind;
    return action;
}

Action act_on_worker(ActionKind kind, pid_t pid) {
    Action action = act(kind);
    action.pid = pid;
    return action;
}

Action act_on_slot(ActionKind kind, unsigned slot) {
    Action action = act(kind);
    action.slot = slot;
    return action;
}

Action act_with_reason(ActionKind kind, std::string reason) {
    Action action = act(kind);
    action.reason = std::move(reason);
    return action;
}

Action spawn_worker(unsigned generation, unsigned slot, bool replacement = false) {
    Action action = act_on_slot(ActionKind::spawn, slot);
    action.generation = generation;
    action.replacement = replacement;
    return action;
}

Action signal_upgrade_child(int signal_number) {
    Action action = act(ActionKind::signal_upgrade_child);
    action.signal = signal_number;
    return action;
}

}  // namespace

const char* master_state_name(MasterState state) {
    switch (state) {
        case MasterState::starting: return "starting";
        case MasterState::running: return "running";
        case MasterState::reloading: return "reloading";
        case MasterState::stopping: return "stopping";
    }
    return "unknown";
}

const char* action_kind_name(ActionKind kind) {
    switch (kind) {
        case ActionKind::spawn: return "spawn";
        case ActionKind::drain: return "drain";
        case ActionKind::stop: return "stop";
        case ActionKind::kill_all: return "kill_all";
        case ActionKind::clear_balance_slot: return "clear_balance_slot";
        case ActionKind::close_slots_from: return "close_slots_from";
        case ActionKind::prepare_reload: return "prepare_reload";
        case ActionKind::adopt_pending: return "adopt_pending";
        case ActionKind::discard_pending: return "discard_pending";
        case ActionKind::close_listeners: return "close_listeners";
        case ActionKind::reload_succeeded: return "reload_succeeded";
        case ActionKind::reload_failed: return "reload_failed";
        case ActionKind::notify_ready: return "notify_ready";
        case ActionKind::notify_reloading: return "notify_reloading";
        case ActionKind::notify_stopping: return "notify_stopping";
        case ActionKind::notify_status: return "notify_status";
        case ActionKind::reopen_logs: return "reopen_logs";
        case ActionKind::start_upgrade: return "start_upgrade";
        case ActionKind::signal_upgrade_child: return "signal_upgrade_child";
        case ActionKind::hand_over: return "hand_over";
        case ActionKind::tell_previous_master: return "tell_previous_master";
    }
    return "unknown";
}

std::string describe_action(const Action& action) {
    // Appended piece by piece: g++ 12 at -O3 sees an overlap that cannot happen in " " + string
    // (a false -Wrestrict, GCC bug 105329).
    std::string text = action_kind_name(action.kind);
    switch (action.kind) {
        case ActionKind::spawn:
            text.append(" generation ").append(std::to_string(action.generation));
            text.append(" slot ").append(std::to_string(action.slot));
            if (action.replacement) text.append(" (replacement)");
            break;
        case ActionKind::drain:
        case ActionKind::stop:
        case ActionKind::hand_over: text.append(1, ' ').append(std::to_string(action.pid)); break;
        case ActionKind::clear_balance_slot:
        case ActionKind::close_slots_from: text.append(1, ' ').append(std::to_string(action.slot)); break;
        case ActionKind::signal_upgrade_child: text.append(1, ' ').append(::sigabbrev_np(action.signal)); break;
        case ActionKind::kill_all:
        case ActionKind::reload_failed: text.append(": ").append(action.reason); break;
        default: break;
    }
    return text;
}

MasterPolicy::Worker* MasterPolicy::find(pid_t pid) {
    const auto found = std::find_if(workers_.begin(), workers_.end(), [pid](const Worker& w) { return w.pid == pid; });
    return found == workers_.end() ? nullptr : &*found;
}

const MasterPolicy::Worker* MasterPolicy::find_slot(unsigned generation, unsigned slot) const {
    const auto found = std::find_if(workers_.begin(), workers_.end(), [&](const Worker& w) {
        return w.generation == generation && w.slot == slot && w.phase != WorkerPhase::draining;
    });
    return found == workers_.end() ? nullptr : &*found;
}

std::size_t MasterPolicy::count(unsigned generation) const {
    return static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), [generation](const Worker& w) {
        return w.generation == generation && w.phase != WorkerPhase::draining;
    }));
}

std::optional<unsigned> MasterPolicy::pending_generation() const {
    if (!pending_) return std::nullopt;
    return pending_->number;
}

// Every worker the generation wants is there and none is still starting.
bool MasterPolicy::generation_complete(const GenerationState& generation) const {
    const bool none_starting = std::none_of(workers_.begin(), workers_.end(), [&](const Worker& w) {
        return w.generation == generation.number && w.phase == WorkerPhase::starting;
    });
    return none_starting && count(generation.number) == generation.shape.workers;
}

bool MasterPolicy::wants_worker(unsigned generation, unsigned slot) const {
    if (stopping()) return false;
    const GenerationState* owner = generation == current_.number                 ? &current_
                                   : pending_ && generation == pending_->number ? &*pending_
                                                                                : nullptr;
    return owner != nullptr && slot < owner->shape.workers && find_slot(generation, slot) == nullptr;
}

Actions MasterPolicy::start(GenerationShape shape, TimePoint now) {
    current_ = GenerationState{.number = 1, .shape = shape, .started = now};
    Actions actions;
    for (unsigned slot = 0; slot < shape.workers; ++slot) {
        actions.push_back(spawn_worker(current_.number, slot));
    }
    return actions;
}

Actions MasterPolicy::start_failed() {
    state_ = MasterState::stopping;
    exit_code_ = 1;
    return {act_with_reason(ActionKind::kill_all, "start-up failed")};
}

void MasterPolicy::spawned(unsigned generation, unsigned slot, pid_t pid, TimePoint now) {
    workers_.push_back(
        Worker{.pid = pid, .generation = generation, .slot = slot, .phase = WorkerPhase::starting, .started = now});
}

Actions MasterPolicy::spawn_failed(unsigned generation, unsigned slot, TimePoint now) {
    Actions actions;
    if (stopping()) return actions;
    if (pending_ && generation == pending_->number) {
        fail_reload("could not start the new workers", actions);
    } else if (generation == current_.number && state_ == MasterState::starting) {
        return start_failed();
    } else if (generation == current_.number) {
        schedule_respawn(slot, Duration{0}, now, actions);
    }
    return actions;
}

Actions MasterPolicy::worker_ready(pid_t pid) {
    Actions actions;
    Worker* worker = find(pid);
    if (worker == nullptr || worker->phase != WorkerPhase::starting) return actions;
    worker->phase = WorkerPhase::ready;
    if (worker->generation == current_.number) deaths_before_ready_ = 0;
    if (pending_ && worker->generation == pending_->number) {
        if (generation_complete(*pending_)) finish_reload(actions);
        return actions;
    }
    if (state_ == MasterState::starting && worker->generation == current_.number && generation_complete(current_)) {
        state_ = MasterState::running;
        log_info("all %u workers are ready", current_.shape.workers);
        actions.push_back(act(ActionKind::notify_ready));
        actions.push_back(act(ActionKind::tell_previous_master));
        if (std::exchange(reload_requested_again_, false)) begin_reload(actions);
    }
    return actions;
}

Actions MasterPolicy::worker_exited(pid_t pid, int status, const std::string& start_failure, TimePoint now) {
    Actions actions;
    Worker* found = find(pid);
    if (found == nullptr) return actions;
    const Worker worker = *found;
    std::erase_if(workers_, [pid](const Worker& w) { return w.pid == pid; });
    if (stopping()) return actions;
    if (pending_ && worker.generation == pending_->number) {
        fail_reload(!start_failure.empty()
                        ? start_failure
                        : "worker " + std::to_string(pid) + " " + describe_exit(status) + " while starting",
                    actions);
        return actions;
    }
    if (worker.generation != current_.number || worker.phase == WorkerPhase::draining) return actions;
    on_current_worker_death(worker, status, start_failure, now, actions);
    return actions;
}

void MasterPolicy::on_current_worker_death(const Worker& worker, int status, const std::string& start_failure,
                                           TimePoint now, Actions& actions) {
    // Its place on the board is empty now, and what it was woken for and never took is queued
    // for the others, whom no wake-up will tell.
    actions.push_back(act_on_slot(ActionKind::clear_balance_slot, worker.slot));
    // A service that cannot start at the first start (a module, say) will not start on a retry
    // either, and workers that keep dying before they are ready (a module crashing in its start)
    // will go on dying: the operator hears why instead of watching respawns without end.
    const bool fatal = WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitFatal;
    const bool died_starting = worker.phase == WorkerPhase::starting;
    if (died_starting) ++deaths_before_ready_;
    const bool first_start = state_ == MasterState::starting && died_starting;
    if (fatal || (first_start && !start_failure.empty())) {
        if (!start_failure.empty())
            log_error("worker %d could not start: %s; stopping", worker.pid, start_failure.c_str());
        else
            log_error("worker %d cannot start for a reason that will not pass by itself; stopping", worker.pid);
        stop_with_failure("a worker failed fatally", now, actions);
        return;
    }
    if (first_start && deaths_before_ready_ >= kMaxDeathsBeforeReady) {
        log_error("workers died %u times before any was ready (the last %s); stopping", deaths_before_ready_,
                  describe_exit(status).c_str());
        stop_with_failure("workers keep dying before they are ready", now, actions);
        return;
    }
    if (died_starting && deaths_before_ready_ >= kMaxReplacementDeaths && !replacements_stopped_) {
        replacements_stopped_ = true;
        log_error("replacement workers died %u times in a row before they were ready (the last %s); no more "
                  "replacements for generation %u until a reload",
                  deaths_before_ready_, describe_exit(status).c_str(), current_.number);
    }
    if (replacements_stopped_) {
        if (count(current_.number) == 0) {
            log_error("no worker of generation %u is left, and none can be started; stopping", current_.number);
            stop_with_failure("no worker left", now, actions);
        }
        return;
    }
    schedule_respawn(worker.slot, std::chrono::duration_cast<Duration>(now - worker.started), now, actions);
}

void MasterPolicy::stop_with_failure(const char* why, TimePoint now, Actions& actions) {
    exit_code_ = 1;
    begin_graceful_stop(why, now, actions);
}

void MasterPolicy::schedule_respawn(unsigned slot, Duration lived, TimePoint now, Actions& actions) {
    const Duration delay = backoff_.on_death(lived);
    if (delay.count() > 0) {
        log_warning("workers are dying young; replacing worker slot %u in %lld ms", slot,
                    static_cast<long long>(delay.count()));
    }
    respawns_.push_back(PendingRespawn{.slot = slot, .due = now + delay});
    run_due_respawns(now, actions);
}

void MasterPolicy::run_due_respawns(TimePoint now, Actions& actions) {
    std::vector<unsigned> due;
    std::erase_if(respawns_, [&](const PendingRespawn& respawn) {
        if (respawn.due > now) return false;
        due.push_back(respawn.slot);
        return true;
    });
    for (unsigned slot : due) {
        // TTOU may have removed the slot, or something refilled it, meanwhile; wants_worker()
        // checks again when the action's turn comes.
        if (!wants_worker(current_.number, slot)) continue;
        actions.push_back(spawn_worker(current_.number, slot, true));
    }
}

Actions MasterPolicy::signal(int signal_number, pid_t sender, TimePoint now) {
    Actions actions;
    switch (signal_number) {
        case kGracefulStopSignal:
            if (upgrade_child_ > 0 && sender == upgrade_child_) {
                log_notice("binary upgrade: new master %d is ready; this master drains and exits", upgrade_child_);
                actions.push_back(act_on_worker(ActionKind::hand_over, upgrade_child_));
                upgrade_child_ = 0;
                handed_over_ = true;
                begin_graceful_stop("replaced by a new binary", now, actions);
            } else {
                on_stop_signal(now, actions);
            }
            break;
        case kFastStopSignal: begin_fast_stop("SIGINT", now, actions); break;
        case kQuitSignal: begin_fast_stop("SIGQUIT", now, actions); break;
        case kReloadSignal: begin_reload(actions); break;
        case kReopenLogsSignal: actions.push_back(act(ActionKind::reopen_logs)); break;
        case kUpgradeSignal: begin_upgrade(actions); break;
        case kAddWorkerSignal: add_worker(actions); break;
        case kRemoveWorkerSignal: remove_worker(actions); break;
        default: log_warning("unexpected signal %d (%s) ignored", signal_number, ::strsignal(signal_number));
    }
    return actions;
}

Actions MasterPolicy::tick(TimePoint now) {
    Actions actions;
    if (drain_deadline_ && now >= *drain_deadline_) begin_graceful_stop("the drain period is over", now, actions);
    if (stopping()) {
        if (!workers_.empty() && now >= stop_deadline_) {
            actions.push_back(act_with_reason(ActionKind::kill_all, "the stop deadline passed"));
            stop_deadline_ = TimePoint::max();
        }
        return actions;
    }
    for (const Worker& worker : workers_) backoff_.on_alive(std::chrono::duration_cast<Duration>(now - worker.started));
    run_due_respawns(now, actions);
    if (pending_ && now - pending_->started > kReadyLimit) {
        fail_reload("the new workers were not ready within " +
                        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kReadyLimit).count()) + " s",
                    actions);
    }
    if (upgrade_child_ > 0 && now > upgrade_deadline_) {
        log_error("binary upgrade failed: the new master %d was not ready within %lld s; killing it", upgrade_child_,
                  static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(kUpgradeLimit).count()));
        actions.push_back(signal_upgrade_child(SIGKILL));
        upgrade_deadline_ = TimePoint::max();
    }
    return actions;
}

void MasterPolicy::begin_reload(Actions& actions) {
    if (stopping()) return;
    if (draining()) {
        // Said as a failed reload, so that `corral reload` reports it at once instead of waiting.
        fail_reload("a stop is under way, in its drain period", actions);
        return;
    }
    if (pending_ || state_ == MasterState::starting) {
        // One more reload once this one is settled: the file may have changed again since.
        log_notice("reload requested while another is in progress; it will follow");
        reload_requested_again_ = true;
        return;
    }
    actions.push_back(act(ActionKind::prepare_reload));
}

Actions MasterPolicy::reload_prepared(GenerationShape shape, TimePoint now) {
    Actions actions;
    pending_ = GenerationState{.number = current_.number + 1, .shape = shape, .started = now};
    state_ = MasterState::reloading;
    actions.push_back(act(ActionKind::notify_reloading));
    log_notice("starting generation %u with %u workers", pending_->number, shape.workers);
    for (unsigned slot = 0; slot < shape.workers; ++slot) {
        actions.push_back(spawn_worker(pending_->number, slot));
    }
    return actions;
}

Actions MasterPolicy::reload_not_prepared(const std::string& reason) {
    Actions actions;
    fail_reload(reason, actions);
    return actions;
}

template <typename Predicate>
void MasterPolicy::drain_where(Predicate chosen, Actions& actions) {
    for (Worker& worker : workers_) {
        if (worker.phase == WorkerPhase::draining || !chosen(worker)) continue;
        worker.phase = WorkerPhase::draining;
        actions.push_back(act_on_worker(ActionKind::drain, worker.pid));
    }
}

void MasterPolicy::drain_generation(unsigned generation, Actions& actions) {
    drain_where([generation](const Worker& worker) { return worker.generation == generation; }, actions);
}

void MasterPolicy::finish_reload(Actions& actions) {
    const unsigned old_generation = current_.number;
    drain_generation(old_generation, actions);
    current_ = *pending_;
    pending_.reset();
    actions.push_back(act(ActionKind::adopt_pending));
    respawns_.clear();
    deaths_before_ready_ = 0;
    replacements_stopped_ = false;
    state_ = MasterState::running;
    actions.push_back(act(ActionKind::reload_succeeded));
    actions.push_back(act(ActionKind::notify_ready));
    log_notice("reload complete: generation %u serving with %u workers; generation %u draining", current_.number,
               current_.shape.workers, old_generation);
    if (std::exchange(reload_requested_again_, false)) begin_reload(actions);
}

void MasterPolicy::fail_reload(const std::string& reason, Actions& actions) {
    if (pending_) {
        // Workers that did get ready may already hold connections: they drain, not die.
        drain_generation(pending_->number, actions);
        pending_.reset();
        actions.push_back(act(ActionKind::discard_pending));
    }
    const bool announced = state_ == MasterState::reloading;
    if (announced) state_ = MasterState::running;
    actions.push_back(act_with_reason(ActionKind::reload_failed, reason));
    // After RELOADING=1 the manager waits for READY=1; before it, only the status changes.
    actions.push_back(act(announced ? ActionKind::notify_ready : ActionKind::notify_status));
    log_error("reload failed: %s; generation %u keeps serving", reason.c_str(), current_.number);
    if (std::exchange(reload_requested_again_, false)) begin_reload(actions);
}

bool MasterPolicy::healthy() const {
    if (handed_over_) return true;
    return !draining() && (state_ == MasterState::running || state_ == MasterState::reloading);
}

// Behind a load balancer the workers go on accepting for the drain period while /healthz says
// 503, until the balancer's checks have taken this host out. A second SIGTERM skips the wait, as
// does a master that never got ready: no balancer sends it anything yet.
void MasterPolicy::on_stop_signal(TimePoint now, Actions& actions) {
    const Duration drain = current_.shape.drain;
    if (draining() || drain.count() == 0 || state_ == MasterState::starting) {
        begin_graceful_stop(draining() ? "SIGTERM again during the drain period" : "SIGTERM", now, actions);
        return;
    }
    drain_deadline_ = now + drain;
    log_notice("SIGTERM: /healthz answers 503 and the workers go on accepting for %lld ms before the stop; a second "
               "SIGTERM, SIGINT or SIGQUIT stops at once",
               static_cast<long long>(drain.count()));
    actions.push_back(act(ActionKind::notify_status));
}

void MasterPolicy::enter_stopping(TimePoint deadline, int upgrade_child_signal, Actions& actions) {
    drain_deadline_.reset();
    state_ = MasterState::stopping;
    stop_deadline_ = deadline;
    actions.push_back(act(ActionKind::notify_stopping));
    if (upgrade_child_ > 0) {
        // The operator wants the service gone: the new master of an unfinished upgrade goes too.
        log_notice("stopping the new master %d of an unfinished binary upgrade too", upgrade_child_);
        actions.push_back(signal_upgrade_child(upgrade_child_signal));
    }
    actions.push_back(act(ActionKind::close_listeners));
    pending_.reset();
}

void MasterPolicy::begin_graceful_stop(const char* why, TimePoint now, Actions& actions) {
    if (stopping()) return;
    log_notice("graceful stop (%s): closing listeners, draining %zu workers", why, workers_.size());
    enter_stopping(now + current_.shape.shutdown + kGracefulStopGrace, kGracefulStopSignal, actions);
    drain_where([](const Worker&) { return true; }, actions);
}

void MasterPolicy::begin_fast_stop(const char* why, TimePoint now, Actions& actions) {
    const TimePoint deadline = now + kFastStopGrace;
    if (stopping() && deadline >= stop_deadline_) return;
    log_notice("fast stop (%s): closing everything now", why);
    enter_stopping(deadline, kFastStopSignal, actions);
    for (Worker& worker : workers_) {
        worker.phase = WorkerPhase::draining;
        actions.push_back(act_on_worker(ActionKind::stop, worker.pid));
    }
}

void MasterPolicy::begin_upgrade(Actions& actions) {
    if (reported_state() != MasterState::running) {
        log_error("binary upgrade refused: the master is %s", master_state_name(reported_state()));
        return;
    }
    if (upgrade_child_ > 0) {
        log_error("binary upgrade refused: new master %d is still starting", upgrade_child_);
        return;
    }
    actions.push_back(act(ActionKind::start_upgrade));
}

void MasterPolicy::upgrade_started(pid_t new_master, TimePoint now) {
    upgrade_child_ = new_master;
    upgrade_deadline_ = now + kUpgradeLimit;
}

void MasterPolicy::upgrade_child_gone() { upgrade_child_ = 0; }

void MasterPolicy::add_worker(Actions& actions) {
    if (stopping()) return;
    if (current_.shape.workers >= BalanceBoard::kMaxSlots) {
        log_notice("SIGTTIN: already %u workers, the most a generation can have", current_.shape.workers);
        return;
    }
    ++current_.shape.workers;
    log_notice("SIGTTIN: %u workers", current_.shape.workers);
    actions.push_back(spawn_worker(current_.number, current_.shape.workers - 1));
}

void MasterPolicy::remove_worker(Actions& actions) {
    if (stopping()) return;
    if (current_.shape.workers <= 1) {
        log_notice("SIGTTOU: already down to one worker");
        return;
    }
    --current_.shape.workers;
    log_notice("SIGTTOU: %u workers", current_.shape.workers);
    drain_where([this](const Worker& worker) {
        return worker.generation == current_.number && worker.slot == current_.shape.workers;
    }, actions);
    actions.push_back(act_on_slot(ActionKind::close_slots_from, current_.shape.workers));
}

}  // namespace corral
