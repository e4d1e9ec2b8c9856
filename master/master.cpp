// The master's loop: one epoll over a signalfd, a 100 ms timerfd and the worker socketpairs. It
// never sleeps and never blocks; every deadline is checked on the tick.
#include "master/master.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/event_loop.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/signals.hpp"
#include "master/listeners.hpp"
#include "master/supervisor.hpp"

namespace corral {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kTick{100};
// A fast stop asks workers to exit at once; one that has not after this is killed, so the master
// is gone well within the second that SPEC allows.
constexpr std::chrono::milliseconds kFastStopGrace{500};
// Workers enforce timeouts.shutdown themselves; this is how much longer the master waits before
// it stops trusting them.
constexpr std::chrono::milliseconds kGracefulStopGrace{2000};

class Master {
public:
    explicit Master(const Config& config);
    int run();

private:
    bool start();
    void on_signal();
    void on_tick();
    void begin_graceful_stop();
    void begin_fast_stop(const char* signal_name);
    void raise_descriptor_limit();
    bool open_log_file();
    void write_pid_file();
    void remove_pid_file();

    Config config_;
    EventLoop loop_;
    ListenerSet listeners_;
    Fd log_file_;
    Supervisor supervisor_;
    Fd signals_;
    Fd tick_timer_;
    MemberHandler<Master> signal_handler_{this, &Master::on_signal};
    MemberHandler<Master> tick_handler_{this, &Master::on_tick};
    bool stopping_ = false;
    bool pid_file_written_ = false;
    Clock::time_point stop_deadline_{};
    int exit_code_ = 0;
};

Master::Master(const Config& config)
    : config_(config), supervisor_(loop_, listeners_) {}

bool Master::open_log_file() {
    if (config_.log.file.empty()) return true;
    log_file_.reset(::open(config_.log.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (!log_file_) {
        log_error("open(%s) failed: %m", config_.log.file.c_str());
        return false;
    }
    log_configure(config_.log.level, log_file_.get(), false);
    return true;
}

void Master::raise_descriptor_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        log_warning("getrlimit(RLIMIT_NOFILE) failed: %m");
        return;
    }
    const rlim_t wanted = static_cast<rlim_t>(config_.limits.nofile);
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

void Master::write_pid_file() {
    if (config_.pid_file.empty()) return;
    const std::string text = std::to_string(::getpid()) + "\n";
    Fd fd(::open(config_.pid_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
        log_error("writing pid_file %s failed: %m", config_.pid_file.c_str());
        return;
    }
    pid_file_written_ = true;
}

void Master::remove_pid_file() {
    if (pid_file_written_ && ::unlink(config_.pid_file.c_str()) != 0) {
        log_warning("unlink(%s) failed: %m", config_.pid_file.c_str());
    }
    pid_file_written_ = false;
}

bool Master::start() {
    ::prctl(PR_SET_NAME, "corral-master", 0, 0, 0);
    ignore_sigpipe();
    if (!open_log_file()) return false;
    if (!loop_.valid()) {
        log_error("epoll_create1() failed: %m");
        return false;
    }
    signals_ = open_signalfd({kGracefulStopSignal, kFastStopSignal, kQuitSignal, kReloadSignal,
                              kReopenLogsSignal, kUpgradeSignal, kAddWorkerSignal, kRemoveWorkerSignal,
                              SIGCHLD});
    if (!signals_) {
        log_error("signalfd() failed: %m");
        return false;
    }
    tick_timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    itimerspec period{};
    period.it_interval.tv_nsec = std::chrono::nanoseconds(kTick).count();
    period.it_value = period.it_interval;
    if (!tick_timer_ || ::timerfd_settime(tick_timer_.get(), 0, &period, nullptr) != 0) {
        log_error("timerfd failed: %m");
        return false;
    }
    if (!loop_.add(signals_.get(), EPOLLIN, &signal_handler_) ||
        !loop_.add(tick_timer_.get(), EPOLLIN, &tick_handler_)) {
        log_error("epoll_ctl(ADD) failed: %m");
        return false;
    }

    raise_descriptor_limit();
    std::string error;
    if (!listeners_.bind_all(config_.listen, config_.workers, error)) {
        log_error("%s", error.c_str());
        return false;
    }
    if (config_.admin_listen) log_warning("admin.listen is set, but this version serves no admin endpoints yet");
    write_pid_file();
    log_notice("corral %s starting %u workers (pid %d)", CORRAL_VERSION, config_.workers, ::getpid());
    return supervisor_.start(config_, config_.workers);
}

int Master::run() {
    log_set_origin("master");
    if (!start()) {
        supervisor_.kill_all();
        supervisor_.reap();
        listeners_.close_all();
        remove_pid_file();
        return 1;
    }
    while (!(stopping_ && supervisor_.live() == 0)) {
        if (!loop_.run_once(-1)) {
            log_error("epoll_wait() failed: %m");
            supervisor_.kill_all();
            exit_code_ = 1;
            break;
        }
        supervisor_.release_retired();
        if (supervisor_.fatal_exit() && !stopping_) {
            exit_code_ = 1;
            begin_graceful_stop();
        }
    }
    listeners_.close_all();
    remove_pid_file();
    log_notice("exiting with code %d", exit_code_);
    return exit_code_;
}

void Master::on_signal() {
    while (const int signal = read_signal(signals_.get())) {
        switch (signal) {
            case SIGCHLD: supervisor_.reap(); break;
            case kGracefulStopSignal: begin_graceful_stop(); break;
            case kFastStopSignal: begin_fast_stop("SIGINT"); break;
            case kQuitSignal: begin_fast_stop("SIGQUIT"); break;
            default: log_warning("signal %d (%s) is not acted on by this version", signal, ::strsignal(signal));
        }
    }
}

void Master::on_tick() {
    std::uint64_t expirations = 0;
    if (::read(tick_timer_.get(), &expirations, sizeof expirations) < 0) return;
    if (stopping_ && supervisor_.live() > 0 && Clock::now() >= stop_deadline_) {
        supervisor_.kill_all();
        stop_deadline_ = Clock::time_point::max();
    }
}

void Master::begin_graceful_stop() {
    if (stopping_) return;
    stopping_ = true;
    stop_deadline_ = Clock::now() + config_.timeouts.shutdown + kGracefulStopGrace;
    log_notice("graceful stop: closing listeners, draining %zu workers", supervisor_.live());
    listeners_.close_all();
    supervisor_.drain_all();
}

void Master::begin_fast_stop(const char* signal_name) {
    const auto deadline = Clock::now() + kFastStopGrace;
    if (stopping_ && deadline >= stop_deadline_) return;
    stopping_ = true;
    stop_deadline_ = deadline;
    log_notice("fast stop (%s): closing everything now", signal_name);
    listeners_.close_all();
    supervisor_.stop_all();
}

}  // namespace

int run_master(const Config& config) {
    Master master(config);
    return master.run();
}

}  // namespace corral
