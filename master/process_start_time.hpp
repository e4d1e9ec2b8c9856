// A pid names a process only until it is reused; a pid together with the process's start time
// names one process for good. The master uses the pair to hand its identity across an exec.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace corral {

// The start time of process `pid` in clock ticks after boot (field 22 of /proc/PID/stat), or
// nullopt with errno set when the process is gone or its stat cannot be read.
std::optional<std::uint64_t> process_start_time(pid_t pid);

}  // namespace corral
