// Test support: waiting for a condition with a deadline. Tests wait for what they expect to see
// (a log line, a process count, an answer), never for a fixed time.
#pragma once

#include <chrono>
#include <thread>

namespace corral::test {

using namespace std::chrono_literals;

// Generous bounds: CI machines are small and shared.
inline constexpr std::chrono::milliseconds kPatience = 20s;

// Calls done() every `interval` until it returns true (then true) or `timeout` has passed (then
// false). done() is called at least once, and once more after the deadline has passed.
template <class Predicate>
bool poll_until(std::chrono::milliseconds timeout, Predicate done, std::chrono::milliseconds interval = 10ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const bool past_deadline = std::chrono::steady_clock::now() >= deadline;
        if (done()) return true;
        if (past_deadline) return false;
        std::this_thread::sleep_for(interval);
    }
}

}  // namespace corral::test
