// signalfd helpers.
#include "common/signals.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

namespace corral {

Fd open_signalfd(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int signal : signals) sigaddset(&set, signal);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return Fd();
    return Fd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
}

int read_signal(int signal_fd) {
    signalfd_siginfo info{};
    if (::read(signal_fd, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return 0;
    return static_cast<int>(info.ssi_signo);
}

void ignore_sigpipe() {
    struct sigaction action {};
    action.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &action, nullptr);
}

}  // namespace corral
