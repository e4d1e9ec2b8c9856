// The master's loop: one epoll over a signalfd, a 100 ms timerfd, the worker socketpairs and the
// admin listener. It never sleeps and never blocks; every deadline is checked on the tick. What
// happens becomes an event for MasterPolicy, and the actions it returns are carried out here.
#include "master/master.hpp"

#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/address.hpp"
#include "common/errno_text.hpp"
#include "common/log.hpp"
#include "common/notify.hpp"
#include "common/signals.hpp"
#include "common/trusted_path.hpp"
#include "master/descriptor_limit.hpp"
#include "master/log_file.hpp"

namespace corral {
namespace {

constexpr std::chrono::milliseconds kTick{100};
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

Outcome Master::configure_logging() {
    if (config().log.file.empty()) {
        log_configure(config().log.level, STDERR_FILENO, stderr_is_journal());
        log_file_.reset();
        return {};
    }
    Result<Fd> file = open_log_file(config().log.file, trusted_owners(config()));
    if (!file) return Failure{file.error()};
    log_configure(config().log.level, file->get(), false);
    log_file_ = std::move(*file);
    return {};
}

// Workers may have dropped the privilege to open the file themselves: they get the master's
// new descriptor with the message. If the master cannot reopen it, everyone keeps the old one.
void Master::reopen_logs() {
    if (config().log.file.empty()) return;
    if (Outcome configured = configure_logging(); !configured) {
        log_error("%s; logging on to the file that was open", configured.error().c_str());
        return;
    }
    log_notice("log file reopened");
    supervisor_.broadcast(MessageType::reopen_logs, log_file_.get());
}

void Master::log_descriptor_limit() {
    const std::uint64_t wanted = config().limits.nofile;
    const Result<DescriptorLimit> raised = raise_descriptor_limit(wanted);
    if (!raised) {
        log_warning("%s", raised.error().c_str());
    } else if (raised->capped) {
        log_warning("open file limit is %llu: limits.nofile asks for %llu but the hard limit is lower",
                    static_cast<unsigned long long>(raised->limit), static_cast<unsigned long long>(wanted));
    } else {
        log_info("open file limit is %llu", static_cast<unsigned long long>(raised->limit));
    }
}

MasterPolicy::GenerationShape generation_shape(const Config& config) {
    return {.workers = config.workers, .shutdown = config.timeouts.shutdown, .drain = config.timeouts.drain};
}

std::unique_ptr<BalanceBoard> Master::new_balance_board() {
    Result<std::unique_ptr<BalanceBoard>> board = make_balance_board();
    if (board) return std::move(*board);
    log_error("%s; workers will accept unbalanced", board.error().c_str());
    return nullptr;
}

Outcome Master::bind_admin(const std::optional<Address>& address, std::vector<InheritedSocket>& inherited) {
    admin_address_ = address;
    if (!address) return {};
    Fd fd = take_inherited(inherited, *address, true);
    SocketFile file;
    if (!fd) {
        // Only the master's owner, or the members of admin.group, may ask it anything.
        const BindOptions options{.backlog = kAdminBacklog, .reuseport = false,
                                  .trusted_owners = trusted_owners(config()),
                                  .unix_mode = static_cast<mode_t>(config().admin_gid ? 0660 : 0600),
                                  .unix_group = config().admin_gid};
        Result<Fd> bound = bind_listener(*address, options, file);
        if (!bound) return Failure{"admin: " + bound.error()};
        fd = std::move(*bound);
    }
    if (auto bound = local_address(fd.get())) admin_address_ = *bound;
    log_info("admin endpoints on %s", format_address(*admin_address_).c_str());
    if (previous_master_.pid > 0) {
        // A binary upgrade: the previous master accepts on this very socket and answers for the
        // host until this one is ready. Answering "starting" now would make a load balancer's
        // health check mark a serving host down.
        held_admin_ = HeldAdmin{.listener = std::move(fd), .file = std::move(file)};
        return {};
    }
    return admin_.start(std::move(fd), std::move(file));
}

Outcome Master::start() {
    ::prctl(PR_SET_NAME, "corral-master", 0, 0, 0);
    ignore_sigpipe();
    if (Outcome configured = configure_logging(); !configured) return configured;
    if (!loop_.valid()) return Failure{call_failed("epoll_create1()")};
    signals_ = WatchedFd(loop_, open_signalfd({kGracefulStopSignal, kFastStopSignal, kQuitSignal, kReloadSignal,
                                               kReopenLogsSignal, kUpgradeSignal, kAddWorkerSignal,
                                               kRemoveWorkerSignal, SIGCHLD}));
    if (!signals_) return Failure{call_failed("signalfd()")};
    tick_timer_ = WatchedFd(loop_, Fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)));
    itimerspec period{};
    period.it_interval.tv_nsec = std::chrono::nanoseconds(kTick).count();
    period.it_value = period.it_interval;
    if (!tick_timer_ || ::timerfd_settime(tick_timer_.get(), 0, &period, nullptr) != 0)
        return Failure{call_failed("timerfd")};
    if (!signals_.watch(EPOLLIN, &signal_handler_) || !tick_timer_.watch(EPOLLIN, &tick_handler_))
        return Failure{call_failed("epoll_ctl(ADD)")};

    log_descriptor_limit();
    if ((!config().user.empty() || !config().group.empty()) && ::geteuid() != 0) {
        log_notice("not running as root: user and group are left as they are");
    }
    watchdog_interval_ = watchdog_interval();
    std::vector<InheritedSocket> inherited = std::move(inherited_);
    // Until the previous master has handed over, it is the main pid and feeds the watchdog.
    if (previous_master_.pid > 0) next_watchdog_ = Clock::time_point::max();
    current_.number = 1;
    current_.board = new_balance_board();
    Result<ListenerList> listeners =
        bind_listeners(config().listen, config().workers, {}, inherited, trusted_owners(config()));
    if (!listeners) return Failure{listeners.error()};
    current_.listeners = std::move(*listeners);
    if (Outcome admin = bind_admin(config().admin_listen, inherited); !admin) return admin;
    for (const InheritedSocket& socket : inherited) {
        if (socket.fd) {
            return Failure{"inherited socket " + format_address(socket.address) +
                           " matches no listen entry or admin.listen in " + config().path};
        }
    }
    if (!config().pid_file.empty()) {
        if (Outcome written = pid_file_.write(config().pid_file, trusted_owners(config())); !written) return written;
    }
    log_notice("corral %s starting %u workers (pid %d)", CORRAL_VERSION, config().workers, ::getpid());
    carry_out(policy_.start(generation_shape(config()), Clock::now()));
    return {};
}

int Master::run() {
    log_set_origin("master");
    if (Outcome started = start(); !started) {
        log_error("%s", started.error().c_str());
        carry_out(policy_.start_failed());
    }
    while (!(policy_.stopping() && supervisor_.live() == 0)) {
        if (!loop_.run_once(-1)) {
            log_error("epoll_wait() failed: %s", errno_text().c_str());
            supervisor_.kill_all("the master's loop failed");
            loop_failed_ = true;
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
    const int exit_code = loop_failed_ ? 1 : policy_.exit_code();
    log_notice("exiting with code %d", exit_code);
    return exit_code;
}

void Master::on_signal() {
    for (;;) {
        signalfd_siginfo info{};
        if (::read(signals_.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return;
        if (info.ssi_signo == SIGCHLD) {
            on_child_exit();
            continue;
        }
        carry_out(policy_.signal(static_cast<int>(info.ssi_signo), static_cast<pid_t>(info.ssi_pid), Clock::now()));
    }
}

void Master::on_child_exit() {
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        if (supervisor_.on_exit(pid, status)) continue;
        if (pid == policy_.upgrade_child()) {
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
    if (!policy_.stopping()) supervisor_.check_heartbeats(now, config().timeouts.heartbeat);
    carry_out(policy_.tick(now));
}

void Master::on_worker_ready(WorkerProcess& worker) { carry_out(policy_.worker_ready(worker.pid)); }

void Master::on_worker_exit(const WorkerProcess& worker, int status) {
    carry_out(policy_.worker_exited(worker.pid, status, worker.start_failure, Clock::now()));
}

// An action may lead to another event (a fork that failed, a reload that could not be prepared):
// its actions are carried out at once, before the rest of the batch.
void Master::carry_out(const Actions& actions) {
    for (const Action& action : actions) carry_out(action);
}

void Master::carry_out(const Action& action) {
    log_debug("master: %s", describe_action(action).c_str());
    switch (action.kind) {
        case ActionKind::spawn: spawn(action); break;
        case ActionKind::drain:
            if (WorkerProcess* worker = supervisor_.find(action.pid)) supervisor_.drain(*worker);
            break;
        case ActionKind::stop:
            if (WorkerProcess* worker = supervisor_.find(action.pid)) supervisor_.stop(*worker);
            break;
        case ActionKind::kill_all: supervisor_.kill_all(action.reason.c_str()); break;
        case ActionKind::clear_balance_slot:
            if (current_.board) {
                current_.board->clear(action.slot);
                current_.board->nudge();
            }
            break;
        case ActionKind::close_slots_from: close_slots_from(current_.listeners, action.slot); break;
        case ActionKind::prepare_reload: prepare_reload(); break;
        case ActionKind::adopt_pending: adopt_pending(); break;
        case ActionKind::discard_pending: pending_.reset(); break;
        case ActionKind::close_listeners:
            current_.listeners.clear();
            pending_.reset();
            break;
        case ActionKind::reload_succeeded: record_reload(true, ""); break;
        case ActionKind::reload_failed: record_reload(false, action.reason); break;
        case ActionKind::notify_ready: notify_ready(status_text()); break;
        case ActionKind::notify_reloading: notify_reloading(); break;
        case ActionKind::notify_stopping: notify_stopping(); break;
        case ActionKind::notify_status: notify_status(status_text()); break;
        case ActionKind::reopen_logs: reopen_logs(); break;
        case ActionKind::start_upgrade: start_upgrade(); break;
        case ActionKind::signal_upgrade_child: send_signal_to_upgrade_child(action.signal); break;
        case ActionKind::hand_over: hand_over(action.pid); break;
        case ActionKind::tell_previous_master: tell_previous_master(); break;
    }
}

void Master::spawn(const Action& action) {
    if (!policy_.wants_worker(action.generation, action.slot)) return;
    const Generation& generation = pending_ && pending_->number == action.generation ? *pending_ : current_;
    const Result<pid_t> pid = supervisor_.spawn(generation, action.slot);
    if (!pid) {
        log_error("%s", pid.error().c_str());
        carry_out(policy_.spawn_failed(action.generation, action.slot, Clock::now()));
        return;
    }
    if (action.replacement) ++worker_restarts_;
    policy_.spawned(action.generation, action.slot, *pid, Clock::now());
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
    if (policy_.state() == MasterState::reloading) text += "; reloading";
    if (policy_.draining()) text += "; stopping: /healthz answers 503, accepting until the drain period ends";
    if (policy_.stopping()) text += "; stopping";
    if (last_reload_) {
        text += last_reload_->ok ? "; last reload ok" : "; last reload failed: " + last_reload_->error;
    }
    if (policy_.respawn_delay().count() > 0) {
        text += "; workers dying young, respawn delay " + std::to_string(policy_.respawn_delay().count()) + " ms";
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
        if (policy_.stopping() && supervisor_.live() > 0) {
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
