// The command line: check, version, usage errors, and run refusing what check refuses.
#include <doctest/doctest.h>

#include "tests/support/checked_steps.hpp"
#include "tests/support/corral_process.hpp"

using namespace corral::test;

TEST_CASE("corral check accepts a valid file") {
    TempDir dir;
    const std::string file = dir.write("ok.yaml", "listen:\n  - address: 127.0.0.1:7000\n");
    const CommandResult result = run_corral({"check", "-c", file});
    CHECK(result.exit_code == 0);
    CHECK(result.out == file + ": ok\n");
}

TEST_CASE("corral check reports errors with file, line, column and key, and exits 1") {
    TempDir dir;
    const std::string file = dir.write("bad.yaml",
                                       "workers: 2\n"
                                       "listen:\n"
                                       "  - address: 127.0.0.1:99999\n"
                                       "limits:\n"
                                       "  read_buffer: 16KB\n"
                                       "wokers: 3\n");
    const CommandResult result = run_corral({"check", "-c", file});
    CHECK(result.exit_code == 1);
    CHECK(result.out.empty());
    CHECK(result.err.find(file + ":3:") != std::string::npos);
    CHECK(result.err.find("listen[0].address") != std::string::npos);
    CHECK(result.err.find(file + ":5:16: error: limits.read_buffer") != std::string::npos);
    CHECK(result.err.find(file + ":6:1: error:") != std::string::npos);
    CHECK(result.err.find("did you mean \"workers\"") != std::string::npos);
}

TEST_CASE("corral check refuses durations a clock in nanoseconds could not add") {
    TempDir dir;
    const std::string file =
        dir.write("long.yaml", "listen:\n  - address: 127.0.0.1:7000\ntimeouts:\n  idle: 3000000h\n");
    const CommandResult result = run_corral({"check", "-c", file});
    CHECK(result.exit_code == 1);
    CHECK(result.err.find(file + ":4:9: error: timeouts.idle: expected a duration from 0s to 168h") !=
          std::string::npos);
}

TEST_CASE("corral check: an http listener needs its http block, and passes with one") {
    TempDir dir;
    const std::string bare = dir.write("http.yaml", "listen:\n  - address: 127.0.0.1:8080\n    service: http\n");
    const CommandResult result = run_corral({"check", "-c", bare});
    CHECK(result.exit_code == 1);
    CHECK(result.err.find(bare + ":3:14: error: listen[0].http: required for service: http") != std::string::npos);

    const std::string good = dir.write(
        "good.yaml",
        "listen:\n  - address: 127.0.0.1:8080\n    service: http\n    http:\n      routes:\n"
        "        /healthz: {status: 200, body: \"ok\\n\"}\n");
    const CommandResult passed = run_corral({"check", "-c", good});
    CHECK(passed.exit_code == 0);
    CHECK(passed.err.empty());
}

TEST_CASE("corral check on a missing file, and YAML that does not parse") {
    TempDir dir;
    const CommandResult missing = run_corral({"check", "-c", dir.path() + "/nope.yaml"});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err.find("nope.yaml") != std::string::npos);

    const std::string file = dir.write("broken.yaml", "listen: [\n");
    const CommandResult broken = run_corral({"check", "-c", file});
    CHECK(broken.exit_code == 1);
    CHECK(broken.err.find(file + ":") != std::string::npos);
}

TEST_CASE("corral run refuses exactly what check refuses, before binding anything") {
    TempDir dir;
    const std::string file = dir.write("bad.yaml", "listen:\n  - address: 127.0.0.1:0\ntimeouts:\n  heartbeat: 100ms\n");
    const CommandResult check = run_corral({"check", "-c", file});
    const CommandResult run = run_corral({"run", "-c", file});
    CHECK(check.exit_code == 1);
    CHECK(run.exit_code == 1);
    CHECK(run.err == check.err);
    CHECK(run.err.find("timeouts.heartbeat") != std::string::npos);
}

TEST_CASE("corral run exits 1 naming the address when it cannot bind") {
    CorralProcess first("workers: 1\nlisten:\n  - address: 127.0.0.1:0\n");
    const std::uint16_t port = wait_ready_port(first);
    const std::string taken = "127.0.0.1:" + std::to_string(port);
    CorralProcess second("workers: 1\nlisten:\n  - address: " + taken + "\n");
    CHECK(second.wait_exit() == 1);
    CHECK(second.log().find("bind(" + taken + ") failed: Address already in use") != std::string::npos);
}

TEST_CASE("version and usage errors") {
    const CommandResult version = run_corral({"version"});
    CHECK(version.exit_code == 0);
    CHECK(version.out.starts_with("corral "));
    CHECK(run_corral({}).exit_code == 2);
    CHECK(run_corral({"frobnicate"}).exit_code == 2);
    CHECK(run_corral({"check", "-c"}).exit_code == 2);
    CHECK(run_corral({"run", "--bogus"}).exit_code == 2);
}
