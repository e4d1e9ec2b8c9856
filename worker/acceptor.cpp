// Acceptor. Listeners are only ever added to and deleted from the epoll set, never modified:
// EPOLL_CTL_MOD is refused for EPOLLEXCLUSIVE registrations.
#include "worker/acceptor.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "common/address.hpp"
#include "common/log.hpp"

namespace corral {
namespace {

// Enough to empty a burst without starving the connections already open.
constexpr int kAcceptBatch = 64;

}  // namespace

Acceptor::Acceptor(EventLoop& loop, ConnectionTable& connections, std::vector<WorkerListener> listeners,
                   std::uint32_t max_connections)
    : loop_(loop), connections_(connections), max_connections_(max_connections) {
    for (WorkerListener& listener : listeners) {
        auto handler = std::make_unique<ListenerHandler>();
        handler->acceptor = this;
        handler->fd = WatchedFd(loop_, std::move(listener.fd));
        handler->config = std::move(listener.config);
        handlers_.push_back(std::move(handler));
    }
}

bool Acceptor::start() { return resume_accepting(); }

void Acceptor::close_listeners() {
    pause_accepting();
    // The handlers stay: an event for them may still be queued in the batch being dispatched.
    for (auto& handler : handlers_) handler->fd.close();
    closed_ = true;
}

void Acceptor::update(Clock::time_point now) {
    if (closed_) return;
    const bool at_limit = connections_.active() >= max_connections_;
    const bool descriptors_paused = descriptor_shortage_.pausing(now);
    if (at_limit && !connection_limit_logged_) {
        log_notice("max_connections (%u) reached; not accepting until a connection closes", max_connections_);
        connection_limit_logged_ = true;
    }
    if (!at_limit) connection_limit_logged_ = false;
    if (at_limit || descriptors_paused) {
        pause_accepting();
    } else {
        resume_accepting();
    }
}

void Acceptor::ListenerHandler::handle_event(std::uint32_t) {
    if (!acceptor->closed_) acceptor->accept_batch(*this);
}

void Acceptor::accept_batch(ListenerHandler& handler) {
    ++wakeups;
    int accepted_now = 0;
    for (int i = 0; i < kAcceptBatch; ++i) {
        if (connections_.active() >= max_connections_) break;
        const int fd = ::accept4(handler.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            const int error = errno;
            if (error == EAGAIN || error == EWOULDBLOCK) break;
            if (DescriptorShortage::is_shortage(error)) {
                descriptor_shortage_.record("a listener", Clock::now());
                pause_accepting();
                break;
            }
            // ECONNABORTED, EPROTO, EPERM (firewall) and the like concern one connection only.
            log_debug("accept4() failed: %m");
            continue;
        }
        ++accepted;
        ++accepted_now;
        connections_.open(Fd(fd), handler.config.service);
    }
    if (accepted_now == 0) ++empty_wakeups;
}

void Acceptor::pause_accepting() {
    if (!registered_) return;
    for (auto& handler : handlers_) {
        if (!handler->fd.unwatch()) log_error("epoll_ctl(DEL) for a listener failed: %m");
    }
    registered_ = false;
}

bool Acceptor::resume_accepting() {
    if (registered_ || closed_) return true;
    for (std::size_t i = 0; i < handlers_.size(); ++i) {
        ListenerHandler& handler = *handlers_[i];
        if (!handler.fd.watch(EPOLLIN | EPOLLEXCLUSIVE, &handler)) {
            log_error("epoll_ctl(ADD, EPOLLEXCLUSIVE) for listener %s failed: %m",
                      format_address(handler.config.address).c_str());
            // All or none: a later resume must not find some of them already registered.
            while (i-- > 0) handlers_[i]->fd.unwatch();
            return false;
        }
    }
    registered_ = true;
    return true;
}

}  // namespace corral
