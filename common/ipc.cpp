// Encoding of master<->worker messages. Both ends are the same binary on the same host, but the
// version byte lets a binary upgrade's old and new processes notice if the layout ever changes.
#include "common/ipc.hpp"

#include <sys/socket.h>

#include <cstring>

namespace corral {
namespace {

bool known_type(std::uint8_t type) {
    switch (static_cast<MessageType>(type)) {
        case MessageType::ready:
        case MessageType::heartbeat:
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

MessageBuffer encode_message(const Message& message) {
    MessageBuffer packet{};
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
    return packet;
}

std::optional<Message> decode_message(std::span<const std::byte> packet, std::string& error) {
    if (packet.size() != kMessageSize) {
        error = "message of " + std::to_string(packet.size()) + " bytes, expected " +
                std::to_string(kMessageSize);
        return std::nullopt;
    }
    const auto version = static_cast<std::uint8_t>(packet[0]);
    if (version != kProtocolVersion) {
        error = "protocol version " + std::to_string(version) + ", expected " +
                std::to_string(kProtocolVersion);
        return std::nullopt;
    }
    const auto type = static_cast<std::uint8_t>(packet[1]);
    if (!known_type(type)) {
        error = "unknown message type " + std::to_string(type);
        return std::nullopt;
    }
    for (std::size_t i = 2; i < 8; ++i) {
        if (packet[i] != std::byte{0}) {
            error = "reserved header bytes are not zero";
            return std::nullopt;
        }
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
    return message;
}

const char* message_type_name(MessageType type) {
    switch (type) {
        case MessageType::ready: return "ready";
        case MessageType::heartbeat: return "heartbeat";
        case MessageType::drain: return "drain";
        case MessageType::reopen_logs: return "reopen-logs";
        case MessageType::stop: return "stop";
    }
    return "unknown";
}

bool send_message(int channel_fd, const Message& message, int passed_fd) {
    MessageBuffer packet = encode_message(message);
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
