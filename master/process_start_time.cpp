#include "master/process_start_time.hpp"

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace corral {

std::optional<std::uint64_t> process_start_time(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!file || !std::getline(file, stat)) {
        if (errno == 0) errno = ESRCH;
        return std::nullopt;
    }
    // The command name (field 2) is in parentheses and may hold spaces and ')': the fields after
    // it start after the last ')'. Field 3 follows, so the start time is the 20th after it.
    const std::size_t name_end = stat.rfind(')');
    if (name_end == std::string::npos) {
        errno = EINVAL;
        return std::nullopt;
    }
    std::istringstream fields(stat.substr(name_end + 1));
    std::string field;
    for (int i = 3; i <= 22; ++i) {
        if (!(fields >> field)) {
            errno = EINVAL;
            return std::nullopt;
        }
    }
    std::uint64_t ticks = 0;
    const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), ticks);
    if (error != std::errc{} || end != field.data() + field.size()) {
        errno = EINVAL;
        return std::nullopt;
    }
    return ticks;
}

}  // namespace corral
