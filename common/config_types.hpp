// The shape of a validated configuration, shared by the master, the workers and the tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/fd.hpp"

namespace corral {

enum class AddressFamily { ipv4, ipv6, unix_path };

// A listen address as written in the config: "host:port", "[v6addr]:port" or "unix:/path".
struct Address {
    AddressFamily family = AddressFamily::ipv4;
    std::string host;  // numeric IP, without brackets; empty for unix_path
    std::uint16_t port = 0;  // 0 asks the kernel for an ephemeral port
    std::string path;  // unix_path only

    bool operator==(const Address&) const = default;
};

enum class ServiceKind { echo, http, module };
enum class Balance { exclusive, reuseport };
enum class LogLevel { debug, info, notice, warning, error };

// One fixed HTTP response. A `file` is read when the config is loaded, into `body`.
struct HttpResponseConfig {
    int status = 200;
    std::string body;
    std::string file;  // where body came from, if it did
    std::string content_type = "text/plain; charset=utf-8";

    bool operator==(const HttpResponseConfig&) const = default;
};

struct HttpConfig {
    std::vector<std::pair<std::string, HttpResponseConfig>> routes;  // exact path -> response
    HttpResponseConfig fallback{.status = 404, .body = "not found\n", .file = "", .content_type = "text/plain; charset=utf-8"};
    std::vector<std::pair<std::string, std::string>> headers;  // added to every response
    // A request head not complete this long after its first byte is answered 408 (slowloris).
    std::chrono::milliseconds header_timeout{10'000};

    bool operator==(const HttpConfig&) const = default;
};

// A module the workers load for service: module (see corral/module.h).
struct ModuleConfig {
    std::string path;  // absolute, resolved against the config file's directory
    std::string settings_yaml = "{}";  // module.settings as YAML text, handed over as it stands
    std::vector<std::pair<std::string, std::string>> scalar_settings;  // its top-level scalar values
    // The file as it was checked, held open: every worker of the generation loads exactly this
    // one, whatever the path names by the time it starts (a new version renamed over it, say).
    std::shared_ptr<Fd> file;

    bool operator==(const ModuleConfig& other) const {
        return path == other.path && settings_yaml == other.settings_yaml && scalar_settings == other.scalar_settings;
    }
};

struct ListenConfig {
    Address address;
    ServiceKind service = ServiceKind::echo;
    int backlog = 4096;
    Balance balance = Balance::exclusive;
    HttpConfig http;  // service: http only
    ModuleConfig module;  // service: module only
};

struct LimitsConfig {
    std::uint32_t max_connections = 10000;
    std::size_t read_buffer = 16 * 1024;
    std::size_t max_output_buffer = 1024 * 1024;
    std::size_t max_worker_output = 64 * 1024 * 1024;
    std::uint64_t nofile = 65536;
};

struct TimeoutsConfig {
    std::chrono::milliseconds idle{60'000};  // 0 = never
    std::chrono::milliseconds shutdown{30'000};
    // On a graceful stop, accepting goes on this long while /healthz answers 503, so that a load
    // balancer's health checks take the host out before its listeners close. 0 stops at once.
    std::chrono::milliseconds drain{0};
    std::chrono::milliseconds heartbeat{5'000};
};

struct LogConfig {
    LogLevel level = LogLevel::info;
    std::string file;  // empty = stderr
};

// The account workers run as, resolved when the config is read: a worker never looks a name up
// itself, so what `corral check` accepted is exactly what the workers get.
struct Account {
    uid_t uid = 0;
    gid_t gid = 0;  // `group`, or the user's primary group
    std::vector<gid_t> groups;  // supplementary groups: the user's memberships, gid included

    bool operator==(const Account&) const = default;
};

struct Config {
    std::string path;  // the file this was read from, for messages
    unsigned workers = 1;  // resolved: "auto" becomes the number of online CPUs
    std::vector<ListenConfig> listen;
    std::optional<Address> admin_listen;
    std::string admin_group;  // a unix admin socket's group; its file is then 0660, else 0600
    std::optional<gid_t> admin_gid;  // admin_group resolved
    LimitsConfig limits;
    TimeoutsConfig timeouts;
    std::string user;
    std::string group;
    std::optional<Account> account;  // set when user is
    std::string pid_file;
    LogConfig log;
};

}  // namespace corral
