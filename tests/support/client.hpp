// Test support: blocking loopback clients with timeouts, so that a broken server fails a test
// instead of hanging it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"

namespace corral::test {

// Connects to host (numeric, "127.0.0.1" or "::1") or, with port 0, to the unix path in host.
// Receives and sends time out after 10 s. Invalid Fd when the connection fails.
Fd connect_to(const std::string& host, std::uint16_t port);

bool send_all(int fd, std::string_view bytes);
// Reads exactly count bytes; returns fewer only on EOF, error or timeout.
std::string receive_exactly(int fd, std::size_t count);

// Sends payload and reads the same number of bytes back; true when they are identical.
bool echoes(int fd, std::string_view payload);

// Opens a new connection to 127.0.0.1:port, sends payload and reads it back, and closes the
// connection again; true when the bytes came back identical.
bool new_connection_echoes(std::uint16_t port, std::string_view payload);

// Opens `count` connections to 127.0.0.1:port and echoes payload once on each; stops at the first
// that fails, so fewer than `count` come back then.
std::vector<Fd> open_echoing(std::uint16_t port, int count, std::string_view payload);

// Deterministic bytes covering every value, different for each seed.
std::string pattern_bytes(std::size_t size, std::uint32_t seed);

// A connection to 127.0.0.1:port from another loopback address (127.0.0.2, ...), so that the
// server sees another client. Invalid Fd when the connection fails.
Fd connect_from(const std::string& source, std::uint16_t port);

// Connects as connect_to does, polling for up to 20 s until something listens there (a socket
// that systemd-socket-activate binds, say). Invalid Fd if nothing did.
Fd connect_when_listening(const std::string& host, std::uint16_t port);

// True once connecting to 127.0.0.1:port is refused (every listener on it closed), polled for
// up to 20 s.
bool wait_refused(std::uint16_t port);

// A port of a loopback IPv4 address held for another program to listen on (systemd-socket-activate,
// which cannot be given port 0, or a corral that must come back on the same port): bound with
// SO_REUSEADDR but not listening, so that a program that sets SO_REUSEADDR too can bind and listen
// on it. For as long as this object lives, port 0 does not pick the port and a bind without
// SO_REUSEADDR fails on it.
class ReservedPort {
public:
    explicit ReservedPort(const std::string& host = "127.0.0.1");
    std::uint16_t port() const { return port_; }

private:
    Fd socket_;
    std::uint16_t port_ = 0;
};

// True once the peer has closed the connection (read returns 0 or reset) within the timeout.
bool closed_by_peer(int fd, int timeout_ms);

}  // namespace corral::test
