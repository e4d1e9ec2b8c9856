// service: module: the example echo module and a settings-driven fixture, loaded by the real
// binary; corral check's refusals of files it must not load; a module whose start fails.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <atomic>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "tests/support/admin.hpp"
#include "tests/support/checked_steps.hpp"
#include "tests/support/client.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/wait.hpp"

using namespace corral;
using namespace corral::test;

namespace {

// A module the build made, copied into dir so that the test owns its mode and its directory.
std::string copy_module(const TempDir& dir, const char* variable, const std::string& name) {
    const char* built = std::getenv(variable);
    if (built == nullptr) throw std::runtime_error(std::string(variable) + " is not set");
    const std::string copy = dir.path() + "/" + name;
    std::filesystem::copy_file(built, copy, std::filesystem::copy_options::overwrite_existing);
    ::chmod(copy.c_str(), 0755);
    return copy;
}

// Two workers serving the module on `listen`, and the admin endpoints on `admin` when given. A
// reload to the same config keeps the listener on 127.0.0.1:0, and so its port.
std::string module_config(const std::string& module, const std::string& settings = "{}",
                          const std::optional<Address>& admin = std::nullopt, const std::string& listen = "127.0.0.1:0") {
    std::string yaml = "workers: 2\nlisten:\n  - address: " + listen + "\n    service: module\n    module:\n      path: " +
                       module + "\n      settings: " + settings + "\n";
    if (admin) yaml += admin_yaml(*admin);
    return yaml;
}

std::string check_errors(const TempDir& dir, const std::string& config) {
    const std::string file = dir.write("check.yaml", config);
    const CommandResult result = run_corral({"check", "-c", file});
    if (result.exit_code == 0) return "";
    return result.err;
}

}  // namespace

TEST_CASE("modules: the echo module echoes, in every worker") {
    TempDir modules;
    const std::string echo = copy_module(modules, "CORRAL_MODULE_ECHO", "echo.so");
    CHECK(check_errors(modules, module_config(echo)).empty());
    CorralProcess corral(module_config(echo));
    const std::uint16_t port = wait_ready_port(corral);
    for (int i = 0; i < 20; ++i) {
        Fd client = connect_to("127.0.0.1", port);
        REQUIRE(echoes(client.get(), "through the module " + std::to_string(i)));
    }
}

TEST_CASE("modules: workers that dropped privileges load the module the root master checked") {
    TempDir modules;
    const std::string echo = copy_module(modules, "CORRAL_MODULE_ECHO", "echo.so");
    CorralProcess corral("user: nobody\n" + module_config(echo));
    const std::uint16_t port = wait_ready_port(corral);
    for (pid_t worker : corral.workers()) {
        struct stat process {};
        REQUIRE(::stat(("/proc/" + std::to_string(worker)).c_str(), &process) == 0);
        CHECK(process.st_uid == 65534);
    }
    CHECK(new_connection_echoes(port, "as nobody"));
}

TEST_CASE("modules: settings reach the module, and it logs through corral") {
    TempDir modules;
    CorralProcess corral(module_config(copy_module(modules, "CORRAL_MODULE_FIXTURE", "fixture.so"), "{greeting: \"hello\\n\", nested: {ignored: [1, 2]}}"));
    const std::uint16_t port = wait_ready_port(corral);
    Fd client = connect_to("127.0.0.1", port);
    CHECK(receive_exactly(client.get(), 6) == "hello\n");
    CHECK(echoes(client.get(), "after the greeting"));
    CHECK(corral.wait_for_log("module fixture: fixture started"));
}

TEST_CASE("modules: corral check refuses a module it must not load, saying why, without loading it") {
    TempDir modules;
    const std::string echo = copy_module(modules, "CORRAL_MODULE_ECHO", "echo.so");
    const std::string future = copy_module(modules, "CORRAL_MODULE_ABI_V2", "future.so");
    CHECK(check_errors(modules, module_config(future))
              .find("listen[0].module.path: " + future +
                    ": it was built for module ABI version 2, and this corral loads version 1") != std::string::npos);

    const std::string text = modules.write("notes.txt", "not a shared object\n");
    CHECK(check_errors(modules, module_config(text)).find(text + ": it is not an ELF file") != std::string::npos);

    const std::string writable = copy_module(modules, "CORRAL_MODULE_ECHO", "writable.so");
    ::chmod(writable.c_str(), 0775);
    CHECK(check_errors(modules, module_config(writable)).find("writable by its group or by others") !=
          std::string::npos);

    const std::string link = modules.path() + "/link.so";
    REQUIRE(::symlink(echo.c_str(), link.c_str()) == 0);
    CHECK(check_errors(modules, module_config(link)).find("it is a symbolic link") != std::string::npos);

    const std::string foreign = copy_module(modules, "CORRAL_MODULE_ECHO", "foreign.so");
    REQUIRE(::chown(foreign.c_str(), 65534, 65534) == 0);
    CHECK(check_errors(modules, module_config(foreign)).find("owned by uid 65534") != std::string::npos);

    const std::string missing = modules.path() + "/missing.so";
    CHECK(check_errors(modules, module_config(missing)).find(missing + ": cannot open it") != std::string::npos);

    CHECK(check_errors(modules, "listen:\n  - address: 127.0.0.1:0\n    service: module\n")
              .find("listen[0].module: required for service: module") != std::string::npos);
    CHECK(check_errors(modules, "listen:\n  - address: 127.0.0.1:0\n    module: {path: " + echo + "}\n")
              .find("listen[0].module: applies only to service: module, and this listener serves echo") !=
          std::string::npos);
}

TEST_CASE("modules: a module whose start fails stops corral run with its reason") {
    TempDir modules;
    const std::string fixture = copy_module(modules, "CORRAL_MODULE_FIXTURE", "fixture.so");
    CorralProcess corral(module_config(fixture, "{fail_start: \"no backend configured\"}"));
    const std::optional<int> code = corral.wait_exit();
    REQUIRE(code);
    CHECK(*code == 1);
    CHECK(corral.log().find("module fixture did not start: no backend configured") != std::string::npos);
}

TEST_CASE("modules: a module's counters reach /metrics, summed over the workers, with listener and module") {
    TempDir modules;
    const std::string fixture = copy_module(modules, "CORRAL_MODULE_FIXTURE", "fixture.so");
    const Address admin = unix_admin(modules);
    // A unix socket: the listener label is the address as configured, which names it exactly.
    const std::string socket = modules.path() + "/module.sock";
    CorralProcess corral(module_config(fixture, "{}", admin, "unix:" + socket));
    REQUIRE(corral.wait_ready().size() == 1);
    // Ten connections, spread over both workers by the balanced accept, each echoing 100 bytes.
    for (int i = 0; i < 10; ++i) {
        Fd client = connect_to(socket, 0);
        REQUIRE(echoes(client.get(), std::string(100, 'm')));
    }
    const std::string sample =
        "corral_module_echoed_bytes_total{listener=\"unix:" + socket + "\",module=\"fixture\"} 1000\n";
    std::string metrics;
    poll_until(kPatience, [&] {
        metrics = admin_fetch(admin, "/metrics")->body;
        return metrics.find(sample) != std::string::npos;
    }, 100ms);
    CHECK(metrics.find("# TYPE corral_module_echoed_bytes_total counter\n") != std::string::npos);
    CHECK(metrics.find(sample) != std::string::npos);
}

TEST_CASE("modules: a reload whose module does not start fails with the module's reason, and the old one serves on") {
    TempDir modules;
    const std::string fixture = copy_module(modules, "CORRAL_MODULE_FIXTURE", "fixture.so");
    const Address admin = unix_admin(modules);
    CorralProcess corral(module_config(fixture, "{greeting: \"v1\\n\"}", admin));
    const std::uint16_t port = wait_ready_port(corral);
    const std::vector<pid_t> workers = corral.workers();

    corral.write_config(module_config(fixture, "{fail_start: \"the backend is not configured\"}", admin));
    const CommandResult reload = run_corral({"reload", "-c", corral.config_path()});
    CHECK(reload.exit_code == 1);
    CHECK(reload.err.find("module fixture did not start: the backend is not configured") != std::string::npos);
    const nlohmann::json status = wait_for_reloads(admin, 1);
    CHECK(status["last_reload"]["result"] == "failed");
    CHECK(status["last_reload"]["error"] == "module fixture did not start: the backend is not configured");
    CHECK(status["generation"] == 1);
    CHECK(corral.workers() == workers);
    Fd client = connect_to("127.0.0.1", port);
    CHECK(receive_exactly(client.get(), 3) == "v1\n");
    CHECK(echoes(client.get(), "the old generation"));
}

TEST_CASE("modules: a module that crashes in every start ends the start, and fails a reload, without endless respawns") {
    TempDir modules;
    const std::string fixture = copy_module(modules, "CORRAL_MODULE_FIXTURE", "fixture.so");
    {
        CorralProcess corral(module_config(fixture, "{crash_at_start: yes}"));
        const std::optional<int> code = corral.wait_exit(60s);
        REQUIRE(code);
        CHECK(*code == 1);
        CHECK(corral.log().find("times before any was ready (the last was killed by signal 6") != std::string::npos);
    }
    const Address admin = unix_admin(modules);
    CorralProcess corral(module_config(fixture, "{}", admin));
    const std::uint16_t port = wait_ready_port(corral);
    corral.write_config(module_config(fixture, "{crash_at_start: yes}", admin));
    const CommandResult reload = run_corral({"reload", "-c", corral.config_path()});
    CHECK(reload.exit_code == 1);
    CHECK(reload.err.find("killed by signal 6") != std::string::npos);
    CHECK(new_connection_echoes(port, "the old generation"));
}

TEST_CASE("modules: a module that crashes on a connection takes only its worker's connections, and is replaced") {
    TempDir modules;
    CorralProcess corral(module_config(copy_module(modules, "CORRAL_MODULE_FIXTURE", "fixture.so"), "{crash_on: boom}"));
    const std::uint16_t port = wait_ready_port(corral);
    // Enough connections that the balanced accept gives both workers some.
    std::vector<Fd> clients = open_echoing(port, 40, "before");
    REQUIRE(clients.size() == 40);
    const std::vector<pid_t> before = corral.workers();
    REQUIRE(before.size() == 2);
    REQUIRE(send_all(clients[0].get(), "boom"));
    REQUIRE(corral.wait_for_log("killed by signal 6"));
    // One worker died with the connection that crashed it; the other one's still echo.
    int alive = 0;
    for (std::size_t i = 1; i < clients.size(); ++i) alive += echoes(clients[i].get(), "after") ? 1 : 0;
    MESSAGE(alive << " of 39 other connections lived on");
    CHECK(alive >= 1);
    CHECK(alive < 39);
    REQUIRE(corral.wait_for_workers(2, {}, kPatience));
    CHECK(new_connection_echoes(port, "a new connection"));
}

TEST_CASE("modules: redis-cli and redis-benchmark, unmodified, speak RESP to the resp module") {
    TempDir modules;
    const std::string resp = copy_module(modules, "CORRAL_MODULE_RESP", "resp.so");
    CorralProcess corral(module_config(resp));
    const std::uint16_t port = wait_ready_port(corral);
    const std::string cli = "redis-cli -h 127.0.0.1 -p " + std::to_string(port) + " ";
    CHECK(shell_output(cli + "PING") == "PONG\n");
    CHECK(shell_output(cli + "ping 'hello there'") == "hello there\n");
    CHECK(shell_output(cli + "ECHO 'two words'") == "two words\n");
    CHECK(shell_output(cli + "SET key value").find("ERR unknown command 'SET'") != std::string::npos);
    CHECK(shell_output(cli + "ECHO").find("ERR wrong number of arguments for 'ECHO' command") != std::string::npos);
    // Inline commands, pipelined in one write, answered in order; QUIT answers and closes.
    CHECK(shell_output("printf 'PING\\r\\nECHO x\\r\\nQUIT\\r\\nPING\\r\\n' | nc -q 5 127.0.0.1 " + std::to_string(port)) ==
          "+PONG\r\n$1\r\nx\r\n+OK\r\n");
    const std::string benchmark = shell_output("redis-benchmark -h 127.0.0.1 -p " + std::to_string(port) +
                                               " -t ping_inline,ping_mbulk -n 20000 -c 20 -P 8 -q");
    MESSAGE(benchmark);
    CHECK(benchmark.find("PING_INLINE: ") != std::string::npos);
    CHECK(benchmark.find("PING_MBULK: ") != std::string::npos);
    CHECK(benchmark.find("requests per second") != std::string::npos);
    CHECK(benchmark.find("Error") == std::string::npos);
}

TEST_CASE("modules: a reload deploys a new version of a module under load, refusing and breaking nothing") {
    TempDir modules;
    const std::string path = copy_module(modules, "CORRAL_MODULE_VERSIONED_V1", "versioned.so");
    CorralProcess corral(module_config(path, "{}", unix_admin(modules)));
    const std::uint16_t port = wait_ready_port(corral);

    // 200 long-lived connections in ping-pong, and clients that connect, read the greeting,
    // echo and close, all the while.
    std::vector<Fd> long_lived;
    for (int i = 0; i < 200; ++i) {
        long_lived.push_back(connect_to("127.0.0.1", port));
        REQUIRE(receive_exactly(long_lived.back().get(), 3) == "v1\n");
    }
    std::atomic<bool> running{true};
    std::atomic<int> refused{0}, broken{0}, made{0}, greeted_v2{0}, pings{0};
    std::thread ping_pong([&] {
        for (std::uint32_t round = 0; running; ++round) {
            for (Fd& connection : long_lived) {
                if (!echoes(connection.get(), pattern_bytes(64, round))) ++broken;
                ++pings;
            }
        }
    });
    std::thread churn([&] {
        for (std::uint32_t round = 0; running; ++round) {
            Fd client = connect_to("127.0.0.1", port);
            if (!client) {
                ++refused;
                continue;
            }
            const std::string greeting = receive_exactly(client.get(), 3);
            if (greeting == "v2\n") ++greeted_v2;
            if ((greeting != "v1\n" && greeting != "v2\n") || !echoes(client.get(), pattern_bytes(100, round))) ++broken;
            ++made;
        }
    });

    // The new file goes in by rename, as the guide says: a worker never sees half of it.
    const std::string staged = modules.path() + "/versioned.so.new";
    std::filesystem::copy_file(std::getenv("CORRAL_MODULE_VERSIONED_V2"), staged);
    ::chmod(staged.c_str(), 0755);
    REQUIRE(::rename(staged.c_str(), path.c_str()) == 0);
    const CommandResult reload = run_corral({"reload", "-c", corral.config_path()});
    CHECK(reload.exit_code == 0);
    poll_until(kPatience, [&] { return greeted_v2 >= 20; }, 50ms);
    running = false;
    ping_pong.join();
    churn.join();

    MESSAGE(made.load() << " connections made during the reload, " << greeted_v2.load() << " greeted by v2; "
                        << pings.load() << " pings on 200 long-lived connections");
    CHECK(refused == 0);
    CHECK(broken == 0);
    CHECK(greeted_v2 >= 20);
    // The long-lived connections stay on the old generation, on the old code, until they close.
    for (Fd& connection : long_lived) CHECK(echoes(connection.get(), "still on v1"));
}

TEST_CASE("modules: a module that never consumes its input gets its connection closed past 1 MiB, not unbounded memory") {
    TempDir modules;
    const std::string fixture = copy_module(modules, "CORRAL_MODULE_FIXTURE", "fixture.so");
    CorralProcess corral(module_config(fixture, "{hoard: yes}"));
    const std::uint16_t port = wait_ready_port(corral);
    Fd client = connect_to("127.0.0.1", port);
    const std::string chunk(64 * 1024, 'h');
    std::size_t sent = 0;
    // Without the bound all 64 MiB go in; with it, 1 MiB and what the kernel's buffers hold.
    while (sent < 64 * 1024 * 1024 && send_all(client.get(), chunk)) sent += chunk.size();
    MESSAGE(sent << " bytes sent before the connection was closed");
    CHECK(sent < 64 * 1024 * 1024);
    CHECK(closed_by_peer(client.get(), 10'000));
    CHECK(corral.wait_for_log("left more than 1048576 bytes of a connection's input unconsumed"));
}

TEST_CASE("modules: a worker replaced between a rename and the reload loads its generation's code, not the new file") {
    TempDir modules;
    const std::string path = copy_module(modules, "CORRAL_MODULE_VERSIONED_V1", "versioned.so");
    CorralProcess corral("workers: 1\nlisten:\n  - address: 127.0.0.1:0\n    service: module\n    module:\n      path: " +
                         path + "\n");
    const std::uint16_t port = wait_ready_port(corral);
    const std::string staged = modules.path() + "/versioned.so.new";
    std::filesystem::copy_file(std::getenv("CORRAL_MODULE_VERSIONED_V2"), staged);
    ::chmod(staged.c_str(), 0755);
    REQUIRE(::rename(staged.c_str(), path.c_str()) == 0);
    // No reload yet: the replacement belongs to the running generation, checked with version 1.
    const std::vector<pid_t> before = corral.workers();
    REQUIRE(before.size() == 1);
    ::kill(before[0], SIGKILL);
    REQUIRE(corral.wait_for_workers(1, before));
    Fd client = connect_to("127.0.0.1", port);
    CHECK(receive_exactly(client.get(), 3) == "v1\n");
}

TEST_CASE("modules: replacements that keep crashing in their start stop after eight, and corral stops once none is left") {
    TempDir modules;
    const std::string fixture = copy_module(modules, "CORRAL_MODULE_FIXTURE", "fixture.so");
    const std::string trigger = modules.path() + "/crash-now";
    CorralProcess corral(module_config(fixture, "{crash_at_start_if: " + trigger + "}"));
    const std::uint16_t port = wait_ready_port(corral);
    const std::vector<pid_t> first = corral.workers();
    REQUIRE(first.size() == 2);
    modules.write("crash-now", "");
    ::kill(first[0], SIGKILL);
    // Backoff 0, 100, 200, ... 6400 ms: eight replacements in about 13 s, all dying in their start.
    CHECK(corral.wait_for_log("no more replacements for generation 1 until a reload", kPatience + 30s));
    CHECK(corral.workers() == std::vector<pid_t>{first[1]});
    Fd client = connect_to("127.0.0.1", port);
    CHECK(echoes(client.get(), "the survivor serves"));
    ::kill(first[1], SIGKILL);
    CHECK(corral.wait_exit() == 1);
    CHECK(corral.log().find("no worker of generation 1 is left, and none can be started; stopping") != std::string::npos);
}
