// Test support: steps the integration tests share that check as they go (doctest inside), so that
// a test that cannot go on stops where it was meant to.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/admin.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/files.hpp"
#include "tests/support/wait.hpp"

namespace corral::test {

// Waits until every worker of a config with one TCP listener is ready and returns its port;
// the test stops there (REQUIRE) unless corral reports exactly one listener.
inline std::uint16_t wait_ready_port(CorralProcess& corral) {
    const std::vector<std::uint16_t> ports = corral.wait_ready();
    REQUIRE(ports.size() == 1);
    return ports[0];
}

// The config of a corral that takes binary upgrades: two echo workers on `listen`, the admin
// endpoints on `admin`, and its pid file in `dir` (where a new master says it has taken over).
inline std::string upgradable_config(const TempDir& dir, const Address& admin, const std::string& listen) {
    return "workers: 2\nlisten:\n  - address: " + listen + "\n" + admin_yaml(admin) + "pid_file: " + dir.path() +
           "/corral.pid\n";
}

// The pid of the new master a binary upgrade started, once it has written the pid file over
// `old_master`'s; the test stops there (REQUIRE) if none has within kPatience.
inline pid_t wait_for_new_master(const TempDir& dir, pid_t old_master) {
    pid_t new_master = 0;
    poll_until(kPatience, [&] {
        new_master = static_cast<pid_t>(std::atol(read_file(dir.path() + "/corral.pid").c_str()));
        return new_master > 0 && new_master != old_master;
    });
    REQUIRE(new_master > 0);
    REQUIRE(new_master != old_master);
    return new_master;
}

// True when the tests run as root. Otherwise false, and the test's output says what could not be
// tested here (`untested`), so that a test passed without root is not mistaken for one that ran.
inline bool running_as_root(const std::string& untested) {
    if (::geteuid() == 0) return true;
    MESSAGE("not root: " << untested);
    return false;
}

}  // namespace corral::test
