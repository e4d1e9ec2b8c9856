// Test support: reading a running master's admin endpoints, wherever its config put them.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/address.hpp"
#include "common/config_types.hpp"
#include "master/admin_client.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/wait.hpp"

namespace corral::test {

// admin.listen on a unix socket in dir: known before the master starts, and found by the
// command line (corral status, reload, stop) in the config file.
inline Address unix_admin(const TempDir& dir) {
    Address address;
    address.family = AddressFamily::unix_path;
    address.path = dir.path() + "/admin.sock";
    return address;
}

// admin.listen on a port of 127.0.0.1 that the kernel picks, for tests that need the endpoint on
// TCP (clients from several loopback addresses, say); admin_address() then reads the port.
inline Address ephemeral_admin() {
    Address address;
    address.family = AddressFamily::ipv4;
    address.host = "127.0.0.1";
    address.port = 0;
    return address;
}

// Where a running master serves its admin endpoints, from its log line "admin endpoints on ADDR":
// the real port when admin.listen asked for port 0. After a binary upgrade, the newest master's.
// A default Address (which nothing answers on) if the line does not appear within kPatience.
inline Address admin_address(const CorralProcess& corral) {
    const std::string marker = "admin endpoints on ";
    if (!corral.wait_for_log(marker)) return Address();
    const std::string log = corral.log();
    const std::size_t begin = log.rfind(marker) + marker.size();
    const Result<Address> address = parse_address(log.substr(begin, log.find('\n', begin) - begin));
    return address ? *address : Address();
}

inline std::optional<AdminReply> admin_fetch(const Address& admin, const std::string& path) {
    Result<AdminReply> reply = admin_get(admin, path);
    if (!reply) return std::nullopt;
    return std::move(*reply);
}

inline nlohmann::json admin_status(const Address& admin) {
    const std::optional<AdminReply> reply = admin_fetch(admin, "/status");
    if (!reply || reply->status != 200) return nlohmann::json();
    return nlohmann::json::parse(reply->body, nullptr, false);
}

// Polls /status until `count` workers are ready and none of them is in `excluded`.
inline bool wait_ready_workers(const Address& admin, std::size_t count, const std::vector<pid_t>& excluded = {},
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

// Polls /status until the reloads it counts, good and failed, reach `count`; returns the last
// status read (an empty one if the admin endpoint never answered).
inline nlohmann::json wait_for_reloads(const Address& admin, int count) {
    nlohmann::json status;
    poll_until(kPatience, [&] {
        status = admin_status(admin);
        return status.is_object() && status["reloads"].get<int>() + status["reload_failures"].get<int>() >= count;
    }, std::chrono::milliseconds(5));
    return status;
}

// The YAML of an admin section serving on `admin`.
inline std::string admin_yaml(const Address& admin) { return "admin:\n  listen: " + format_address(admin) + "\n"; }

// One echo listener on 127.0.0.1:0 and the admin endpoints on `admin`.
inline std::string admin_config(int workers, const Address& admin, const std::string& extra = "") {
    return "workers: " + std::to_string(workers) + "\nlisten:\n  - address: 127.0.0.1:0\n" + admin_yaml(admin) +
           "log:\n  level: debug\n" + extra;
}

// corral serving echo on 127.0.0.1:0 (admin_config), with its admin endpoints on a unix socket in
// a directory of its own; `environment` as for CorralProcess. Tests take its parts by name:
// `auto& [dir, admin, corral] = served;`.
struct CorralWithAdmin {
    explicit CorralWithAdmin(int workers, const std::string& extra = "",
                             const std::vector<std::string>& environment = {})
        : admin(unix_admin(dir)), corral(admin_config(workers, admin, extra), environment) {}

    const TempDir dir;
    const Address admin;
    CorralProcess corral;
};

}  // namespace corral::test
