// NotifySocket: a datagram socket read by a thread until the object goes away.
#include "tests/support/notify_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace corral::test {

NotifySocket::NotifySocket() : path_(dir_.path() + "/notify") {
    socket_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    ::bind(socket_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    reader_ = std::thread([this] {
        char buffer[4096];
        for (;;) {
            {
                std::lock_guard lock(mutex_);
                if (stopping_) return;
            }
            pollfd readable{.fd = socket_.get(), .events = POLLIN, .revents = 0};
            if (::poll(&readable, 1, 50) <= 0) continue;
            const ssize_t got = ::recv(socket_.get(), buffer, sizeof buffer, 0);
            if (got <= 0) continue;
            std::lock_guard lock(mutex_);
            messages_.emplace_back(buffer, static_cast<std::size_t>(got));
            arrivals_.push_back(std::chrono::steady_clock::now());
        }
    });
}

NotifySocket::~NotifySocket() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    reader_.join();
}

std::vector<std::string> NotifySocket::messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
}

std::chrono::milliseconds NotifySocket::longest_gap(const std::string& message) const {
    std::lock_guard lock(mutex_);
    std::chrono::milliseconds longest{0};
    std::optional<std::chrono::steady_clock::time_point> previous;
    for (std::size_t i = 0; i < messages_.size(); ++i) {
        if (messages_[i] != message) continue;
        if (previous) {
            longest = std::max(longest, std::chrono::duration_cast<std::chrono::milliseconds>(arrivals_[i] - *previous));
        }
        previous = arrivals_[i];
    }
    return longest;
}

int NotifySocket::wait_for(const std::string& text, std::size_t skip, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            for (std::size_t i = skip; i < messages_.size(); ++i) {
                if (messages_[i].find(text) != std::string::npos) return static_cast<int>(i);
            }
        }
        if (std::chrono::steady_clock::now() >= deadline) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace corral::test
