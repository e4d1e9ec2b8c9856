// reload, stop and status when what answers on the admin port, or what a pid names, is not the
// master: nothing is signalled and nothing crashes.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/corral_process.hpp"
#include "tests/support/fake_admin.hpp"
#include "tests/support/files.hpp"
#include "tests/support/wait.hpp"

using namespace corral;
using namespace corral::test;

namespace {

// A process of the test's own (sleep, under the name given), killed when the test ends.
class Bystander {
public:
    explicit Bystander(const std::string& name) {
        const std::string program = dir_.path() + "/" + name;
        std::filesystem::copy_file("/bin/sleep", program);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::execl(program.c_str(), name.c_str(), "60", nullptr);
            ::_exit(127);
        }
    }
    ~Bystander() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    Bystander(const Bystander&) = delete;
    Bystander& operator=(const Bystander&) = delete;

    pid_t pid() const { return pid_; }
    // Still running: a SIGHUP or SIGTERM would have ended it.
    bool alive() const {
        int status = 0;
        return ::waitpid(pid_, &status, WNOHANG) == 0;
    }
    // Until /proc shows the new name, a check could see the test's own.
    bool wait_named(const std::string& name) const {
        return poll_until(kPatience, [&] { return read_file("/proc/" + std::to_string(pid_) + "/comm") == name + "\n"; });
    }

private:
    TempDir dir_;
    pid_t pid_ = -1;
};

std::string status_naming(pid_t pid) {
    return R"({"pid":)" + std::to_string(pid) + R"(,"generation":1,"state":"running","reloads":0,)"
           R"("reload_failures":0,"worker_restarts":0,"last_reload":null,"workers":[]})";
}

std::string config_with_admin(const TempDir& dir, std::uint16_t admin, const std::string& extra = "") {
    return dir.write("corral.yaml", "listen:\n  - address: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:" +
                                        std::to_string(admin) + "\n" + extra);
}

}  // namespace

TEST_CASE("corral reload signals nothing when the admin port names a process that is not a corral master") {
    Bystander bystander("sleep");
    REQUIRE(bystander.wait_named("sleep"));
    FakeAdmin impostor(status_naming(bystander.pid()));
    TempDir dir;
    const CommandResult reload = run_corral({"reload", "-c", config_with_admin(dir, impostor.port())});
    CHECK(reload.exit_code == 1);
    CHECK(reload.err.find("process " + std::to_string(bystander.pid()) + " is not a running corral master") !=
          std::string::npos);
    CHECK(bystander.alive());
}

TEST_CASE("corral reload and stop signal nothing that pid_file does not name, even a process named corral-master") {
    Bystander bystander("corral-master");
    REQUIRE(bystander.wait_named("corral-master"));
    FakeAdmin impostor(status_naming(bystander.pid()));
    TempDir dir;
    const std::string pid_file = dir.write("corral.pid", std::to_string(::getpid()) + "\n");
    const std::string config = config_with_admin(dir, impostor.port(), "pid_file: " + pid_file + "\n");
    const CommandResult reload = run_corral({"reload", "-c", config});
    CHECK(reload.exit_code == 1);
    CHECK(reload.err.find("process " + std::to_string(bystander.pid()) + " is not the master that " + pid_file +
                          " names") != std::string::npos);
    CHECK(bystander.alive());

    // stop trusts pid_file first: it names the test itself, which is no corral master.
    const CommandResult stop = run_corral({"stop", "-c", config});
    CHECK(stop.exit_code == 1);
    CHECK(stop.err.find("is not a running corral master") != std::string::npos);
    CHECK(bystander.alive());
}

TEST_CASE("the command line treats a /status of another shape as no status, and never aborts") {
    for (const std::string& body :
         {std::string(R"({"pid":"12"})"), std::string(R"({"pid":12,"workers":[1,2]})"), std::string("[1,2,3]"),
          std::string(R"({"pid":12,"reloads":-1})"), std::string(R"({"pid":12,"last_reload":"yesterday"})"),
          std::string(R"({"pid":12,"workers":[{"pid":13,"state":7}]})"), std::string("not json at all"),
          std::string(R"({"generation":3})")}) {
        CAPTURE(body);
        FakeAdmin odd(body);
        TempDir dir;
        const std::string config = config_with_admin(dir, odd.port());
        for (const std::vector<std::string>& command :
             {std::vector<std::string>{"status", "-c", config}, std::vector<std::string>{"status", "-c", config, "--json"},
              std::vector<std::string>{"reload", "-c", config}, std::vector<std::string>{"stop", "-c", config}}) {
            CAPTURE(command[0]);
            const CommandResult result = run_corral(command);
            CHECK(result.exit_code == 1);
            CHECK(result.err.find("is not corral's status") != std::string::npos);
        }
    }
}
