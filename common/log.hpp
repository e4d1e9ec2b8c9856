// Logging: one line per event, written with a single write() so that lines from the master and
// the workers never interleave. Priority prefixes for journald, "LEVEL: " otherwise.
#pragma once

#include <string>

#include "common/config_types.hpp"

namespace corral {

// Where log lines go. `fd` is not owned by the logger; whoever opened it keeps it open.
void log_configure(LogLevel level, int fd, bool to_journal);

// A prefix naming the process, e.g. "master" or "worker 1234", put before every message.
void log_set_origin(const std::string& origin);

// The descriptor log lines go to; a forked worker keeps it open.
int log_fd();

// True when stderr is the systemd journal stream named by $JOURNAL_STREAM.
bool stderr_is_journal();

bool log_enabled(LogLevel level);
const char* log_level_name(LogLevel level);

void log_message(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// errno is preserved across these, so that a caller may still act on it after logging.
#define log_error(...) ::corral::log_message(::corral::LogLevel::error, __VA_ARGS__)
#define log_warning(...) ::corral::log_message(::corral::LogLevel::warning, __VA_ARGS__)
#define log_notice(...) ::corral::log_message(::corral::LogLevel::notice, __VA_ARGS__)
#define log_info(...) ::corral::log_message(::corral::LogLevel::info, __VA_ARGS__)
#define log_debug(...)                                                   \
    do {                                                                 \
        if (::corral::log_enabled(::corral::LogLevel::debug))            \
            ::corral::log_message(::corral::LogLevel::debug, __VA_ARGS__); \
    } while (0)

}  // namespace corral
