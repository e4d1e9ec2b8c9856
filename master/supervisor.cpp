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

#include "common/errno_text.hpp"
#include "common/fault_injection.hpp"
#include "common/log.hpp"
#include "worker/worker.hpp"

namespace corral {
namespace {

// Packets read from one worker before judging its heartbeat.
constexpr int kMaxPacketsPerCheck = 1024;

[[noreturn]] void become_worker(const Generation& generation, unsigned slot,
                                SlotListeners fds, int channel) {
    ::prctl(PR_SET_NAME, "corral-worker", 0, 0, 0);
    log_set_origin("worker " + std::to_string(::getpid()));
    fault_injection::pause_after_fork();
    std::vector<int> keep = {channel, log_fd()};
    for (const auto& [fd, unused] : fds) keep.push_back(fd);
    // The board itself is a shared mapping this process already has; its nudge is a descriptor.
    if (generation.board) keep.push_back(generation.board->nudge_fd());
    // The module files as the master checked them, which this worker loads.
    for (const ListenConfig& listener : generation.config.listen) {
        if (listener.module.file && *listener.module.file) keep.push_back(listener.module.file->get());
    }
    if (!close_fds_except(keep)) {
        log_error("closing the master's descriptors failed: %s; this worker would keep other workers alive",
                  errno_text().c_str());
        ::_exit(kWorkerExitFatal);
    }

    WorkerSetup setup{.config = generation.config,
                      .listeners = {},
                      .channel = Fd(channel),
                      .log_file = Fd(),
                      .balance = BalanceSeat{.board = generation.board.get(), .slot = slot}};
    if (log_fd() > STDERR_FILENO) setup.log_file = Fd(log_fd());
    for (auto& [fd, listen] : fds) setup.listeners.push_back(WorkerListener{Fd(fd), std::move(listen)});
    // _exit: the master's objects in this copy of its memory must not run their destructors.
    ::_exit(run_worker(std::move(setup)));
}

}  // namespace

const char* worker_state_name(WorkerState state) {
    switch (state) {
        case WorkerState::starting: return "starting";
        case WorkerState::ready: return "ready";
        case WorkerState::draining: return "draining";
    }
    return "unknown";
}

void add_module_totals(std::vector<ModuleCounterSample>& totals, const std::vector<ModuleCounterSample>& more) {
    for (const ModuleCounterSample& sample : more) {
        const auto same = std::find_if(totals.begin(), totals.end(), [&](const ModuleCounterSample& total) {
            return total.listener == sample.listener && total.module == sample.module && total.name == sample.name;
        });
        if (same != totals.end()) same->value += sample.value;
        else if (totals.size() < kMaxModuleCounterTotals) totals.push_back(sample);
    }
}

void WorkerProcess::handle_event(std::uint32_t) { supervisor->on_message(*this); }

Supervisor::Supervisor(EventLoop& loop, SupervisorEvents& events) : loop_(loop), events_(events) {}

Result<pid_t> Supervisor::spawn(const Generation& generation, unsigned slot) {
    Result<SlotListeners> fds = listener_fds_for_slot(generation.listeners, slot);
    if (!fds) return Failure{"cannot start a worker: " + fds.error()};
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        return Failure{"cannot start a worker: " + call_failed("socketpair()")};
    Fd master_end(pair[0]);
    Fd worker_end(pair[1]);
    const pid_t pid = ::fork();
    if (pid < 0) return Failure{"cannot start a worker: " + call_failed("fork()")};
    if (pid == 0) become_worker(generation, slot, std::move(*fds), worker_end.release());

    auto worker = std::make_unique<WorkerProcess>();
    worker->supervisor = this;
    worker->pid = pid;
    worker->generation = generation.number;
    worker->slot = slot;
    worker->channel = WatchedFd(loop_, std::move(master_end));
    worker->started = worker->last_heartbeat = Clock::now();
    worker->started_at = std::time(nullptr);
    if (!worker->channel.watch(EPOLLIN, worker.get())) {
        log_error("epoll_ctl(ADD) for worker %d's socketpair failed: %s; killing it", pid, errno_text().c_str());
        kill(*worker);
    }
    log_info("started worker %d (generation %u)", pid, generation.number);
    workers_.push_back(std::move(worker));
    return pid;
}

bool Supervisor::on_message(WorkerProcess& worker) {
    if (!worker.channel) return false;  // forgotten earlier in this batch
    // One byte more than a message: a longer packet must show up as too long, not as truncated.
    std::vector<std::byte>& packet = packet_;
    packet.resize(kMaxMessageSize + 1);
    const ssize_t received = ::recv(worker.channel.get(), packet.data(), packet.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (received < 0 && (errno == EAGAIN || errno == EINTR)) return false;
    if (received <= 0) {
        // The worker is exiting; its exit will say how.
        forget_channel(worker);
        return false;
    }
    auto message = decode_message(std::span(packet.data(), std::min<std::size_t>(received, packet.size())));
    if (!message) {
        log_error("worker %d sent a bad message (%s); replacing it", worker.pid, message.error().c_str());
        kill(worker);
        return false;
    }
    worker.last_heartbeat = Clock::now();
    if (message->type == MessageType::start_failed) {
        worker.start_failure = message->reason;
        return true;
    }
    worker.counters = message->counters;
    worker.module_counters = std::move(message->module_counters);
    switch (message->type) {
        case MessageType::ready:
            if (worker.state != WorkerState::starting) return true;
            worker.state = WorkerState::ready;
            log_debug("worker %d is ready", worker.pid);
            events_.on_worker_ready(worker);
            return true;
        case MessageType::heartbeat: return true;
        case MessageType::start_failed:
        case MessageType::drain:
        case MessageType::reopen_logs:
        case MessageType::stop: break;
    }
    log_error("worker %d sent an unexpected %s message; replacing it", worker.pid, message_type_name(message->type));
    kill(worker);
    return false;
}

void Supervisor::forget_channel(WorkerProcess& worker) { worker.channel.close(); }

void Supervisor::kill(WorkerProcess& worker) {
    forget_channel(worker);
    if (worker.killed) return;
    worker.killed = true;
    if (::kill(worker.pid, SIGKILL) != 0) log_error("kill(%d, SIGKILL) failed: %s", worker.pid, errno_text().c_str());
}

bool Supervisor::on_exit(pid_t pid, int status) {
    auto found = std::find_if(workers_.begin(), workers_.end(), [pid](const auto& w) { return w->pid == pid; });
    if (found == workers_.end()) return false;
    // What it sent before it exited (its last counters, why it could not start) may still wait
    // in the socketpair: the exit can be reaped before the packet is read.
    for (int packet = 0; packet < kMaxPacketsPerCheck; ++packet) {
        if (!on_message(**found)) break;
    }
    WorkerProcess* worker = retired_.emplace_back(std::move(*found)).get();
    workers_.erase(found);
    forget_channel(*worker);
    add_totals(exited_totals_, worker->counters);
    add_module_totals(exited_module_totals_, worker->module_counters);
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == kWorkerExitOk;
    const std::string how = describe_exit(status);
    if (clean && worker->state == WorkerState::draining) {
        log_info("worker %d (generation %u) %s", pid, worker->generation, how.c_str());
    } else {
        log_error("worker %d (generation %u) %s", pid, worker->generation, how.c_str());
    }
    events_.on_worker_exit(*worker, status);
    return true;
}

void Supervisor::check_heartbeats(Clock::time_point now, std::chrono::milliseconds timeout) {
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        WorkerProcess* worker = workers_[i].get();
        if (worker->killed || now - worker->last_heartbeat <= timeout) continue;
        // Bounded: a worker sends a few packets a second, and the socketpair holds only so many.
        for (int packet = 0; packet < kMaxPacketsPerCheck; ++packet) {
            if (!on_message(*worker)) break;
        }
        if (worker->killed || now - worker->last_heartbeat <= timeout) continue;
        log_error("worker %d sent no heartbeat for %lld ms; killing it", worker->pid,
                  static_cast<long long>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(now - worker->last_heartbeat).count()));
        kill(*worker);
    }
}

void Supervisor::send(WorkerProcess& worker, MessageType type, int passed_fd) {
    if (!worker.channel) return;
    if (!send_message(worker.channel.get(), Message{.type = type, .counters = {}, .reason = {}, .module_counters = {}},
                      passed_fd)) {
        log_error("sending %s to worker %d failed: %s; killing it", message_type_name(type), worker.pid,
                  errno_text().c_str());
        kill(worker);
    }
}

void Supervisor::broadcast(MessageType type, int passed_fd) {
    for (auto& worker : workers_) send(*worker, type, passed_fd);
}

void Supervisor::drain(WorkerProcess& worker) {
    if (worker.state == WorkerState::draining) return;
    worker.state = WorkerState::draining;
    send(worker, MessageType::drain);
}

void Supervisor::stop(WorkerProcess& worker) {
    worker.state = WorkerState::draining;
    send(worker, MessageType::stop);
}

void Supervisor::kill_all(const char* why) {
    for (auto& worker : workers_) {
        if (worker->killed) continue;
        log_warning("killing worker %d: %s", worker->pid, why);
        kill(*worker);
    }
}

WorkerProcess* Supervisor::find(pid_t pid) {
    const auto found = std::find_if(workers_.begin(), workers_.end(), [pid](const auto& w) { return w->pid == pid; });
    return found == workers_.end() ? nullptr : found->get();
}

}  // namespace corral
