// Unix socket files: corral removes only a file it bound itself and that is still the socket it
// bound; the admin socket is for its owner (or admin.group) alone.
#include <doctest/doctest.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "tests/support/client.hpp"
#include "tests/support/corral_process.hpp"

using namespace corral;
using namespace corral::test;

namespace {

std::optional<struct stat> socket_file(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return std::nullopt;
    return st;
}

std::string unix_config(const std::string& path, const std::string& extra = "") {
    return "workers: 1\nlisten:\n  - address: unix:" + path + "\nlog:\n  level: debug\n" + extra;
}

// A socket of the test's own bound at path.
Fd bind_unix(const std::string& path) {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd.get(), 4) == 0);
    return fd;
}

}  // namespace

TEST_CASE("a binary upgrade whose new master fails leaves the unix socket the old master serves") {
    TempDir dir;
    const std::string path = dir.path() + "/echo.sock";
    TempDir faults;
    const std::string trigger = faults.path() + "/fatal";
    CorralProcess corral(unix_config(path), {"CORRAL_FAULT_WORKER_START=" + trigger});
    REQUIRE(corral.wait_ready().size() == 1);

    // The new master inherits the socket, then stops because its workers cannot start.
    faults.write("fatal", "2");
    corral.signal(SIGUSR2);
    REQUIRE(corral.wait_for_log("binary upgrade failed: the new master"));
    std::remove(trigger.c_str());
    CHECK(socket_file(path));
    Fd client = connect_to(path, 0);
    REQUIRE(client);
    CHECK(echoes(client.get(), "still the old master's"));
}

TEST_CASE("a unix socket passed by socket activation is not removed when corral exits") {
    TempDir dir;
    const std::string path = dir.path() + "/activated.sock";
    CorralProcess corral(unix_config(path), {}, {"systemd-socket-activate", "-l", path});
    Fd first = connect_when_listening(path, 0);
    REQUIRE(first);
    REQUIRE(corral.wait_ready().size() == 1);
    CHECK(echoes(first.get(), "activated"));
    first.reset();
    CHECK(corral.stop() == 0);
    CHECK(socket_file(path));
}

TEST_CASE("the admin unix socket is its owner's alone, or admin.group's, and goes when corral exits") {
    TempDir dir;
    const std::string admin = dir.path() + "/admin.sock";
    {
        CorralProcess corral(unix_config(dir.path() + "/echo.sock", "admin:\n  listen: unix:" + admin + "\n"));
        REQUIRE(corral.wait_ready().size() == 1);
        const auto st = socket_file(admin);
        REQUIRE(st);
        CHECK((st->st_mode & 07777) == 0600);
        CHECK(st->st_uid == ::geteuid());
        const CommandResult status = run_corral({"status", "-c", corral.config_path()});
        CHECK(status.exit_code == 0);
        CHECK(corral.stop() == 0);
        CHECK_FALSE(socket_file(admin));
        CHECK_FALSE(socket_file(dir.path() + "/echo.sock"));
    }
    if (::geteuid() == 0) {
        const group* nogroup = ::getgrnam("nogroup");
        REQUIRE(nogroup != nullptr);
        CorralProcess corral(
            unix_config(dir.path() + "/echo.sock", "admin:\n  listen: unix:" + admin + "\n  group: nogroup\n"));
        REQUIRE(corral.wait_ready().size() == 1);
        const auto st = socket_file(admin);
        REQUIRE(st);
        CHECK((st->st_mode & 07777) == 0660);
        CHECK(st->st_gid == nogroup->gr_gid);
    }
}

TEST_CASE("a socket file that is no longer the one corral bound is left alone") {
    TempDir dir;
    const std::string path = dir.path() + "/echo.sock";
    CorralProcess corral(unix_config(path));
    REQUIRE(corral.wait_ready().size() == 1);
    // Someone removes corral's file and binds a socket of their own at the same path.
    REQUIRE(::unlink(path.c_str()) == 0);
    Fd ours = bind_unix(path);
    const auto before = socket_file(path);
    REQUIRE(before);
    CHECK(corral.stop() == 0);
    const auto after = socket_file(path);
    REQUIRE(after);
    CHECK(after->st_ino == before->st_ino);
}

TEST_CASE("a unix socket in a directory others can write is refused") {
    TempDir dir;
    const std::string open_dir = dir.path() + "/open";
    REQUIRE(::mkdir(open_dir.c_str(), 0777) == 0);
    REQUIRE(::chmod(open_dir.c_str(), 0777) == 0);
    const std::string config = dir.write("corral.yaml", unix_config(open_dir + "/echo.sock"));
    const CommandResult result = run_corral({"run", "-c", config});
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("unix:" + open_dir + "/echo.sock: directory " + open_dir +
                          " is writable by others (mode 0777); refusing to create a socket there") !=
          std::string::npos);
    CHECK_FALSE(socket_file(open_dir + "/echo.sock"));
}
