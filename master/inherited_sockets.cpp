// LISTEN_FDS, both ways: libsystemd reads it; passing it to a new binary is a few dup2 calls.
#include "master/inherited_sockets.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "common/address.hpp"
#include "common/errno_text.hpp"
#include "common/log.hpp"
#include "master/process_start_time.hpp"

namespace corral {

namespace {

// The master named by CORRAL_UPGRADE_FROM, if that very process is still running.
PreviousMaster find_previous_master(const std::string& from) {
    unsigned long long pid = 0;
    unsigned long long start_time = 0;
    char end = 0;
    if (std::sscanf(from.c_str(), "%llu:%llu%c", &pid, &start_time, &end) != 2 || pid == 0 ||
        pid > static_cast<unsigned long long>(std::numeric_limits<pid_t>::max())) {
        log_error("%s=%s is not PID:START_TIME; no previous master will be told to leave", kUpgradeFromVariable,
                  from.c_str());
        return {};
    }
    const auto previous = static_cast<pid_t>(pid);
    // The pidfd first: the start time checked after it belongs to the process it pins.
    Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, previous, 0)));
    const std::optional<std::uint64_t> started = pidfd ? process_start_time(previous) : std::nullopt;
    if (!started || *started != start_time) {
        log_warning("the master that started this one (%d) is gone", previous);
        return {};
    }
    return PreviousMaster{previous, std::move(pidfd)};
}

}  // namespace

Result<Inheritance> take_inheritance() {
    Inheritance inheritance;
    const char* from = std::getenv(kUpgradeFromVariable);
    const std::string previous_master = from != nullptr ? from : "";
    ::unsetenv(kUpgradeFromVariable);

    std::vector<InheritedSocket>& sockets = inheritance.sockets;
    const char* announced = std::getenv("LISTEN_FDS");
    const std::string listen_fds = announced != nullptr ? announced : "";
    char** names = nullptr;
    const int count = sd_listen_fds_with_names(1, &names);
    if (count < 0) {
        return Failure{"LISTEN_FDS=" + listen_fds + ": sd_listen_fds_with_names() failed: " + errno_text(-count) +
                       "; refusing to start with descriptors that were announced but not passed"};
    }
    for (int i = 0; i < count; ++i) {
        const int fd = SD_LISTEN_FDS_START + i;
        const char* name = names != nullptr && names[i] != nullptr ? names[i] : "unnamed";
        Fd owned(fd);
        // Inherited descriptors come without close-on-exec and possibly blocking.
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
            log_error("inherited descriptor %d (%s) is not a listening stream socket; closing it", fd, name);
            continue;
        }
        const std::optional<Address> address = local_address(fd);
        if (!address) {
            log_error("inherited socket %d (%s) has an address corral cannot use; closing it", fd, name);
            continue;
        }
        log_debug("inherited socket %d (%s) on %s", fd, name, format_address(*address).c_str());
        sockets.push_back(InheritedSocket{std::move(owned), *address, name});
    }
    if (names != nullptr) {
        for (int i = 0; i < count; ++i) std::free(names[i]);
        std::free(names);
    }
    // Only now a descriptor of our own: it cannot take the number of an announced one.
    if (!previous_master.empty()) inheritance.previous_master = find_previous_master(previous_master);
    return inheritance;
}

Outcome pass_sockets_to_exec(const std::vector<int>& fds, const std::vector<std::string>& names, pid_t from,
                             std::uint64_t from_start_time) {
    // First out of the way of the target range, so that no dup2 overwrites a source still needed.
    const int target_end = SD_LISTEN_FDS_START + static_cast<int>(fds.size());
    std::vector<int> moved;
    for (int fd : fds) {
        const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, target_end);
        if (copy < 0) return Failure{call_failed("fcntl(F_DUPFD_CLOEXEC)")};
        moved.push_back(copy);
    }
    for (std::size_t i = 0; i < moved.size(); ++i) {
        // dup2 clears close-on-exec on the new descriptor: exactly these survive the exec.
        if (::dup2(moved[i], SD_LISTEN_FDS_START + static_cast<int>(i)) < 0) return Failure{call_failed("dup2()")};
    }
    std::string joined;
    for (const std::string& name : names) joined += (joined.empty() ? "" : ":") + name;
    ::setenv("LISTEN_FDS", std::to_string(fds.size()).c_str(), 1);
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    ::setenv("LISTEN_FDNAMES", joined.c_str(), 1);
    ::setenv(kUpgradeFromVariable, (std::to_string(from) + ":" + std::to_string(from_start_time)).c_str(), 1);
    return {};
}

}  // namespace corral
