// The master<->worker protocol: one fixed-layout, versioned message per SOCK_SEQPACKET packet.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <sys/types.h>

#include "common/fd.hpp"

namespace corral {

inline constexpr std::uint8_t kProtocolVersion = 3;

enum class MessageType : std::uint8_t {
    // worker -> master
    ready = 1,
    heartbeat = 2,
    // master -> worker
    drain = 16,
    reopen_logs = 17,
    stop = 18,
};

// What a worker reports in each heartbeat; totals since the worker started.
struct WorkerCounters {
    std::uint64_t active_connections = 0;
    std::uint64_t accepted = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t accept_wakeups = 0;
    std::uint64_t accept_wakeups_empty = 0;
    std::uint64_t output_queued = 0;  // unsent bytes held for all connections now
    // Responses of the http service by status class: 2xx, 3xx, 4xx, 5xx.
    std::uint64_t http_2xx = 0;
    std::uint64_t http_3xx = 0;
    std::uint64_t http_4xx = 0;
    std::uint64_t http_5xx = 0;

    bool operator==(const WorkerCounters&) const = default;
};

// Adds the running totals of `more` to `total`; the gauges (active_connections, output_queued)
// are left alone.
void add_totals(WorkerCounters& total, const WorkerCounters& more);

struct Message {
    MessageType type = MessageType::heartbeat;
    WorkerCounters counters;  // meaningful in ready and heartbeat only

    bool operator==(const Message&) const = default;
};

// Header (version, type, 6 bytes reserved as zero) followed by the counters.
inline constexpr std::size_t kMessageSize = 8 + 11 * 8;

using MessageBuffer = std::array<std::byte, kMessageSize>;

MessageBuffer encode_message(const Message& message);

// Rejects a packet of the wrong size, another version, an unknown type or non-zero reserved bytes;
// error then says which.
std::optional<Message> decode_message(std::span<const std::byte> packet, std::string& error);

const char* message_type_name(MessageType type);

// Sends one message without blocking; passed_fd, when not -1, travels with it (SCM_RIGHTS).
// False when the packet could not be sent whole (errno set).
bool send_message(int channel_fd, const Message& message, int passed_fd = -1);

// Receives one packet without blocking into buffer, like recv(2) with MSG_TRUNC: the packet's
// full length, 0 at end of file, -1 with errno set. A descriptor that came with it is put in
// passed (close-on-exec); anything else in the control data is dropped.
ssize_t receive_packet(int channel_fd, std::span<std::byte> buffer, Fd& passed);

}  // namespace corral
