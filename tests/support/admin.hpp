// Test support: reading a running master's admin endpoints.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/config_types.hpp"
#include "master/admin_client.hpp"
#include "tests/support/corral_process.hpp"

namespace corral::test {

inline Address loopback(std::uint16_t port) {
    Address address;
    address.family = AddressFamily::ipv4;
    address.host = "127.0.0.1";
    address.port = port;
    return address;
}

inline std::optional<AdminReply> admin_fetch(std::uint16_t port, const std::string& path) {
    Result<AdminReply> reply = admin_get(loopback(port), path);
    if (!reply) return std::nullopt;
    return std::move(*reply);
}

inline nlohmann::json admin_status(std::uint16_t port) {
    const std::optional<AdminReply> reply = admin_fetch(port, "/status");
    if (!reply || reply->status != 200) return nlohmann::json();
    return nlohmann::json::parse(reply->body, nullptr, false);
}

// Polls /status until `count` workers are ready and none of them is in `excluded`.
inline bool wait_ready_workers(std::uint16_t admin, std::size_t count, const std::vector<pid_t>& excluded = {},
                               std::chrono::milliseconds timeout = kPatience) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        const nlohmann::json status = admin_status(admin);
        std::size_t ready = 0;
        bool stale = false;
        if (status.is_object()) {
            for (const auto& worker : status["workers"]) {
                const pid_t pid = worker["pid"].get<pid_t>();
                if (std::find(excluded.begin(), excluded.end(), pid) != excluded.end()) stale = true;
                if (worker["state"] == "ready") ++ready;
            }
            if (!stale && ready == count && status["workers"].size() == count) return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

// One echo listener on 127.0.0.1:0 and the admin endpoints on admin_port.
inline std::string admin_config(int workers, std::uint16_t admin_port, const std::string& extra = "") {
    return "workers: " + std::to_string(workers) +
           "\nlisten:\n  - address: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:" + std::to_string(admin_port) +
           "\nlog:\n  level: debug\n" + extra;
}

}  // namespace corral::test
