// Matching inherited sockets (binary upgrade, socket activation) to listen entries.
#include <doctest/doctest.h>

#include <string>

#include "common/address.hpp"
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
