// Sockets handed to this process at start: by the previous master in a binary upgrade, or by
// systemd's socket activation. Both use the LISTEN_FDS convention.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "master/listeners.hpp"

namespace corral {

// Environment variable naming the master that exec'd this one in a binary upgrade.
inline constexpr const char* kUpgradeFromVariable = "CORRAL_UPGRADE_FROM";

// Takes the sockets passed with LISTEN_FDS (and clears those variables, so that workers and
// later binaries do not see them). previous_master is set to the pid in CORRAL_UPGRADE_FROM,
// or 0. A descriptor that is not a listening stream socket is logged, closed and skipped.
std::vector<InheritedSocket> take_inherited_sockets(pid_t& previous_master);

// In a forked child about to exec the new binary: moves `fds` to 3, 4, ... and sets LISTEN_FDS,
// LISTEN_PID, LISTEN_FDNAMES and CORRAL_UPGRADE_FROM. Returns false if a descriptor could not be
// moved.
bool pass_sockets_to_exec(const std::vector<int>& fds, const std::vector<std::string>& names, pid_t from);

}  // namespace corral
