// The master's open file limit, raised to limits.nofile before any worker is forked, so that
// every worker inherits it.
#pragma once

#include <cstdint>

#include "common/result.hpp"

namespace corral {

struct DescriptorLimit {
    std::uint64_t limit = 0;   // what RLIMIT_NOFILE is now
    bool capped = false;       // lower than wanted: the hard limit is lower
};

// Raises the soft RLIMIT_NOFILE to `wanted`, or as far as the hard limit allows.
Result<DescriptorLimit> raise_descriptor_limit(std::uint64_t wanted);

}  // namespace corral
