// EventLoop over epoll. Handlers are plain pointers: their owners guarantee they outlive their
// registration and are not freed while a batch of events is being dispatched.
#include "common/event_loop.hpp"

#include <cerrno>

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

}  // namespace corral
