// sd_notify through libsystemd. A failed notification is logged once per kind and otherwise
// ignored: the service manager going away is not a reason to stop serving.
#include "common/notify.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include "common/errno_text.hpp"
#include "common/log.hpp"

namespace corral {
namespace {

void send(const std::string& message) {
    const int result = sd_notify(0, message.c_str());
    static bool failure_logged = false;
    if (result < 0 && !failure_logged) {
        failure_logged = true;
        log_warning("%s", call_failed("sd_notify()", -result).c_str());
    }
}

// A STATUS= value is one line.
std::string status_line(const std::string& status) {
    std::string line = status;
    for (char& c : line) {
        if (c == '\n') c = ' ';
    }
    return line;
}

}  // namespace

void notify_ready(const std::string& status) { send("READY=1\nSTATUS=" + status_line(status)); }

void notify_reloading() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const unsigned long long usec = static_cast<unsigned long long>(now.tv_sec) * 1'000'000ULL +
                                    static_cast<unsigned long long>(now.tv_nsec) / 1000;
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void notify_stopping() { send("STOPPING=1"); }

void notify_status(const std::string& status) { send("STATUS=" + status_line(status)); }

void notify_watchdog() { send("WATCHDOG=1"); }

void notify_main_pid(pid_t pid) { send("MAINPID=" + std::to_string(pid)); }

void notify_extend_timeout(std::chrono::microseconds extension) {
    send("EXTEND_TIMEOUT_USEC=" + std::to_string(extension.count()));
}

std::optional<std::chrono::microseconds> watchdog_interval() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
    return std::chrono::microseconds(usec / 2);
}

}  // namespace corral
