#include "master/process_start_time.hpp"

#include <doctest/doctest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using corral::process_start_time;

TEST_CASE("a process's start time is readable, stable, and not that of a later process") {
    const auto self = process_start_time(::getpid());
    REQUIRE(self.has_value());
    CHECK(process_start_time(::getpid()) == self);

    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    const auto started = process_start_time(child);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    REQUIRE(started.has_value());
    CHECK(*started >= *self);
    CHECK_FALSE(process_start_time(child).has_value());
}

TEST_CASE("a command name with spaces and parentheses does not shift the fields") {
    // The thread's own name is what /proc shows as the command of a single-threaded process.
    const auto before = process_start_time(::getpid());
    char saved[16] = {};
    ::pthread_getname_np(::pthread_self(), saved, sizeof saved);
    ::pthread_setname_np(::pthread_self(), "a) b (c) 1 2");
    const auto started = process_start_time(::getpid());
    ::pthread_setname_np(::pthread_self(), saved);
    REQUIRE(before.has_value());
    CHECK(started == before);
}
