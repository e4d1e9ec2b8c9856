// Closing inherited descriptors in a freshly forked child.
#include "common/fd.hpp"

#include <linux/close_range.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <vector>

#include "common/errno_text.hpp"
#include "common/fault_injection.hpp"
#include "common/log.hpp"

namespace corral {
namespace {

bool close_ranges_between(const std::vector<unsigned>& kept) {
    if (fault_injection::close_range_fails()) {
        errno = ENOSYS;
        return false;
    }
    unsigned first = 3;
    for (unsigned fd : kept) {
        if (fd < first) continue;
        if (fd > first && ::syscall(SYS_close_range, first, fd - 1, 0U) != 0) return false;
        first = fd + 1;
    }
    return ::syscall(SYS_close_range, first, UINT_MAX, 0U) == 0;
}

// O(descriptor limit) system calls: only when close_range is not to be had.
bool close_one_by_one(const std::vector<unsigned>& kept) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
    // A descriptor is always below the soft limit in force when it was opened, and the master
    // only ever raises it.
    const rlim_t end = limit.rlim_cur == RLIM_INFINITY ? limit.rlim_max : limit.rlim_cur;
    for (rlim_t fd = 3; fd < end && fd <= INT_MAX; ++fd) {
        if (!std::binary_search(kept.begin(), kept.end(), static_cast<unsigned>(fd))) ::close(static_cast<int>(fd));
    }
    return true;
}

}  // namespace

bool close_fds_except(std::span<const int> keep) {
    std::vector<unsigned> kept(keep.begin(), keep.end());
    std::sort(kept.begin(), kept.end());
    if (close_ranges_between(kept)) return true;
    log_debug("close_range() failed: %s; closing descriptors one by one", errno_text().c_str());
    return close_one_by_one(kept);
}

}  // namespace corral
