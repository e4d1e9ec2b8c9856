// The master<->worker message encoding, including what a damaged or foreign packet does.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "common/ipc.hpp"

using namespace corral;

namespace {

Message heartbeat() { return Message{.type = MessageType::heartbeat, .counters = {}, .reason = {}, .module_counters = {}}; }

// Why decode_message refuses a packet it must refuse.
std::string refusal(std::span<const std::byte> packet) {
    const auto decoded = decode_message(packet);
    REQUIRE_FALSE(decoded.ok());
    return decoded.error();
}

}  // namespace

TEST_CASE("every message type survives an encode/decode round trip") {
    for (MessageType type : {MessageType::ready, MessageType::heartbeat, MessageType::drain,
                             MessageType::reopen_logs, MessageType::stop}) {
        const Message message{.type = type,
                              .counters = {.active_connections = 3,
                                           .accepted = 1ull << 40,
                                           .bytes_received = 123456789,
                                           .bytes_sent = 987654321,
                                           .accept_wakeups = 17,
                                           .accept_wakeups_empty = 5,
                                           .output_queued = 4096,
                                           .http_2xx = 1000,
                                           .http_3xx = 3,
                                           .http_4xx = 40,
                                           .http_5xx = 5},
                              .reason = {},
                              .module_counters = {}};
        const std::vector<std::byte> packet = encode_message(message);
        const auto decoded = decode_message(packet);
        REQUIRE(decoded.ok());
        CHECK(*decoded == message);
    }
}

TEST_CASE("truncated, oversized and garbage packets are rejected with a reason") {
    const std::vector<std::byte> good = encode_message(heartbeat());
    std::string error;

    error = refusal(std::span(good.data(), good.size() - 1));
    CHECK(error.find("bytes") != std::string::npos);
    error = refusal(std::span(good.data(), 0));

    // A heartbeat's tail is module counters: one stray byte is not one.
    std::vector<std::byte> longer(good.begin(), good.end());
    longer.push_back(std::byte{0});
    error = refusal(longer);
    CHECK(error == "module counters that run past the end of the message");
    // Messages to a worker have no tail at all.
    std::vector<std::byte> drain = encode_message(Message{.type = MessageType::drain, .counters = {}, .reason = {}, .module_counters = {}});
    drain.push_back(std::byte{1});
    error = refusal(drain);
    CHECK(error == "a drain message with 1 bytes after its counters");
    std::vector<std::byte> huge(kMaxMessageSize + 1);
    error = refusal(huge);
    CHECK(error.find("bytes, expected") != std::string::npos);

    std::vector<std::byte> other_version = good;
    other_version[0] = std::byte{kProtocolVersion + 1};
    error = refusal(other_version);
    CHECK(error.find("version") != std::string::npos);

    std::vector<std::byte> unknown_type = good;
    unknown_type[1] = std::byte{99};
    error = refusal(unknown_type);
    CHECK(error.find("type") != std::string::npos);

    std::vector<std::byte> dirty_reserved = good;
    dirty_reserved[5] = std::byte{1};
    error = refusal(dirty_reserved);

    std::vector<std::byte> noise(kFixedMessageSize);
    for (std::size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<std::byte>(i * 37 + 11);
    error = refusal(noise);
}

TEST_CASE("a start failure carries its reason, and module counters their names, across the socketpair") {
    const Message failed{.type = MessageType::start_failed, .counters = {}, .reason = "module resp did not start: no port",
                         .module_counters = {}};
    const auto decoded_failure = decode_message(encode_message(failed));
    REQUIRE(decoded_failure);
    CHECK(*decoded_failure == failed);

    Message heartbeat_with_counters = heartbeat();
    heartbeat_with_counters.module_counters = {{"127.0.0.1:6380", "resp", "pings", 42},
                                               {"unix:/run/x.sock", "resp", "errors", 1ull << 50}};
    const std::vector<std::byte> packet = encode_message(heartbeat_with_counters);
    const auto decoded = decode_message(packet);
    REQUIRE(decoded);
    CHECK(*decoded == heartbeat_with_counters);
    // A cut of the tail inside an entry is refused, never read past; a cut between the two
    // entries is a message with the first alone.
    const std::size_t first_entry_end = kFixedMessageSize + 1 + 14 + 1 + 4 + 1 + 5 + 8;
    for (std::size_t length = kFixedMessageSize + 1; length < packet.size(); ++length) {
        CAPTURE(length);
        const auto cut = decode_message(std::span(packet.data(), length));
        CHECK(cut.ok() == (length == first_entry_end));
        if (cut) CHECK(cut->module_counters.size() == 1);
    }

    // What cannot be encoded is refused by the encoder, not sent half-formed.
    CHECK(encode_message(Message{.type = MessageType::start_failed, .counters = {}, .reason = "", .module_counters = {}})
              .empty());
    CHECK(encode_message(Message{.type = MessageType::start_failed, .counters = {}, .reason = std::string(2000, 'x'),
                                 .module_counters = {}})
              .empty());
    CHECK(encode_message(Message{.type = MessageType::heartbeat, .counters = {}, .reason = {},
                                 .module_counters = {{"", "resp", "pings", 1}}})
              .empty());
    CHECK(encode_message(Message{.type = MessageType::drain, .counters = {}, .reason = {},
                                 .module_counters = {{"a", "resp", "pings", 1}}})
              .empty());
    std::vector<std::byte> with_nul = encode_message(failed);
    with_nul.back() = std::byte{0};
    CHECK_FALSE(refusal(with_nul).empty());
}

TEST_CASE("add_totals sums the running totals and leaves the connection gauge alone") {
    WorkerCounters total{.active_connections = 7, .accepted = 1, .bytes_received = 2, .bytes_sent = 3,
                         .accept_wakeups = 4, .accept_wakeups_empty = 5};
    add_totals(total, WorkerCounters{.active_connections = 100, .accepted = 10, .bytes_received = 20,
                                     .bytes_sent = 30, .accept_wakeups = 40, .accept_wakeups_empty = 50,
                                     .output_queued = 0, .http_2xx = 6, .http_3xx = 7, .http_4xx = 8,
                                     .http_5xx = 9});
    CHECK(total == WorkerCounters{.active_connections = 7, .accepted = 11, .bytes_received = 22, .bytes_sent = 33,
                                  .accept_wakeups = 44, .accept_wakeups_empty = 55, .output_queued = 0,
                                  .http_2xx = 6, .http_3xx = 7, .http_4xx = 8, .http_5xx = 9});
}

TEST_CASE("a descriptor travels with a message, close-on-exec, and only with the message it was sent with") {
    int ends[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) == 0);
    Fd master_end(ends[0]), worker_end(ends[1]);
    int pipe_ends[2];
    REQUIRE(::pipe2(pipe_ends, O_CLOEXEC) == 0);
    Fd read_end(pipe_ends[0]), write_end(pipe_ends[1]);

    REQUIRE(send_message(master_end.get(),
                         Message{.type = MessageType::reopen_logs, .counters = {}, .reason = {}, .module_counters = {}},
                         write_end.get()));
    REQUIRE(send_message(master_end.get(), heartbeat()));

    std::array<std::byte, kFixedMessageSize + 1> packet{};
    Fd passed;
    REQUIRE(receive_packet(worker_end.get(), packet, passed) == static_cast<ssize_t>(kFixedMessageSize));
    const auto first = decode_message(std::span(packet.data(), kFixedMessageSize));
    REQUIRE(first);
    CHECK(first->type == MessageType::reopen_logs);
    REQUIRE(passed);
    CHECK(passed.get() != write_end.get());
    CHECK((::fcntl(passed.get(), F_GETFD) & FD_CLOEXEC) != 0);
    REQUIRE(::write(passed.get(), "x", 1) == 1);  // the same pipe
    char byte = 0;
    CHECK(::read(read_end.get(), &byte, 1) == 1);
    CHECK(byte == 'x');

    Fd none;
    REQUIRE(receive_packet(worker_end.get(), packet, none) == static_cast<ssize_t>(kFixedMessageSize));
    CHECK_FALSE(none);
}
