// errno in words.
#include "common/errno_text.hpp"

#include <cstring>

namespace corral {

// strerror() may share its buffer between threads, and the modules a worker loads may start
// threads; the GNU strerror_r() is safe and never fails.
std::string errno_text(int error) {
    char buffer[128];
    return ::strerror_r(error, buffer, sizeof buffer);
}

std::string call_failed(std::string_view call, int error) {
    std::string text(call);
    text += " failed: ";
    text += errno_text(error);
    return text;
}

}  // namespace corral
