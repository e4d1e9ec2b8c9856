// Listen addresses: strict parsing of the config's spellings and conversion to and from the
// sockaddr structures that bind(), connect() and getsockname() use.
#include "common/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <utility>

namespace corral {
namespace {

constexpr std::string_view kUnixPrefix = "unix:";

// sun_path holds the path and its terminating NUL.
constexpr std::size_t kMaxUnixPath = sizeof(sockaddr_un{}.sun_path) - 1;

Address ip_address(AddressFamily family, std::string host, std::uint16_t port) {
    return Address{.family = family, .host = std::move(host), .port = port, .path = {}};
}

Address unix_address(std::string path) {
    return Address{
        .family = AddressFamily::unix_path, .host = {}, .port = 0, .path = std::move(path)};
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Only digits: no sign, no spaces, no trailing text, so that "80x" or "+80" is not read as 80.
Result<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty()) return Failure{"missing port after ':'"};
    unsigned long value = 0;
    for (char c : text) {
        if (!is_digit(c)) return Failure{"port \"" + std::string(text) + "\" is not a number"};
        // Saturating keeps a 30-digit port from wrapping around into range.
        value = value > 65535 ? value : value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (value > 65535) return Failure{"port " + std::string(text) + " is out of range (0..65535)"};
    return static_cast<std::uint16_t>(value);
}

// The canonical spelling of a numeric IP, so that "[0::1]" and "[::1]" compare equal.
std::optional<std::string> canonical_ip(int family, const std::string& host) {
    in6_addr binary{};  // large enough for either family
    if (inet_pton(family, host.c_str(), &binary) != 1) return std::nullopt;
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(family, &binary, text, sizeof text) == nullptr) return std::nullopt;
    return std::string(text);
}

Result<Address> parse_unix(std::string_view path) {
    if (path.empty()) return Failure{"unix: needs a path, e.g. unix:/run/corral/corral.sock"};
    if (path.find('\0') != std::string_view::npos) return Failure{"the unix socket path contains a NUL byte"};
    if (path.size() > kMaxUnixPath) {
        return Failure{"the unix socket path is " + std::to_string(path.size()) + " bytes long; the limit is " +
                       std::to_string(kMaxUnixPath)};
    }
    return unix_address(std::string(path));
}

Result<Address> parse_bracketed_ipv6(std::string_view text) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return Failure{"missing ']' after the IPv6 address"};
    const std::string host(text.substr(1, close - 1));
    if (host.empty()) return Failure{"empty IPv6 address inside []; write [::]:PORT for all IPv6 addresses"};
    const auto canonical = canonical_ip(AF_INET6, host);
    if (!canonical) return Failure{"\"" + host + "\" is not a numeric IPv6 address"};
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return Failure{"missing port; write [" + host + "]:PORT"};
    if (rest.front() != ':') return Failure{"unexpected \"" + std::string(rest) + "\" after ']'; expected :PORT"};
    const auto port = parse_port(rest.substr(1));
    if (!port) return Failure{port.error()};
    return ip_address(AddressFamily::ipv6, *canonical, *port);
}

Result<Address> parse_ipv4(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        if (text.front() == '/') return Failure{"a unix socket path needs the prefix: write unix:" + std::string(text)};
        return Failure{"missing port; expected host:port, e.g. 127.0.0.1:7000"};
    }
    const std::string host(text.substr(0, colon));
    const std::string_view port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
        // Several colons: most likely an IPv6 address written without brackets.
        if (canonical_ip(AF_INET6, host))
            return Failure{"an IPv6 address needs brackets: write [" + host + "]:" + std::string(port_text)};
        if (canonical_ip(AF_INET6, std::string(text)))
            return Failure{"an IPv6 address needs brackets and a port: write [" + std::string(text) + "]:PORT"};
        return Failure{"too many ':'; expected host:port or [v6addr]:port"};
    }
    if (host.empty()) {
        return Failure{"missing host before ':'; write 0.0.0.0:PORT for all IPv4 addresses or [::]:PORT for all "
                       "IPv6 ones"};
    }
    const auto canonical = canonical_ip(AF_INET, host);
    if (!canonical) {
        if (host.find_first_not_of("0123456789.") == std::string::npos)
            return Failure{"\"" + host + "\" is not a valid IPv4 address"};
        return Failure{"expected a numeric IPv4 address; for IPv6 write [addr]:port (host names like \"" + host +
                       "\" are not resolved)"};
    }
    const auto port = parse_port(port_text);
    if (!port) return Failure{port.error()};
    return ip_address(AddressFamily::ipv4, *canonical, *port);
}

}  // namespace

Result<Address> parse_address(std::string_view text) {
    if (text.empty()) {
        return Failure{"the address is empty; expected \"host:port\", \"[v6addr]:port\" or \"unix:/path\""};
    }
    if (text.starts_with(kUnixPrefix)) return parse_unix(text.substr(kUnixPrefix.size()));
    // inet_pton reads a C string: whatever followed a NUL would be silently ignored.
    if (text.find('\0') != std::string_view::npos) return Failure{"the address contains a NUL byte"};
    if (text.front() == '[') return parse_bracketed_ipv6(text);
    return parse_ipv4(text);
}

std::string format_address(const Address& address) {
    switch (address.family) {
        case AddressFamily::ipv4:
            return address.host + ":" + std::to_string(address.port);
        case AddressFamily::ipv6:
            return "[" + address.host + "]:" + std::to_string(address.port);
        case AddressFamily::unix_path:
            return std::string(kUnixPrefix) + address.path;
    }
    return {};
}

int socket_family(const Address& address) {
    switch (address.family) {
        case AddressFamily::ipv4:
            return AF_INET;
        case AddressFamily::ipv6:
            return AF_INET6;
        case AddressFamily::unix_path:
            return AF_UNIX;
    }
    return AF_UNSPEC;
}

namespace {

// An IPv4 or IPv6 sockaddr in `result`; its length stays 0 for a host that is not numeric.
template <typename Sockaddr, typename Host>
void fill_ip(SocketAddress& result, int family, const Address& address, sa_family_t Sockaddr::*family_field,
             in_port_t Sockaddr::*port_field, Host Sockaddr::*host_field) {
    auto& ip = reinterpret_cast<Sockaddr&>(result.storage);
    ip.*family_field = static_cast<sa_family_t>(family);
    ip.*port_field = htons(address.port);
    if (inet_pton(family, address.host.c_str(), &(ip.*host_field)) == 1) result.length = sizeof ip;
}

}  // namespace

SocketAddress to_socket_address(const Address& address) {
    SocketAddress result;
    switch (address.family) {
        case AddressFamily::ipv4:
            fill_ip(result, AF_INET, address, &sockaddr_in::sin_family, &sockaddr_in::sin_port, &sockaddr_in::sin_addr);
            break;
        case AddressFamily::ipv6:
            fill_ip(result, AF_INET6, address, &sockaddr_in6::sin6_family, &sockaddr_in6::sin6_port,
                    &sockaddr_in6::sin6_addr);
            break;
        case AddressFamily::unix_path: {
            auto& un = reinterpret_cast<sockaddr_un&>(result.storage);
            un.sun_family = AF_UNIX;
            if (address.path.size() <= kMaxUnixPath) {
                std::memcpy(un.sun_path, address.path.data(), address.path.size());
                result.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                                       address.path.size() + 1);
            }
            break;
        }
    }
    return result;
}

std::optional<Address> local_address(int fd) {
    SocketAddress bound;
    bound.length = sizeof bound.storage;
    if (getsockname(fd, bound.get(), &bound.length) != 0) return std::nullopt;

    char text[INET6_ADDRSTRLEN];
    switch (bound.storage.ss_family) {
        case AF_INET: {
            const auto& in = reinterpret_cast<const sockaddr_in&>(bound.storage);
            if (inet_ntop(AF_INET, &in.sin_addr, text, sizeof text) == nullptr) return std::nullopt;
            return ip_address(AddressFamily::ipv4, text, ntohs(in.sin_port));
        }
        case AF_INET6: {
            const auto& in6 = reinterpret_cast<const sockaddr_in6&>(bound.storage);
            if (inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text) == nullptr)
                return std::nullopt;
            return ip_address(AddressFamily::ipv6, text, ntohs(in6.sin6_port));
        }
        case AF_UNIX: {
            const auto& un = reinterpret_cast<const sockaddr_un&>(bound.storage);
            const auto path_offset = offsetof(sockaddr_un, sun_path);
            // An unbound socket (e.g. one end of a socketpair) reports only the family.
            const std::size_t path_room =
                bound.length > path_offset ? bound.length - path_offset : 0;
            // Abstract names (leading NUL) have no spelling in the config, so they are not
            // addresses.
            if (path_room > 0 && un.sun_path[0] == '\0') return std::nullopt;
            const std::size_t path_length =
                strnlen(un.sun_path, std::min(path_room, sizeof un.sun_path));
            return unix_address(std::string(un.sun_path, path_length));
        }
        default:
            return std::nullopt;
    }
}

}  // namespace corral
