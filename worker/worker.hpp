// A worker process: accepts on the shared listeners and serves its connections in one event
// loop, reporting to the master over its socketpair until told to drain or the master vanishes.
#pragma once

#include <vector>

#include "common/config_types.hpp"
#include "common/fd.hpp"
#include "worker/acceptor.hpp"

namespace corral {

// Exit codes a worker returns to the master.
inline constexpr int kWorkerExitOk = 0;
inline constexpr int kWorkerExitFailed = 1;
// Something that will not pass by itself (a listener it cannot use, a privilege drop refused):
// respawning would only fail again, so the master stops instead.
inline constexpr int kWorkerExitFatal = 2;

struct WorkerSetup {
    Config config;
    std::vector<WorkerListener> listeners;
    Fd channel;  // this worker's end of the socketpair with the master
    Fd log_file;  // this worker's descriptor of log.file; invalid when logging to stderr
    // The generation's board, in this process's copy of the master's memory, which stays for the
    // worker's whole life since a worker leaves with _exit.
    BalanceSeat balance;
};

// Runs the worker until it has drained; returns its exit code.
int run_worker(WorkerSetup setup);

}  // namespace corral
