// Test-only fault injection. Compiled in only when meson's fault_injection option is on (the
// integration tests' builds, never a package); otherwise every hook is an empty inline function.
// Each hook acts only while a file named by its environment variable exists, so a test can
// switch a fault on and off while corral runs.
#pragma once

#include <optional>

namespace corral::fault_injection {

#ifdef CORRAL_FAULT_INJECTION

// $CORRAL_FAULT_WORKER_START: every worker exits at start with the code written in the file.
std::optional<int> worker_start_failure();

// $CORRAL_FAULT_FORK_PAUSE: a freshly forked child (a worker, or a binary upgrade's new master
// before exec) sleeps for the milliseconds written in the file while it still holds copies of
// every descriptor of the master, widening the window in which they are shared.
void pause_after_fork();

// $CORRAL_FAULT_CLOSE_RANGE: close_range(2) fails as on a kernel without it.
bool close_range_fails();

#else

inline std::optional<int> worker_start_failure() { return std::nullopt; }
inline void pause_after_fork() {}
inline bool close_range_fails() { return false; }

#endif

}  // namespace corral::fault_injection
