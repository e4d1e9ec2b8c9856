// Test support: config files for the integration tests, on ephemeral loopback ports.
#pragma once

#include <string>

namespace corral::test {

// One echo listener on 127.0.0.1:0, `workers` workers, debug logging, and `extra` appended (more
// top-level YAML, e.g. "timeouts:\n  idle: 1s\n").
inline std::string echo_config(int workers, const std::string& extra = "") {
    return "workers: " + std::to_string(workers) +
           "\n"
           "listen:\n"
           "  - address: 127.0.0.1:0\n"
           "log:\n"
           "  level: debug\n" +
           extra;
}

}  // namespace corral::test
