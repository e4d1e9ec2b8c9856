// Test-only fault injection hooks; see fault_injection.hpp.
#include "common/fault_injection.hpp"

#ifdef CORRAL_FAULT_INJECTION

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <chrono>

namespace corral::fault_injection {
namespace {

// The number written in the file named by $variable, or nullopt when the variable is unset or
// the file does not exist. An empty or unreadable number gives `fallback`.
std::optional<long> triggered(const char* variable, long fallback) {
    const char* path = std::getenv(variable);
    if (path == nullptr) return std::nullopt;
    FILE* file = std::fopen(path, "re");
    if (file == nullptr) return std::nullopt;
    long value = fallback;
    if (std::fscanf(file, "%ld", &value) != 1) value = fallback;
    std::fclose(file);
    return value;
}

}  // namespace

std::optional<int> worker_start_failure() {
    if (const std::optional<long> code = triggered("CORRAL_FAULT_WORKER_START", 1)) return static_cast<int>(*code);
    return std::nullopt;
}

void pause_after_fork() {
    if (const std::optional<long> ms = triggered("CORRAL_FAULT_FORK_PAUSE", 1000)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(*ms));
    }
}

bool close_range_fails() { return triggered("CORRAL_FAULT_CLOSE_RANGE", 0).has_value(); }

}  // namespace corral::fault_injection

#endif
