// EventLoop and WatchedFd: registration follows the descriptor's owner, even when a copy of the
// descriptor lives on elsewhere (as in a child forked from the loop's process).
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/event_loop.hpp"

using namespace corral;

namespace {

struct CountingHandler final : EventHandler {
    int events = 0;
    void handle_event(std::uint32_t) override { ++events; }
};

struct SocketPair {
    Fd ours;
    Fd peer;
    SocketPair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0);
        ours.reset(fds[0]);
        peer.reset(fds[1]);
    }
};

// One end of a socket pair in a WatchedFd of the loop's, not yet watched; the handler counts the
// events it is given, and the test writes to pair.peer.
struct WatchedSocket {
    EventLoop loop;
    SocketPair pair;
    CountingHandler handler;
    WatchedFd watched{loop, std::move(pair.ours)};
};

}  // namespace

TEST_CASE_FIXTURE(WatchedSocket, "a closed WatchedFd gets no more events although a copy of its descriptor is still open") {
    REQUIRE(loop.valid());
    REQUIRE(watched.watch(EPOLLIN | EPOLLOUT, &handler));
    REQUIRE(loop.run_once(0));
    CHECK(handler.events == 1);  // writable at once

    // What a forked child holds: the same open file description under another number.
    Fd copy(::dup(watched.get()));
    REQUIRE(copy);
    watched.close();
    CHECK_FALSE(watched.valid());
    REQUIRE(::write(pair.peer.get(), "x", 1) == 1);
    REQUIRE(loop.run_once(0));
    CHECK(handler.events == 1);
}

TEST_CASE_FIXTURE(WatchedSocket, "WatchedFd: watch changes the events, unwatch keeps the descriptor, moves carry the registration") {
    CHECK_FALSE(watched.watched());
    REQUIRE(watched.watch(EPOLLIN, &handler));
    CHECK(watched.watched());
    REQUIRE(loop.run_once(0));
    CHECK(handler.events == 0);  // nothing to read yet

    REQUIRE(watched.watch(EPOLLOUT, &handler));
    REQUIRE(loop.run_once(0));
    CHECK(handler.events == 1);

    REQUIRE(watched.unwatch());
    CHECK(watched.valid());
    REQUIRE(loop.run_once(0));
    CHECK(handler.events == 1);

    REQUIRE(watched.watch(EPOLLOUT, &handler));
    WatchedFd moved = std::move(watched);
    CHECK_FALSE(watched.valid());
    CHECK(moved.watched());
    REQUIRE(loop.run_once(0));
    CHECK(handler.events == 2);
    moved = WatchedFd();  // closing by assignment deregisters too
    REQUIRE(loop.run_once(0));
    CHECK(handler.events == 2);
}

TEST_CASE_FIXTURE(WatchedSocket, "EPOLLEXCLUSIVE registrations are changed by unwatch and watch, never modified") {
    REQUIRE(watched.watch(EPOLLIN | EPOLLEXCLUSIVE, &handler));
    // The kernel refuses EPOLL_CTL_MOD here; the registration stays as it was.
    CHECK_FALSE(watched.watch(EPOLLIN | EPOLLOUT, &handler));
    CHECK(watched.watched());
    REQUIRE(watched.unwatch());
    REQUIRE(watched.watch(EPOLLIN | EPOLLEXCLUSIVE, &handler));
    REQUIRE(::write(pair.peer.get(), "x", 1) == 1);
    REQUIRE(loop.run_once(0));
    CHECK(handler.events == 1);
}
