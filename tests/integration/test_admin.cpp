// The admin endpoints and the commands that use them: status, stop, reload's preconditions.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <set>
#include <thread>

#include "tests/support/admin.hpp"
#include "tests/support/checked_steps.hpp"
#include "tests/support/client.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/process_probe.hpp"
#include "tests/support/wait.hpp"

using namespace corral;
using namespace corral::test;

TEST_CASE("/healthz, /status and /metrics describe the running master") {
    CorralProcess corral(admin_config(2, ephemeral_admin()));
    const std::uint16_t port = wait_ready_port(corral);
    const Address admin = admin_address(corral);

    const auto health = admin_fetch(admin, "/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK(health->body == "ok\n");

    const nlohmann::json status = admin_status(admin);
    REQUIRE(status.is_object());
    CHECK(status["pid"] == corral.pid());
    CHECK(status["generation"] == 1);
    CHECK(status["state"] == "running");
    CHECK(status["reloads"] == 0);
    CHECK(status["last_reload"].is_null());
    REQUIRE(status["listeners"].size() == 1);
    CHECK(status["listeners"][0]["address"] == "127.0.0.1:" + std::to_string(port));
    CHECK(status["listeners"][0]["service"] == "echo");
    std::set<pid_t> reported;
    for (const auto& worker : status["workers"]) {
        reported.insert(worker["pid"].get<pid_t>());
        CHECK(worker["state"] == "ready");
        CHECK(worker["generation"] == 1);
        CHECK(worker["started_at"].get<long long>() > 1'600'000'000);
    }
    const std::vector<pid_t> workers = corral.workers();
    CHECK(reported == std::set<pid_t>(workers.begin(), workers.end()));

    // Accepted totals grow by the connections made (heartbeats carry them within 250 ms).
    auto accepted_total = [&] {
        const auto metrics = admin_fetch(admin, "/metrics");
        std::uint64_t total = 0;
        const std::string name = "corral_connections_accepted_total{";
        for (std::size_t at = metrics->body.find(name); at != std::string::npos; at = metrics->body.find(name, at + 1)) {
            total += std::stoull(metrics->body.substr(metrics->body.find(' ', at) + 1));
        }
        return total;
    };
    const std::uint64_t before = accepted_total();
    for (int i = 0; i < 10; ++i) {
        Fd client = connect_to("127.0.0.1", port);
        REQUIRE(echoes(client.get(), "counted"));
    }
    poll_until(kPatience, [&] { return accepted_total() >= before + 10; }, 50ms);
    CHECK(accepted_total() == before + 10);
    const auto metrics = admin_fetch(admin, "/metrics");
    REQUIRE(metrics);
    for (const char* name : {"corral_workers 2", "corral_connections_active{worker=", "corral_bytes_received_total ",
                             "corral_bytes_sent_total ", "corral_accept_wakeups_total ",
                             "corral_accept_wakeups_empty_total ", "corral_worker_restarts_total 0",
                             "corral_reloads_total{result=\"ok\"} 0", "corral_reloads_total{result=\"failed\"} 0"}) {
        CAPTURE(name);
        CHECK(metrics->body.find(name) != std::string::npos);
    }
}

TEST_CASE("the admin endpoint answers garbage with 400, unknown paths with 404, and is not stalled") {
    CorralProcess corral(admin_config(1, ephemeral_admin()));
    REQUIRE(corral.wait_ready().size() == 1);
    const Address admin = admin_address(corral);

    CHECK(admin_fetch(admin, "/nope")->status == 404);
    Fd garbage = connect_to(admin.host, admin.port);
    REQUIRE(send_all(garbage.get(), "HELLO THERE\r\n\r\n"));
    CHECK(receive_exactly(garbage.get(), 12) == "HTTP/1.1 400");
    Fd huge = connect_to(admin.host, admin.port);
    send_all(huge.get(), "GET /" + std::string(20000, 'a'));
    CHECK(receive_exactly(huge.get(), 12) == "HTTP/1.1 431");

    // A client that sends half a request and waits must not hold up anyone else: the answer comes
    // while it is still connected, not once the master has cut it off.
    Fd slow = connect_to(admin.host, admin.port);
    REQUIRE(send_all(slow.get(), "GET /heal"));
    const auto start = std::chrono::steady_clock::now();
    const auto health = admin_fetch(admin, "/healthz");
    const auto answered_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    MESSAGE("/healthz answered in ", answered_ms.count(), " ms while a client held half a request");
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK_FALSE(closed_by_peer(slow.get(), 0));
    // And it is cut off after its time rather than kept forever.
    CHECK(closed_by_peer(slow.get(), 15'000));
}

TEST_CASE("corral status, and reload refusing without admin.listen") {
    const TempDir admin_dir;
    CorralProcess corral(admin_config(2, unix_admin(admin_dir)));
    REQUIRE(corral.wait_ready().size() == 1);
    const CommandResult text = run_corral({"status", "-c", corral.config_path()});
    CHECK(text.exit_code == 0);
    CHECK(text.out.find("master " + std::to_string(corral.pid()) + ": running, generation 1") != std::string::npos);
    CHECK(text.out.find("listening: 127.0.0.1:") != std::string::npos);
    CHECK(text.out.find(" (echo)\n") != std::string::npos);
    for (pid_t worker : corral.workers()) CHECK(text.out.find(std::to_string(worker)) != std::string::npos);
    const CommandResult json = run_corral({"status", "-c", corral.config_path(), "--json"});
    CHECK(json.exit_code == 0);
    CHECK(nlohmann::json::parse(json.out)["pid"] == corral.pid());

    TempDir dir;
    const std::string no_admin = dir.write("plain.yaml", "listen:\n  - address: 127.0.0.1:0\n");
    const CommandResult reload = run_corral({"reload", "-c", no_admin});
    CHECK(reload.exit_code == 1);
    CHECK(reload.err.find("admin.listen") != std::string::npos);
    CHECK(run_corral({"status", "-c", no_admin}).exit_code == 1);
}

TEST_CASE("corral stop waits for a graceful stop; stop --fast for a fast one; /healthz says 503 while stopping") {
    TempDir dir;
    const Address admin = unix_admin(dir);
    const std::string pid_file = dir.path() + "/corral.pid";
    CorralProcess corral(admin_config(2, admin, "pid_file: " + pid_file + "\n"));
    const std::uint16_t port = wait_ready_port(corral);
    Fd open = connect_to("127.0.0.1", port);
    REQUIRE(echoes(open.get(), "keeps the stop waiting"));

    CommandResult stop_result;
    std::thread stopper([&] { stop_result = run_corral({"stop", "-c", corral.config_path()}); });
    REQUIRE(corral.wait_for_log("graceful stop"));
    const auto health = admin_fetch(admin, "/healthz");
    if (health) CHECK(health->status == 503);  // the admin socket may already be closing
    CHECK(echoes(open.get(), "still served"));
    open.reset();
    stopper.join();
    CHECK(stop_result.exit_code == 0);
    CHECK(corral.wait_exit() == 0);

    CorralProcess second(admin_config(1, admin, "pid_file: " + pid_file + "\n"));
    REQUIRE(second.wait_ready().size() == 1);
    const auto start = std::chrono::steady_clock::now();
    CHECK(run_corral({"stop", "-c", second.config_path(), "--fast"}).exit_code == 0);
    MESSAGE("stop --fast returned after ",
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count(), " ms");
    CHECK(second.wait_for_log("fast stop"));
    CHECK(second.wait_exit() == 0);
    CHECK(run_corral({"stop", "-c", second.config_path()}).exit_code == 1);
}

TEST_CASE("admin connections that finish while a forked child shares their descriptors are not used after free") {
    TempDir faults;
    const std::string pause = faults.path() + "/pause";
    CorralProcess corral(admin_config(1, ephemeral_admin()), {"CORRAL_FAULT_FORK_PAUSE=" + pause});
    REQUIRE(corral.wait_ready().size() == 1);
    const Address admin = admin_address(corral);

    // Opened before the fork, so that the child gets copies of the master's descriptors of them.
    std::vector<Fd> open_before_fork;
    for (int i = 0; i < 4; ++i) {
        open_before_fork.push_back(connect_to(admin.host, admin.port));
        REQUIRE(open_before_fork.back());
    }
    // Answered after they were queued: the master's accept loop has taken them as well.
    REQUIRE(admin_fetch(admin, "/healthz")->status == 200);

    faults.write("pause", "3000");
    corral.signal(SIGTTIN);
    // The child names itself a worker, then pauses with every descriptor of the master.
    REQUIRE(corral.wait_for_workers(2));
    std::remove(pause.c_str());
    for (Fd& client : open_before_fork) {
        REQUIRE(send_all(client.get(), "GET /healthz HTTP/1.1\r\n\r\n"));
        CHECK(receive_exactly(client.get(), 12) == "HTTP/1.1 200");
        client.reset();
    }
    // The master closed those connections while the child still held them open: the master's
    // loop must not hear of them again. It keeps answering until the child is a ready worker.
    CHECK(wait_ready_workers(admin, 2));
    const auto health = admin_fetch(admin, "/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK(process_state(corral.pid()) != 0);
    CHECK(corral.log().find("ERROR: AddressSanitizer") == std::string::npos);
}

TEST_CASE("slow admin clients cannot lock out corral status, and their refusals are logged in one line") {
    // On TCP, so that the slow clients come from other addresses than corral status does.
    CorralProcess corral(admin_config(1, ephemeral_admin()));
    REQUIRE(corral.wait_ready().size() == 1);
    const Address admin = admin_address(corral);
    // The command line reads admin.listen from the file: it names the port the master has.
    corral.write_config(admin_config(1, admin));

    // Far more than the master serves at once, each holding half a request.
    std::vector<Fd> slow;
    for (int i = 0; i < 100; ++i) {
        Fd client = connect_from("127.0.0." + std::to_string(1 + i % 4), admin.port);
        REQUIRE(client);
        send_all(client.get(), "GET /heal");
        slow.push_back(std::move(client));
    }
    for (int i = 0; i < 3; ++i) {
        const CommandResult status = run_corral({"status", "-c", corral.config_path()});
        CHECK(status.exit_code == 0);
        CHECK(status.out.find("master " + std::to_string(corral.pid())) != std::string::npos);
    }
    REQUIRE(corral.wait_for_log("connections refused or cut short"));
    const std::string log = corral.log();
    CAPTURE(log);
    CHECK(count_occurrences(log, "connections refused or cut short") == 1);
}

TEST_CASE("running out of descriptors on the admin listener pauses accepting, without spinning or a log flood") {
    // Few descriptors for the master: slow admin clients from several addresses exhaust them.
    CorralProcess corral(admin_config(1, ephemeral_admin(), "limits:\n  nofile: 32\n"));
    REQUIRE(corral.wait_ready().size() == 1);
    const Address admin = admin_address(corral);
    std::vector<Fd> slow;
    for (int i = 0; i < 60; ++i) {
        Fd client = connect_from("127.0.0." + std::to_string(1 + i % 8), admin.port);
        REQUIRE(client);
        slow.push_back(std::move(client));
    }
    REQUIRE(corral.wait_for_log("accept4() on the admin listener failed: Too many open files"));
    const double before = cpu_seconds(corral.pid());
    const auto window_start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(2s);  // the window over which CPU is measured, not a wait for an event
    const double used = cpu_seconds(corral.pid()) - before;
    const double window = std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
    MESSAGE("master CPU during the shortage: ", used, " s in ", window, " s");
    // Paused, the master uses next to nothing; spinning, it would use the whole window (and log
    // on and on). Half the window tells them apart however slow the machine.
    CHECK(used < window / 2);
    slow.clear();
    // Descriptors come back: the master answers again.
    std::optional<AdminReply> health;
    poll_until(kPatience, [&] { return (health = admin_fetch(admin, "/healthz")).has_value(); }, 50ms);
    REQUIRE(health);
    CHECK(health->status == 200);
    const std::string log = corral.log();
    CAPTURE(log);
    CHECK(count_occurrences(log, "accept4() on the admin listener failed") <= 2);
}
