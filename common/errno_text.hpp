// errno in words: the one way an error number becomes text in corral's messages.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>

namespace corral {

// "No such file or directory".
std::string errno_text(int error = errno);

// "open(/run/corral.pid) failed: Permission denied": how every failed call is worded.
std::string call_failed(std::string_view call, int error = errno);

}  // namespace corral
