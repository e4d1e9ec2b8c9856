// Test support: reading a running master's admin endpoints.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/config_types.hpp"
#include "master/admin_client.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/wait.hpp"

namespace corral::test {

inline Address loopback(std::uint16_t port) {
    Address address;
    address.family = AddressFamily::ipv4;
    address.host = "127.0.0.1";
    address.port = port;
    return address;
}

inline std::optional<AdminReply> admin_fetch(std::uint16_t port, const std::string& path) {
    std::string error;
    return admin_get(loopback(port), path, error);
}

inline nlohmann::json admin_status(std::uint16_t port) {
    const std::optional<AdminReply> reply = admin_fetch(port, "/status");
    if (!reply || reply->status != 200) return nlohmann::json();
    return nlohmann::json::parse(reply->body, nullptr, false);
}

// Polls /status until `count` workers are ready and none of them is in `excluded`.
inline bool wait_ready_workers(std::uint16_t admin, std::size_t count, const std::vector<pid_t>& excluded = {},
                               std::chrono::milliseconds timeout = kPatience) {
    return poll_until(timeout, [&] {
        const nlohmann::json status = admin_status(admin);
        if (!status.is_object()) return false;
        std::size_t ready = 0;
        bool stale = false;
        for (const auto& worker : status["workers"]) {
            const pid_t pid = worker["pid"].get<pid_t>();
            if (std::find(excluded.begin(), excluded.end(), pid) != excluded.end()) stale = true;
            if (worker["state"] == "ready") ++ready;
        }
        return !stale && ready == count && status["workers"].size() == count;
    }, std::chrono::milliseconds(5));
}

// One echo listener on 127.0.0.1:0 and the admin endpoints on admin_port.
inline std::string admin_config(int workers, std::uint16_t admin_port, const std::string& extra = "") {
    return "workers: " + std::to_string(workers) +
           "\nlisten:\n  - address: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:" + std::to_string(admin_port) +
           "\nlog:\n  level: debug\n" + extra;
}

}  // namespace corral::test
