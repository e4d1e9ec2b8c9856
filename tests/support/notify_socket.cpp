// NotifySocket: a datagram socket read by a thread until the object goes away (the jthread is
// asked to stop and joined then).
#include "tests/support/notify_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "tests/support/wait.hpp"

namespace corral::test {

NotifySocket::NotifySocket() : path_(dir_.path() + "/notify") {
    socket_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    ::bind(socket_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    // As systemd does: the kernel attaches each sender's credentials.
    const int on = 1;
    ::setsockopt(socket_.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    reader_ = std::jthread([this](std::stop_token stop) {
        char buffer[4096];
        while (!stop.stop_requested()) {
            pollfd readable{.fd = socket_.get(), .events = POLLIN, .revents = 0};
            if (::poll(&readable, 1, 50) <= 0) continue;
            iovec data{.iov_base = buffer, .iov_len = sizeof buffer};
            alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))] = {};
            msghdr header{};
            header.msg_iov = &data;
            header.msg_iovlen = 1;
            header.msg_control = control;
            header.msg_controllen = sizeof control;
            const ssize_t got = ::recvmsg(socket_.get(), &header, 0);
            if (got <= 0) continue;
            pid_t sender = 0;
            for (cmsghdr* part = CMSG_FIRSTHDR(&header); part != nullptr; part = CMSG_NXTHDR(&header, part)) {
                if (part->cmsg_level == SOL_SOCKET && part->cmsg_type == SCM_CREDENTIALS) {
                    ucred credentials{};
                    std::memcpy(&credentials, CMSG_DATA(part), sizeof credentials);
                    sender = credentials.pid;
                }
            }
            std::lock_guard lock(mutex_);
            messages_.emplace_back(buffer, static_cast<std::size_t>(got));
            arrivals_.push_back(std::chrono::steady_clock::now());
            senders_.push_back(sender);
        }
    });
}

std::vector<std::string> NotifySocket::messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
}

std::vector<pid_t> NotifySocket::senders() const {
    std::lock_guard lock(mutex_);
    return senders_;
}

std::vector<std::chrono::milliseconds> NotifySocket::gaps(const std::string& message) const {
    std::lock_guard lock(mutex_);
    std::vector<std::chrono::milliseconds> found;
    std::optional<std::chrono::steady_clock::time_point> previous;
    for (std::size_t i = 0; i < messages_.size(); ++i) {
        if (messages_[i] != message) continue;
        if (previous) found.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(arrivals_[i] - *previous));
        previous = arrivals_[i];
    }
    return found;
}

std::chrono::milliseconds NotifySocket::longest_gap(const std::string& message) const {
    const std::vector<std::chrono::milliseconds> all = gaps(message);
    return all.empty() ? std::chrono::milliseconds(0) : *std::max_element(all.begin(), all.end());
}

std::chrono::milliseconds NotifySocket::shortest_gap(const std::string& message) const {
    const std::vector<std::chrono::milliseconds> all = gaps(message);
    return all.empty() ? std::chrono::milliseconds(0) : *std::min_element(all.begin(), all.end());
}

int NotifySocket::wait_for(const std::string& text, std::size_t skip, std::chrono::milliseconds timeout) const {
    return wait_for_from(0, text, skip, timeout);
}

int NotifySocket::wait_for_from(pid_t sender, const std::string& text, std::size_t skip,
                                std::chrono::milliseconds timeout) const {
    int found = -1;
    poll_until(timeout, [&] {
        std::lock_guard lock(mutex_);
        for (std::size_t i = skip; i < messages_.size(); ++i) {
            if ((sender == 0 || senders_[i] == sender) && messages_[i].find(text) != std::string::npos) {
                found = static_cast<int>(i);
                return true;
            }
        }
        return false;
    });
    return found;
}

}  // namespace corral::test
