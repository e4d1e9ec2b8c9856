// Binary upgrade (SIGUSR2): the master starts the binary on disk, handing it every listening
// socket. The new master starts its own workers on those same sockets and, once they are ready,
// sends this master SIGTERM; this master then drains its workers and leaves. If the new binary
// dies or never gets ready, this master simply keeps serving.
//
// The new master is started as this master's sibling (CLONE_PARENT): a child of whatever started
// this one, which is systemd in production. systemd follows the new master once it is named
// MAINPID=, and it fully supervises only a main process that is its own child: for one that is
// not, `systemctl stop` does not wait for the graceful stop and kills everything at once.
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/errno_text.hpp"
#include "common/fault_injection.hpp"
#include "common/log.hpp"
#include "common/notify.hpp"
#include "common/signals.hpp"
#include "master/inherited_sockets.hpp"
#include "master/master.hpp"
#include "master/process_start_time.hpp"

namespace corral {
namespace {

// Time for the previous master to act on our SIGTERM and send MAINPID= before our first ping.
constexpr std::chrono::milliseconds kFirstPingAfterHandover{100};

struct StartedProcess {
    pid_t pid = -1;  // -1 (errno set) on failure
    Fd pidfd;
};

// What the new master's process needs until it execs: read there, in its own copy of memory.
struct NewMasterLaunch {
    const std::vector<int>& fds;
    const std::vector<std::string>& names;
    pid_t from;
    std::uint64_t from_start_time;
    const std::string& binary;
    const std::string& config;
};

[[noreturn]] void exec_new_master(const NewMasterLaunch& launch) {
    fault_injection::pause_after_fork();
    // The watchdog follows the main pid, which the new master becomes: systemd's WATCHDOG_PID
    // names this master, and with it sd_watchdog_enabled() would say no there.
    if (std::getenv("WATCHDOG_PID") != nullptr) ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (Outcome passed = pass_sockets_to_exec(launch.fds, launch.names, launch.from, launch.from_start_time); !passed) {
        log_error("binary upgrade: passing the listeners failed: %s", passed.error().c_str());
        ::_exit(1);
    }
    const char* argv[] = {launch.binary.c_str(), "run", "-c", launch.config.c_str(), nullptr};
    ::execv(launch.binary.c_str(), const_cast<char* const*>(argv));
    log_error("binary upgrade: execv(%s) failed: %s", launch.binary.c_str(), errno_text().c_str());
    ::_exit(1);
}

int exec_new_master_entry(void* launch) { exec_new_master(*static_cast<const NewMasterLaunch*>(launch)); }

// Starts the new master as a sibling, or as a child where that cannot be: in an init process
// (PID 1 of a container), which has no parent to share. clone() rather than clone3(), which
// systemd's seccomp filter refuses when RestrictNamespaces= is set.
StartedProcess start_new_master_process(const NewMasterLaunch& launch) {
    // The new process runs on this stack until it execs; without CLONE_VM it is its own copy.
    constexpr std::size_t kStackSize = 256 * 1024;
    std::vector<std::max_align_t> stack(kStackSize / sizeof(std::max_align_t));
    int pidfd = -1;
    const pid_t pid = ::clone(exec_new_master_entry, stack.data() + stack.size(), CLONE_PARENT | CLONE_PIDFD | SIGCHLD,
                              const_cast<NewMasterLaunch*>(&launch), &pidfd);
    if (pid > 0) return StartedProcess{pid, Fd(pidfd)};
    log_notice("binary upgrade: the new master is started as a child of this one (clone with CLONE_PARENT: %s)",
               errno_text().c_str());
    const pid_t child = ::fork();
    if (child == 0) exec_new_master(launch);
    if (child < 0) return StartedProcess{};
    // Our own child cannot be reaped before we wait for it: this pidfd cannot name another process.
    return StartedProcess{child, Fd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)))};
}

bool send_signal(int pidfd, int signal_number) {
    return ::syscall(SYS_pidfd_send_signal, pidfd, signal_number, nullptr, 0) == 0;
}

}  // namespace

void Master::start_upgrade() {
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
    const std::optional<std::uint64_t> self_started = process_start_time(self);
    if (!self_started) {
        log_error("binary upgrade refused: the start time of this master cannot be read: %s", errno_text().c_str());
        return;
    }
    const NewMasterLaunch launch{fds, names, self, *self_started, binary_path_, config().path};
    StartedProcess child = start_new_master_process(launch);
    if (child.pid < 0) {
        log_error("binary upgrade: starting a process failed: %s", errno_text().c_str());
        return;
    }
    log_notice("binary upgrade: started %s as pid %d with %zu sockets", binary_path_.c_str(), child.pid, fds.size());
    if (!child.pidfd) {
        // Unreachable short of descriptor exhaustion; without a pidfd the new master can be
        // neither followed nor stopped safely, so it is stopped now.
        log_error("binary upgrade: pidfd_open(%d) failed: %s; stopping the new master", child.pid,
                  errno_text().c_str());
        ::kill(child.pid, SIGKILL);
        return;
    }
    upgrade_child_pidfd_ = WatchedFd(loop_, std::move(child.pidfd));
    if (!upgrade_child_pidfd_.watch(EPOLLIN, &upgrade_child_handler_)) {
        log_error("binary upgrade: watching the new master %d failed: %s; stopping it", child.pid,
                  errno_text().c_str());
        if (!send_signal(upgrade_child_pidfd_.get(), SIGKILL))
            log_error("signalling the new master %d failed: %s", child.pid, errno_text().c_str());
        upgrade_child_pidfd_.close();
        return;
    }
    policy_.upgrade_started(child.pid, Clock::now());
}

// Reached through SIGCHLD when the new master is this master's child.
void Master::on_upgrade_child_exit(int status) {
    log_error("binary upgrade failed: the new master %d %s; this master keeps serving", policy_.upgrade_child(),
              describe_exit(status).c_str());
    forget_upgrade_child();
}

// Reached through the pidfd. A sibling's exit status goes to the parent we share; our own child
// is reaped here if SIGCHLD has not done it yet.
void Master::on_upgrade_child_gone() {
    const pid_t upgrade_child = policy_.upgrade_child();
    if (upgrade_child <= 0) return;
    siginfo_t info{};
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(upgrade_child_pidfd_.get()), &info,
                 WEXITED | WNOHANG) == 0 &&
        info.si_pid == upgrade_child) {
        on_upgrade_child_exit(info.si_code == CLD_EXITED ? W_EXITCODE(info.si_status, 0) : info.si_status);
        return;
    }
    log_error("binary upgrade failed: the new master %d exited before it was ready; this master keeps serving",
              upgrade_child);
    forget_upgrade_child();
}

void Master::forget_upgrade_child() {
    policy_.upgrade_child_gone();
    upgrade_child_pidfd_.close();
}

void Master::send_signal_to_upgrade_child(int signal_number) {
    if (!send_signal(upgrade_child_pidfd_.get(), signal_number)) {
        log_error("signalling the new master %d failed: %s", policy_.upgrade_child(), errno_text().c_str());
    }
}

void Master::hand_over(pid_t new_master) {
    // The sockets and the pid file belong to the new master now, and it answers the admin
    // endpoints: this master accepts no more of them, and says the host is healthy on those it
    // has already accepted.
    for (const auto& listener : current_.listeners) listener->unix_file.disown();
    admin_.disown_socket_file();
    admin_.close_listener();
    // systemd follows the new master from now on (NotifyAccess=main suffices); it also feeds the
    // watchdog, and pings from here would only be refused.
    notify_main_pid(new_master);
    watchdog_interval_.reset();
    upgrade_child_pidfd_.close();
}

void Master::tell_previous_master() {
    if (held_admin_) {
        if (Outcome started = admin_.start(std::move(held_admin_->listener), std::move(held_admin_->file)); !started)
            log_error("admin: %s", started.error().c_str());
        held_admin_.reset();
    }
    if (previous_master_.pid <= 0) return;
    // The previous master names this one MAINPID= as soon as it hears from us; until then
    // systemd would refuse our pings.
    next_watchdog_ = Clock::now() + kFirstPingAfterHandover;
    if (send_signal(previous_master_.pidfd.get(), kGracefulStopSignal)) {
        log_notice("told the previous master %d to leave", previous_master_.pid);
    } else if (errno == ESRCH) {
        log_warning("the master that started this one (%d) is gone", previous_master_.pid);
    } else {
        log_error("signalling the previous master %d failed: %s", previous_master_.pid, errno_text().c_str());
    }
    previous_master_ = PreviousMaster{};
}

}  // namespace corral
