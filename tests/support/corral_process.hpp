// Test support: starts the real corral binary with a config of the test's, reads its log, finds
// its workers, and always stops it by PID.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/wait.hpp"

namespace corral::test {

struct CommandResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs the corral binary ($CORRAL_BINARY) with arguments and waits for it.
CommandResult run_corral(const std::vector<std::string>& arguments);

// Runs a shell command line (a real client: curl, redis-cli) and returns what it printed, its
// standard error included.
std::string shell_output(const std::string& command);

// A scratch directory removed when the object goes away.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string write(const std::string& name, const std::string& content) const;

private:
    std::string path_;
};

class CorralProcess {
public:
    // Writes config_yaml to a file and starts `corral run -c FILE`, stderr to a log file, with
    // `environment` ("NAME=value") added to the test's own.
    // `launcher`, when given, is a command that runs corral itself (systemd-socket-activate, say):
    // it is exec'd with the corral command line appended, and its pid is the master's.
    explicit CorralProcess(const std::string& config_yaml, const std::vector<std::string>& environment = {},
                           const std::vector<std::string>& launcher = {});
    ~CorralProcess();
    CorralProcess(const CorralProcess&) = delete;
    CorralProcess& operator=(const CorralProcess&) = delete;

    pid_t pid() const { return pid_; }
    const std::string& config_path() const { return config_path_; }
    // Rewrites the config file (for reloads).
    void write_config(const std::string& config_yaml) const;
    const TempDir& dir() const { return dir_; }
    std::string log() const;

    // Polls the log until it contains text `count` times; false after the timeout.
    bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout = kPatience, int count = 1) const;

    // Waits until the master says every worker is ready and returns the ports it listens on, in
    // config order (0 for unix listeners).
    std::vector<std::uint16_t> wait_ready(std::chrono::milliseconds timeout = kPatience);

    // The live workers (children named corral-worker), sorted.
    std::vector<pid_t> workers() const;
    // Polls until there are exactly `count` workers all different from `excluded`.
    bool wait_for_workers(std::size_t count, const std::vector<pid_t>& excluded = {},
                          std::chrono::milliseconds timeout = kPatience) const;

    void signal(int signal_number) const;
    // The exit code once the master has exited, nullopt on timeout (-signal if killed).
    std::optional<int> wait_exit(std::chrono::milliseconds timeout = kPatience);

    // Sends SIGTERM (a graceful stop) and returns what wait_exit returns.
    std::optional<int> stop(std::chrono::milliseconds timeout = kPatience);

    // After a binary upgrade the process to watch is the new master.
    void adopt(pid_t new_master);

private:
    TempDir dir_;
    std::string config_path_;
    pid_t pid_ = -1;
    bool exited_ = false;
    int exit_code_ = 0;
};

// The state letter of a process from /proc/PID/stat ('R', 'S', 'T', 'Z', ...), or 0 if gone.
char process_state(pid_t pid);

// SIGSTOP is asynchronous: only a process seen stopped can be trusted not to run.
bool wait_stopped(pid_t pid, std::chrono::milliseconds timeout = kPatience);

// True once pid no longer runs (gone, or a zombie not yet reaped by whoever owns it).
bool process_gone(pid_t pid);
bool wait_gone(pid_t pid, std::chrono::milliseconds timeout = kPatience);

// Resident set size of a process in KiB, from /proc.
std::size_t resident_kib(pid_t pid);

// The children of pid named `comm`.
std::vector<pid_t> children_named(pid_t parent, const std::string& comm);

}  // namespace corral::test
