// A service's deadlines reach it soonest first, once each, and never after it cleared them or
// the connection closed.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <vector>

#include "common/event_loop.hpp"
#include "common/fd.hpp"
#include "worker/connection.hpp"

using namespace corral;

namespace {

// Records which connections' deadlines passed, by the number it gave each in opened().
class RecordingService final : public Service {
public:
    struct Number final : ServiceState {
        explicit Number(int value) : value(value) {}
        int value;
    };

    void opened(Connection& connection) override { connection.state = std::make_unique<Number>(next_++); }
    std::size_t received(Connection&, std::span<const char> bytes) override { return bytes.size(); }
    void deadline_passed(Connection& connection) override {
        passed.push_back(static_cast<Number&>(*connection.state).value);
    }

    std::vector<int> passed;

private:
    int next_ = 0;
};

struct Table {
    EventLoop loop;
    ConnectionTable connections{loop, LimitsConfig{}, std::chrono::milliseconds{0}};
    RecordingService service;
    std::vector<Fd> peers;

    Connection& open() {
        int pair[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) == 0);
        peers.emplace_back(pair[1]);
        Connection* connection = connections.open(Fd(pair[0]), service);
        REQUIRE(connection != nullptr);
        return *connection;
    }

    // Opens one connection for each entry, with a deadline that many seconds after `start`.
    std::vector<Connection*> open_with_deadlines(Clock::time_point start, std::initializer_list<int> seconds) {
        std::vector<Connection*> opened;
        for (const int after : seconds) {
            Connection& connection = open();
            connections.set_deadline(connection, start + std::chrono::seconds(after));
            opened.push_back(&connection);
        }
        return opened;
    }
};

}  // namespace

TEST_CASE("deadlines set in any order pass soonest first, each once") {
    Table table;
    const Clock::time_point start = Clock::now();
    table.open_with_deadlines(start, {3, 1, 3, 2});

    table.connections.expire_deadlines(start);
    CHECK(table.service.passed.empty());
    table.connections.expire_deadlines(start + std::chrono::seconds(2));
    CHECK(table.service.passed == std::vector<int>{1, 3});
    table.connections.expire_deadlines(start + std::chrono::seconds(5));
    CHECK(table.service.passed == std::vector<int>{1, 3, 0, 2});
    table.connections.expire_deadlines(start + std::chrono::seconds(9));
    CHECK(table.service.passed.size() == 4);
}

TEST_CASE("a deadline cleared, replaced or belonging to a closed connection does not pass") {
    Table table;
    const Clock::time_point start = Clock::now();
    const std::vector<Connection*> opened = table.open_with_deadlines(start, {1, 1, 1});
    table.connections.clear_deadline(*opened[0]);
    table.connections.close(*opened[1]);
    table.connections.set_deadline(*opened[2], start + std::chrono::seconds(4));

    table.connections.expire_deadlines(start + std::chrono::seconds(2));
    CHECK(table.service.passed.empty());
    table.connections.expire_deadlines(start + std::chrono::seconds(4));
    CHECK(table.service.passed == std::vector<int>{2});
}
