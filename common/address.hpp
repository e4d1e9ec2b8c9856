// Listen addresses: parsing "host:port", "[v6]:port" and "unix:/path", and turning them into
// socket addresses for bind()/connect().
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/config_types.hpp"
#include "common/result.hpp"

namespace corral {

struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;

    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
    sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
};

// Parses one address, or says what was expected, e.g. "port 70000 is out of range (0..65535)".
// The host is stored in its canonical spelling ("[0:0::1]" becomes "::1"), so equal addresses
// compare equal.
Result<Address> parse_address(std::string_view text);

// The canonical text of an address: "127.0.0.1:7000", "[::1]:7000", "unix:/run/corral.sock".
std::string format_address(const Address& address);

// The socket family (AF_INET, AF_INET6, AF_UNIX) for an address.
int socket_family(const Address& address);

// The sockaddr for bind()/connect(). length stays 0 for an address that parse_address would have
// refused (a non-numeric host, a path too long), so that bind() fails instead of binding elsewhere.
SocketAddress to_socket_address(const Address& address);

// The address a socket is bound to (getsockname), e.g. to learn an ephemeral port. nullopt when
// getsockname fails or the socket has no config spelling (another family, an abstract name).
std::optional<Address> local_address(int fd);

}  // namespace corral
