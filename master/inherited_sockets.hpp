// Sockets handed to this process at start: by the previous master in a binary upgrade, or by
// systemd's socket activation. Both use the LISTEN_FDS convention.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"
#include "master/listeners.hpp"

namespace corral {

// Environment variable naming the master that started this one in a binary upgrade, as
// "PID:START_TIME" (see process_start_time.hpp).
inline constexpr const char* kUpgradeFromVariable = "CORRAL_UPGRADE_FROM";

// The master that started this one, pinned by a pidfd opened before its start time was checked:
// a signal through it reaches that very process or nothing.
struct PreviousMaster {
    pid_t pid = 0;  // 0: there is none
    Fd pidfd;
};

// What a master starts with besides its config: the sockets passed by systemd or by the master
// that started this one, and that master.
struct Inheritance {
    std::vector<InheritedSocket> sockets;
    PreviousMaster previous_master;
};

// Takes the sockets passed with LISTEN_FDS (and clears those variables, so that workers and
// later binaries do not see them), and the previous master, if it is still there. To be called
// before this process opens any descriptor of its own, which could otherwise take the number of
// one announced but never passed. A descriptor that is not a listening stream socket is logged,
// closed and skipped. Fails when LISTEN_FDS names descriptors that are not there: the
// environment cannot be trusted then.
Result<Inheritance> take_inheritance();

// In a child about to exec the new binary: moves `fds` to 3, 4, ... and sets LISTEN_FDS,
// LISTEN_PID, LISTEN_FDNAMES and CORRAL_UPGRADE_FROM (the master `from`, started at
// `from_start_time`). Fails if a descriptor could not be moved.
Outcome pass_sockets_to_exec(const std::vector<int>& fds, const std::vector<std::string>& names, pid_t from,
                             std::uint64_t from_start_time);

}  // namespace corral
