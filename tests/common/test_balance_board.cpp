// BalanceBoard: what workers publish is what the others read, across fork; unavailable workers
// do not count; each nudge is a new edge for every watcher.
#include "common/balance_board.hpp"

#include <doctest/doctest.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

using corral::BalanceBoard;

TEST_CASE("the share counts only the workers that can accept") {
    BalanceBoard board = BalanceBoard::create();
    REQUIRE(board.valid());
    CHECK(board.share().workers == 0);
    board.publish(0, 10, true);
    board.publish(2, 30, true);
    board.publish(1, 500, false);  // full or draining: neither its connections nor itself count
    BalanceBoard::Share share = board.share();
    CHECK(share.workers == 2);
    CHECK(share.connections == 40);

    board.clear(2);
    share = board.share();
    CHECK(share.workers == 1);
    CHECK(share.connections == 10);

    board.publish(BalanceBoard::kMaxSlots, 7, true);  // out of range: ignored
    CHECK(board.share().connections == 10);
}

TEST_CASE("a forked worker's counts are read by its parent") {
    BalanceBoard board = BalanceBoard::create();
    REQUIRE(board.valid());
    board.publish(0, 3, true);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        board.publish(5, 42, true);
        ::_exit(board.share().connections == 45 ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    const BalanceBoard::Share share = board.share();
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
