// RespawnBackoff: doubling from 100 ms to 10 s while workers die young.
#include "master/respawn_backoff.hpp"

#include <algorithm>

namespace corral {

RespawnBackoff::Duration RespawnBackoff::on_death(Duration lived) {
    if (lived >= kProvenLife) delay_ = Duration{0};
    if (lived >= kShortLife) return Duration{0};
    delay_ = delay_.count() == 0 ? kFirstDelay : std::min(delay_ * 2, kMaxDelay);
    return delay_;
}

void RespawnBackoff::on_alive(Duration lived) {
    if (lived >= kProvenLife) delay_ = Duration{0};
}

}  // namespace corral
