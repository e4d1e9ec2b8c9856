// Talking to the service manager (sd_notify). Every call is a no-op when corral is not run by
// systemd ($NOTIFY_SOCKET unset), so the master can call them unconditionally.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

namespace corral {

void notify_ready(const std::string& status);
void notify_reloading();  // RELOADING=1 with MONOTONIC_USEC=
void notify_stopping();
void notify_status(const std::string& status);
void notify_watchdog();
void notify_main_pid(pid_t pid);
void notify_extend_timeout(std::chrono::microseconds extension);

// Half of $WATCHDOG_USEC, the interval at which WATCHDOG=1 is due; nullopt when systemd does
// not watch this process.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace corral
