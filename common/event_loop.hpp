// EventLoop: the one epoll-based loop that both the master and the workers run, and WatchedFd,
// the only way a descriptor gets into it.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <cstdint>

#include "common/fd.hpp"

namespace corral {

// Whatever owns a descriptor in the loop receives its readiness through this.
class EventHandler {
public:
    virtual void handle_event(std::uint32_t events) = 0;

protected:
    ~EventHandler() = default;
};

// Forwards the readiness of one descriptor to a member function of the object that owns it.
template <class Owner>
class MemberHandler final : public EventHandler {
public:
    MemberHandler(Owner* owner, void (Owner::*on_ready)()) : owner_(owner), on_ready_(on_ready) {}
    void handle_event(std::uint32_t) override { (owner_->*on_ready_)(); }

private:
    Owner* owner_;
    void (Owner::*on_ready_)();
};

class WatchedFd;

class EventLoop {
public:
    // Returns an invalid loop (valid() false) when epoll_create1 fails; the caller logs and exits.
    EventLoop();

    bool valid() const { return epoll_.valid(); }

    // Waits up to timeout_ms (-1: until something happens) and dispatches every ready event.
    // Returns false only when epoll_wait fails for a reason other than EINTR.
    bool run_once(int timeout_ms);

private:
    friend class WatchedFd;
    // Each returns false with errno set when epoll_ctl fails.
    bool add(int fd, std::uint32_t events, EventHandler* handler);
    bool modify(int fd, std::uint32_t events, EventHandler* handler);
    bool remove(int fd);

    Fd epoll_;
    std::array<epoll_event, 256> ready_{};
};

// A descriptor owned together with its registration in an EventLoop. An epoll registration
// belongs to the open file description, not to the descriptor: closing a descriptor that a
// forked child still holds leaves the registration alive, and its events would reach a handler
// that is gone. So closing here always deregisters first, and nothing else can register an fd.
// The loop must outlive every WatchedFd of it.
class WatchedFd {
public:
    WatchedFd() = default;
    WatchedFd(EventLoop& loop, Fd fd) : loop_(&loop), fd_(std::move(fd)) {}
    WatchedFd(const WatchedFd&) = delete;
    WatchedFd& operator=(const WatchedFd&) = delete;
    WatchedFd(WatchedFd&& other) noexcept;
    WatchedFd& operator=(WatchedFd&& other) noexcept;
    ~WatchedFd() { close(); }

    int get() const { return fd_.get(); }
    bool valid() const { return fd_.valid(); }
    explicit operator bool() const { return valid(); }
    bool watched() const { return events_ != 0; }
    std::uint32_t events() const { return events_; }

    // Registers for `events` (EPOLL_CTL_ADD), or changes what is watched (EPOLL_CTL_MOD).
    // EPOLLEXCLUSIVE registrations cannot be modified: unwatch() and watch() again instead.
    // False with errno set when epoll_ctl fails; the registration is then as it was.
    bool watch(std::uint32_t events, EventHandler* handler);
    // Deregisters, keeping the descriptor open. False with errno set when epoll_ctl fails.
    bool unwatch();
    // Deregisters, then closes.
    void close();

private:
    EventLoop* loop_ = nullptr;
    Fd fd_;
    std::uint32_t events_ = 0;  // 0 while not registered
    EventHandler* handler_ = nullptr;
};

}  // namespace corral
