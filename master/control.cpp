// reload, stop and status. Each finds the master, acts, and reports what actually happened:
// reload waits for the outcome in /status, stop waits for the process to be gone.
#include "master/control.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "common/address.hpp"
#include "common/signals.hpp"
#include "master/admin_client.hpp"

namespace corral {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The master gives a new generation 10 s to get ready; this leaves room around that.
constexpr auto kReloadWait = 20s;
constexpr auto kPollInterval = 50ms;

std::optional<nlohmann::json> fetch_status(const Config& config) {
    if (!config.admin_listen) {
        std::fprintf(stderr, "corral: admin.listen is not set in %s; the running master cannot be asked\n",
                     config.path.c_str());
        return std::nullopt;
    }
    std::string error;
    const std::optional<AdminReply> reply = admin_get(*config.admin_listen, "/status", error);
    if (!reply) {
        std::fprintf(stderr, "corral: is corral running? %s\n", error.c_str());
        return std::nullopt;
    }
    nlohmann::json status = nlohmann::json::parse(reply->body, nullptr, false);
    if (reply->status != 200 || status.is_discarded() || !status.is_object()) {
        std::fprintf(stderr, "corral: %s answered /status with HTTP %d and no status\n",
                     format_address(*config.admin_listen).c_str(), reply->status);
        return std::nullopt;
    }
    return status;
}

std::uint64_t reload_count(const nlohmann::json& status) {
    return status.value("reloads", 0ull) + status.value("reload_failures", 0ull);
}

// True when pid is a corral master: a stale pid file may name a process that reused the pid.
bool is_master(pid_t pid) {
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    return std::getline(comm, name) && name == "corral-master";
}

bool process_gone(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    if (text.empty()) return true;
    const std::size_t close = text.rfind(')');
    return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

std::optional<pid_t> find_master(const Config& config) {
    if (!config.pid_file.empty()) {
        std::ifstream file(config.pid_file);
        long pid = 0;
        if (file >> pid && pid > 0) return static_cast<pid_t>(pid);
        if (!config.admin_listen) {
            std::fprintf(stderr, "corral: no pid in %s; is corral running?\n", config.pid_file.c_str());
            return std::nullopt;
        }
    }
    if (!config.admin_listen) {
        std::fprintf(stderr, "corral: neither pid_file nor admin.listen is set in %s; cannot find the master\n",
                     config.path.c_str());
        return std::nullopt;
    }
    const std::optional<nlohmann::json> status = fetch_status(config);
    if (!status) return std::nullopt;
    return static_cast<pid_t>(status->value("pid", 0));
}

}  // namespace

int control_reload(const Config& config) {
    const std::optional<nlohmann::json> before = fetch_status(config);
    if (!before) return kControlFailed;
    const auto pid = static_cast<pid_t>(before->value("pid", 0));
    if (pid <= 0 || ::kill(pid, kReloadSignal) != 0) {
        std::perror("corral: sending SIGHUP to the master failed");
        return kControlFailed;
    }
    const auto deadline = Clock::now() + kReloadWait;
    while (Clock::now() < deadline) {
        std::this_thread::sleep_for(kPollInterval);
        const std::optional<nlohmann::json> now = fetch_status(config);
        if (!now) continue;
        if (reload_count(*now) <= reload_count(*before)) continue;
        const nlohmann::json& last = (*now)["last_reload"];
        if (last.is_object() && last.value("result", "") == "ok") {
            std::printf("reloaded: generation %u serving\n", last.value("generation", 0u));
            return kControlOk;
        }
        const std::string error = last.is_object() && last["error"].is_string() ? last["error"].get<std::string>()
                                                                                : "unknown error";
        std::fprintf(stderr, "corral: reload failed: %s\n", error.c_str());
        return kControlFailed;
    }
    std::fprintf(stderr, "corral: the master did not report the reload's outcome within %lld s\n",
                 static_cast<long long>(std::chrono::seconds(kReloadWait).count()));
    return kControlTimedOut;
}

int control_stop(const Config& config, bool fast) {
    const std::optional<pid_t> pid = find_master(config);
    if (!pid) return kControlFailed;
    if (!is_master(*pid)) {
        std::fprintf(stderr, "corral: process %d is not a running corral master\n", *pid);
        return kControlFailed;
    }
    if (::kill(*pid, fast ? kFastStopSignal : kGracefulStopSignal) != 0) {
        std::perror("corral: signalling the master failed");
        return kControlFailed;
    }
    const auto limit = fast ? std::chrono::milliseconds(5s) : config.timeouts.shutdown + std::chrono::milliseconds(10s);
    const auto deadline = Clock::now() + limit;
    while (!process_gone(*pid)) {
        if (Clock::now() >= deadline) {
            std::fprintf(stderr, "corral: master %d is still running after %lld s\n", *pid,
                         static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(limit).count()));
            return kControlTimedOut;
        }
        std::this_thread::sleep_for(kPollInterval);
    }
    std::printf("stopped master %d\n", *pid);
    return kControlOk;
}

int control_status(const Config& config, bool json) {
    const std::optional<nlohmann::json> status = fetch_status(config);
    if (!status) return kControlFailed;
    if (json) {
        std::printf("%s\n", status->dump(2).c_str());
        return kControlOk;
    }
    std::printf("master %d: %s, generation %u, %u reloads (%u failed), %u worker restarts\n",
                status->value("pid", 0), status->value("state", "?").c_str(), status->value("generation", 0u),
                status->value("reloads", 0u), status->value("reload_failures", 0u),
                status->value("worker_restarts", 0u));
    const nlohmann::json& last = (*status)["last_reload"];
    if (last.is_object()) {
        std::printf("last reload: %s%s%s\n", last.value("result", "?").c_str(), last["error"].is_string() ? ": " : "",
                    last["error"].is_string() ? last["error"].get<std::string>().c_str() : "");
    }
    std::printf("%8s %10s %9s %12s %10s\n", "PID", "GENERATION", "STATE", "CONNECTIONS", "ACCEPTED");
    for (const nlohmann::json& worker : (*status)["workers"]) {
        std::printf("%8d %10u %9s %12llu %10llu\n", worker.value("pid", 0), worker.value("generation", 0u),
                    worker.value("state", "?").c_str(), worker.value("connections", 0ull),
                    worker.value("accepted", 0ull));
    }
    return kControlOk;
}

}  // namespace corral
