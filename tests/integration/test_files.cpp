// Files the master creates and opens, possibly as root: pid_file and log.file. Whoever can write
// their directory must not be able to make corral write anywhere else.
#include <doctest/doctest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/checked_steps.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/files.hpp"

using namespace corral;
using namespace corral::test;

namespace {

constexpr const char* kPrecious = "precious contents\n";

bool is_regular_file(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Runs corral with extra config lines until it exits (it is expected to refuse to start).
CommandResult run_refused(const TempDir& dir, const std::string& extra) {
    const std::string config = dir.write("corral.yaml", echo_config(1, extra));
    return run_corral({"run", "-c", config});
}

uid_t nobody_uid() {
    const passwd* nobody = ::getpwnam("nobody");
    REQUIRE(nobody != nullptr);
    return nobody->pw_uid;
}

}  // namespace

TEST_CASE("pid_file: symlinks planted at the pid file and at a temporary name are replaced, never followed") {
    TempDir dir;
    const std::string victim = dir.write("victim", kPrecious);
    const std::string pid_file = dir.path() + "/corral.pid";
    REQUIRE(::symlink(victim.c_str(), pid_file.c_str()) == 0);
    REQUIRE(::symlink(victim.c_str(), (pid_file + ".tmp").c_str()) == 0);
    CorralProcess corral(echo_config(1, "pid_file: " + pid_file + "\n"));
    REQUIRE(corral.wait_ready().size() == 1);
    CHECK(read_file(victim) == kPrecious);
    CHECK(is_regular_file(pid_file));
    CHECK(read_file(pid_file) == std::to_string(corral.pid()) + "\n");
    CHECK(corral.stop() == 0);
    CHECK_FALSE(std::ifstream(pid_file).good());
    CHECK(read_file(victim) == kPrecious);
}

TEST_CASE("log.file: a symlink, a hard link and a non-regular file are refused, and nothing is written to them") {
    TempDir dir;
    const std::string victim = dir.write("victim", kPrecious);
    const std::string symlinked = dir.path() + "/symlinked.log";
    REQUIRE(::symlink(victim.c_str(), symlinked.c_str()) == 0);
    CommandResult result = run_refused(dir, "  file: " + symlinked + "\n");
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("log.file " + symlinked + ": it is a symbolic link; refusing to follow it") !=
          std::string::npos);

    const std::string linked = dir.path() + "/linked.log";
    REQUIRE(::link(victim.c_str(), linked.c_str()) == 0);
    result = run_refused(dir, "  file: " + linked + "\n");
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("log.file " + linked + ": it has 2 hard links; refusing to write to it") !=
          std::string::npos);
    CHECK(read_file(victim) == kPrecious);

    const std::string fifo = dir.path() + "/fifo.log";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    result = run_refused(dir, "  file: " + fifo + "\n");
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("log.file " + fifo + ": ") != std::string::npos);
}

TEST_CASE("pid_file and log.file in a directory others can write, or of a file others own, are refused") {
    TempDir dir;
    const std::string open_dir = dir.path() + "/open";
    REQUIRE(::mkdir(open_dir.c_str(), 0777) == 0);
    REQUIRE(::chmod(open_dir.c_str(), 0777) == 0);

    CommandResult result = run_refused(dir, "pid_file: " + open_dir + "/corral.pid\n");
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("pid_file " + open_dir + "/corral.pid: directory " + open_dir +
                          " is writable by others (mode 0777); refusing to write it there") != std::string::npos);
    result = run_refused(dir, "  file: " + open_dir + "/corral.log\n");
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("log.file " + open_dir + "/corral.log: directory " + open_dir +
                          " is writable by others (mode 0777)") != std::string::npos);
    CHECK_FALSE(std::ifstream(open_dir + "/corral.log").good());

    // The sticky bit protects entries of a directory above, not files in the directory itself.
    REQUIRE(::chmod(open_dir.c_str(), 01777) == 0);
    result = run_refused(dir, "pid_file: " + open_dir + "/corral.pid\n");
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("is writable by others (mode 1777)") != std::string::npos);
    const std::string below = open_dir + "/ours";
    REQUIRE(::mkdir(below.c_str(), 0755) == 0);
    CorralProcess allowed(echo_config(1, "pid_file: " + below + "/corral.pid\n"));
    CHECK(allowed.wait_ready().size() == 1);

    if (!running_as_root("files and directories of other users cannot be made here")) return;
    const std::string foreign_dir = dir.path() + "/foreign";
    REQUIRE(::mkdir(foreign_dir.c_str(), 0755) == 0);
    REQUIRE(::chown(foreign_dir.c_str(), nobody_uid(), static_cast<gid_t>(-1)) == 0);
    result = run_refused(dir, "pid_file: " + foreign_dir + "/corral.pid\n");
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("directory " + foreign_dir + " is owned by uid " + std::to_string(nobody_uid()) +
                          ", not by root or the account corral runs as") != std::string::npos);

    const std::string foreign_log = dir.write("foreign.log", kPrecious);
    REQUIRE(::chown(foreign_log.c_str(), nobody_uid(), static_cast<gid_t>(-1)) == 0);
    result = run_refused(dir, "  file: " + foreign_log + "\n");
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("log.file " + foreign_log + ": it is owned by uid " + std::to_string(nobody_uid())) !=
          std::string::npos);
    CHECK(read_file(foreign_log) == kPrecious);
}
