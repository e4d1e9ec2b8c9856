// MasterPolicy through every transition of start, supervision with backoff, reload, binary
// upgrade and stop, the awkward orders included, on a fake clock and with no processes. Each case
// states the events and the actions they must lead to, in order.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>

#include <optional>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "common/signals.hpp"
#include "master/master_policy.hpp"

using namespace corral;
using namespace std::chrono_literals;

namespace {

using Steps = std::vector<std::string>;

int exited(int code) { return W_EXITCODE(code, 0); }
int killed(int signal_number) { return W_EXITCODE(0, signal_number); }

// The master's acting layer as a test sees it: spawns succeed with made-up pids (or fail when
// told to), a reload prepares the shape it is given (or fails with the error it is given), and
// every action carried out is written down, as describe_action() words it.
class Simulation {
public:
    using TimePoint = MasterPolicy::TimePoint;

    Simulation() {
        // The policy logs what it decides; only the actions matter here.
        static const bool quiet = (log_configure(LogLevel::error, -1, false), true);
        (void)quiet;
    }

    MasterPolicy policy;
    TimePoint now = TimePoint{} + 1h;
    bool fail_spawns = false;
    std::optional<std::string> reload_error;
    MasterPolicy::GenerationShape next_shape{.workers = 2, .shutdown = 5000ms, .drain = 0ms};

    Steps start(unsigned workers, std::chrono::milliseconds shutdown = 5000ms, std::chrono::milliseconds drain = 0ms) {
        return carry(policy.start({.workers = workers, .shutdown = shutdown, .drain = drain}, now));
    }
    Steps start_failed() { return carry(policy.start_failed()); }
    Steps ready(pid_t pid) { return carry(policy.worker_ready(pid)); }
    // Every live worker of `generation` that has not said so yet says it is ready.
    Steps ready_all(unsigned generation) {
        Steps steps;
        for (const LiveWorker& worker : std::vector<LiveWorker>(live_)) {
            if (worker.generation == generation) append(steps, ready(worker.pid));
        }
        return steps;
    }
    Steps exit(pid_t pid, int status, const std::string& start_failure = "") {
        std::erase_if(live_, [pid](const LiveWorker& worker) { return worker.pid == pid; });
        return carry(policy.worker_exited(pid, status, start_failure, now));
    }
    Steps signal(int signal_number, pid_t sender = 1) { return carry(policy.signal(signal_number, sender, now)); }
    Steps advance(std::chrono::milliseconds by) {
        now += by;
        return carry(policy.tick(now));
    }
    void upgrade_started(pid_t new_master) { policy.upgrade_started(new_master, now); }

    // The newest live worker in `slot` of `generation`; 0 if none.
    pid_t pid_of(unsigned generation, unsigned slot) const {
        pid_t found = 0;
        for (const LiveWorker& worker : live_) {
            if (worker.generation == generation && worker.slot == slot) found = worker.pid;
        }
        return found;
    }
    std::size_t live() const { return live_.size(); }

private:
    struct LiveWorker {
        pid_t pid;
        unsigned generation;
        unsigned slot;
    };

    static void append(Steps& steps, const Steps& more) { steps.insert(steps.end(), more.begin(), more.end()); }

    Steps carry(const Actions& actions) {
        Steps steps;
        for (const Action& action : actions) carry(action, steps);
        return steps;
    }

    void carry(const Action& action, Steps& steps) {
        if (action.kind == ActionKind::spawn && !policy.wants_worker(action.generation, action.slot)) {
            steps.push_back("skipped " + describe_action(action));
            return;
        }
        steps.push_back(describe_action(action));
        if (action.kind == ActionKind::spawn) {
            if (fail_spawns) {
                append(steps, carry(policy.spawn_failed(action.generation, action.slot, now)));
                return;
            }
            const pid_t pid = next_pid_++;
            live_.push_back(LiveWorker{pid, action.generation, action.slot});
            policy.spawned(action.generation, action.slot, pid, now);
        } else if (action.kind == ActionKind::prepare_reload) {
            append(steps, carry(reload_error ? policy.reload_not_prepared(*reload_error)
                                             : policy.reload_prepared(next_shape, now)));
        }
    }

    pid_t next_pid_ = 100;
    std::vector<LiveWorker> live_;
};

// A simulation whose generation 1 of `workers` is up and ready: pids 100, 101, ...
Simulation running(unsigned workers = 2) {
    Simulation simulation;
    simulation.start(workers);
    simulation.ready_all(1);
    return simulation;
}

}  // namespace

TEST_CASE("start: one spawn per worker, then ready once all of them are") {
    Simulation sim;
    CHECK(sim.start(2) == Steps{"spawn generation 1 slot 0", "spawn generation 1 slot 1"});
    CHECK(sim.policy.state() == MasterState::starting);
    CHECK(sim.ready(100) == Steps{});
    CHECK(sim.ready(101) == Steps{"notify_ready", "tell_previous_master"});
    CHECK(sim.policy.state() == MasterState::running);
    CHECK(sim.ready(101) == Steps{});
}

TEST_CASE("start: a fork that fails stops the master with code 1 and spawns no more") {
    Simulation sim;
    sim.fail_spawns = true;
    CHECK(sim.start(2) ==
          Steps{"spawn generation 1 slot 0", "kill_all: start-up failed", "skipped spawn generation 1 slot 1"});
    CHECK(sim.policy.stopping());
    CHECK(sim.policy.finished());
    CHECK(sim.policy.exit_code() == 1);
}

TEST_CASE("start: set-up that failed before any worker stops with code 1") {
    Simulation sim;
    CHECK(sim.start_failed() == Steps{"kill_all: start-up failed"});
}

TEST_CASE("start: a worker whose service could not start stops the master with code 1") {
    Simulation sim;
    sim.start(2);
    CHECK(sim.exit(100, exited(1), "the module said no") ==
          Steps{"clear_balance_slot 0", "notify_stopping", "close_listeners", "drain 101"});
    CHECK(sim.policy.exit_code() == 1);
    CHECK(sim.exit(101, exited(0)) == Steps{});
    CHECK(sim.policy.finished());
}

TEST_CASE("start: workers dying before ready are replaced with backoff, and the fifth death stops") {
    Simulation sim;
    sim.start(1);
    CHECK(sim.exit(100, killed(SIGSEGV)) == Steps{"clear_balance_slot 0"});
    CHECK(sim.advance(99ms) == Steps{});
    CHECK(sim.advance(1ms) == Steps{"spawn generation 1 slot 0 (replacement)"});
    for (const auto delay : {200ms, 400ms, 800ms}) {
        CHECK(sim.exit(sim.pid_of(1, 0), killed(SIGSEGV)) == Steps{"clear_balance_slot 0"});
        CHECK(sim.advance(delay - 1ms) == Steps{});
        CHECK(sim.advance(1ms) == Steps{"spawn generation 1 slot 0 (replacement)"});
    }
    CHECK(sim.exit(sim.pid_of(1, 0), killed(SIGSEGV)) ==
          Steps{"clear_balance_slot 0", "notify_stopping", "close_listeners"});
    CHECK(sim.policy.finished());
    CHECK(sim.policy.exit_code() == 1);
}

TEST_CASE("running: a worker that lived long is replaced at once") {
    Simulation sim = running(2);
    sim.advance(5s);
    CHECK(sim.exit(101, killed(SIGKILL)) == Steps{"clear_balance_slot 1", "spawn generation 1 slot 1 (replacement)"});
    CHECK(sim.policy.respawn_delay() == 0ms);
    CHECK(sim.policy.count(1) == 2);
}

TEST_CASE("running: workers dying young wait for the backoff, and one that lives 10 s ends it") {
    Simulation sim = running(1);
    CHECK(sim.exit(100, killed(SIGSEGV)) == Steps{"clear_balance_slot 0"});
    CHECK(sim.policy.respawn_delay() == 100ms);
    CHECK(sim.advance(100ms) == Steps{"spawn generation 1 slot 0 (replacement)"});
    CHECK(sim.exit(sim.pid_of(1, 0), killed(SIGSEGV)) == Steps{"clear_balance_slot 0"});
    CHECK(sim.policy.respawn_delay() == 200ms);
    CHECK(sim.advance(200ms) == Steps{"spawn generation 1 slot 0 (replacement)"});
    CHECK(sim.ready(sim.pid_of(1, 0)) == Steps{});
    sim.advance(10s);
    CHECK(sim.policy.respawn_delay() == 0ms);
}

TEST_CASE("running: exit code 2 is fatal: the master stops with code 1") {
    Simulation sim = running(2);
    CHECK(sim.exit(100, exited(2)) == Steps{"clear_balance_slot 0", "notify_stopping", "close_listeners", "drain 101"});
    CHECK(sim.policy.exit_code() == 1);
}

TEST_CASE("running: replacements that keep dying stop after eight, and corral stops when none is left") {
    Simulation sim = running(2);
    sim.exit(100, killed(SIGSEGV));
    for (int death = 0; death < 8; ++death) {
        CHECK(sim.advance(10s) == Steps{"spawn generation 1 slot 0 (replacement)"});
        CHECK(sim.exit(sim.pid_of(1, 0), killed(SIGSEGV)) == Steps{"clear_balance_slot 0"});
    }
    CHECK(sim.advance(10s) == Steps{});
    CHECK(sim.pid_of(1, 0) == 0);
    CHECK_FALSE(sim.policy.stopping());
    CHECK(sim.exit(101, killed(SIGKILL)) == Steps{"clear_balance_slot 1", "notify_stopping", "close_listeners"});
    CHECK(sim.policy.exit_code() == 1);
}

TEST_CASE("running: deaths of workers that were ready never stop replacements") {
    Simulation sim = running(1);
    for (int death = 0; death < 12; ++death) {
        sim.exit(sim.pid_of(1, 0), killed(SIGKILL));
        sim.advance(11s);
        REQUIRE(sim.pid_of(1, 0) != 0);
        sim.ready(sim.pid_of(1, 0));
    }
    CHECK_FALSE(sim.policy.stopping());
}

TEST_CASE("reload: the new generation starts, and the old one drains only once it is ready") {
    Simulation sim = running(2);
    sim.next_shape.workers = 3;
    CHECK(sim.signal(kReloadSignal) == Steps{"prepare_reload", "notify_reloading", "spawn generation 2 slot 0",
                                             "spawn generation 2 slot 1", "spawn generation 2 slot 2"});
    CHECK(sim.policy.state() == MasterState::reloading);
    CHECK(sim.ready(102) == Steps{});
    CHECK(sim.ready(103) == Steps{});
    CHECK(sim.ready(104) == Steps{"drain 100", "drain 101", "adopt_pending", "reload_succeeded", "notify_ready"});
    CHECK(sim.policy.state() == MasterState::running);
    CHECK(sim.policy.generation() == 2);
    CHECK(sim.policy.workers_wanted() == 3);
    // The drained workers leave without being replaced.
    CHECK(sim.exit(100, exited(0)) == Steps{});
    CHECK(sim.exit(101, exited(0)) == Steps{});
}

TEST_CASE("reload: a config that does not load fails it without RELOADING=1") {
    Simulation sim = running(2);
    sim.reload_error = "corral.yaml:3:1: workers: not a number";
    CHECK(sim.signal(kReloadSignal) ==
          Steps{"prepare_reload", "reload_failed: corral.yaml:3:1: workers: not a number", "notify_status"});
    CHECK(sim.policy.state() == MasterState::running);
    CHECK(sim.policy.generation() == 1);
}

TEST_CASE("reload: a HUP during a reload is one more reload once it is settled") {
    Simulation sim = running(1);
    sim.next_shape.workers = 1;
    sim.signal(kReloadSignal);
    CHECK(sim.signal(kReloadSignal) == Steps{});
    CHECK(sim.signal(kReloadSignal) == Steps{});
    CHECK(sim.ready(101) == Steps{"drain 100", "adopt_pending", "reload_succeeded", "notify_ready", "prepare_reload",
                                  "notify_reloading", "spawn generation 3 slot 0"});
    CHECK(sim.ready(102) == Steps{"drain 101", "adopt_pending", "reload_succeeded", "notify_ready"});
    CHECK(sim.policy.generation() == 3);
}

TEST_CASE("reload: a HUP while starting waits for the start") {
    Simulation sim;
    sim.start(1);
    CHECK(sim.signal(kReloadSignal) == Steps{});
    CHECK(sim.ready(100) == Steps{"notify_ready", "tell_previous_master", "prepare_reload", "notify_reloading",
                                  "spawn generation 2 slot 0", "spawn generation 2 slot 1"});
}

TEST_CASE("reload: a new worker that dies while starting fails it; its ready siblings drain") {
    Simulation sim = running(2);
    sim.signal(kReloadSignal);
    sim.ready(102);
    CHECK(sim.exit(103, killed(SIGSEGV)) ==
          Steps{"drain 102", "discard_pending",
                "reload_failed: worker 103 was killed by signal 11 (Segmentation fault) while starting",
                "notify_ready"});
    CHECK(sim.policy.generation() == 1);
    CHECK(sim.policy.state() == MasterState::running);
    CHECK(sim.exit(102, exited(0)) == Steps{});
}

TEST_CASE("reload: the sentence of a new worker's failed service is the reload's error") {
    Simulation sim = running(1);
    sim.signal(kReloadSignal);
    const Steps steps = sim.exit(101, exited(1), "resp.so: port taken");
    CHECK(steps == Steps{"drain 102", "discard_pending", "reload_failed: resp.so: port taken", "notify_ready"});
}

TEST_CASE("reload: exit code 2 from the new generation fails the reload, not the master") {
    Simulation sim = running(1);
    sim.signal(kReloadSignal);
    sim.exit(101, exited(2));
    CHECK_FALSE(sim.policy.stopping());
    CHECK(sim.policy.pending_generation() == std::nullopt);
}

TEST_CASE("reload: exit code 2 from the serving generation during a reload stops everything") {
    Simulation sim = running(1);
    sim.signal(kReloadSignal);
    CHECK(sim.exit(100, exited(2)) == Steps{"clear_balance_slot 0", "notify_stopping", "close_listeners", "drain 101",
                                            "drain 102"});
    CHECK(sim.policy.exit_code() == 1);
}

TEST_CASE("reload: the old generation's worker dying during a reload is replaced in the old generation") {
    Simulation sim = running(2);
    sim.signal(kReloadSignal);
    sim.advance(5s);
    CHECK(sim.exit(100, killed(SIGKILL)) == Steps{"clear_balance_slot 0", "spawn generation 1 slot 0 (replacement)"});
    sim.ready_all(2);
    CHECK(sim.policy.generation() == 2);
}

TEST_CASE("reload: a new worker that dies while the old generation drains is replaced in the new one") {
    Simulation sim = running(2);
    sim.signal(kReloadSignal);
    sim.ready_all(2);
    sim.advance(5s);
    CHECK(sim.exit(103, killed(SIGKILL)) == Steps{"clear_balance_slot 1", "spawn generation 2 slot 1 (replacement)"});
    CHECK(sim.exit(100, exited(0)) == Steps{});
}

TEST_CASE("reload: a new generation not ready within 10 s fails") {
    Simulation sim = running(1);
    sim.signal(kReloadSignal);
    sim.ready(101);
    CHECK(sim.advance(10s) == Steps{});
    CHECK(sim.advance(100ms) == Steps{"drain 101", "drain 102", "discard_pending",
                                      "reload_failed: the new workers were not ready within 10 s", "notify_ready"});
}

TEST_CASE("reload: a fork that fails fails the reload and spawns no more of it") {
    Simulation sim = running(1);
    sim.fail_spawns = true;
    CHECK(sim.signal(kReloadSignal) == Steps{"prepare_reload", "notify_reloading", "spawn generation 2 slot 0",
                                             "discard_pending", "reload_failed: could not start the new workers",
                                             "notify_ready", "skipped spawn generation 2 slot 1"});
}

TEST_CASE("reload: a reload brings back replacements that had stopped") {
    Simulation sim = running(2);
    sim.exit(100, killed(SIGSEGV));
    for (int death = 0; death < 8; ++death) {
        sim.advance(10s);
        sim.exit(sim.pid_of(1, 0), killed(SIGSEGV));
    }
    CHECK(sim.advance(10s) == Steps{});
    sim.signal(kReloadSignal);
    sim.ready_all(2);
    REQUIRE(sim.policy.generation() == 2);
    CHECK(sim.exit(sim.pid_of(2, 0), killed(SIGSEGV)) == Steps{"clear_balance_slot 0"});
    CHECK(sim.advance(100ms) == Steps{"spawn generation 2 slot 0 (replacement)"});
}

TEST_CASE("stop: SIGTERM drains every worker and kills what is left after shutdown + 2 s") {
    Simulation sim = running(2);
    CHECK(sim.signal(kGracefulStopSignal) == Steps{"notify_stopping", "close_listeners", "drain 100", "drain 101"});
    CHECK(sim.signal(kReloadSignal) == Steps{});
    CHECK(sim.signal(kAddWorkerSignal) == Steps{});
    CHECK(sim.signal(kGracefulStopSignal) == Steps{});
    CHECK(sim.exit(100, exited(0)) == Steps{});
    CHECK(sim.advance(6999ms) == Steps{});
    CHECK(sim.advance(1ms) == Steps{"kill_all: the stop deadline passed"});
    CHECK(sim.advance(1s) == Steps{});
    CHECK(sim.exit(101, killed(SIGKILL)) == Steps{});
    CHECK(sim.policy.finished());
    CHECK(sim.policy.exit_code() == 0);
}

TEST_CASE("stop: SIGINT after SIGTERM stops the workers at once with a 500 ms deadline") {
    Simulation sim = running(2);
    sim.signal(kGracefulStopSignal);
    CHECK(sim.signal(kFastStopSignal) == Steps{"notify_stopping", "close_listeners", "stop 100", "stop 101"});
    CHECK(sim.signal(kQuitSignal) == Steps{});
    CHECK(sim.advance(500ms) == Steps{"kill_all: the stop deadline passed"});
}

TEST_CASE("stop: SIGTERM during a reload drains both generations") {
    Simulation sim = running(1);
    sim.signal(kReloadSignal);
    CHECK(sim.signal(kGracefulStopSignal) ==
          Steps{"notify_stopping", "close_listeners", "drain 100", "drain 101", "drain 102"});
    CHECK(sim.ready(101) == Steps{});
    CHECK(sim.policy.pending_generation() == std::nullopt);
}

TEST_CASE("upgrade: the new master's SIGTERM hands over and drains") {
    Simulation sim = running(1);
    CHECK(sim.signal(kUpgradeSignal) == Steps{"start_upgrade"});
    sim.upgrade_started(500);
    CHECK(sim.signal(kUpgradeSignal) == Steps{});
    CHECK(sim.signal(kGracefulStopSignal, 500) ==
          Steps{"hand_over 500", "notify_stopping", "close_listeners", "drain 100"});
    CHECK(sim.policy.upgrade_child() == 0);
}

TEST_CASE("upgrade: a stop during an upgrade stops the new master the same way") {
    SUBCASE("SIGTERM from someone else") {
        Simulation sim = running(1);
        sim.signal(kUpgradeSignal);
        sim.upgrade_started(500);
        CHECK(sim.signal(kGracefulStopSignal, 1) ==
              Steps{"notify_stopping", "signal_upgrade_child TERM", "close_listeners", "drain 100"});
    }
    SUBCASE("SIGINT") {
        Simulation sim = running(1);
        sim.signal(kUpgradeSignal);
        sim.upgrade_started(500);
        CHECK(sim.signal(kFastStopSignal) ==
              Steps{"notify_stopping", "signal_upgrade_child INT", "close_listeners", "stop 100"});
    }
}

TEST_CASE("upgrade: a new master not ready within 30 s is killed, and then another may start") {
    Simulation sim = running(1);
    sim.signal(kUpgradeSignal);
    sim.upgrade_started(500);
    CHECK(sim.advance(30s) == Steps{});
    CHECK(sim.advance(100ms) == Steps{"signal_upgrade_child KILL"});
    CHECK(sim.advance(100ms) == Steps{});
    CHECK(sim.signal(kUpgradeSignal) == Steps{});
    sim.policy.upgrade_child_gone();
    CHECK(sim.signal(kUpgradeSignal) == Steps{"start_upgrade"});
}

TEST_CASE("upgrade: refused while starting, reloading or stopping") {
    Simulation sim;
    sim.start(1);
    CHECK(sim.signal(kUpgradeSignal) == Steps{});
    sim.ready(100);
    sim.signal(kReloadSignal);
    CHECK(sim.signal(kUpgradeSignal) == Steps{});
    sim.ready_all(2);
    sim.signal(kGracefulStopSignal);
    CHECK(sim.signal(kUpgradeSignal) == Steps{});
}

TEST_CASE("workers: TTIN adds a slot, TTOU drains the last one and closes its sockets") {
    Simulation sim = running(2);
    CHECK(sim.signal(kAddWorkerSignal) == Steps{"spawn generation 1 slot 2"});
    CHECK(sim.policy.workers_wanted() == 3);
    CHECK(sim.signal(kRemoveWorkerSignal) == Steps{"drain 102", "close_slots_from 2"});
    CHECK(sim.signal(kRemoveWorkerSignal) == Steps{"drain 101", "close_slots_from 1"});
    CHECK(sim.signal(kRemoveWorkerSignal) == Steps{});
    CHECK(sim.policy.workers_wanted() == 1);
    CHECK(sim.exit(102, exited(0)) == Steps{});
}

TEST_CASE("workers: a replacement due for a slot that TTOU removed is not started") {
    Simulation sim = running(2);
    sim.exit(101, killed(SIGSEGV));
    CHECK(sim.signal(kRemoveWorkerSignal) == Steps{"close_slots_from 1"});
    CHECK(sim.advance(1s) == Steps{});
    CHECK(sim.policy.count(1) == 1);
}

TEST_CASE("workers: a fork that fails for a replacement is retried after the backoff") {
    Simulation sim = running(1);
    sim.advance(5s);
    sim.fail_spawns = true;
    CHECK(sim.exit(100, killed(SIGKILL)) ==
          Steps{"clear_balance_slot 0", "spawn generation 1 slot 0 (replacement)"});
    sim.fail_spawns = false;
    CHECK(sim.advance(100ms) == Steps{"spawn generation 1 slot 0 (replacement)"});
}

TEST_CASE("signals: USR1 reopens the logs in every state") {
    Simulation sim;
    sim.start(1);
    CHECK(sim.signal(kReopenLogsSignal) == Steps{"reopen_logs"});
}

TEST_CASE("stop: SIGTERM while starting drains the workers that are starting, and exits with 0") {
    Simulation sim;
    sim.start(2);
    sim.ready(100);
    CHECK(sim.signal(kGracefulStopSignal) == Steps{"notify_stopping", "close_listeners", "drain 100", "drain 101"});
    CHECK(sim.ready(101) == Steps{});
    sim.exit(100, exited(0));
    sim.exit(101, exited(0));
    CHECK(sim.policy.finished());
    CHECK(sim.policy.exit_code() == 0);
}

TEST_CASE("upgrade: a new master that exits before it is ready leaves this one serving") {
    Simulation sim = running(1);
    sim.signal(kUpgradeSignal);
    sim.upgrade_started(500);
    sim.policy.upgrade_child_gone();
    CHECK(sim.policy.state() == MasterState::running);
    CHECK(sim.advance(31s) == Steps{});
    // A SIGTERM from the pid it had is now an operator's stop, not a hand-over.
    CHECK(sim.signal(kGracefulStopSignal, 500) == Steps{"notify_stopping", "close_listeners", "drain 100"});
}

TEST_CASE("drain: SIGTERM with timeouts.drain keeps serving, unhealthy, until the period is over") {
    Simulation sim;
    sim.start(2, 5000ms, 3000ms);
    sim.ready_all(1);
    REQUIRE(sim.policy.healthy());
    CHECK(sim.signal(kGracefulStopSignal) == Steps{"notify_status"});
    CHECK(sim.policy.draining());
    CHECK_FALSE(sim.policy.healthy());
    CHECK_FALSE(sim.policy.stopping());
    CHECK(sim.policy.reported_state() == MasterState::stopping);
    // Still a serving generation: a worker that dies is replaced, and reloads or upgrades wait.
    sim.advance(1s);
    CHECK(sim.exit(100, killed(SIGKILL)) == Steps{"clear_balance_slot 0", "spawn generation 1 slot 0 (replacement)"});
    CHECK(sim.signal(kReloadSignal) ==
          Steps{"reload_failed: a stop is under way, in its drain period", "notify_status"});
    CHECK(sim.signal(kUpgradeSignal) == Steps{});
    CHECK(sim.advance(1999ms) == Steps{});
    CHECK(sim.advance(1ms) == Steps{"notify_stopping", "close_listeners", "drain 101", "drain 102"});
    CHECK(sim.policy.stopping());
}

TEST_CASE("drain: a second SIGTERM, SIGINT or SIGQUIT skips the wait") {
    Simulation sim;
    sim.start(1, 5000ms, 30'000ms);
    sim.ready_all(1);
    sim.signal(kGracefulStopSignal);
    REQUIRE(sim.policy.draining());
    SUBCASE("SIGTERM") {
        CHECK(sim.signal(kGracefulStopSignal) == Steps{"notify_stopping", "close_listeners", "drain 100"});
    }
    SUBCASE("SIGINT") {
        CHECK(sim.signal(kFastStopSignal) == Steps{"notify_stopping", "close_listeners", "stop 100"});
    }
    SUBCASE("SIGQUIT") {
        CHECK(sim.signal(kQuitSignal) == Steps{"notify_stopping", "close_listeners", "stop 100"});
    }
    CHECK_FALSE(sim.policy.draining());
}

TEST_CASE("drain: a master that was never ready stops at once") {
    Simulation sim;
    sim.start(1, 5000ms, 30'000ms);
    CHECK(sim.signal(kGracefulStopSignal) == Steps{"notify_stopping", "close_listeners", "drain 100"});
}

TEST_CASE("drain: a reload under way when SIGTERM comes finishes, and the drain goes on") {
    Simulation sim;
    sim.start(1, 5000ms, 3000ms);
    sim.ready_all(1);
    sim.next_shape = {.workers = 1, .shutdown = 5000ms, .drain = 3000ms};
    sim.signal(kReloadSignal);
    CHECK(sim.signal(kGracefulStopSignal) == Steps{"notify_status"});
    CHECK(sim.ready(101) == Steps{"drain 100", "adopt_pending", "reload_succeeded", "notify_ready"});
    CHECK(sim.policy.draining());
    CHECK_FALSE(sim.policy.healthy());
    CHECK(sim.advance(3s) == Steps{"notify_stopping", "close_listeners", "drain 101"});
}

TEST_CASE("upgrade: once this master has handed over, /healthz answers for the new one") {
    Simulation sim = running(1);
    sim.signal(kUpgradeSignal);
    sim.upgrade_started(500);
    REQUIRE(sim.policy.healthy());
    sim.signal(kGracefulStopSignal, 500);
    CHECK(sim.policy.stopping());
    CHECK(sim.policy.healthy());
}
