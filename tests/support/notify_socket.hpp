// Test support: a NOTIFY_SOCKET of the test's own, recording every sd_notify message corral sends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.hpp"
#include "tests/support/corral_process.hpp"

namespace corral::test {

class NotifySocket {
public:
    NotifySocket();

    // "NOTIFY_SOCKET=/path", for CorralProcess's environment.
    std::string environment() const { return "NOTIFY_SOCKET=" + path_; }

    // Every message so far, in order of arrival, and the pid that sent each one.
    std::vector<std::string> messages() const;
    std::vector<pid_t> senders() const;
    // The longest and the shortest time between two consecutive messages equal to `message` (e.g.
    // "WATCHDOG=1"); 0 with fewer than two of them. A loaded machine stretches gaps, never
    // shortens them: only the shortest is a bound on how often the sender means to send.
    std::chrono::milliseconds longest_gap(const std::string& message) const;
    std::chrono::milliseconds shortest_gap(const std::string& message) const;
    // Polls until a message containing text has arrived after the first `skip` messages;
    // returns its index, or -1 on timeout.
    int wait_for(const std::string& text, std::size_t skip = 0, std::chrono::milliseconds timeout = kPatience) const;
    // The same, counting only messages sent by `sender` (0: by anyone).
    int wait_for_from(pid_t sender, const std::string& text, std::size_t skip = 0,
                      std::chrono::milliseconds timeout = kPatience) const;

private:
    std::vector<std::chrono::milliseconds> gaps(const std::string& message) const;

    TempDir dir_;
    std::string path_;
    Fd socket_;
    mutable std::mutex mutex_;
    std::vector<std::string> messages_;
    std::vector<std::chrono::steady_clock::time_point> arrivals_;
    std::vector<pid_t> senders_;
    std::jthread reader_;  // last: it stops and is joined before what it reads goes
};

}  // namespace corral::test
