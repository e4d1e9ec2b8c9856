// Acceptor. How the kernel hands out connections on a listener shared with EPOLLEXCLUSIVE: each
// connection that arrives wakes the first worker in the listener's wait queue that is blocked in
// epoll_wait, in registration order, and that worker's accept batch then takes whatever else is
// queued. An idle worker, the common case, so wins nearly every connection, and a burst goes to
// whoever woke first. Balancing therefore decides who may accept: each worker publishes how many
// connections it holds (BalanceBoard); one holding clearly more than the mean of its generation's
// available workers stops before its next accept and leaves the wait queue (EPOLL_CTL_DEL) until
// the others have caught up. Since nothing wakes anyone for connections already queued, a worker
// that steps aside with some perhaps still queued, or as the last one waiting on the listeners,
// nudges the others, and whoever is under the mean takes over. The least loaded worker is never
// above the mean, so someone always accepts.
// Listeners are only ever added to and deleted from the epoll set, never modified: EPOLL_CTL_MOD
// is refused for EPOLLEXCLUSIVE registrations.
#include "worker/acceptor.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/address.hpp"
#include "common/errno_text.hpp"
#include "common/log.hpp"
#include "common/service_catalog.hpp"
#include "worker/services.hpp"

namespace corral {
namespace {

// Enough to empty a burst without starving the connections already open.
constexpr int kAcceptBatch = 64;
// Ahead of the mean by at least this many connections, or a sixteenth of the mean when that is
// more, before a worker steps aside: enough that counts of one or two do not send workers back and
// forth, small enough for an even split (Jain's index above 0.99 with two workers).
constexpr std::uint64_t kMinimumLead = 4;
constexpr std::uint64_t kLeadFraction = 16;

// Whether a listener may hold connections ready to be accepted. For a TCP listening socket,
// TCP_INFO's tcpi_unacked is its accept queue; anything else (a unix socket) may always hold some.
bool may_hold_queued(int fd) {
    tcp_info info{};
    socklen_t length = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0 || info.tcpi_state != TCP_LISTEN) return true;
    return info.tcpi_unacked > 0;
}

}  // namespace

Acceptor::Acceptor(EventLoop& loop, ConnectionTable& connections, std::vector<WorkerListener> listeners,
                   std::uint32_t max_connections, BalanceSeat seat)
    : loop_(loop), connections_(connections), max_connections_(max_connections), seat_(seat) {
    for (WorkerListener& listener : listeners) {
        auto handler = std::make_unique<ListenerHandler>();
        handler->acceptor = this;
        handler->fd = WatchedFd(loop_, std::move(listener.fd));
        handler->config = std::move(listener.config);
        handler->shared = handler->config.balance == Balance::exclusive;
        handler->service = make_service(handler->config);
        handlers_.push_back(std::move(handler));
    }
}

Result<void, StartRefusal> Acceptor::start() {
    for (const auto& handler : handlers_) {
        const std::string listener = format_address(handler->config.address);
        if (!handler->service) {
            return Failure{StartRefusal{
                .reason = "this build cannot serve " + std::string(service_name(handler->config.service)) + " on " +
                          listener,
                .service_reason = {}}};
        }
        if (Outcome started = handler->service->start(); !started) {
            return Failure{StartRefusal{.reason = started.error() + " (listener " + listener + ")",
                                        .service_reason = started.error()}};
        }
    }
    if (seat_.board != nullptr) {
        // A descriptor of our own for the loop; the board's stays with the board.
        nudge_ = WatchedFd(loop_, Fd(::fcntl(seat_.board->nudge_fd(), F_DUPFD_CLOEXEC, 0)));
        if (!nudge_ || !nudge_.watch(EPOLLIN | EPOLLET, &nudge_handler_))
            return Failure{StartRefusal{.reason = "watching the accept nudge failed: " + errno_text(),
                                        .service_reason = {}}};
    }
    publish();
    if (Outcome watched = watch_listeners(true, true); !watched)
        return Failure{StartRefusal{.reason = watched.error(), .service_reason = {}}};
    if (seat_.board != nullptr) seat_.board->set_accepting(seat_.slot, accepting_shared());
    return {};
}

void Acceptor::close_listeners() {
    // This worker may have been woken for connections it has not taken yet, and nobody else will
    // be woken for them: it takes what is queued now, and serves it while it drains.
    for (auto& handler : handlers_) {
        if (handler->fd.watched()) accept_batch(*handler, false);
    }
    const bool was_accepting_shared = accepting_shared();
    if (Outcome unwatched = watch_listeners(false, false); !unwatched) log_error("%s", unwatched.error().c_str());
    // The handlers stay: an event for them may still be queued in the batch being dispatched.
    for (auto& handler : handlers_) handler->fd.close();
    closed_ = true;
    publish();
    if (was_accepting_shared) step_aside();
}

void Acceptor::add_module_counters(std::vector<ModuleCounterSample>& samples, std::size_t room) {
    for (const auto& handler : handlers_) {
        if (handler->service) handler->service->add_module_counters(samples);
    }
    std::size_t used = 0;
    const auto fits = std::find_if(samples.begin(), samples.end(), [&](const ModuleCounterSample& sample) {
        used += encoded_size(sample);
        return used > room;
    });
    if (fits == samples.end()) return;
    if (!std::exchange(module_counters_cut_logged_, true))
        log_warning("modules publish more counters than a heartbeat holds; %zu of %zu are left out of /metrics",
                    static_cast<std::size_t>(samples.end() - fits), samples.size());
    samples.erase(fits, samples.end());
}

void Acceptor::stop_services() {
    for (const auto& handler : handlers_) {
        if (handler->service) handler->service->stop();
    }
}

void Acceptor::add_service_counters(WorkerCounters& counters) const {
    for (const auto& handler : handlers_) {
        if (handler->service) handler->service->add_counters(counters);
    }
}

bool Acceptor::accepting_shared() const {
    return std::any_of(handlers_.begin(), handlers_.end(),
                       [](const auto& handler) { return handler->shared && handler->fd.watched(); });
}

bool Acceptor::available() const {
    return !closed_ && connections_.active() < max_connections_;
}

bool Acceptor::holds_more_than_share() const {
    if (seat_.board == nullptr) return false;
    const BalanceBoard::Share share = seat_.board->share(Clock::now());
    // Alone, or the only one able to accept: it must go on.
    if (share.workers <= 1) return false;
    const std::uint64_t mine = connections_.active();
    const std::uint64_t lead = std::max(kMinimumLead, share.connections / share.workers / kLeadFraction);
    return mine * share.workers > share.connections + lead * share.workers;
}

void Acceptor::publish() {
    if (seat_.board != nullptr) {
        seat_.board->publish(seat_.slot, static_cast<std::uint32_t>(connections_.active()), available(), Clock::now());
    }
}

void Acceptor::update(Clock::time_point now) {
    publish();
    if (closed_) return;
    const bool at_limit = connections_.active() >= max_connections_;
    if (at_limit && !connection_limit_logged_) {
        log_notice("max_connections (%u) reached; not accepting until a connection closes", max_connections_);
        connection_limit_logged_ = true;
    }
    if (!at_limit) connection_limit_logged_ = false;
    const bool own_wanted = !at_limit && !descriptor_shortage_.pausing(now);
    const bool shared_wanted = own_wanted && !holds_more_than_share();
    const bool was_accepting_shared = accepting_shared();
    if (Outcome watched = watch_listeners(shared_wanted, own_wanted); !watched)
        log_error("%s", watched.error().c_str());
    const bool accepting_shared_now = accepting_shared();
    if (was_accepting_shared && !accepting_shared_now) step_aside();
    if (!was_accepting_shared && accepting_shared_now && seat_.board != nullptr) {
        seat_.board->set_accepting(seat_.slot, true);
    }
}

// Leaving the shared listeners. The others must hear of it when nobody else is left waiting on
// them (each left when it held more than the mean it last saw; one of them is under it now, but
// an idle worker would only look again at its next tick), and when connections may be queued
// there, since the kernel wakes nobody for those. Each nudge sends every worker looking, so only
// then.
void Acceptor::step_aside() {
    if (seat_.board == nullptr) return;
    seat_.board->set_accepting(seat_.slot, false);
    bool nudge = !seat_.board->others_accepting(seat_.slot, Clock::now());
    if (!nudge && queue_may_hold_more_) {
        nudge = std::any_of(handlers_.begin(), handlers_.end(), [](const auto& handler) {
            return handler->shared && handler->fd.valid() && may_hold_queued(handler->fd.get());
        });
    }
    queue_may_hold_more_ = false;
    if (nudge) seat_.board->nudge();
}

void Acceptor::on_nudge() {
    update(Clock::now());
    // Connections may be waiting that no wake-up will announce: look for them.
    for (auto& handler : handlers_) {
        if (handler->shared && handler->fd.watched() && may_hold_queued(handler->fd.get())) {
            accept_batch(*handler, true);
        }
    }
}

void Acceptor::ListenerHandler::handle_event(std::uint32_t) {
    if (!acceptor->closed_ && fd.watched()) acceptor->accept_batch(*this, true);
}

void Acceptor::accept_batch(ListenerHandler& handler, bool balanced) {
    ++wakeups;
    int accepted_now = 0;
    bool emptied = false;
    for (int i = 0; i < kAcceptBatch; ++i) {
        if (connections_.active() >= max_connections_) break;
        // The connection this worker was woken for is its own; after that it stops once it holds
        // more than its share.
        if (balanced && handler.shared && accepted_now > 0 && holds_more_than_share()) break;
        const int fd = ::accept4(handler.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            const int error = errno;
            if (error == EAGAIN || error == EWOULDBLOCK) {
                emptied = true;
                break;
            }
            if (DescriptorShortage::is_shortage(error)) {
                descriptor_shortage_.record("a listener", Clock::now());
                break;
            }
            // ECONNABORTED, EPROTO, EPERM (firewall) and the like concern one connection only.
            log_debug("accept4() failed: %s", errno_text().c_str());
            continue;
        }
        ++accepted;
        ++accepted_now;
        connections_.open(Fd(fd), *handler.service);
        publish();
    }
    if (accepted_now == 0) ++empty_wakeups;
    if (handler.shared) queue_may_hold_more_ = !emptied;
    if (balanced) update(Clock::now());
}

Outcome Acceptor::watch_listeners(bool shared_wanted, bool own_wanted) {
    if (closed_) return {};
    std::string failures;
    for (auto& handler : handlers_) {
        const bool wanted = handler->shared ? shared_wanted : own_wanted;
        if (wanted == handler->fd.watched()) continue;
        const bool done = wanted ? handler->fd.watch(EPOLLIN | EPOLLEXCLUSIVE, handler.get()) : handler->fd.unwatch();
        if (done) continue;
        const int error = errno;
        // Worded only on failure: this runs whenever the balance moves a worker in or out.
        failures += (failures.empty() ? "" : "; ") +
                    call_failed(std::string(wanted ? "epoll_ctl(ADD, EPOLLEXCLUSIVE)" : "epoll_ctl(DEL)") +
                                    " for listener " + format_address(handler->config.address),
                                error);
    }
    if (!failures.empty()) return Failure{failures};
    return {};
}

}  // namespace corral
