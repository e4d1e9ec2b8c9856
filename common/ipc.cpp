// Encoding of master<->worker messages. Both ends are the same binary on the same host, but the
// version byte lets a binary upgrade's old and new processes notice if the layout ever changes.
#include "common/ipc.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace corral {
namespace {

bool known_type(std::uint8_t type) {
    switch (static_cast<MessageType>(type)) {
        case MessageType::ready:
        case MessageType::heartbeat:
        case MessageType::start_failed:
        case MessageType::drain:
        case MessageType::reopen_logs:
        case MessageType::stop: return true;
    }
    return false;
}

void put_u64(std::byte* out, std::uint64_t value) {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>(value >> (8 * i));
}

std::uint64_t get_u64(const std::byte* in) {
    std::uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value |= static_cast<std::uint64_t>(in[i]) << (8 * i);
    return value;
}

}  // namespace

bool is_module_counter_name(std::string_view name) {
    return !name.empty() && name.size() <= kMaxModuleCounterName &&
           std::all_of(name.begin(), name.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

std::size_t encoded_size(const ModuleCounterSample& sample) {
    return 3 + sample.listener.size() + sample.module.size() + sample.name.size() + 8;
}

void add_totals(WorkerCounters& total, const WorkerCounters& more) {
    total.accepted += more.accepted;
    total.bytes_received += more.bytes_received;
    total.bytes_sent += more.bytes_sent;
    total.accept_wakeups += more.accept_wakeups;
    total.accept_wakeups_empty += more.accept_wakeups_empty;
    total.http_2xx += more.http_2xx;
    total.http_3xx += more.http_3xx;
    total.http_4xx += more.http_4xx;
    total.http_5xx += more.http_5xx;
}

namespace {

bool carries_module_counters(MessageType type) { return type == MessageType::ready || type == MessageType::heartbeat; }

bool valid_sample_text(const std::string& text) { return !text.empty() && text.size() <= 255; }

void put_text(std::vector<std::byte>& out, const std::string& text) {
    out.push_back(static_cast<std::byte>(text.size()));
    for (char c : text) out.push_back(static_cast<std::byte>(c));
}

// Reads one length-prefixed string at `at`, advancing it; false when it runs past the end.
bool get_text(std::span<const std::byte> tail, std::size_t& at, std::string& out) {
    if (at >= tail.size()) return false;
    const std::size_t length = static_cast<std::size_t>(tail[at]);
    if (length == 0 || length > tail.size() - at - 1) return false;
    out.assign(reinterpret_cast<const char*>(tail.data() + at + 1), length);
    at += 1 + length;
    return true;
}

bool decode_module_counters(std::span<const std::byte> tail, std::vector<ModuleCounterSample>& out) {
    for (std::size_t at = 0; at < tail.size();) {
        ModuleCounterSample sample;
        if (!get_text(tail, at, sample.listener) || !get_text(tail, at, sample.module) ||
            !get_text(tail, at, sample.name) || tail.size() - at < 8) {
            return false;
        }
        sample.value = get_u64(tail.data() + at);
        at += 8;
        out.push_back(std::move(sample));
    }
    return true;
}

}  // namespace

std::vector<std::byte> encode_message(const Message& message) {
    std::vector<std::byte> packet(kFixedMessageSize);
    packet[0] = static_cast<std::byte>(kProtocolVersion);
    packet[1] = static_cast<std::byte>(message.type);
    std::byte* field = packet.data() + 8;
    const WorkerCounters& c = message.counters;
    for (std::uint64_t value : {c.active_connections, c.accepted, c.bytes_received, c.bytes_sent,
                                c.accept_wakeups, c.accept_wakeups_empty, c.output_queued, c.http_2xx,
                                c.http_3xx, c.http_4xx, c.http_5xx}) {
        put_u64(field, value);
        field += 8;
    }
    if (message.type == MessageType::start_failed) {
        if (message.reason.empty() || message.reason.size() > kMaxReasonBytes ||
            message.reason.find('\0') != std::string::npos)
            return {};
        for (char ch : message.reason) packet.push_back(static_cast<std::byte>(ch));
    } else if (!message.reason.empty()) {
        return {};
    }
    if (!message.module_counters.empty() && !carries_module_counters(message.type)) return {};
    for (const ModuleCounterSample& sample : message.module_counters) {
        if (!valid_sample_text(sample.listener) || !valid_sample_text(sample.module) || !valid_sample_text(sample.name))
            return {};
        put_text(packet, sample.listener);
        put_text(packet, sample.module);
        put_text(packet, sample.name);
        packet.resize(packet.size() + 8);
        put_u64(packet.data() + packet.size() - 8, sample.value);
    }
    if (packet.size() > kMaxMessageSize) return {};
    return packet;
}

Result<Message> decode_message(std::span<const std::byte> packet) {
    if (packet.size() < kFixedMessageSize || packet.size() > kMaxMessageSize) {
        return Failure{"message of " + std::to_string(packet.size()) + " bytes, expected " +
                       std::to_string(kFixedMessageSize) + " to " + std::to_string(kMaxMessageSize)};
    }
    const auto version = static_cast<std::uint8_t>(packet[0]);
    if (version != kProtocolVersion) {
        return Failure{"protocol version " + std::to_string(version) + ", expected " +
                       std::to_string(kProtocolVersion)};
    }
    const auto type = static_cast<std::uint8_t>(packet[1]);
    if (!known_type(type)) return Failure{"unknown message type " + std::to_string(type)};
    for (std::size_t i = 2; i < 8; ++i) {
        if (packet[i] != std::byte{0}) return Failure{"reserved header bytes are not zero"};
    }
    Message message;
    message.type = static_cast<MessageType>(type);
    const std::byte* field = packet.data() + 8;
    WorkerCounters& c = message.counters;
    for (std::uint64_t* value : {&c.active_connections, &c.accepted, &c.bytes_received, &c.bytes_sent,
                                 &c.accept_wakeups, &c.accept_wakeups_empty, &c.output_queued, &c.http_2xx,
                                 &c.http_3xx, &c.http_4xx, &c.http_5xx}) {
        *value = get_u64(field);
        field += 8;
    }
    const std::span<const std::byte> tail = packet.subspan(kFixedMessageSize);
    if (message.type == MessageType::start_failed) {
        message.reason.assign(reinterpret_cast<const char*>(tail.data()), tail.size());
        if (message.reason.empty() || message.reason.size() > kMaxReasonBytes ||
            message.reason.find('\0') != std::string::npos) {
            return Failure{"a start_failed message without a reason of 1 to " + std::to_string(kMaxReasonBytes) +
                           " bytes without NUL"};
        }
    } else if (carries_module_counters(message.type)) {
        if (!decode_module_counters(tail, message.module_counters)) {
            return Failure{"module counters that run past the end of the message"};
        }
    } else if (!tail.empty()) {
        return Failure{std::string("a ") + message_type_name(message.type) + " message with " +
                       std::to_string(tail.size()) + " bytes after its counters"};
    }
    return message;
}

const char* message_type_name(MessageType type) {
    switch (type) {
        case MessageType::ready: return "ready";
        case MessageType::heartbeat: return "heartbeat";
        case MessageType::start_failed: return "start_failed";
        case MessageType::drain: return "drain";
        case MessageType::reopen_logs: return "reopen-logs";
        case MessageType::stop: return "stop";
    }
    return "unknown";
}

bool send_message(int channel_fd, const Message& message, int passed_fd) {
    std::vector<std::byte> packet = encode_message(message);
    if (packet.empty()) {
        errno = EMSGSIZE;
        return false;
    }
    iovec data{.iov_base = packet.data(), .iov_len = packet.size()};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (passed_fd >= 0) {
        header.msg_control = control;
        header.msg_controllen = sizeof control;
        cmsghdr* rights = CMSG_FIRSTHDR(&header);
        rights->cmsg_level = SOL_SOCKET;
        rights->cmsg_type = SCM_RIGHTS;
        rights->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(rights), &passed_fd, sizeof(int));
    }
    const ssize_t sent = ::sendmsg(channel_fd, &header, MSG_DONTWAIT | MSG_NOSIGNAL);
    return sent == static_cast<ssize_t>(packet.size());
}

ssize_t receive_packet(int channel_fd, std::span<std::byte> buffer, Fd& passed) {
    iovec data{.iov_base = buffer.data(), .iov_len = buffer.size()};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    // Room for one descriptor; more are closed by the kernel (MSG_CTRUNC).
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    const ssize_t received = ::recvmsg(channel_fd, &header, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
    if (received < 0) return received;
    for (cmsghdr* part = CMSG_FIRSTHDR(&header); part != nullptr; part = CMSG_NXTHDR(&header, part)) {
        if (part->cmsg_level != SOL_SOCKET || part->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (part->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(part) + i * sizeof(int), sizeof(int));
            Fd received_fd(fd);  // closed unless it is the one we keep
            if (!passed) passed = std::move(received_fd);
        }
    }
    return received;
}

}  // namespace corral
