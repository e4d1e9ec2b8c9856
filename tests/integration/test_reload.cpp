// Reloads: under load without a single failed connection, rejected configs, listeners added,
// removed, and refused.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "tests/support/admin.hpp"
#include "tests/support/checked_steps.hpp"
#include "tests/support/client.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/wait.hpp"

using namespace corral;
using namespace corral::test;

namespace {

// One listener on 127.0.0.1:0. A reload keeps the socket, and so its port, as long as the entry
// stays the same: naming the port the kernel chose would ask for a second socket on it.
std::string reload_config(int workers, const Address& admin, const std::string& extra = "") {
    return "workers: " + std::to_string(workers) + "\nlisten:\n  - address: 127.0.0.1:0\n" + extra + admin_yaml(admin);
}

// The port of the listener on `host` that /status reports, 0 if there is none.
std::uint16_t listener_port(const Address& admin, const std::string& host) {
    const nlohmann::json status = admin_status(admin);
    if (!status.is_object()) return 0;
    for (const auto& listener : status["listeners"]) {
        const Result<Address> address = parse_address(listener["address"].get<std::string>());
        if (address && address->host == host) return address->port;
    }
    return 0;
}

struct LoadStats {
    std::atomic<int> connections{0};
    std::atomic<int> refused{0};
    std::atomic<int> broken{0};  // reset, closed early or wrong bytes
};

// Clients that connect, echo and close as fast as they can until told to stop.
void churn(std::uint16_t port, std::atomic<bool>& running, LoadStats& stats, std::uint32_t seed) {
    std::uint32_t round = 0;
    while (running) {
        Fd client = connect_to("127.0.0.1", port);
        if (!client) {
            ++stats.refused;
            continue;
        }
        if (!echoes(client.get(), pattern_bytes(200, seed * 100000 + round++))) ++stats.broken;
        ++stats.connections;
    }
}

}  // namespace

TEST_CASE("20 reloads under load: no connection refused, reset or corrupted; long-lived ones live on") {
    const TempDir dir;
    const Address admin = unix_admin(dir);
    CorralProcess corral(reload_config(2, admin));
    const std::uint16_t port = wait_ready_port(corral);

    std::vector<Fd> long_lived = open_echoing(port, 20, "opened before");
    REQUIRE(long_lived.size() == 20);
    std::atomic<bool> running{true};
    LoadStats stats;
    std::vector<std::thread> clients;
    for (std::uint32_t i = 0; i < 4; ++i) clients.emplace_back(churn, port, std::ref(running), std::ref(stats), i);
    std::atomic<int> long_lived_failures{0};
    std::thread talker([&] {
        for (std::uint32_t round = 0; running; ++round) {
            for (Fd& connection : long_lived) {
                if (!echoes(connection.get(), pattern_bytes(64, round))) ++long_lived_failures;
            }
            std::this_thread::sleep_for(20ms);  // paces the talk; not a wait for anything
        }
    });

    std::vector<double> reload_ms;
    for (int i = 1; i <= 20; ++i) {
        corral.write_config(reload_config(i % 2 == 1 ? 3 : 2, admin));
        const auto start = std::chrono::steady_clock::now();
        corral.signal(SIGHUP);
        const nlohmann::json status = wait_for_reloads(admin, i);
        reload_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        REQUIRE(status["last_reload"]["result"] == "ok");
        CHECK(status["generation"] == i + 1);
    }
    running = false;
    for (auto& client : clients) client.join();
    talker.join();

    CHECK(stats.connections > 100);
    CHECK(stats.refused == 0);
    CHECK(stats.broken == 0);
    CHECK(long_lived_failures == 0);
    for (Fd& connection : long_lived) CHECK(echoes(connection.get(), "still here afterwards"));
    const nlohmann::json status = admin_status(admin);
    CHECK(status["reloads"] == 20);
    CHECK(status["reload_failures"] == 0);
    std::sort(reload_ms.begin(), reload_ms.end());
    MESSAGE("SIGHUP to new generation serving over 20 reloads: median ", reload_ms[10], " ms, max ", reload_ms.back(),
            " ms; ", stats.connections.load(), " connections during the reloads");
}

TEST_CASE("an invalid config is rejected by corral reload and by the master, and nothing changes") {
    const TempDir dir;
    const Address admin = unix_admin(dir);
    CorralProcess corral(reload_config(2, admin));
    const std::uint16_t port = wait_ready_port(corral);
    const std::vector<pid_t> workers = corral.workers();

    corral.write_config(reload_config(2, admin, "limits:\n  read_buffer: 16KB\n"));
    const CommandResult reload = run_corral({"reload", "-c", corral.config_path()});
    CHECK(reload.exit_code == 1);
    CHECK(reload.err.find(corral.config_path() + ":5:16: error: limits.read_buffer") != std::string::npos);

    // Signalled directly, the master rejects it too and says why in /status.
    corral.signal(SIGHUP);
    const nlohmann::json status = wait_for_reloads(admin, 1);
    CHECK(status["last_reload"]["result"] == "failed");
    CHECK(status["last_reload"]["error"].get<std::string>().find(":5:16:") != std::string::npos);
    CHECK(status["generation"] == 1);
    CHECK(status["reload_failures"] == 1);
    CHECK(corral.workers() == workers);
    CHECK(new_connection_echoes(port, "still serving"));
}

TEST_CASE("reloads that add a listener, remove one, and ask for an address already taken") {
    const TempDir dir;
    const Address admin = unix_admin(dir);
    // Each entry on port 0 of its own host, so that an entry kept names its socket alone: the
    // kernel picks the ports, and a reload keeps the socket of an entry that stays the same.
    const std::string first_entry = "127.0.0.1:0";
    const std::string second_entry = "127.0.0.2:0";
    auto listening_on = [&](std::vector<std::string> addresses) {
        std::string yaml = "workers: 2\nlisten:\n";
        for (const std::string& address : addresses) yaml += "  - address: " + address + "\n";
        return yaml + admin_yaml(admin);
    };
    CorralProcess corral(listening_on({first_entry}));
    const std::uint16_t first = wait_ready_port(corral);
    Fd before = connect_to("127.0.0.1", first);
    REQUIRE(echoes(before.get(), "on the first listener"));

    corral.write_config(listening_on({first_entry, second_entry}));
    CommandResult added = run_corral({"reload", "-c", corral.config_path()});
    CHECK(added.exit_code == 0);
    const std::uint16_t second = listener_port(admin, "127.0.0.2");
    REQUIRE(second != 0);
    CHECK(listener_port(admin, "127.0.0.1") == first);
    Fd on_second = connect_to("127.0.0.2", second);
    REQUIRE(on_second);
    CHECK(echoes(on_second.get(), "on the new listener"));
    CHECK(echoes(before.get(), "kept across the reload"));

    corral.write_config(listening_on({second_entry}));
    CHECK(run_corral({"reload", "-c", corral.config_path()}).exit_code == 0);
    // Refused once the old generation has closed its copy of the removed socket.
    CHECK(wait_refused(first));
    CHECK(echoes(before.get(), "an open connection outlives its listener"));

    // A port someone else listens on: the reload is rejected, naming it, and nothing changes. The
    // squatter holds its port until the end of the test.
    Fd squatter(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    REQUIRE(::bind(squatter.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(squatter.get(), 1) == 0);
    REQUIRE(::getsockname(squatter.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
    const std::uint16_t taken = ntohs(address.sin_port);
    auto serving_workers = [&] {
        std::vector<pid_t> pids;
        const nlohmann::json status = admin_status(admin);
        if (!status.is_object()) return pids;
        for (const auto& worker : status["workers"]) {
            if (worker["state"] == "ready") pids.push_back(worker["pid"].get<pid_t>());
        }
        std::sort(pids.begin(), pids.end());
        return pids;
    };
    const std::vector<pid_t> workers = serving_workers();
    corral.write_config(listening_on({second_entry, "127.0.0.1:" + std::to_string(taken)}));
    const CommandResult rejected = run_corral({"reload", "-c", corral.config_path()});
    CHECK(rejected.exit_code == 1);
    CHECK(rejected.err.find("bind(127.0.0.1:" + std::to_string(taken) + ") failed: Address already in use") !=
          std::string::npos);
    CHECK(admin_status(admin)["generation"] == 3);
    Fd after = connect_to("127.0.0.2", second);
    CHECK(echoes(after.get(), "still serving"));
    CHECK(serving_workers() == workers);
}
