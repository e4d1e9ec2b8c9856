// RespawnBackoff: doubling delays while workers die young, none for a worker that lived, and a
// fresh start once a worker has proved itself for 10 s.
#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include "master/respawn_backoff.hpp"

using namespace corral;
using namespace std::chrono_literals;

namespace {

// Milliseconds as a number, so that failed checks print it.
long long ms(RespawnBackoff::Duration duration) { return static_cast<long long>(duration.count()); }

// The delays for `count` workers in a row that each die `lived` after starting.
std::vector<long long> deaths(RespawnBackoff& backoff, int count, RespawnBackoff::Duration lived = 10ms) {
    std::vector<long long> delays;
    for (int i = 0; i < count; ++i) delays.push_back(ms(backoff.on_death(lived)));
    return delays;
}

// A backoff after `count` young deaths in a row, whose delay is `expected_ms`.
RespawnBackoff backoff_after(int count, long long expected_ms) {
    RespawnBackoff backoff;
    deaths(backoff, count);
    REQUIRE(ms(backoff.current()) == expected_ms);
    return backoff;
}

}  // namespace

TEST_CASE("a fresh backoff has no delay") {
    const RespawnBackoff backoff;
    CHECK(ms(backoff.current()) == 0);
}

TEST_CASE("young deaths double the delay from 100 ms up to 10 s") {
    RespawnBackoff backoff;
    const std::vector<long long> expected = {100, 200, 400, 800, 1600, 3200, 6400, 10'000, 10'000, 10'000};
    CHECK(deaths(backoff, 10) == expected);
    CHECK(ms(backoff.current()) == 10'000);
}

TEST_CASE("the delay stays at 10 s however many workers die young") {
    RespawnBackoff backoff;
    for (int i = 0; i < 1000; ++i) {
        const long long delay = ms(backoff.on_death(0ms));
        REQUIRE(delay > 0);
        REQUIRE(delay <= 10'000);
    }
    CHECK(ms(backoff.current()) == 10'000);
    CHECK(ms(backoff.on_death(999ms)) == 10'000);
}

TEST_CASE("the constants are the documented ones: 100 ms doubling to 10 s, reset after 10 s") {
    CHECK(ms(RespawnBackoff::kFirstDelay) == 100);
    CHECK(ms(RespawnBackoff::kMaxDelay) == 10'000);
    CHECK(ms(RespawnBackoff::kShortLife) == 1'000);
    CHECK(ms(RespawnBackoff::kProvenLife) == 10'000);
}

TEST_CASE("young means less than 1 s") {
    RespawnBackoff backoff;
    CHECK(ms(backoff.on_death(0ms)) == 100);
    CHECK(ms(backoff.on_death(999ms)) == 200);
    CHECK(ms(backoff.on_death(1000ms)) == 0);
}

TEST_CASE("a worker that lived 1 s or more is replaced at once") {
    RespawnBackoff fresh;
    CHECK(ms(fresh.on_death(1s)) == 0);
    CHECK(ms(fresh.on_death(5s)) == 0);
    CHECK(ms(fresh.on_death(9999ms)) == 0);
    CHECK(ms(fresh.current()) == 0);

    // Even in the middle of a run of young deaths.
    RespawnBackoff backing_off;
    deaths(backing_off, 4);
    REQUIRE(ms(backing_off.current()) == 800);
    CHECK(ms(backing_off.on_death(1s)) == 0);
    CHECK(ms(backing_off.on_death(3s)) == 0);
}

TEST_CASE("a death between 1 s and 10 s does not reset the delay") {
    RespawnBackoff backoff;
    CHECK(deaths(backoff, 3) == std::vector<long long>{100, 200, 400});
    CHECK(ms(backoff.on_death(5s)) == 0);
    CHECK(ms(backoff.current()) == 400);
    CHECK(ms(backoff.on_death(100ms)) == 800);
}

TEST_CASE("on_alive with 10 s or more starts the delay over") {
    RespawnBackoff backoff = backoff_after(5, 1600);
    backoff.on_alive(10s);
    CHECK(ms(backoff.current()) == 0);
    CHECK(deaths(backoff, 3) == std::vector<long long>{100, 200, 400});

    // From the cap as well.
    deaths(backoff, 20);
    REQUIRE(ms(backoff.current()) == 10'000);
    backoff.on_alive(1h);
    CHECK(ms(backoff.on_death(0ms)) == 100);
}

TEST_CASE("on_alive with less than 10 s keeps the delay") {
    RespawnBackoff backoff;
    deaths(backoff, 3);
    backoff.on_alive(0ms);
    backoff.on_alive(1s);
    backoff.on_alive(9999ms);
    CHECK(ms(backoff.current()) == 400);
    CHECK(ms(backoff.on_death(10ms)) == 800);
}

TEST_CASE("on_alive on a fresh backoff changes nothing") {
    RespawnBackoff backoff;
    backoff.on_alive(10s);
    CHECK(ms(backoff.current()) == 0);
    CHECK(ms(backoff.on_death(10ms)) == 100);
}

TEST_CASE("a death after 10 s or more resets the delay and is replaced at once") {
    RespawnBackoff backoff = backoff_after(6, 3200);
    CHECK(ms(backoff.on_death(10s)) == 0);
    CHECK(ms(backoff.current()) == 0);
    CHECK(deaths(backoff, 2) == std::vector<long long>{100, 200});

    deaths(backoff, 20);
    CHECK(ms(backoff.on_death(24h)) == 0);
    CHECK(ms(backoff.on_death(1ms)) == 100);
}
