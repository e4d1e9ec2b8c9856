// The master<->worker message encoding, including what a damaged or foreign packet does.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "common/ipc.hpp"

using namespace corral;

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
                                           .http_5xx = 5}};
        const MessageBuffer packet = encode_message(message);
        std::string error;
        const auto decoded = decode_message(packet, error);
        REQUIRE(decoded.has_value());
        CHECK(*decoded == message);
    }
}

TEST_CASE("truncated, oversized and garbage packets are rejected with a reason") {
    const MessageBuffer good = encode_message(Message{.type = MessageType::heartbeat, .counters = {}});
    std::string error;

    CHECK_FALSE(decode_message(std::span(good.data(), good.size() - 1), error));
    CHECK(error.find("bytes") != std::string::npos);
    CHECK_FALSE(decode_message(std::span(good.data(), 0), error));

    std::vector<std::byte> longer(good.begin(), good.end());
    longer.push_back(std::byte{0});
    CHECK_FALSE(decode_message(longer, error));

    MessageBuffer other_version = good;
    other_version[0] = std::byte{kProtocolVersion + 1};
    CHECK_FALSE(decode_message(other_version, error));
    CHECK(error.find("version") != std::string::npos);

    MessageBuffer unknown_type = good;
    unknown_type[1] = std::byte{99};
    CHECK_FALSE(decode_message(unknown_type, error));
    CHECK(error.find("type") != std::string::npos);

    MessageBuffer dirty_reserved = good;
    dirty_reserved[5] = std::byte{1};
    CHECK_FALSE(decode_message(dirty_reserved, error));

    MessageBuffer noise{};
    for (std::size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<std::byte>(i * 37 + 11);
    CHECK_FALSE(decode_message(noise, error));
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

    REQUIRE(send_message(master_end.get(), Message{.type = MessageType::reopen_logs, .counters = {}},
                         write_end.get()));
    REQUIRE(send_message(master_end.get(), Message{.type = MessageType::heartbeat, .counters = {}}));

    std::array<std::byte, kMessageSize + 1> packet{};
    Fd passed;
    REQUIRE(receive_packet(worker_end.get(), packet, passed) == static_cast<ssize_t>(kMessageSize));
    std::string error;
    const auto first = decode_message(std::span(packet.data(), kMessageSize), error);
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
    REQUIRE(receive_packet(worker_end.get(), packet, none) == static_cast<ssize_t>(kMessageSize));
    CHECK_FALSE(none);
}
