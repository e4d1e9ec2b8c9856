// EventLoop over epoll. Handlers are plain pointers: their owners guarantee they outlive their
// registration and are not freed while a batch of events is being dispatched.
#include "common/event_loop.hpp"

#include <cerrno>
#include <utility>

namespace corral {

EventLoop::EventLoop() : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {}

bool EventLoop::add(int fd, std::uint32_t events, EventHandler* handler) {
    epoll_event event{};
    event.events = events;
    event.data.ptr = handler;
    return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) == 0;
}

bool EventLoop::modify(int fd, std::uint32_t events, EventHandler* handler) {
    epoll_event event{};
    event.events = events;
    event.data.ptr = handler;
    return ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event) == 0;
}

bool EventLoop::remove(int fd) { return ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr) == 0; }

bool EventLoop::run_once(int timeout_ms) {
    const int count = ::epoll_wait(epoll_.get(), ready_.data(), static_cast<int>(ready_.size()), timeout_ms);
    if (count < 0) return errno == EINTR;
    for (int i = 0; i < count; ++i) {
        static_cast<EventHandler*>(ready_[i].data.ptr)->handle_event(ready_[i].events);
    }
    return true;
}

WatchedFd::WatchedFd(WatchedFd&& other) noexcept
    : loop_(other.loop_),
      fd_(std::move(other.fd_)),
      events_(std::exchange(other.events_, 0)),
      handler_(std::exchange(other.handler_, nullptr)) {}

WatchedFd& WatchedFd::operator=(WatchedFd&& other) noexcept {
    if (this != &other) {
        close();
        loop_ = other.loop_;
        fd_ = std::move(other.fd_);
        events_ = std::exchange(other.events_, 0);
        handler_ = std::exchange(other.handler_, nullptr);
    }
    return *this;
}

bool WatchedFd::watch(std::uint32_t events, EventHandler* handler) {
    if (events_ == events && handler_ == handler) return true;
    const bool done = events_ == 0 ? loop_->add(fd_.get(), events, handler) : loop_->modify(fd_.get(), events, handler);
    if (!done) return false;
    events_ = events;
    handler_ = handler;
    return true;
}

bool WatchedFd::unwatch() {
    if (events_ == 0) return true;
    if (!loop_->remove(fd_.get())) return false;
    events_ = 0;
    handler_ = nullptr;
    return true;
}

void WatchedFd::close() {
    // A failed EPOLL_CTL_DEL leaves nothing better to do than to close: the descriptor is
    // either not registered after all or the loop itself is gone.
    unwatch();
    events_ = 0;
    handler_ = nullptr;
    fd_.reset();
}

}  // namespace corral
