// Stopping and dying: graceful and fast stops, a worker killed, the master killed.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <fstream>

#include "tests/support/checked_steps.hpp"
#include "tests/support/client.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/files.hpp"
#include "tests/support/wait.hpp"

using namespace corral;
using namespace corral::test;

namespace {

// Opens a connection that `serving` accepts: every other worker is stopped meanwhile.
Fd connect_to_worker(const std::vector<pid_t>& workers, pid_t serving, std::uint16_t port) {
    for (pid_t other : workers) {
        if (other != serving) {
            ::kill(other, SIGSTOP);
            if (!wait_stopped(other)) return Fd();
        }
    }
    Fd client = connect_to("127.0.0.1", port);
    const bool served = client && echoes(client.get(), "pinned");
    for (pid_t other : workers) ::kill(other, SIGCONT);
    return served ? std::move(client) : Fd();
}

}  // namespace

TEST_CASE("SIGTERM stops accepting, serves open connections until they close, then exits 0") {
    CorralProcess corral(echo_config(2));
    const std::uint16_t port = wait_ready_port(corral);
    const std::vector<pid_t> workers = corral.workers();
    Fd open = connect_to("127.0.0.1", port);
    REQUIRE(open);
    REQUIRE(echoes(open.get(), "before"));

    corral.signal(SIGTERM);
    CHECK(wait_refused(port));
    CHECK(echoes(open.get(), "while draining"));
    CHECK_FALSE(corral.wait_exit(200ms).has_value());
    open.reset();
    CHECK(corral.wait_exit() == 0);
    for (pid_t worker : workers) CHECK(process_gone(worker));
}

TEST_CASE("SIGTERM closes connections still open after timeouts.shutdown") {
    CorralProcess corral(echo_config(1, "timeouts:\n  shutdown: 1s\n"));
    const std::uint16_t port = wait_ready_port(corral);
    Fd open = connect_to("127.0.0.1", port);
    REQUIRE(open);
    REQUIRE(echoes(open.get(), "lingering"));
    const auto start = std::chrono::steady_clock::now();
    corral.signal(SIGTERM);
    CHECK(closed_by_peer(open.get(), 10'000));
    CHECK(corral.wait_exit() == 0);
    CHECK(std::chrono::steady_clock::now() - start >= 900ms);
}

TEST_CASE("SIGINT and SIGQUIT stop everything without waiting for open connections and exit 0") {
    for (int signal_number : {SIGINT, SIGQUIT}) {
        CAPTURE(signal_number);
        // A graceful stop would wait an hour for the open connection: an exit within kPatience
        // can only be the fast stop, however slow the machine.
        CorralProcess corral(echo_config(2, "timeouts:\n  shutdown: 1h\n"));
        const std::uint16_t port = wait_ready_port(corral);
        const std::vector<pid_t> workers = corral.workers();
        Fd open = connect_to("127.0.0.1", port);
        REQUIRE(echoes(open.get(), "about to be cut"));
        const auto start = std::chrono::steady_clock::now();
        corral.signal(signal_number);
        const std::optional<int> exit_code = corral.wait_exit();
        MESSAGE("signal ", signal_number, " to exit: ",
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count(),
                " ms");
        CAPTURE(corral.log());
        REQUIRE(exit_code.has_value());
        CHECK(*exit_code == 0);
        for (pid_t worker : workers) CHECK(wait_gone(worker));
        CHECK(closed_by_peer(open.get(), static_cast<int>(kPatience.count())));
    }
}

TEST_CASE("a worker killed with SIGKILL is replaced and the other workers' connections live on") {
    CorralProcess corral(echo_config(2));
    const std::uint16_t port = wait_ready_port(corral);
    const std::vector<pid_t> workers = corral.workers();
    REQUIRE(workers.size() == 2);
    Fd survivor = connect_to_worker(workers, workers[1], port);
    REQUIRE(survivor);

    ::kill(workers[0], SIGKILL);
    REQUIRE(corral.wait_for_workers(2, {workers[0]}));
    CHECK(corral.wait_for_log("was killed by signal 9"));
    CHECK(echoes(survivor.get(), "unaffected"));

    const std::vector<pid_t> now = corral.workers();
    const pid_t replacement = now[0] == workers[1] ? now[1] : now[0];
    CHECK(corral.wait_for_log("worker " + std::to_string(replacement) + " is ready"));
    Fd fresh = connect_to_worker(now, replacement, port);
    CHECK(fresh);
}

TEST_CASE("when the master is killed, workers close their listeners, drain and exit") {
    CorralProcess corral(echo_config(2, "timeouts:\n  shutdown: 30s\n"));
    const std::uint16_t port = wait_ready_port(corral);
    const std::vector<pid_t> workers = corral.workers();
    Fd open = connect_to("127.0.0.1", port);
    REQUIRE(echoes(open.get(), "before"));

    corral.signal(SIGKILL);
    REQUIRE(corral.wait_exit().has_value());
    CHECK(wait_refused(port));
    CAPTURE(corral.log());
    CHECK(echoes(open.get(), "orphaned but served"));
    open.reset();
    for (pid_t worker : workers) CHECK(wait_gone(worker));
}

TEST_CASE("without close_range, workers still close the master's descriptors, and notice its death") {
    TempDir faults;
    faults.write("no-close-range", "");
    CorralProcess corral(echo_config(3), {"CORRAL_FAULT_CLOSE_RANGE=" + faults.path() + "/no-close-range"});
    REQUIRE(corral.wait_ready().size() == 1);
    const std::vector<pid_t> workers = corral.workers();
    REQUIRE(workers.size() == 3);
    CHECK(corral.wait_for_log("close_range() failed: Function not implemented; closing descriptors one by one", kPatience,
                              3));
    // A worker holding the master's end of another's socketpair would keep that one alive.
    corral.signal(SIGKILL);
    REQUIRE(corral.wait_exit().has_value());
    for (pid_t worker : workers) CHECK(wait_gone(worker));
    for (pid_t worker : workers) ::kill(worker, SIGKILL);  // only those that failed the check are left
}

TEST_CASE("pid_file holds the master's pid while it runs; log.file receives the log") {
    TempDir dir;
    const std::string pid_file = dir.path() + "/corral.pid";
    const std::string log_file = dir.path() + "/corral.log";
    CorralProcess corral("workers: 1\nlisten:\n  - address: 127.0.0.1:0\npid_file: " + pid_file +
                         "\nlog:\n  file: " + log_file + "\n");
    poll_until(kPatience, [&] { return read_file(log_file).find("workers are ready") != std::string::npos; }, 20ms);
    CHECK(read_file(log_file).find("info: master: all 1 workers are ready") != std::string::npos);
    CHECK(read_file(pid_file) == std::to_string(corral.pid()) + "\n");
    CHECK(corral.stop() == 0);
    CHECK_FALSE(std::ifstream(pid_file).good());
}
