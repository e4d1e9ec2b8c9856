// Running out of descriptors or socket memory while accepting. A listener stays readable while
// its queue holds connections, so retrying at once would spin at full CPU and log every retry:
// instead accepting pauses for a moment, and each shortage is logged once.
#pragma once

#include <chrono>

namespace corral {

class DescriptorShortage {
public:
    using Clock = std::chrono::steady_clock;

    // Long enough for closing connections to return descriptors, short enough to be unnoticeable.
    static constexpr std::chrono::milliseconds kPause{250};
    // A shortage that comes back within this is the same one, not worth another line.
    static constexpr std::chrono::seconds kQuietPeriod{10};

    // EMFILE, ENFILE, ENOBUFS, ENOMEM: errors of accept4() that mean "not now" for every
    // connection, as opposed to one connection's trouble (ECONNABORTED, EPERM, ...).
    static bool is_shortage(int error);

    // Records a shortage just now on `listener` (e.g. "the admin listener"), with errno still set
    // by the failed accept4(): pauses accepting until kPause from now, and logs unless within the
    // quiet period.
    void record(const char* listener, Clock::time_point now);

    // Whether accepting is paused at `now`.
    bool pausing(Clock::time_point now) const { return now < pause_until_; }

private:
    Clock::time_point pause_until_{};
    Clock::time_point last_shortage_{};
};

}  // namespace corral
