// The worker's event loop: listeners, connections, a 250 ms tick for heartbeats and idle
// timeouts, the master's socketpair, and SIGTERM through a signalfd.
#include "worker/worker.hpp"

#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>

#include "common/errno_text.hpp"
#include "common/event_loop.hpp"
#include "common/fault_injection.hpp"
#include "common/ipc.hpp"
#include "common/log.hpp"
#include "common/signals.hpp"
#include "worker/connection.hpp"
#include "worker/privileges.hpp"

namespace corral {
namespace {

// Four heartbeats per second satisfy both "at least once a second" and "at least four times per
// timeouts.heartbeat" (which is at least 1 s). Idle timeouts are enforced to the same precision.
constexpr std::chrono::milliseconds kTick{250};

// Signals a terminal sends to its whole foreground process group. The master acts on them and
// tells the workers what they need over the socketpair.
constexpr int kSignalsLeftToMaster[] = {kFastStopSignal, kQuitSignal, kReloadSignal, kReopenLogsSignal,
                                        kUpgradeSignal, kAddWorkerSignal, kRemoveWorkerSignal};

class Worker {
public:
    explicit Worker(WorkerSetup setup);
    // Closes what is still open, on every way out of run(): the services (a module's closed()
    // and worker_stop()) hear of their connections before the services themselves go.
    ~Worker();
    int run();

private:
    Result<void, StartRefusal> start();
    void on_channel();
    void on_tick();
    void on_signal();
    void begin_drain(const char* why);
    void use_log_file(Fd file);
    void send_to_master(MessageType type);
    WorkerCounters counters() const;

    Config config_;
    EventLoop loop_;
    ConnectionTable connections_;
    Acceptor acceptor_;
    WatchedFd channel_;
    Fd log_file_;
    WatchedFd tick_timer_;
    WatchedFd signals_;
    MemberHandler<Worker> channel_handler_{this, &Worker::on_channel};
    MemberHandler<Worker> tick_handler_{this, &Worker::on_tick};
    MemberHandler<Worker> signal_handler_{this, &Worker::on_signal};
    bool draining_ = false;
    bool stop_now_ = false;
    bool master_gone_ = false;
    Clock::time_point drain_deadline_{};
};

Worker::Worker(WorkerSetup setup)
    : config_(std::move(setup.config)),
      connections_(loop_, config_.limits, config_.timeouts.idle),
      acceptor_(loop_, connections_, std::move(setup.listeners), config_.limits.max_connections, setup.balance),
      channel_(loop_, std::move(setup.channel)),
      log_file_(std::move(setup.log_file)) {}

Worker::~Worker() {
    connections_.close_all();
    acceptor_.stop_services();
}

Result<void, StartRefusal> Worker::start() {
    const auto refused = [](std::string reason) {
        return Failure{StartRefusal{.reason = std::move(reason), .service_reason = {}}};
    };
    if (Outcome dropped = drop_privileges(config_.account, config_.user); !dropped) return refused(dropped.error());
    for (int signal : kSignalsLeftToMaster) {
        struct sigaction action {};
        action.sa_handler = SIG_IGN;
        ::sigaction(signal, &action, nullptr);
    }
    sigset_t unblock;
    sigemptyset(&unblock);
    for (int signal : kSignalsLeftToMaster) sigaddset(&unblock, signal);
    sigaddset(&unblock, SIGCHLD);
    ::sigprocmask(SIG_UNBLOCK, &unblock, nullptr);

    if (!loop_.valid()) return refused(call_failed("epoll_create1()"));
    signals_ = WatchedFd(loop_, open_signalfd({kGracefulStopSignal}));
    if (!signals_) return refused(call_failed("signalfd()"));
    tick_timer_ = WatchedFd(loop_, Fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)));
    if (!tick_timer_) return refused(call_failed("timerfd_create()"));
    const auto tick_ns = std::chrono::nanoseconds(kTick).count();
    itimerspec period{};
    period.it_interval.tv_sec = tick_ns / 1'000'000'000;
    period.it_interval.tv_nsec = tick_ns % 1'000'000'000;
    period.it_value = period.it_interval;
    if (::timerfd_settime(tick_timer_.get(), 0, &period, nullptr) != 0)
        return refused(call_failed("timerfd_settime()"));
    if (!channel_.watch(EPOLLIN, &channel_handler_) || !tick_timer_.watch(EPOLLIN, &tick_handler_) ||
        !signals_.watch(EPOLLIN, &signal_handler_))
        return refused(call_failed("epoll_ctl(ADD)"));
    return acceptor_.start();
}

int Worker::run() {
    if (const std::optional<int> code = fault_injection::worker_start_failure()) {
        log_error("fault injection: exiting at start with code %d", *code);
        return *code;
    }
    if (const Result<void, StartRefusal> started = start(); !started) {
        log_error("%s", started.error().reason.c_str());
        // A service that could not start says why; the master decides whether to try again.
        const std::string& failure = started.error().service_reason;
        if (failure.empty()) return kWorkerExitFatal;
        Message message{.type = MessageType::start_failed, .counters = {}, .reason = failure.substr(0, kMaxReasonBytes),
                        .module_counters = {}};
        std::replace(message.reason.begin(), message.reason.end(), '\0', ' ');
        if (!send_message(channel_.get(), message))
            log_warning("telling the master why failed: %s", errno_text().c_str());
        return kWorkerExitFailed;
    }
    send_to_master(MessageType::ready);
    log_debug("ready");

    while (!stop_now_) {
        if (!loop_.run_once(-1)) {
            log_error("epoll_wait() failed: %s", errno_text().c_str());
            return kWorkerExitFailed;
        }
        connections_.release_closed();
        acceptor_.update(Clock::now());
        if (draining_ && connections_.active() == 0) break;
    }
    log_debug("exiting");
    return kWorkerExitOk;
}

void Worker::on_channel() {
    std::array<std::byte, kFixedMessageSize + 1> packet{};
    Fd passed;
    const ssize_t received = receive_packet(channel_.get(), packet, passed);
    if (received < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (received <= 0) {
        // The master is gone (even SIGKILL closes its end). Nobody will replace this worker, so
        // it stops accepting at once and finishes what it has.
        channel_.close();
        master_gone_ = true;
        begin_drain("the master is gone");
        return;
    }
    const auto message = decode_message(std::span(packet.data(), std::min<std::size_t>(received, packet.size())));
    if (!message) {
        log_error("bad message from the master: %s; draining", message.error().c_str());
        begin_drain("protocol error");
        return;
    }
    switch (message->type) {
        case MessageType::drain: begin_drain("asked by the master"); return;
        case MessageType::stop: stop_now_ = true; return;
        case MessageType::reopen_logs: use_log_file(std::move(passed)); return;
        case MessageType::ready:
        case MessageType::heartbeat:
        case MessageType::start_failed: break;
    }
    log_error("unexpected %s message from the master; ignored", message_type_name(message->type));
}

void Worker::on_tick() {
    std::uint64_t expirations = 0;
    if (::read(tick_timer_.get(), &expirations, sizeof expirations) < 0) return;
    const Clock::time_point now = Clock::now();
    send_to_master(MessageType::heartbeat);
    connections_.expire_deadlines(now);
    connections_.close_idle(now);
    connections_.enforce_output_budget(now);
    if (draining_ && now >= drain_deadline_) {
        log_notice("shutdown timeout reached; closing %zu connections", connections_.active());
        stop_now_ = true;
    }
}

void Worker::on_signal() {
    while (int signal = read_signal(signals_.get())) {
        if (signal == kGracefulStopSignal) begin_drain("SIGTERM");
    }
}

void Worker::use_log_file(Fd file) {
    if (!file) {
        log_error("reopen-logs message from the master without a descriptor; logging to the old file");
        return;
    }
    log_configure(config_.log.level, file.get(), false);
    log_file_ = std::move(file);
}

void Worker::begin_drain(const char* why) {
    if (draining_) return;
    draining_ = true;
    drain_deadline_ = Clock::now() + config_.timeouts.shutdown;
    acceptor_.close_listeners();
    log_info("draining (%s): %zu connections open", why, connections_.active());
}

void Worker::send_to_master(MessageType type) {
    if (master_gone_) return;
    Message message{.type = type, .counters = counters(), .reason = {}, .module_counters = {}};
    acceptor_.add_module_counters(message.module_counters, kMaxMessageSize - kFixedMessageSize);
    if (!send_message(channel_.get(), message)) {
        // A full socketpair means the master is not reading; the heartbeat check will decide.
        if (errno != EAGAIN)
            log_warning("sending %s to the master failed: %s", message_type_name(type), errno_text().c_str());
    }
}

WorkerCounters Worker::counters() const {
    WorkerCounters counters{
        .active_connections = connections_.active(),
        .accepted = acceptor_.accepted,
        .bytes_received = connections_.bytes_received,
        .bytes_sent = connections_.bytes_sent,
        .accept_wakeups = acceptor_.wakeups,
        .accept_wakeups_empty = acceptor_.empty_wakeups,
        .output_queued = connections_.output_queued(),
    };
    acceptor_.add_service_counters(counters);
    return counters;
}

}  // namespace

int run_worker(WorkerSetup setup) {
    Worker worker(std::move(setup));
    return worker.run();
}

}  // namespace corral
