// Tests for listen addresses: the accepted spellings, the refusals and their reasons, and the
// conversion to sockaddr and back on real sockets.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/address.hpp"
#include "common/fd.hpp"

namespace corral {
namespace {

Address ipv4(std::string host, std::uint16_t port) {
    return Address{
        .family = AddressFamily::ipv4, .host = std::move(host), .port = port, .path = {}};
}

Address ipv6(std::string host, std::uint16_t port) {
    return Address{
        .family = AddressFamily::ipv6, .host = std::move(host), .port = port, .path = {}};
}

Address unix_socket(std::string path) {
    return Address{
        .family = AddressFamily::unix_path, .host = {}, .port = 0, .path = std::move(path)};
}

std::string refusal(std::string_view text) {
    const auto address = parse_address(text);
    REQUIRE_FALSE(address.ok());
    return address.error();
}

TEST_CASE("parse_address accepts IPv4, bracketed IPv6 and unix paths") {
    struct Case {
        std::string text;
        Address expected;
        std::string canonical;
    };
    const std::vector<Case> cases{
        {"127.0.0.1:7000", ipv4("127.0.0.1", 7000), "127.0.0.1:7000"},
        {"0.0.0.0:80", ipv4("0.0.0.0", 80), "0.0.0.0:80"},
        {"10.1.2.3:0", ipv4("10.1.2.3", 0), "10.1.2.3:0"},
        {"255.255.255.255:65535", ipv4("255.255.255.255", 65535), "255.255.255.255:65535"},
        {"127.0.0.1:007000", ipv4("127.0.0.1", 7000), "127.0.0.1:7000"},
        {"[::1]:7000", ipv6("::1", 7000), "[::1]:7000"},
        {"[::]:0", ipv6("::", 0), "[::]:0"},
        {"[0:0::1]:80", ipv6("::1", 80), "[::1]:80"},
        {"[2001:DB8::A]:443", ipv6("2001:db8::a", 443), "[2001:db8::a]:443"},
        {"[::ffff:192.0.2.1]:80", ipv6("::ffff:192.0.2.1", 80), "[::ffff:192.0.2.1]:80"},
        {"unix:/path/x.sock", unix_socket("/path/x.sock"), "unix:/path/x.sock"},
        {"unix:/run/corral/admin.sock", unix_socket("/run/corral/admin.sock"),
         "unix:/run/corral/admin.sock"},
        {"unix:relative.sock", unix_socket("relative.sock"), "unix:relative.sock"},
        {"unix:/" + std::string(106, 'a'), unix_socket("/" + std::string(106, 'a')),
         "unix:/" + std::string(106, 'a')},
    };
    for (const Case& c : cases) {
        CAPTURE(c.text);
        const auto address = parse_address(c.text);
        REQUIRE(address.ok());
        CHECK(*address == c.expected);
        CHECK(format_address(*address) == c.canonical);
        // The canonical spelling is itself accepted and means the same address.
        const auto again = parse_address(format_address(*address));
        REQUIRE(again.ok());
        CHECK(*again == *address);
    }
}

TEST_CASE("parse_address refuses bad ports with the reason") {
    CHECK(refusal("127.0.0.1:70000") == "port 70000 is out of range (0..65535)");
    CHECK(refusal("127.0.0.1:65536") == "port 65536 is out of range (0..65535)");
    CHECK(refusal("[::1]:99999999999999999999") ==
          "port 99999999999999999999 is out of range (0..65535)");
    CHECK(refusal("127.0.0.1:") == "missing port after ':'");
    CHECK(refusal("[::1]:") == "missing port after ':'");
    CHECK(refusal("127.0.0.1:-1") == "port \"-1\" is not a number");
    CHECK(refusal("127.0.0.1:+80") == "port \"+80\" is not a number");
    CHECK(refusal("127.0.0.1: 80") == "port \" 80\" is not a number");
    CHECK(refusal("127.0.0.1:80x") == "port \"80x\" is not a number");
    CHECK(refusal("127.0.0.1:80/tcp") == "port \"80/tcp\" is not a number");
    CHECK(refusal("127.0.0.1:0x50") == "port \"0x50\" is not a number");
    CHECK(refusal("127.0.0.1:http") == "port \"http\" is not a number");
}

TEST_CASE("parse_address refuses bad hosts with the reason") {
    CHECK(refusal("") ==
          "the address is empty; expected \"host:port\", \"[v6addr]:port\" or \"unix:/path\"");
    CHECK(refusal("127.0.0.1") == "missing port; expected host:port, e.g. 127.0.0.1:7000");
    CHECK(refusal(":7000") ==
          "missing host before ':'; write 0.0.0.0:PORT for all IPv4 "
          "addresses or [::]:PORT for all IPv6 ones");
    CHECK(refusal("localhost:7000") ==
          "expected a numeric IPv4 address; for IPv6 write [addr]:port (host names like "
          "\"localhost\" are not resolved)");
    CHECK(refusal("example.com:80") ==
          "expected a numeric IPv4 address; for IPv6 write [addr]:port (host names like "
          "\"example.com\" are not resolved)");
    CHECK(refusal("300.1.1.1:80") == "\"300.1.1.1\" is not a valid IPv4 address");
    CHECK(refusal("1.2.3:80") == "\"1.2.3\" is not a valid IPv4 address");
    CHECK(refusal("01.2.3.4:80") == "\"01.2.3.4\" is not a valid IPv4 address");
    CHECK(refusal("::1:7000") == "an IPv6 address needs brackets: write [::1]:7000");
    CHECK(refusal("::1") == "an IPv6 address needs brackets and a port: write [::1]:PORT");
    CHECK(refusal("127.0.0.1:7000:1") == "too many ':'; expected host:port or [v6addr]:port");
    CHECK(refusal("[::1]") == "missing port; write [::1]:PORT");
    CHECK(refusal("[::1]7000") == "unexpected \"7000\" after ']'; expected :PORT");
    CHECK(refusal("[::1]:7000x") == "port \"7000x\" is not a number");
    CHECK(refusal("[::1:7000") == "missing ']' after the IPv6 address");
    CHECK(refusal("[]:80") ==
          "empty IPv6 address inside []; write [::]:PORT for all IPv6 addresses");
    CHECK(refusal("[127.0.0.1]:80") == "\"127.0.0.1\" is not a numeric IPv6 address");
    CHECK(refusal("[fe80::1%eth0]:80") == "\"fe80::1%eth0\" is not a numeric IPv6 address");
    CHECK(refusal("[localhost]:80") == "\"localhost\" is not a numeric IPv6 address");
}

TEST_CASE("parse_address refuses unusable unix paths") {
    CHECK(refusal("unix:") == "unix: needs a path, e.g. unix:/run/corral/corral.sock");
    CHECK(refusal("unix:/" + std::string(107, 'a')) ==
          "the unix socket path is 108 bytes long; the limit is 107");
    CHECK(refusal(std::string_view("unix:/a\0b", 9)) == "the unix socket path contains a NUL byte");
    CHECK(refusal("/run/corral.sock") ==
          "a unix socket path needs the prefix: write unix:/run/corral.sock");
}

TEST_CASE("socket_family matches the address family") {
    CHECK(socket_family(ipv4("127.0.0.1", 1)) == AF_INET);
    CHECK(socket_family(ipv6("::1", 1)) == AF_INET6);
    CHECK(socket_family(unix_socket("/x")) == AF_UNIX);
}

TEST_CASE("to_socket_address fills the sockaddr of each family with its exact length") {
    SUBCASE("IPv4") {
        const SocketAddress socket_address = to_socket_address(ipv4("192.0.2.7", 7000));
        REQUIRE(socket_address.length == sizeof(sockaddr_in));
        const auto& in = reinterpret_cast<const sockaddr_in&>(socket_address.storage);
        CHECK(in.sin_family == AF_INET);
        CHECK(ntohs(in.sin_port) == 7000);
        CHECK(ntohl(in.sin_addr.s_addr) == 0xC0000207u);
    }
    SUBCASE("IPv6") {
        const SocketAddress socket_address = to_socket_address(ipv6("::1", 443));
        REQUIRE(socket_address.length == sizeof(sockaddr_in6));
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(socket_address.storage);
        CHECK(in6.sin6_family == AF_INET6);
        CHECK(ntohs(in6.sin6_port) == 443);
        CHECK(IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr));
    }
    SUBCASE("unix") {
        const SocketAddress socket_address = to_socket_address(unix_socket("/run/x.sock"));
        CHECK(socket_address.length == offsetof(sockaddr_un, sun_path) + 12);
        const auto& un = reinterpret_cast<const sockaddr_un&>(socket_address.storage);
        CHECK(un.sun_family == AF_UNIX);
        CHECK(std::string(un.sun_path) == "/run/x.sock");
    }
    SUBCASE("an address parse_address would refuse gets length 0, so bind() fails") {
        CHECK(to_socket_address(ipv4("localhost", 80)).length == 0);
        CHECK(to_socket_address(ipv6("127.0.0.1", 80)).length == 0);
        CHECK(to_socket_address(unix_socket(std::string(108, 'a'))).length == 0);
    }
}

// Binds a real socket to `wanted` and returns what local_address reports, after checking that a
// client can connect to it through to_socket_address: the two conversions must agree.
std::optional<Address> bind_and_connect(const Address& wanted) {
    Fd listener(::socket(socket_family(wanted), SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(listener.valid());
    const SocketAddress bind_address = to_socket_address(wanted);
    if (::bind(listener.get(), bind_address.get(), bind_address.length) != 0) {
        // A host without IPv6 loopback cannot run this case; that is not a failure of ours.
        if (wanted.family == AddressFamily::ipv6 && errno == EADDRNOTAVAIL) return std::nullopt;
        FAIL("bind(" << format_address(wanted) << ") failed: " << std::strerror(errno));
    }
    REQUIRE(::listen(listener.get(), 1) == 0);
    const auto bound = local_address(listener.get());
    REQUIRE(bound.has_value());

    Fd client(::socket(socket_family(*bound), SOCK_STREAM | SOCK_CLOEXEC, 0));
    const SocketAddress connect_address = to_socket_address(*bound);
    CHECK(::connect(client.get(), connect_address.get(), connect_address.length) == 0);
    Fd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    CHECK(accepted.valid());
    return bound;
}

TEST_CASE("to_socket_address and local_address round trip on real sockets") {
    SUBCASE("127.0.0.1:0 gets an ephemeral port") {
        const auto bound = bind_and_connect(ipv4("127.0.0.1", 0));
        REQUIRE(bound.has_value());
        CHECK(bound->family == AddressFamily::ipv4);
        CHECK(bound->host == "127.0.0.1");
        CHECK(bound->port != 0);
    }
    SUBCASE("[::1]:0 gets an ephemeral port") {
        Fd probe(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!probe.valid()) {
            MESSAGE("skipped: no IPv6 sockets here");
            return;
        }
        const auto bound = bind_and_connect(ipv6("::1", 0));
        if (!bound) {
            MESSAGE("skipped: no IPv6 loopback here");
            return;
        }
        CHECK(bound->family == AddressFamily::ipv6);
        CHECK(bound->host == "::1");
        CHECK(bound->port != 0);
        CHECK(format_address(*bound) == "[::1]:" + std::to_string(bound->port));
    }
    SUBCASE("a unix path comes back as written") {
        char directory[] = "/tmp/corral-test-XXXXXX";
        REQUIRE(::mkdtemp(directory) != nullptr);
        const std::string path = std::string(directory) + "/listen.sock";
        const auto bound = bind_and_connect(unix_socket(path));
        CHECK(bound == unix_socket(path));
        ::unlink(path.c_str());
        ::rmdir(directory);
    }
}

TEST_CASE("local_address of unbound and invalid descriptors") {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    const Fd first(pair[0]);
    const Fd second(pair[1]);
    // An unnamed unix socket has an address with an empty path.
    CHECK(local_address(first.get()) == unix_socket(""));

    int closed_fd = ::dup(first.get());
    ::close(closed_fd);
    CHECK_FALSE(local_address(closed_fd).has_value());
    CHECK_FALSE(local_address(-1).has_value());
}

TEST_CASE("a NUL byte anywhere in an address is refused, not cut off (found by fuzzing)") {
    for (const std::string_view text : {std::string_view("127.0.0.1\0junk:7000", 20), std::string_view("[::\0]:4", 7),
                                        std::string_view("unix:/run/a\0b", 13)}) {
        CAPTURE(std::string(text));
        const auto address = parse_address(text);
        REQUIRE_FALSE(address.ok());
        CHECK(address.error().find("NUL byte") != std::string::npos);
    }
}

}  // namespace
}  // namespace corral
