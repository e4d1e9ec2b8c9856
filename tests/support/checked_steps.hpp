// Test support: steps the integration tests share that check as they go (doctest inside), so that
// a test that cannot go on stops where it was meant to.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/corral_process.hpp"

namespace corral::test {

// Waits until every worker of a config with one TCP listener is ready and returns its port;
// the test stops there (REQUIRE) unless corral reports exactly one listener.
inline std::uint16_t wait_ready_port(CorralProcess& corral) {
    const std::vector<std::uint16_t> ports = corral.wait_ready();
    REQUIRE(ports.size() == 1);
    return ports[0];
}

// True when the tests run as root. Otherwise false, and the test's output says what could not be
// tested here (`untested`), so that a test passed without root is not mistaken for one that ran.
inline bool running_as_root(const std::string& untested) {
    if (::geteuid() == 0) return true;
    MESSAGE("not root: " << untested);
    return false;
}

}  // namespace corral::test
