// Fd: the single owner of a file descriptor; closing happens in exactly one place.
#pragma once

#include <unistd.h>

#include <span>
#include <utility>

namespace corral {

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    ~Fd() { reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return valid(); }

    // Gives up ownership without closing; the caller now owns the descriptor.
    int release() { return std::exchange(fd_, -1); }

    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// Closes every descriptor from 3 upwards except those in keep. A freshly forked worker calls this
// so that it holds nothing of the master's: above all not the master's ends of the other workers'
// socketpairs, which would otherwise keep them open after the master dies. Uses close_range(2)
// or, where that is missing (Linux before 5.9) or forbidden (a seccomp filter), closes one by
// one up to the descriptor limit. False (errno set) only when even that limit cannot be read:
// the caller must then not go on.
bool close_fds_except(std::span<const int> keep);

}  // namespace corral
