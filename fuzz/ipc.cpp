// decode_message on arbitrary packets, and encode_message on messages made from them.
// Properties: a refusal says why; a packet is accepted exactly when it has a size within bounds,
// this version, a known type, zero reserved bytes and the tail its type allows (checked here by a
// second, independent reading of the rules); an accepted packet encodes back to the same bytes;
// any message with a known type survives encode then decode unchanged.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "common/ipc.hpp"
#include "fuzz/check.hpp"

using namespace corral;

namespace {

bool known_type(std::uint8_t type) {
    return type == 1 || type == 2 || type == 3 || type == 16 || type == 17 || type == 18;
}

// Entries of three length-prefixed strings (1 to 255 bytes each) and an 8-byte value, to the end.
bool counters_tail(std::span<const std::byte> tail) {
    std::size_t at = 0;
    while (at < tail.size()) {
        for (int text = 0; text < 3; ++text) {
            if (at >= tail.size()) return false;
            const std::size_t length = static_cast<std::size_t>(tail[at]);
            if (length == 0 || at + 1 + length > tail.size()) return false;
            at += 1 + length;
        }
        if (at + 8 > tail.size()) return false;
        at += 8;
    }
    return true;
}

bool well_formed(std::span<const std::byte> packet) {
    if (packet.size() < kFixedMessageSize || packet.size() > kMaxMessageSize) return false;
    if (packet[0] != std::byte{kProtocolVersion}) return false;
    const auto type = static_cast<std::uint8_t>(packet[1]);
    if (!known_type(type)) return false;
    if (!std::all_of(packet.begin() + 2, packet.begin() + 8, [](std::byte b) { return b == std::byte{0}; }))
        return false;
    const std::span<const std::byte> tail = packet.subspan(kFixedMessageSize);
    if (type == 3)
        return !tail.empty() && tail.size() <= kMaxReasonBytes &&
               std::none_of(tail.begin(), tail.end(), [](std::byte b) { return b == std::byte{0}; });
    if (type == 1 || type == 2) return counters_tail(tail);
    return tail.empty();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> packet(reinterpret_cast<const std::byte*>(data), size);
    const auto message = decode_message(packet);
    FUZZ_CHECK(message.ok() == well_formed(packet), message.ok() ? std::string("accepted") : message.error());
    if (!message) {
        FUZZ_CHECK(!message.error().empty());
    } else {
        FUZZ_CHECK(std::string_view(message_type_name(message->type)) != "unknown");
        const std::vector<std::byte> encoded = encode_message(*message);
        FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), packet.begin(), packet.end()));
    }

    // The other direction: a message built from the bytes, whatever its counters.
    if (size < 1 + 6 * 8) return 0;
    Message built;
    built.type = static_cast<MessageType>(data[0]);
    if (!known_type(data[0])) return 0;
    std::uint64_t* counters[] = {&built.counters.active_connections, &built.counters.accepted,
                                 &built.counters.bytes_received,     &built.counters.bytes_sent,
                                 &built.counters.accept_wakeups,     &built.counters.accept_wakeups_empty};
    for (std::size_t i = 0; i < 6; ++i) std::memcpy(counters[i], data + 1 + 8 * i, 8);
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1 + 6 * 8, size - 1 - 6 * 8);
    if (built.type == MessageType::start_failed) {
        built.reason = std::string(rest.substr(0, kMaxReasonBytes));
        std::replace(built.reason.begin(), built.reason.end(), '\0', ' ');
        if (built.reason.empty()) built.reason = "why";
    } else if ((built.type == MessageType::heartbeat || built.type == MessageType::ready) && !rest.empty()) {
        built.module_counters.push_back({"listener", "module", std::string(rest.substr(0, 255)), rest.size()});
    }
    const std::vector<std::byte> encoded = encode_message(built);
    const auto decoded = decode_message(encoded);
    FUZZ_CHECK(decoded.ok(), decoded.error());
    FUZZ_CHECK(*decoded == built);
    return 0;
}
