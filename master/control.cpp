// reload, stop and status. Each finds the master, acts, and reports what actually happened:
// reload waits for the outcome in /status, stop waits for the process to be gone. A signal goes
// only to a process verified to be the master, through a pidfd opened before the check, so that
// neither a stray answer on the admin port nor a reused pid can choose what gets signalled.
#include "master/control.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "common/address.hpp"
#include "common/errno_text.hpp"
#include "common/fd.hpp"
#include "common/signals.hpp"
#include "master/admin_client.hpp"
#include "master/status_document.hpp"

namespace corral {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The master gives a new generation 10 s to get ready; this leaves room around that.
constexpr auto kReloadWait = 20s;
constexpr auto kPollInterval = 50ms;

struct FetchedStatus {
    StatusDocument document;
    std::string body;
};

// What the CLI says when it cannot go on: one line on stderr.
int failed(const std::string& why) {
    std::fprintf(stderr, "corral: %s\n", why.c_str());
    return kControlFailed;
}

Result<FetchedStatus> fetch_status(const Config& config) {
    if (!config.admin_listen)
        return Failure{"admin.listen is not set in " + config.path + "; the running master cannot be asked"};
    const Result<AdminReply> reply = admin_get(*config.admin_listen, "/status");
    if (!reply) return Failure{"is corral running? " + reply.error()};
    const std::string where = format_address(*config.admin_listen);
    if (reply->status != 200)
        return Failure{where + " answered /status with HTTP " + std::to_string(reply->status) + " and no status"};
    Result<StatusDocument> document = read_status_document(reply->body);
    if (!document) {
        return Failure{where + " answered /status with something that is not corral's status (" + document.error() +
                       ")"};
    }
    return FetchedStatus{std::move(*document), reply->body};
}

std::uint64_t reload_count(const StatusDocument& status) { return status.reloads + status.reload_failures; }

// The first line of a small file, or "" when it cannot be read.
std::string first_line(const std::string& path) {
    std::ifstream file(path);
    std::string line;
    std::getline(file, line);
    return line;
}

// A master pinned by a pidfd: once verified, signals reach that very process or fail.
class MasterProcess {
public:
    // Opens a pidfd for pid, then checks that it is a corral master and, when pid_file is set,
    // the one it names.
    static Result<MasterProcess> open(pid_t pid, const Config& config) {
        const std::string process = "process " + std::to_string(pid);
        Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
        if (!pidfd && errno == ESRCH) return Failure{process + " is not running"};
        if (!pidfd) return Failure{call_failed("pidfd_open(" + std::to_string(pid) + ")")};
        // After pidfd_open: a process that has replaced the pid since is the one checked here,
        // and the pidfd then names a dead process that no signal reaches.
        if (first_line("/proc/" + std::to_string(pid) + "/comm") != "corral-master")
            return Failure{process + " is not a running corral master"};
        if (!config.pid_file.empty()) {
            const std::string named = first_line(config.pid_file);
            if (named != std::to_string(pid)) {
                return Failure{process + " is not the master that " + config.pid_file + " names (" +
                               (named.empty() ? "nothing" : named) + ")"};
            }
        }
        return MasterProcess(pid, std::move(pidfd));
    }

    pid_t pid() const { return pid_; }

    Outcome signal(int signal_number) const {
        if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal_number, nullptr, 0) == 0) return {};
        return Failure{"signalling master " + std::to_string(pid_) + " failed: " + errno_text()};
    }

    // True once the process has exited, false if it still runs after timeout.
    bool wait_exit(std::chrono::milliseconds timeout) const {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            pollfd exited{.fd = pidfd_.get(), .events = POLLIN, .revents = 0};
            const int ready = ::poll(&exited, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
            if (ready > 0) return true;
            if (ready == 0 || errno != EINTR) return false;
        }
    }

private:
    MasterProcess(pid_t pid, Fd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}

    pid_t pid_;
    Fd pidfd_;
};

Result<pid_t> find_master_pid(const Config& config) {
    if (!config.pid_file.empty()) {
        const std::string named = first_line(config.pid_file);
        const long pid = std::atol(named.c_str());
        if (pid > 0 && std::to_string(pid) == named) return static_cast<pid_t>(pid);
        if (!config.admin_listen) return Failure{"no pid in " + config.pid_file + "; is corral running?"};
    }
    if (!config.admin_listen) {
        return Failure{"neither pid_file nor admin.listen is set in " + config.path + "; cannot find the master"};
    }
    const Result<FetchedStatus> status = fetch_status(config);
    if (!status) return Failure{status.error()};
    return status->document.pid;
}

}  // namespace

int control_reload(const Config& config) {
    const Result<FetchedStatus> before = fetch_status(config);
    if (!before) return failed(before.error());
    const Result<MasterProcess> master = MasterProcess::open(before->document.pid, config);
    if (!master) return failed(master.error());
    if (Outcome signalled = master->signal(kReloadSignal); !signalled) return failed(signalled.error());
    const auto deadline = Clock::now() + kReloadWait;
    while (Clock::now() < deadline) {
        std::this_thread::sleep_for(kPollInterval);
        // The master may be too busy to answer at this moment; the deadline is what ends the wait.
        const Result<FetchedStatus> now = fetch_status(config);
        if (!now || reload_count(now->document) <= reload_count(before->document)) continue;
        const auto& last = now->document.last_reload;
        if (last && last->ok) {
            std::printf("reloaded: generation %llu serving\n", static_cast<unsigned long long>(last->generation));
            return kControlOk;
        }
        return failed("reload failed: " + (last && !last->error.empty() ? last->error : "unknown error"));
    }
    std::fprintf(stderr, "corral: the master did not report the reload's outcome within %lld s\n",
                 static_cast<long long>(std::chrono::seconds(kReloadWait).count()));
    return kControlTimedOut;
}

int control_stop(const Config& config, bool fast) {
    const Result<pid_t> pid = find_master_pid(config);
    if (!pid) return failed(pid.error());
    const Result<MasterProcess> master = MasterProcess::open(*pid, config);
    if (!master) return failed(master.error());
    if (Outcome signalled = master->signal(fast ? kFastStopSignal : kGracefulStopSignal); !signalled)
        return failed(signalled.error());
    const auto limit = fast ? std::chrono::milliseconds(5s) : config.timeouts.shutdown + std::chrono::milliseconds(10s);
    if (!master->wait_exit(limit)) {
        std::fprintf(stderr, "corral: master %d is still running after %lld s\n", master->pid(),
                     static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(limit).count()));
        return kControlTimedOut;
    }
    std::printf("stopped master %d\n", master->pid());
    return kControlOk;
}

int control_status(const Config& config, bool json) {
    const Result<FetchedStatus> fetched = fetch_status(config);
    if (!fetched) return failed(fetched.error());
    if (json) {
        std::printf("%s\n", nlohmann::json::parse(fetched->body).dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return kControlOk;
    }
    const StatusDocument& status = fetched->document;
    std::printf("master %d: %s, generation %llu, %llu reloads (%llu failed), %llu worker restarts\n", status.pid,
                status.state.c_str(), static_cast<unsigned long long>(status.generation),
                static_cast<unsigned long long>(status.reloads), static_cast<unsigned long long>(status.reload_failures),
                static_cast<unsigned long long>(status.worker_restarts));
    if (status.last_reload) {
        const auto& last = *status.last_reload;
        std::printf("last reload: %s%s%s\n", last.ok ? "ok" : "failed", last.error.empty() ? "" : ": ",
                    last.error.c_str());
    }
    std::string listening;
    for (const StatusDocument::Listener& listener : status.listeners)
        listening += (listening.empty() ? "" : ", ") + listener.address + " (" + listener.service + ")";
    if (!listening.empty()) std::printf("listening: %s\n", listening.c_str());
    std::printf("%8s %10s %9s %12s %6s %10s\n", "PID", "GENERATION", "STATE", "CONNECTIONS", "SHARE", "ACCEPTED");
    for (const StatusDocument::Worker& worker : status.workers) {
        // A generation without connections has no shares to show.
        const bool generation_idle =
            std::none_of(status.workers.begin(), status.workers.end(), [&](const StatusDocument::Worker& other) {
                return other.generation == worker.generation && other.connections > 0;
            });
        char share[16] = "-";
        if (!generation_idle) std::snprintf(share, sizeof share, "%.1f%%", worker.share * 100);
        std::printf("%8d %10llu %9s %12llu %6s %10llu\n", worker.pid, static_cast<unsigned long long>(worker.generation),
                    worker.state.c_str(), static_cast<unsigned long long>(worker.connections), share,
                    static_cast<unsigned long long>(worker.accepted));
    }
    return kControlOk;
}

}  // namespace corral
