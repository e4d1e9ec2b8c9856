// Balanced accept on a shared listener (balance: exclusive): connections opened in bursts end up
// spread over the workers, read from /status; and accepting never stops while only one worker
// can accept (a lone worker, workers at max_connections, a generation draining in a reload).
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/support/admin.hpp"
#include "tests/support/checked_steps.hpp"
#include "tests/support/client.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/wait.hpp"

using namespace corral;
using namespace corral::test;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kBurst = 64;

// Workers report their counts four times a second, so /status follows within a second.
std::string balance_config(int workers, const Address& admin, const std::string& extra = "",
                           const std::string& heartbeat = "1s") {
    return "workers: " + std::to_string(workers) + "\nlisten:\n  - address: 127.0.0.1:0\n" + admin_yaml(admin) +
           "timeouts:\n  heartbeat: " + heartbeat + "\n  shutdown: 60s\n" + extra;
}

// Opens `count` connections `kBurst` at a time: each burst is connected back to back and sent a
// message on each connection, then every reply is read, so that the next burst starts with all of
// them accepted. Returns the connections that echoed.
std::vector<Fd> open_in_bursts(std::uint16_t port, std::size_t count, std::uint32_t seed) {
    std::vector<Fd> open;
    while (open.size() < count) {
        std::vector<Fd> burst;
        std::vector<std::string> sent;
        for (std::size_t i = 0; i < kBurst && open.size() + burst.size() < count; ++i) {
            burst.push_back(connect_to("127.0.0.1", port));
            sent.push_back(pattern_bytes(16, seed++));
            if (burst.back()) send_all(burst.back().get(), sent.back());
        }
        const std::size_t before = open.size();
        for (std::size_t i = 0; i < burst.size(); ++i) {
            if (burst[i] && receive_exactly(burst[i].get(), sent[i].size()) == sent[i]) {
                open.push_back(std::move(burst[i]));
            }
        }
        if (open.size() - before < burst.size()) break;  // some failed: no point going on
    }
    return open;
}

// Open connections per ready worker of `generation`, once /status accounts for `expected` of
// them in that generation (heartbeats bring the counts); empty if it never does.
std::map<pid_t, std::uint64_t> connections_per_worker(const Address& admin, std::uint64_t generation,
                                                      std::uint64_t expected) {
    std::map<pid_t, std::uint64_t> split;
    const bool accounted = poll_until(kPatience, [&] {
        const nlohmann::json status = admin_status(admin);
        split.clear();
        std::uint64_t total = 0;
        if (status.is_object()) {
            for (const auto& worker : status["workers"]) {
                if (worker["generation"].get<std::uint64_t>() != generation) continue;
                split[worker["pid"].get<pid_t>()] = worker["connections"].get<std::uint64_t>();
                total += worker["connections"].get<std::uint64_t>();
            }
        }
        return total == expected;
    }, 50ms);
    return accounted ? split : std::map<pid_t, std::uint64_t>();
}

void check_even_split(int workers, double least_share) {
    const TempDir dir;
    const Address admin = unix_admin(dir);
    CorralProcess corral(balance_config(workers, admin));
    const std::uint16_t port = wait_ready_port(corral);
    REQUIRE(wait_ready_workers(admin, static_cast<std::size_t>(workers)));

    constexpr std::size_t kConnections = 400;
    const std::vector<Fd> open = open_in_bursts(port, kConnections, 1);
    REQUIRE(open.size() == kConnections);
    const std::map<pid_t, std::uint64_t> split = connections_per_worker(admin, 1, kConnections);
    REQUIRE(split.size() == static_cast<std::size_t>(workers));
    for (const auto& [pid, connections] : split) {
        CAPTURE(pid);
        CHECK(static_cast<double>(connections) >= least_share * kConnections);
    }
    // /status shows the same split as shares of the generation's connections.
    double shares = 0;
    const nlohmann::json status = admin_status(admin);
    for (const auto& worker : status["workers"]) {
        const double share = worker["share"].get<double>();
        CHECK(share == doctest::Approx(static_cast<double>(split.at(worker["pid"].get<pid_t>())) / kConnections)
                           .epsilon(0.001));
        shares += share;
    }
    CHECK(shares == doctest::Approx(1.0).epsilon(0.001));
    // corral status prints the shares as percentages, on each worker's line.
    const CommandResult printed = run_corral({"status", "-c", corral.config_path()});
    REQUIRE(printed.exit_code == 0);
    CHECK(printed.out.find("SHARE") != std::string::npos);
    for (const auto& worker : status["workers"]) {
        char percent[16];
        std::snprintf(percent, sizeof percent, "%.1f%%", worker["share"].get<double>() * 100);
        // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict) about " " + std::string.
        std::string pid_column(" ");
        pid_column.append(std::to_string(worker["pid"].get<pid_t>())).append(" ");
        const std::size_t line = printed.out.find(pid_column);
        REQUIRE(line != std::string::npos);
        CHECK(printed.out.substr(line, printed.out.find('\n', line) - line).find(percent) != std::string::npos);
    }
    std::string listing;
    for (const auto& [pid, connections] : split) listing.append(" ").append(std::to_string(connections));
    MESSAGE(workers, " workers, 400 connections in bursts of 64:", listing);
}

}  // namespace

TEST_CASE("400 connections opened in bursts are split evenly between 2 workers") { check_even_split(2, 0.30); }

TEST_CASE("400 connections opened in bursts are split evenly between 4 workers") { check_even_split(4, 0.15); }

TEST_CASE("a lone worker accepts every connection, however many it holds") {
    const TempDir dir;
    const Address admin = unix_admin(dir);
    CorralProcess corral(balance_config(1, admin));
    const std::uint16_t port = wait_ready_port(corral);
    const std::vector<Fd> open = open_in_bursts(port, 300, 2);
    CHECK(open.size() == 300);
    CHECK(connections_per_worker(admin, 1, 300).size() == 1);
}

TEST_CASE("workers at max_connections leave every connection they cannot take to the others") {
    const TempDir dir;
    const Address admin = unix_admin(dir);
    // 3 workers of 40 each: once two are full, the third must accept although it then holds far
    // more than the generation's mean.
    CorralProcess corral(balance_config(3, admin, "limits:\n  max_connections: 40\n"));
    const std::uint16_t port = wait_ready_port(corral);
    REQUIRE(wait_ready_workers(admin, 3));
    std::vector<Fd> open = open_in_bursts(port, 120, 3);
    CHECK(open.size() == 120);
    const std::map<pid_t, std::uint64_t> split = connections_per_worker(admin, 1, 120);
    REQUIRE(split.size() == 3);
    for (const auto& [pid, connections] : split) CHECK(connections == 40);
    // All full: the next one waits in the queue until some worker has room again.
    Fd extra = connect_to("127.0.0.1", port);
    REQUIRE(extra);
    open.pop_back();
    CHECK(echoes(extra.get(), "taken once there is room"));
}

TEST_CASE("a stopped worker's place is taken by the others instead of waiting for it") {
    const TempDir dir;
    const Address admin = unix_admin(dir);
    // The master leaves a silent worker alone for an hour: the others must not wait for it.
    CorralProcess corral(balance_config(2, admin, "", "1h"));
    const std::uint16_t port = wait_ready_port(corral);
    REQUIRE(wait_ready_workers(admin, 2));
    const std::vector<Fd> before = open_in_bursts(port, 128, 7);
    REQUIRE(before.size() == 128);
    const std::map<pid_t, std::uint64_t> split = connections_per_worker(admin, 1, 128);
    REQUIRE(split.size() == 2);
    const pid_t stopped = split.begin()->first;
    ::kill(stopped, SIGSTOP);
    REQUIRE(wait_stopped(stopped));
    // The other worker takes all of these, far past its share of what both hold.
    const std::vector<Fd> after = open_in_bursts(port, 256, 8);
    CHECK(after.size() == 256);
    ::kill(stopped, SIGCONT);
}

TEST_CASE("a generation draining in a reload leaves the new one balanced, and no connection stuck") {
    const TempDir dir;
    const Address admin = unix_admin(dir);
    CorralProcess corral(balance_config(2, admin));
    const std::uint16_t port = wait_ready_port(corral);
    REQUIRE(wait_ready_workers(admin, 2));
    // The old generation holds these through the reload and drains them.
    const std::vector<Fd> old_connections = open_in_bursts(port, 128, 4);
    REQUIRE(old_connections.size() == 128);
    const std::vector<pid_t> old_workers = corral.workers();

    corral.signal(SIGHUP);
    // While the old generation hands over, connections keep arriving; none may be left unserved.
    std::vector<Fd> during = open_in_bursts(port, 256, 5);
    CHECK(during.size() == 256);
    REQUIRE(corral.wait_for_log("draining (asked by the master)", kPatience, 2));
    // Only the new generation accepts now: it holds exactly these once `during` is closed.
    const std::vector<Fd> after = open_in_bursts(port, 256, 6);
    CHECK(after.size() == 256);
    during.clear();
    for (const Fd& connection : old_connections) CHECK(echoes(connection.get(), "still served while draining"));
    const std::map<pid_t, std::uint64_t> split = connections_per_worker(admin, 2, 256);
    REQUIRE(split.size() == 2);
    for (const auto& [pid, connections] : split) {
        CHECK(std::find(old_workers.begin(), old_workers.end(), pid) == old_workers.end());
        CHECK(static_cast<double>(connections) >= 0.3 * 256);
    }
}
