// What the command line reads from a master's /status: checked field by field, so that a reply
// of another shape (another program on the admin port, another version) is "no status", never
// an exception.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace corral {

struct StatusDocument {
    struct LastReload {
        bool ok = false;
        std::string error;
        std::uint64_t generation = 0;
    };
    struct Listener {
        std::string address;
        std::string service;
    };
    struct Worker {
        pid_t pid = 0;
        std::uint64_t generation = 0;
        std::string state;
        std::uint64_t connections = 0;
        std::uint64_t accepted = 0;
        double share = 0;  // of its generation's connections, 0 to 1
    };

    pid_t pid = 0;
    std::uint64_t generation = 0;
    std::string state;
    std::uint64_t reloads = 0;
    std::uint64_t reload_failures = 0;
    std::uint64_t worker_restarts = 0;
    std::optional<LastReload> last_reload;
    std::vector<Listener> listeners;
    std::vector<Worker> workers;
};

// Reads a /status body. Missing fields keep their defaults except pid, which must be a positive
// integer; a field of the wrong type, or a body that is not a JSON object, is refused, saying
// what was wrong.
Result<StatusDocument> read_status_document(std::string_view body);

}  // namespace corral
