// Closing inherited descriptors in a freshly forked child.
#include "common/fd.hpp"

#include <linux/close_range.h>
#include <sys/syscall.h>

#include <algorithm>
#include <climits>
#include <vector>

namespace corral {

void close_fds_except(std::span<const int> keep) {
    std::vector<unsigned> kept(keep.begin(), keep.end());
    std::sort(kept.begin(), kept.end());
    unsigned first = 3;
    for (unsigned fd : kept) {
        if (fd < first) continue;
        if (fd > first) ::syscall(SYS_close_range, first, fd - 1, 0U);
        first = fd + 1;
    }
    ::syscall(SYS_close_range, first, UINT_MAX, 0U);
}

}  // namespace corral
