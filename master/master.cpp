// The master's loop: one epoll over a signalfd, a 100 ms timerfd, the worker socketpairs and the
// admin listener. It never sleeps and never blocks; every deadline is checked on the tick.
#include "master/master.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/address.hpp"
#include "common/log.hpp"
#include "common/notify.hpp"
#include "common/signals.hpp"
#include "common/trusted_path.hpp"
#include "master/log_file.hpp"

namespace corral {
namespace {

constexpr std::chrono::milliseconds kTick{100};
// A fast stop asks workers to exit at once; one that has not after this is killed, so the master
// is gone well within the second that corral(8) promises.
constexpr std::chrono::milliseconds kFastStopGrace{500};
// Workers enforce timeouts.shutdown themselves; this is how much longer the master waits before
// it stops trusting them.
constexpr std::chrono::milliseconds kGracefulStopGrace{2000};
constexpr int kAdminBacklog = 64;

}  // namespace

Master::Master(const Config& config, std::string binary_path, Inheritance inheritance)
    : binary_path_(std::move(binary_path)),
      supervisor_(loop_, *this),
      admin_(loop_, *this),
      inherited_(std::move(inheritance.sockets)),
      previous_master_(std::move(inheritance.previous_master)) {
    current_.config = config;
}

bool Master::configure_logging() {
    if (config().log.file.empty()) {
        log_configure(config().log.level, STDERR_FILENO, stderr_is_journal());
        log_file_.reset();
        return true;
    }
    std::string error;
    Fd file = open_log_file(config().log.file, trusted_owners(config()), error);
    if (!file) {
        log_error("%s", error.c_str());
        return false;
    }
    log_configure(config().log.level, file.get(), false);
    log_file_ = std::move(file);
    return true;
}

// Workers may have dropped the privilege to open the file themselves: they get the master's
// new descriptor with the message. If the master cannot reopen it, everyone keeps the old one.
void Master::reopen_logs() {
    if (config().log.file.empty() || !configure_logging()) return;
    log_notice("log file reopened");
    supervisor_.broadcast(MessageType::reopen_logs, log_file_.get());
}

void Master::raise_descriptor_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        log_warning("getrlimit(RLIMIT_NOFILE) failed: %m");
        return;
    }
    const rlim_t wanted = static_cast<rlim_t>(config().limits.nofile);
    rlim_t target = wanted;
    if (limit.rlim_max != RLIM_INFINITY && target > limit.rlim_max) target = limit.rlim_max;
    if (target != limit.rlim_cur) {
        limit.rlim_cur = target;
        if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
            log_warning("setrlimit(RLIMIT_NOFILE, %llu) failed: %m", static_cast<unsigned long long>(target));
            return;
        }
    }
    if (target < wanted) {
        log_warning("open file limit is %llu: limits.nofile asks for %llu but the hard limit is lower",
                    static_cast<unsigned long long>(target), static_cast<unsigned long long>(wanted));
    } else {
        log_info("open file limit is %llu", static_cast<unsigned long long>(target));
    }
}

bool Master::bind_admin(const std::optional<Address>& address, std::vector<InheritedSocket>& inherited) {
    admin_address_ = address;
    if (!address) return true;
    Fd fd = take_inherited(inherited, *address, true);
    SocketFile file;
    std::string error;
    if (!fd) {
        // Only the master's owner, or the members of admin.group, may ask it anything.
        const BindOptions options{.backlog = kAdminBacklog, .reuseport = false,
                                  .trusted_owners = trusted_owners(config()),
                                  .unix_mode = static_cast<mode_t>(config().admin_gid ? 0660 : 0600),
                                  .unix_group = config().admin_gid};
        fd = bind_listener(*address, options, file, error);
    }
    if (!fd) {
        log_error("admin: %s", error.c_str());
        return false;
    }
    if (auto bound = local_address(fd.get())) admin_address_ = *bound;
    log_info("admin endpoints on %s", format_address(*admin_address_).c_str());
    return admin_.start(std::move(fd), std::move(file));
}

bool Master::start() {
    ::prctl(PR_SET_NAME, "corral-master", 0, 0, 0);
    ignore_sigpipe();
    if (!configure_logging()) return false;
    if (!loop_.valid()) {
        log_error("epoll_create1() failed: %m");
        return false;
    }
    signals_ = WatchedFd(loop_, open_signalfd({kGracefulStopSignal, kFastStopSignal, kQuitSignal, kReloadSignal,
                                               kReopenLogsSignal, kUpgradeSignal, kAddWorkerSignal,
                                               kRemoveWorkerSignal, SIGCHLD}));
    if (!signals_) {
        log_error("signalfd() failed: %m");
        return false;
    }
    tick_timer_ = WatchedFd(loop_, Fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)));
    itimerspec period{};
    period.it_interval.tv_nsec = std::chrono::nanoseconds(kTick).count();
    period.it_value = period.it_interval;
    if (!tick_timer_ || ::timerfd_settime(tick_timer_.get(), 0, &period, nullptr) != 0) {
        log_error("timerfd failed: %m");
        return false;
    }
    if (!signals_.watch(EPOLLIN, &signal_handler_) || !tick_timer_.watch(EPOLLIN, &tick_handler_)) {
        log_error("epoll_ctl(ADD) failed: %m");
        return false;
    }

    raise_descriptor_limit();
    if ((!config().user.empty() || !config().group.empty()) && ::geteuid() != 0) {
        log_notice("not running as root: user and group are left as they are");
    }
    watchdog_interval_ = watchdog_interval();
    std::vector<InheritedSocket> inherited = std::move(inherited_);
    // Until the previous master has handed over, it is the main pid and feeds the watchdog.
    if (previous_master_.pid > 0) next_watchdog_ = Clock::time_point::max();
    std::string error;
    current_.number = 1;
    current_.workers = config().workers;
    current_.started = Clock::now();
    current_.board = make_balance_board();
    if (!bind_listeners(config().listen, config().workers, {}, inherited, trusted_owners(config()), current_.listeners,
                        error)) {
        log_error("%s", error.c_str());
        return false;
    }
    if (!bind_admin(config().admin_listen, inherited)) return false;
    for (const InheritedSocket& socket : inherited) {
        if (socket.fd) {
            log_error("inherited socket %s matches no listen entry or admin.listen in %s",
                      format_address(socket.address).c_str(), config().path.c_str());
            return false;
        }
    }
    if (!config().pid_file.empty() && !pid_file_.write(config().pid_file, trusted_owners(config()), error)) {
        log_error("%s", error.c_str());
        return false;
    }
    log_notice("corral %s starting %u workers (pid %d)", CORRAL_VERSION, config().workers, ::getpid());
    for (unsigned slot = 0; slot < current_.workers; ++slot) {
        if (!supervisor_.spawn(current_, slot)) return false;
    }
    return true;
}

int Master::run() {
    log_set_origin("master");
    if (!start()) {
        supervisor_.kill_all("start-up failed");
        state_ = MasterState::stopping;
        exit_code_ = 1;
    }
    while (!(state_ == MasterState::stopping && supervisor_.live() == 0)) {
        if (!loop_.run_once(-1)) {
            log_error("epoll_wait() failed: %m");
            supervisor_.kill_all("the master's loop failed");
            exit_code_ = 1;
            break;
        }
        supervisor_.release_retired();
        admin_.release_closed();
    }
    // Orphans are impossible by construction, but a worker killed above must still be reaped.
    while (supervisor_.live() > 0) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, 0);
        if (pid < 0) break;
        supervisor_.on_exit(pid, status);
    }
    admin_.close_all();
    current_.listeners.clear();
    pending_.reset();
    pid_file_.remove();
    log_notice("exiting with code %d", exit_code_);
    return exit_code_;
}

void Master::on_signal() {
    for (;;) {
        signalfd_siginfo info{};
        if (::read(signals_.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return;
        const int signal = static_cast<int>(info.ssi_signo);
        switch (signal) {
            case SIGCHLD: on_child_exit(); break;
            case kGracefulStopSignal:
                if (upgrade_child_ > 0 && static_cast<pid_t>(info.ssi_pid) == upgrade_child_) {
                    on_upgrade_complete();
                } else {
                    begin_graceful_stop("SIGTERM");
                }
                break;
            case kFastStopSignal: begin_fast_stop("SIGINT"); break;
            case kQuitSignal: begin_fast_stop("SIGQUIT"); break;
            case kReloadSignal: begin_reload(); break;
            case kReopenLogsSignal: reopen_logs(); break;
            case kUpgradeSignal: begin_upgrade(); break;
            case kAddWorkerSignal: add_worker(); break;
            case kRemoveWorkerSignal: remove_worker(); break;
            default: log_warning("unexpected signal %d (%s) ignored", signal, ::strsignal(signal));
        }
    }
}

void Master::on_child_exit() {
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        if (supervisor_.on_exit(pid, status)) continue;
        if (pid == upgrade_child_) {
            on_upgrade_child_exit(status);
            continue;
        }
        log_debug("reaped process %d, %s", pid, describe_exit(status).c_str());
    }
}

void Master::on_tick() {
    std::uint64_t expirations = 0;
    if (::read(tick_timer_.get(), &expirations, sizeof expirations) < 0) return;
    const Clock::time_point now = Clock::now();
    update_service_manager(now);
    admin_.on_tick(now);
    if (state_ == MasterState::stopping) {
        if (supervisor_.live() > 0 && now >= stop_deadline_) {
            supervisor_.kill_all("the stop deadline passed");
            stop_deadline_ = Clock::time_point::max();
        }
        return;
    }
    supervisor_.check_heartbeats(now, config().timeouts.heartbeat);
    for (const auto& worker : supervisor_.workers()) {
        backoff_.on_alive(std::chrono::duration_cast<std::chrono::milliseconds>(now - worker->started));
    }
    run_due_respawns(now);
    check_reload_deadline(now);
    check_upgrade_deadline(now);
}

void Master::on_worker_ready(WorkerProcess& worker) {
    if (worker.generation == current_.number) deaths_before_ready_ = 0;
    if (pending_ && worker.generation == pending_->number) {
        if (supervisor_.generation_ready(pending_->number) &&
            supervisor_.count(pending_->number) == pending_->workers) {
            finish_reload();
        }
        return;
    }
    if (state_ == MasterState::starting && worker.generation == current_.number &&
        supervisor_.generation_ready(current_.number) && supervisor_.count(current_.number) == current_.workers) {
        state_ = MasterState::running;
        log_info("all %u workers are ready", current_.workers);
        notify_ready(status_text());
        tell_previous_master();
        if (std::exchange(reload_requested_again_, false)) begin_reload();
    }
}

void Master::on_worker_exit(const WorkerProcess& worker, int status) {
    if (state_ == MasterState::stopping) return;
    const bool fatal = WIFEXITED(status) && WEXITSTATUS(status) == 2;
    if (pending_ && worker.generation == pending_->number) {
        fail_reload(!worker.start_failure.empty() ? worker.start_failure
                                                  : "worker " + std::to_string(worker.pid) + " " +
                                                        describe_exit(status) + " while starting");
        return;
    }
    if (worker.generation != current_.number || worker.state == WorkerState::draining) return;
    // Its place on the board is empty now, and what it was woken for and never took is queued
    // for the others, whom no wake-up will tell.
    if (current_.board) {
        current_.board->clear(worker.slot);
        current_.board->nudge();
    }
    // A service that cannot start at the first start (a module, say) will not start on a retry
    // either, and workers that keep dying before they are ready (a module crashing in its start)
    // will go on dying: the operator hears why instead of watching respawns without end.
    const bool died_starting = worker.state == WorkerState::starting;
    if (died_starting) ++deaths_before_ready_;
    const bool first_start = state_ == MasterState::starting && died_starting;
    if (fatal || (first_start && !worker.start_failure.empty())) {
        if (!worker.start_failure.empty())
            log_error("worker %d could not start: %s; stopping", worker.pid, worker.start_failure.c_str());
        else
            log_error("worker %d cannot start for a reason that will not pass by itself; stopping", worker.pid);
        exit_code_ = 1;
        begin_graceful_stop("a worker failed fatally");
        return;
    }
    if (first_start && deaths_before_ready_ >= kMaxDeathsBeforeReady) {
        log_error("workers died %u times before any was ready (the last %s); stopping", deaths_before_ready_,
                  describe_exit(status).c_str());
        exit_code_ = 1;
        begin_graceful_stop("workers keep dying before they are ready");
        return;
    }
    if (died_starting && deaths_before_ready_ >= kMaxReplacementDeaths && !replacements_stopped_) {
        replacements_stopped_ = true;
        log_error("replacement workers died %u times in a row before they were ready (the last %s); no more "
                  "replacements for generation %u until a reload",
                  deaths_before_ready_, describe_exit(status).c_str(), current_.number);
    }
    if (replacements_stopped_) {
        if (supervisor_.count(current_.number) == 0) {
            log_error("no worker of generation %u is left, and none can be started; stopping", current_.number);
            exit_code_ = 1;
            begin_graceful_stop("no worker left");
        }
        return;
    }
    const auto lived = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - worker.started);
    schedule_respawn(worker.slot, lived);
}

void Master::schedule_respawn(unsigned slot, std::chrono::milliseconds lived) {
    const std::chrono::milliseconds delay = backoff_.on_death(lived);
    if (delay.count() > 0) {
        log_warning("workers are dying young; replacing worker slot %u in %lld ms", slot,
                    static_cast<long long>(delay.count()));
    }
    respawns_.push_back(PendingRespawn{.slot = slot, .due = Clock::now() + delay});
    run_due_respawns(Clock::now());
}

void Master::run_due_respawns(Clock::time_point now) {
    std::vector<PendingRespawn> due;
    std::erase_if(respawns_, [&](const PendingRespawn& respawn) {
        if (respawn.due > now) return false;
        due.push_back(respawn);
        return true;
    });
    for (const PendingRespawn& respawn : due) {
        // TTOU may have removed the slot, or something refilled it, meanwhile.
        if (respawn.slot >= current_.workers || supervisor_.find_slot(current_.number, respawn.slot)) continue;
        if (supervisor_.spawn(current_, respawn.slot)) {
            ++worker_restarts_;
        } else {
            schedule_respawn(respawn.slot, std::chrono::milliseconds{0});
        }
    }
}

void Master::add_worker() {
    if (state_ == MasterState::stopping) return;
    if (current_.workers >= BalanceBoard::kMaxSlots) {
        log_notice("SIGTTIN: already %u workers, the most a generation can have", current_.workers);
        return;
    }
    ++current_.workers;
    log_notice("SIGTTIN: %u workers", current_.workers);
    supervisor_.spawn(current_, current_.workers - 1);
}

void Master::remove_worker() {
    if (state_ == MasterState::stopping) return;
    if (current_.workers <= 1) {
        log_notice("SIGTTOU: already down to one worker");
        return;
    }
    --current_.workers;
    log_notice("SIGTTOU: %u workers", current_.workers);
    if (WorkerProcess* worker = supervisor_.find_slot(current_.number, current_.workers)) {
        supervisor_.drain(*worker);
    }
    close_slots_from(current_.listeners, current_.workers);
}

void Master::begin_graceful_stop(const char* why) {
    if (state_ == MasterState::stopping) return;
    state_ = MasterState::stopping;
    stop_deadline_ = Clock::now() + config().timeouts.shutdown + kGracefulStopGrace;
    log_notice("graceful stop (%s): closing listeners, draining %zu workers", why, supervisor_.live());
    notify_stopping();
    abandon_upgrade(kGracefulStopSignal);
    current_.listeners.clear();
    pending_.reset();
    supervisor_.drain_all();
}

void Master::begin_fast_stop(const char* why) {
    const auto deadline = Clock::now() + kFastStopGrace;
    if (state_ == MasterState::stopping && deadline >= stop_deadline_) return;
    state_ = MasterState::stopping;
    stop_deadline_ = deadline;
    log_notice("fast stop (%s): closing everything now", why);
    notify_stopping();
    abandon_upgrade(kFastStopSignal);
    current_.listeners.clear();
    pending_.reset();
    supervisor_.stop_all();
}

bool Master::heartbeats_fresh(Clock::time_point now) const {
    return std::all_of(supervisor_.workers().begin(), supervisor_.workers().end(), [&](const auto& worker) {
        return now - worker->last_heartbeat < config().timeouts.heartbeat;
    });
}

std::string Master::status_text() const {
    std::uint64_t connections = 0;
    for (const auto& worker : supervisor_.workers()) connections += worker->counters.active_connections;
    std::string text = std::to_string(supervisor_.live()) + " workers, " + std::to_string(connections) +
                       " connections, generation " + std::to_string(current_.number);
    if (state_ == MasterState::reloading) text += "; reloading";
    if (state_ == MasterState::stopping) text += "; stopping";
    if (last_reload_) {
        text += last_reload_->ok ? "; last reload ok" : "; last reload failed: " + last_reload_->error;
    }
    if (backoff_.current().count() > 0) {
        text += "; workers dying young, respawn delay " + std::to_string(backoff_.current().count()) + " ms";
    }
    return text;
}

// STATUS= at most once a second and only when it changed; WATCHDOG=1 only while the loop runs
// and every worker is heard from; EXTEND_TIMEOUT_USEC= while a graceful stop is still draining.
void Master::update_service_manager(Clock::time_point now) {
    if (now >= next_status_) {
        next_status_ = now + std::chrono::seconds(1);
        std::string status = status_text();
        if (status != last_status_) {
            notify_status(status);
            last_status_ = std::move(status);
        }
        if (state_ == MasterState::stopping && supervisor_.live() > 0) {
            notify_extend_timeout(std::chrono::seconds(5));
        }
    }
    if (watchdog_interval_ && now >= next_watchdog_ && heartbeats_fresh(now)) {
        notify_watchdog();
        next_watchdog_ = now + *watchdog_interval_;
    }
}

int run_master(const Config& config, const std::string& binary_path, Inheritance inheritance) {
    Master master(config, binary_path, std::move(inheritance));
    return master.run();
}

}  // namespace corral
