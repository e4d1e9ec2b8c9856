// Matching inherited sockets (binary upgrade, socket activation) to listen entries, and what a
// worker is told of its listeners.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/address.hpp"
#include "common/config_types.hpp"
#include "master/listeners.hpp"

using namespace corral;

namespace {

Address parsed(const std::string& text) {
    const Result<Address> address = parse_address(text);
    REQUIRE(address.ok());
    return *address;
}

}  // namespace

TEST_CASE("an inherited socket serves the entry with its address, or port 0 of its host") {
    CHECK(inherited_matches(parsed("127.0.0.1:7000"), parsed("127.0.0.1:7000")));
    CHECK(inherited_matches(parsed("127.0.0.1:41234"), parsed("127.0.0.1:0")));
    CHECK(inherited_matches(parsed("[::1]:41234"), parsed("[::1]:0")));
    CHECK(inherited_matches(parsed("unix:/run/corral.sock"), parsed("unix:/run/corral.sock")));

    CHECK_FALSE(inherited_matches(parsed("127.0.0.1:7001"), parsed("127.0.0.1:7000")));
    CHECK_FALSE(inherited_matches(parsed("127.0.0.2:7000"), parsed("127.0.0.1:7000")));
    CHECK_FALSE(inherited_matches(parsed("127.0.0.2:41234"), parsed("127.0.0.1:0")));
    CHECK_FALSE(inherited_matches(parsed("[::1]:41234"), parsed("127.0.0.1:0")));
    CHECK_FALSE(inherited_matches(parsed("127.0.0.1:0"), parsed("127.0.0.1:41234")));
    CHECK_FALSE(inherited_matches(parsed("unix:/run/a.sock"), parsed("unix:/run/b.sock")));
}

TEST_CASE("a worker is told the address its listener is bound to: the real port for port 0") {
    for (const Balance balance : {Balance::exclusive, Balance::reuseport}) {
        CAPTURE(static_cast<int>(balance));
        ListenConfig config;
        config.address = parsed("127.0.0.1:0");
        config.balance = balance;
        std::vector<InheritedSocket> none;
        const Result<ListenerList> bound = bind_listeners({config}, 2, {}, none, {});
        REQUIRE_MESSAGE(bound.ok(), bound.error());
        const std::uint16_t port = (*bound)[0]->bound.port;
        REQUIRE(port != 0);
        for (unsigned slot = 0; slot < 2; ++slot) {
            const Result<SlotListeners> fds = listener_fds_for_slot(*bound, slot);
            REQUIRE_MESSAGE(fds.ok(), fds.error());
            REQUIRE(fds->size() == 1);
            CHECK((*fds)[0].second.address.port == port);
            CHECK((*fds)[0].second.address.host == "127.0.0.1");
        }
        // The master's own record keeps the entry as written, which a reload compares.
        CHECK((*bound)[0]->config.address.port == 0);
    }
}
