// parse_address on arbitrary text. Properties: a refusal says why; an accepted address has a
// canonical spelling that parses back to the same address, has a sockaddr (to_socket_address
// gives length 0 only for addresses parse_address refuses), and was written without a NUL byte.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/address.hpp"
#include "fuzz/check.hpp"

using namespace corral;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto address = parse_address(text);
    if (!address) {
        FUZZ_CHECK(!address.error().empty(), text);
        return 0;
    }
    // Strict means nothing is ignored: a C string function stopping at a NUL would be
    // (fuzz/crashes/address-nul-in-host).
    FUZZ_CHECK(text.find('\0') == std::string_view::npos, text);

    const std::string canonical = format_address(*address);
    const auto again = parse_address(canonical);
    FUZZ_CHECK(again.ok(), canonical + ": " + again.error());
    FUZZ_CHECK(*again == *address, canonical);
    FUZZ_CHECK(format_address(*again) == canonical, canonical);

    switch (address->family) {
        case AddressFamily::ipv4:
            FUZZ_CHECK(socket_family(*address) == AF_INET && address->path.empty(), canonical);
            break;
        case AddressFamily::ipv6:
            FUZZ_CHECK(socket_family(*address) == AF_INET6 && address->path.empty(), canonical);
            break;
        case AddressFamily::unix_path:
            FUZZ_CHECK(socket_family(*address) == AF_UNIX && address->host.empty() && address->port == 0,
                       canonical);
            break;
    }
    const SocketAddress socket_address = to_socket_address(*address);
    FUZZ_CHECK(socket_address.length > 0, canonical);
    FUZZ_CHECK(socket_address.get()->sa_family == socket_family(*address), canonical);
    return 0;
}
