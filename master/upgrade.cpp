// Binary upgrade (SIGUSR2): the master forks and execs the binary on disk, handing it every
// listening socket. The new master starts its own workers on those same sockets and, once they
// are ready, sends this master SIGTERM; this master then drains its workers and leaves. If the
// new binary dies or never gets ready, this master simply keeps serving.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/fault_injection.hpp"
#include "common/log.hpp"
#include "common/notify.hpp"
#include "common/signals.hpp"
#include "master/inherited_sockets.hpp"
#include "master/master.hpp"

namespace corral {
namespace {

// Starting a binary and its workers takes well under a second; this is only for one that hangs.
constexpr std::chrono::seconds kUpgradeLimit{30};
// Time for the previous master to act on our SIGTERM and send MAINPID= before our first ping.
constexpr std::chrono::milliseconds kFirstPingAfterHandover{100};

}  // namespace

void Master::begin_upgrade() {
    if (state_ != MasterState::running) {
        log_error("binary upgrade refused: the master is %s", state_ == MasterState::reloading ? "reloading"
                                                             : state_ == MasterState::starting ? "starting"
                                                                                                : "stopping");
        return;
    }
    if (upgrade_child_ > 0) {
        log_error("binary upgrade refused: new master %d is still starting", upgrade_child_);
        return;
    }
    std::vector<int> fds;
    std::vector<std::string> names;
    for (const auto& listener : current_.listeners) {
        for (int fd : listener->fds()) {
            fds.push_back(fd);
            names.emplace_back("listen");
        }
    }
    if (admin_.listener_fd() >= 0) {
        fds.push_back(admin_.listener_fd());
        names.emplace_back(kAdminSocketName);
    }
    const pid_t self = ::getpid();
    const pid_t child = ::fork();
    if (child < 0) {
        log_error("binary upgrade: fork() failed: %m");
        return;
    }
    if (child == 0) {
        fault_injection::pause_after_fork();
        // The watchdog follows the main pid, which the new master becomes: systemd's
        // WATCHDOG_PID names this master, and with it sd_watchdog_enabled() would say no there.
        if (std::getenv("WATCHDOG_PID") != nullptr) ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (!pass_sockets_to_exec(fds, names, self)) {
            log_error("binary upgrade: passing the listeners failed: %m");
            ::_exit(1);
        }
        const char* argv[] = {binary_path_.c_str(), "run", "-c", config().path.c_str(), nullptr};
        ::execv(binary_path_.c_str(), const_cast<char* const*>(argv));
        log_error("binary upgrade: execv(%s) failed: %m", binary_path_.c_str());
        ::_exit(1);
    }
    upgrade_child_ = child;
    upgrade_deadline_ = Clock::now() + kUpgradeLimit;
    log_notice("binary upgrade: started %s as pid %d with %zu sockets", binary_path_.c_str(), child, fds.size());
}

void Master::on_upgrade_child_exit(int status) {
    log_error("binary upgrade failed: the new master %d %s; this master keeps serving", upgrade_child_,
              describe_exit(status).c_str());
    upgrade_child_ = 0;
}

void Master::check_upgrade_deadline(Clock::time_point now) {
    if (upgrade_child_ > 0 && now > upgrade_deadline_) {
        log_error("binary upgrade failed: the new master %d was not ready within %lld s; killing it",
                  upgrade_child_, static_cast<long long>(kUpgradeLimit.count()));
        ::kill(upgrade_child_, SIGKILL);
        upgrade_deadline_ = Clock::time_point::max();
    }
}

void Master::on_upgrade_complete() {
    log_notice("binary upgrade: new master %d is ready; this master drains and exits", upgrade_child_);
    // The sockets and the pid file belong to the new master now.
    for (const auto& listener : current_.listeners) listener->unix_file.disown();
    admin_.disown_socket_file();
    // systemd follows the new master from now on (NotifyAccess=main suffices); it also feeds the
    // watchdog, and pings from here would only be refused.
    notify_main_pid(upgrade_child_);
    watchdog_interval_.reset();
    upgrade_child_ = 0;
    begin_graceful_stop("replaced by a new binary");
}

// Stopping while a new binary is still starting: the operator wants the service gone, so the
// new master is stopped the same way instead of being left to serve on its own.
void Master::abandon_upgrade(int stop_signal) {
    if (upgrade_child_ <= 0) return;
    log_notice("stopping the new master %d of an unfinished binary upgrade too", upgrade_child_);
    if (::kill(upgrade_child_, stop_signal) != 0) log_error("kill(%d) failed: %m", upgrade_child_);
}

void Master::tell_previous_master() {
    if (previous_master_ <= 0) return;
    // The previous master names this one MAINPID= as soon as it hears from us; until then
    // systemd would refuse our pings.
    next_watchdog_ = Clock::now() + kFirstPingAfterHandover;
    if (::getppid() != previous_master_) {
        log_warning("the master that started this one (%d) is gone", previous_master_);
    } else if (::kill(previous_master_, kGracefulStopSignal) != 0) {
        log_error("kill(%d, SIGTERM) failed: %m", previous_master_);
    } else {
        log_notice("told the previous master %d to leave", previous_master_);
    }
    previous_master_ = 0;
}

}  // namespace corral
