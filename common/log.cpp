// Logging state is process-wide: each process (master or worker) has exactly one log.
#include "common/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace corral {
namespace {

LogLevel g_level = LogLevel::info;
int g_fd = STDERR_FILENO;
bool g_journal = false;
std::string g_origin;

int journal_priority(LogLevel level) {
    switch (level) {
        case LogLevel::error: return 3;
        case LogLevel::warning: return 4;
        case LogLevel::notice: return 5;
        case LogLevel::info: return 6;
        case LogLevel::debug: return 7;
    }
    return 6;
}

}  // namespace

void log_configure(LogLevel level, int fd, bool to_journal) {
    g_level = level;
    g_fd = fd;
    g_journal = to_journal;
}

int log_fd() { return g_fd; }

void log_set_origin(const std::string& origin) { g_origin = origin; }

bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr) return false;
    unsigned long long device = 0, inode = 0;
    if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0) return false;
    return st.st_dev == device && st.st_ino == inode;
}

bool log_enabled(LogLevel level) { return level >= g_level; }

const char* log_level_name(LogLevel level) {
    switch (level) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::notice: return "notice";
        case LogLevel::warning: return "warning";
        case LogLevel::error: return "error";
    }
    return "info";
}

void log_message(LogLevel level, const char* format, ...) {
    if (!log_enabled(level)) return;
    const int saved_errno = errno;

    char line[2048];
    int length;
    if (g_journal) {
        length = std::snprintf(line, sizeof line, "<%d>", journal_priority(level));
    } else {
        length = std::snprintf(line, sizeof line, "%s: ", log_level_name(level));
    }
    if (!g_origin.empty()) {
        length += std::snprintf(line + length, sizeof line - length, "%s: ", g_origin.c_str());
    }

    va_list args;
    va_start(args, format);
    errno = saved_errno;
    const int body = std::vsnprintf(line + length, sizeof line - length, format, args);
    va_end(args);
    // A truncated line keeps its start; the newline always ends it.
    length = body < 0 ? length : std::min<int>(length + body, sizeof line - 2);
    line[length++] = '\n';

    // One write per line: a log line is never split across processes. A failed write has
    // nowhere better to be reported.
    ssize_t written = ::write(g_fd, line, length);
    (void)written;
    errno = saved_errno;
}

}  // namespace corral
