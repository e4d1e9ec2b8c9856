// The master<->worker protocol: one versioned message per SOCK_SEQPACKET packet: a header, the
// fixed counters, and a tail whose form the type decides.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace corral {

inline constexpr std::uint8_t kProtocolVersion = 4;

enum class MessageType : std::uint8_t {
    // worker -> master
    ready = 1,
    heartbeat = 2,
    // Why a service could not start; the worker exits next.
    start_failed = 3,
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

// A counter a module publishes, as its worker reports it: a total since the worker started.
struct ModuleCounterSample {
    std::string listener;  // the listener's address, 1 to 255 bytes
    std::string module;  // the module's name, 1 to 255 bytes
    std::string name;  // the counter's name, 1 to 255 bytes
    std::uint64_t value = 0;

    bool operator==(const ModuleCounterSample&) const = default;
};

// A counter's name as it may stand in a metric's name: a-z, 0-9 and _, 1 to kMaxModuleCounterName
// bytes. The worker refuses others when a module registers them, and the master checks again what
// arrives, since module code runs in the workers.
inline constexpr std::size_t kMaxModuleCounterName = 48;
bool is_module_counter_name(std::string_view name);

// The bytes a sample takes in a message's tail: its three strings, their length bytes, its value.
std::size_t encoded_size(const ModuleCounterSample& sample);

struct Message {
    MessageType type = MessageType::heartbeat;
    WorkerCounters counters;  // meaningful in ready and heartbeat only
    std::string reason;  // start_failed only: one sentence, 1 to kMaxReasonBytes bytes, no NUL
    std::vector<ModuleCounterSample> module_counters;  // ready and heartbeat only

    bool operator==(const Message&) const = default;
};

// Header (version, type, 6 bytes reserved as zero) followed by the counters, then the tail: the
// reason of start_failed, or the module counters of ready and heartbeat (each entry three
// length-prefixed strings and a value), or nothing.
inline constexpr std::size_t kFixedMessageSize = 8 + 11 * 8;
inline constexpr std::size_t kMaxReasonBytes = 1024;
// Room for every counter of several modules; a worker reports what fits and logs the rest.
inline constexpr std::size_t kMaxMessageSize = 32 * 1024;

// The bytes of one message; empty when the message cannot be encoded within kMaxMessageSize or
// a field is out of its bounds.
std::vector<std::byte> encode_message(const Message& message);

// Rejects a packet of the wrong size, another version, an unknown type, non-zero reserved bytes or
// a tail that is not what its type allows, saying which.
Result<Message> decode_message(std::span<const std::byte> packet);

const char* message_type_name(MessageType type);

// Sends one message without blocking; passed_fd, when not -1, travels with it (SCM_RIGHTS).
// False when the packet could not be sent whole (errno set).
bool send_message(int channel_fd, const Message& message, int passed_fd = -1);

// Receives one packet without blocking into buffer, like recv(2) with MSG_TRUNC: the packet's
// full length, 0 at end of file, -1 with errno set. A descriptor that came with it is put in
// passed (close-on-exec); anything else in the control data is dropped.
ssize_t receive_packet(int channel_fd, std::span<std::byte> buffer, Fd& passed);

}  // namespace corral
