// EventLoop: the one epoll-based loop that both the master and the workers run.
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

class EventLoop {
public:
    // Returns an invalid loop (valid() false) when epoll_create1 fails; the caller logs and exits.
    EventLoop();

    bool valid() const { return epoll_.valid(); }

    // Each returns false with errno set when epoll_ctl fails.
    bool add(int fd, std::uint32_t events, EventHandler* handler);
    bool modify(int fd, std::uint32_t events, EventHandler* handler);
    bool remove(int fd);

    // Waits up to timeout_ms (-1: until something happens) and dispatches every ready event.
    // Returns false only when epoll_wait fails for a reason other than EINTR.
    bool run_once(int timeout_ms);

private:
    Fd epoll_;
    std::array<epoll_event, 256> ready_{};
};

}  // namespace corral
