// Behind a load balancer: timeouts.drain keeps a stopping host serving while /healthz takes it out
// of rotation, and /healthz speaks for the host as a whole during a binary upgrade.
#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "tests/support/admin.hpp"
#include "tests/support/checked_steps.hpp"
#include "tests/support/client.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/files.hpp"
#include "tests/support/wait.hpp"

using namespace corral;
using namespace corral::test;

namespace {

// The HTTP status of /healthz, or 0 when nothing answered.
int health(const Address& admin) {
    const auto reply = admin_fetch(admin, "/healthz");
    return reply ? reply->status : 0;
}

}  // namespace

TEST_CASE("timeouts.drain: after SIGTERM /healthz answers 503 while new connections are served, then corral stops") {
    CorralWithAdmin served(2, "timeouts:\n  drain: 2s\n");
    auto& [dir, admin, corral] = served;
    const std::uint16_t port = wait_ready_port(corral);
    REQUIRE(health(admin) == 200);

    const auto signalled = std::chrono::steady_clock::now();
    corral.signal(SIGTERM);
    REQUIRE(poll_until(kPatience, [&] { return health(admin) == 503; }));
    CHECK(admin_status(admin)["state"] == "stopping");
    // Still accepting: what the balancer sends before its checks have taken the host out is served.
    CHECK(new_connection_echoes(port, "sent during the drain period"));
    CHECK(corral.wait_exit() == 0);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
    MESSAGE("stopped ", seconds, " s after SIGTERM with timeouts.drain: 2s");
    // A slow machine can only make the stop later than the period.
    CHECK(seconds >= 2.0);
    CHECK(corral.log().find("the drain period is over") != std::string::npos);
}

TEST_CASE("timeouts.drain: a reload is refused during the drain period, and a second SIGTERM stops at once") {
    CorralWithAdmin served(1, "timeouts:\n  drain: 1h\n");
    auto& [dir, admin, corral] = served;
    wait_ready_port(corral);
    corral.signal(SIGTERM);
    REQUIRE(poll_until(kPatience, [&] { return health(admin) == 503; }));
    const CommandResult reload = run_corral({"reload", "-c", corral.config_path()});
    CHECK(reload.exit_code == 1);
    CHECK(reload.err.find("reload failed: a stop is under way") != std::string::npos);
    corral.signal(SIGTERM);
    CHECK(corral.wait_exit() == 0);
    CHECK(corral.log().find("SIGTERM again during the drain period") != std::string::npos);
}

TEST_CASE("SIGUSR2: /healthz answers 200 throughout a binary upgrade") {
    TempDir dir;
    const Address admin = unix_admin(dir);
    CorralProcess corral(upgradable_config(dir, admin, "127.0.0.1:0"));
    const std::uint16_t port = wait_ready_port(corral);
    corral.write_config(upgradable_config(dir, admin, "127.0.0.1:" + std::to_string(port)));
    const pid_t old_master = corral.pid();

    // A health checker as a load balancer runs one, only much more often.
    std::atomic<bool> checking{true};
    std::atomic<int> checks{0}, unhealthy{0}, unanswered{0};
    std::thread checker([&] {
        while (checking) {
            const int status = health(admin);
            ++checks;
            if (status == 0) ++unanswered;
            else if (status != 200) ++unhealthy;
        }
    });
    corral.signal(SIGUSR2);
    const pid_t new_master = wait_for_new_master(dir, old_master);
    CHECK(corral.wait_exit() == 0);
    corral.adopt(new_master);
    CHECK(wait_ready_workers(admin, 2));
    checking = false;
    checker.join();

    MESSAGE(checks.load(), " health checks during the upgrade: ", unhealthy.load(), " unhealthy, ", unanswered.load(),
            " unanswered");
    CHECK(checks > 20);
    CHECK(unhealthy == 0);
    CHECK(unanswered == 0);
    CHECK(admin_status(admin)["pid"] == new_master);
    CHECK(corral.stop() == 0);
}
