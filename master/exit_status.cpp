// How a child process ended, in words for the log.
#include "master/exit_status.hpp"

#include <sys/wait.h>

#include <cstring>

namespace corral {

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) +
               ")";
    }
    return "ended with status " + std::to_string(status);
}

}  // namespace corral
