// RespawnBackoff: how long to wait before replacing a worker, so that a worker that crashes at
// start-up does not turn the master into a fork loop.
#pragma once

#include <chrono>

namespace corral {

class RespawnBackoff {
public:
    using Duration = std::chrono::milliseconds;

    static constexpr Duration kFirstDelay{100};
    static constexpr Duration kMaxDelay{10'000};
    // A worker that dies sooner than this after starting counts as failing to start.
    static constexpr Duration kShortLife{1'000};
    // A worker that lives this long proves the failures are over.
    static constexpr Duration kProvenLife{10'000};

    // A worker died after `lived`; returns the delay before its replacement starts.
    Duration on_death(Duration lived);
    // A worker has been alive for `lived`; long enough, and the delay starts over.
    void on_alive(Duration lived);

    Duration current() const { return delay_; }

private:
    Duration delay_{0};
};

}  // namespace corral
