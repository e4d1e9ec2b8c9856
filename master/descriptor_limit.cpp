// The master's open file limit.
#include "master/descriptor_limit.hpp"

#include <sys/resource.h>

#include <string>

#include "common/errno_text.hpp"

namespace corral {

Result<DescriptorLimit> raise_descriptor_limit(std::uint64_t wanted) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return Failure{call_failed("getrlimit(RLIMIT_NOFILE)")};
    rlim_t target = static_cast<rlim_t>(wanted);
    if (limit.rlim_max != RLIM_INFINITY && target > limit.rlim_max) target = limit.rlim_max;
    if (target != limit.rlim_cur) {
        limit.rlim_cur = target;
        if (::setrlimit(RLIMIT_NOFILE, &limit) != 0)
            return Failure{call_failed("setrlimit(RLIMIT_NOFILE, " + std::to_string(target) + ")")};
    }
    return DescriptorLimit{.limit = target, .capped = target < wanted};
}

}  // namespace corral
