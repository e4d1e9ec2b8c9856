// Signals by meaning, and the signalfd through which the master and workers receive them in
// their event loops instead of in asynchronous handlers.
#pragma once

#include <signal.h>

#include <initializer_list>

#include "common/fd.hpp"

namespace corral {

inline constexpr int kGracefulStopSignal = SIGTERM;
inline constexpr int kFastStopSignal = SIGINT;
inline constexpr int kQuitSignal = SIGQUIT;
inline constexpr int kReloadSignal = SIGHUP;
inline constexpr int kReopenLogsSignal = SIGUSR1;
inline constexpr int kUpgradeSignal = SIGUSR2;
inline constexpr int kAddWorkerSignal = SIGTTIN;
inline constexpr int kRemoveWorkerSignal = SIGTTOU;

// Blocks signals and returns a non-blocking signalfd that reads them. Invalid Fd on failure
// (errno set).
Fd open_signalfd(std::initializer_list<int> signals);

// Reads one pending signal from a signalfd: its number, or 0 when none is pending.
int read_signal(int signal_fd);

// Writes to a closed socket must fail with EPIPE, not kill the process.
void ignore_sigpipe();

}  // namespace corral
