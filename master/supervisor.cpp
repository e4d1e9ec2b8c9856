// Supervisor. A forked child drops everything of the master's before it becomes a worker: the
// master's loop, signalfd and, above all, its ends of the other workers' socketpairs, so that the
// master's death closes every socketpair and every worker notices.
#include "master/supervisor.hpp"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "worker/worker.hpp"

namespace corral {
namespace {

[[noreturn]] void become_worker(const Config& config, std::vector<std::pair<int, ListenConfig>> fds,
                                int channel, int log_fd) {
    ::prctl(PR_SET_NAME, "corral-worker", 0, 0, 0);
    log_set_origin("worker " + std::to_string(::getpid()));
    std::vector<int> keep = {channel, log_fd};
    for (const auto& [fd, unused] : fds) keep.push_back(fd);
    close_fds_except(keep);

    WorkerSetup setup{.config = config, .listeners = {}, .channel = Fd(channel)};
    for (auto& [fd, listen] : fds) setup.listeners.push_back(WorkerListener{Fd(fd), std::move(listen)});
    // _exit: the master's objects in this copy of its memory must not run their destructors.
    ::_exit(run_worker(std::move(setup)));
}

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) +
               ")";
    }
    return "ended with status " + std::to_string(status);
}

}  // namespace

void WorkerProcess::handle_event(std::uint32_t) { supervisor->on_message(*this); }

Supervisor::Supervisor(EventLoop& loop, ListenerSet& listeners) : loop_(loop), listeners_(listeners) {}

bool Supervisor::start(const Config& config, unsigned count) {
    config_ = config;
    for (unsigned slot = 0; slot < count; ++slot) {
        if (!spawn(slot)) return false;
    }
    return true;
}

bool Supervisor::spawn(unsigned slot) {
    std::vector<std::pair<int, ListenConfig>> fds;
    std::string error;
    if (!listeners_.fds_for_slot(slot, fds, error)) {
        log_error("cannot start a worker: %s", error.c_str());
        return false;
    }
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
        log_error("socketpair() failed: %m");
        return false;
    }
    Fd master_end(pair[0]);
    Fd worker_end(pair[1]);
    const pid_t pid = ::fork();
    if (pid < 0) {
        log_error("fork() failed: %m");
        return false;
    }
    if (pid == 0) become_worker(config_, std::move(fds), worker_end.release(), log_fd());

    auto worker = std::make_unique<WorkerProcess>();
    worker->supervisor = this;
    worker->pid = pid;
    worker->slot = slot;
    worker->channel = std::move(master_end);
    worker->started = worker->last_heartbeat = std::chrono::steady_clock::now();
    if (!loop_.add(worker->channel.get(), EPOLLIN, worker.get())) {
        log_error("epoll_ctl(ADD) for worker %d's socketpair failed: %m", pid);
        ::kill(pid, SIGKILL);
    }
    log_info("started worker %d", pid);
    workers_.push_back(std::move(worker));
    return true;
}

void Supervisor::on_message(WorkerProcess& worker) {
    if (!worker.channel) return;  // forgotten earlier in this batch
    // One byte more than a message: a longer packet must show up as too long, not as truncated.
    std::array<std::byte, kMessageSize + 1> packet{};
    const ssize_t received = ::recv(worker.channel.get(), packet.data(), packet.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (received < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (received <= 0) {
        // The worker is exiting; reap() will report how.
        forget_channel(worker);
        return;
    }
    std::string error;
    const auto message =
        decode_message(std::span(packet.data(), std::min<std::size_t>(received, packet.size())), error);
    if (!message) {
        log_error("worker %d sent a bad message (%s); replacing it", worker.pid, error.c_str());
        forget_channel(worker);
        ::kill(worker.pid, SIGKILL);
        return;
    }
    worker.last_heartbeat = std::chrono::steady_clock::now();
    worker.counters = message->counters;
    switch (message->type) {
        case MessageType::ready:
            if (worker.state == WorkerState::starting) worker.state = WorkerState::ready;
            log_debug("worker %d is ready", worker.pid);
            if (!announced_ready_ && all_ready()) {
                announced_ready_ = true;
                log_info("all %zu workers are ready", workers_.size());
            }
            return;
        case MessageType::heartbeat: return;
        case MessageType::drain:
        case MessageType::reopen_logs:
        case MessageType::stop: break;
    }
    log_error("worker %d sent an unexpected %s message; replacing it", worker.pid,
              message_type_name(message->type));
    forget_channel(worker);
    ::kill(worker.pid, SIGKILL);
}

void Supervisor::forget_channel(WorkerProcess& worker) {
    if (!worker.channel) return;
    loop_.remove(worker.channel.get());
    worker.channel.reset();
}

void Supervisor::reap() {
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        auto found = std::find_if(workers_.begin(), workers_.end(), [pid](const auto& w) { return w->pid == pid; });
        if (found == workers_.end()) {
            log_debug("reaped process %d, not a worker", pid);
            continue;
        }
        WorkerProcess* worker = retired_.emplace_back(std::move(*found)).get();
        workers_.erase(found);
        forget_channel(*worker);
        const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitOk;
        if (WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitFatal) {
            log_error("worker %d %s: it cannot start for a reason that will not pass; stopping", pid,
                      describe_exit(status).c_str());
            fatal_exit_ = true;
            continue;
        }
        if (stopping_) {
            if (clean) log_info("worker %d %s", pid, describe_exit(status).c_str());
            else log_warning("worker %d %s", pid, describe_exit(status).c_str());
            continue;
        }
        log_error("worker %d %s; starting a replacement", pid, describe_exit(status).c_str());
        spawn(worker->slot);
    }
}

bool Supervisor::all_ready() const {
    return std::all_of(workers_.begin(), workers_.end(),
                       [](const auto& w) { return w->state == WorkerState::ready; });
}

void Supervisor::drain_all() {
    stopping_ = true;
    for (auto& worker : workers_) {
        worker->state = WorkerState::draining;
        if (worker->channel && !send_message(worker->channel.get(), Message{.type = MessageType::drain, .counters = {}})) {
            // A worker that cannot be told is told the blunt way: SIGTERM also makes it drain.
            log_warning("telling worker %d to drain failed: %m; sending SIGTERM", worker->pid);
            ::kill(worker->pid, SIGTERM);
        }
    }
}

void Supervisor::stop_all() {
    stopping_ = true;
    for (auto& worker : workers_) {
        if (!worker->channel || !send_message(worker->channel.get(), Message{.type = MessageType::stop, .counters = {}})) {
            ::kill(worker->pid, SIGKILL);
        }
    }
}

void Supervisor::kill_all() {
    stopping_ = true;
    for (auto& worker : workers_) {
        log_warning("worker %d did not exit in time; killing it", worker->pid);
        ::kill(worker->pid, SIGKILL);
    }
}

}  // namespace corral
