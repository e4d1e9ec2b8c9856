// BalanceBoard: what workers publish is what the others read, across fork; unavailable workers
// do not count; each nudge is a new edge for every watcher.
#include "common/balance_board.hpp"

#include <doctest/doctest.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

using corral::BalanceBoard;
using namespace std::chrono_literals;

namespace {
const BalanceBoard::Clock::time_point kNow = BalanceBoard::Clock::now();
}

TEST_CASE("the share counts only the workers that can accept") {
    BalanceBoard board = BalanceBoard::create();
    REQUIRE(board.valid());
    CHECK(board.share(kNow).workers == 0);
    board.publish(0, 10, true, kNow);
    board.publish(2, 30, true, kNow);
    board.publish(1, 500, false, kNow);  // full or draining: neither its connections nor itself count
    BalanceBoard::Share share = board.share(kNow);
    CHECK(share.workers == 2);
    CHECK(share.connections == 40);

    board.clear(2);
    share = board.share(kNow);
    CHECK(share.workers == 1);
    CHECK(share.connections == 10);

    board.publish(BalanceBoard::kMaxSlots, 7, true, kNow);  // out of range: ignored
    CHECK(board.share(kNow).connections == 10);
}

TEST_CASE("a worker silent for longer than its ticks allow counts as unable to accept") {
    BalanceBoard board = BalanceBoard::create();
    REQUIRE(board.valid());
    board.publish(0, 100, true, kNow);
    board.publish(1, 10, true, kNow + 5s);
    board.set_accepting(0, true);
    CHECK(board.share(kNow + BalanceBoard::kSilentAfter).workers == 2);
    CHECK(board.others_accepting(1, kNow + BalanceBoard::kSilentAfter));
    const BalanceBoard::Share share = board.share(kNow + 5s);
    CHECK(share.workers == 1);
    CHECK(share.connections == 10);
    CHECK_FALSE(board.others_accepting(1, kNow + 5s));
}

TEST_CASE("others_accepting sees every other worker waiting on the listeners, never the asking one") {
    BalanceBoard board = BalanceBoard::create();
    REQUIRE(board.valid());
    board.publish(0, 0, true, kNow);
    board.publish(1, 0, true, kNow);
    CHECK_FALSE(board.others_accepting(0, kNow));
    board.set_accepting(0, true);
    CHECK_FALSE(board.others_accepting(0, kNow));
    CHECK(board.others_accepting(1, kNow));
    board.clear(0);
    CHECK_FALSE(board.others_accepting(1, kNow));
}

TEST_CASE("a forked worker's counts are read by its parent") {
    BalanceBoard board = BalanceBoard::create();
    REQUIRE(board.valid());
    board.publish(0, 3, true, kNow);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        board.publish(5, 42, true, kNow);
        ::_exit(board.share(kNow).connections == 45 ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    const BalanceBoard::Share share = board.share(kNow);
    CHECK(share.workers == 2);
    CHECK(share.connections == 45);
}

TEST_CASE("every nudge wakes an edge-triggered watcher again, though nobody reads it") {
    BalanceBoard board = BalanceBoard::create();
    REQUIRE(board.valid());
    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    REQUIRE(epoll >= 0);
    epoll_event watched{};
    watched.events = EPOLLIN | EPOLLET;
    REQUIRE(::epoll_ctl(epoll, EPOLL_CTL_ADD, board.nudge_fd(), &watched) == 0);
    epoll_event ready{};
    CHECK(::epoll_wait(epoll, &ready, 1, 0) == 0);
    for (int round = 0; round < 3; ++round) {
        board.nudge();
        CHECK(::epoll_wait(epoll, &ready, 1, 0) == 1);
        CHECK(::epoll_wait(epoll, &ready, 1, 0) == 0);
    }
    ::close(epoll);
}
