// How a child process ended, in words for the log.
#pragma once

#include <string>

namespace corral {

// "exited with code 1", "was killed by signal 9 (Killed)": from a waitpid() status.
std::string describe_exit(int status);

}  // namespace corral
