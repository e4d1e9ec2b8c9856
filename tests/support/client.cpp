// Loopback clients for the integration tests.
#include "tests/support/client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "common/address.hpp"
#include "tests/support/wait.hpp"

namespace corral::test {

Fd connect_to(const std::string& host, std::uint16_t port) {
    Address address;
    if (port == 0) {
        address.family = AddressFamily::unix_path;
        address.path = host;
    } else {
        address.family = host.find(':') != std::string::npos ? AddressFamily::ipv6 : AddressFamily::ipv4;
        address.host = host;
        address.port = port;
    }
    Fd fd(::socket(socket_family(address), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fd;
    timeval timeout{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    const SocketAddress target = to_socket_address(address);
    if (::connect(fd.get(), target.get(), target.length) != 0) return Fd();
    return fd;
}

bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) continue;
        if (sent <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
}

std::string receive_exactly(int fd, std::size_t count) {
    std::string received(count, '\0');
    std::size_t have = 0;
    while (have < count) {
        const ssize_t got = ::recv(fd, received.data() + have, count - have, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        have += static_cast<std::size_t>(got);
    }
    received.resize(have);
    return received;
}

bool echoes(int fd, std::string_view payload) {
    return send_all(fd, payload) && receive_exactly(fd, payload.size()) == payload;
}

bool new_connection_echoes(std::uint16_t port, std::string_view payload) {
    const Fd client = connect_to("127.0.0.1", port);
    return client && echoes(client.get(), payload);
}

std::vector<Fd> open_echoing(std::uint16_t port, int count, std::string_view payload) {
    std::vector<Fd> connections;
    for (int i = 0; i < count; ++i) {
        Fd client = connect_to("127.0.0.1", port);
        if (!client || !echoes(client.get(), payload)) break;
        connections.push_back(std::move(client));
    }
    return connections;
}

std::string pattern_bytes(std::size_t size, std::uint32_t seed) {
    std::string bytes(size, '\0');
    std::uint32_t state = seed * 2654435761u + 1;
    for (char& byte : bytes) {
        state = state * 1664525u + 1013904223u;
        byte = static_cast<char>(state >> 24);
    }
    return bytes;
}

Fd connect_from(const std::string& source, std::uint16_t port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (!fd || ::inet_pton(AF_INET, source.c_str(), &local.sin_addr) != 1) return Fd();
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return Fd();
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(port);
    remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) return Fd();
    return fd;
}

Fd connect_when_listening(const std::string& host, std::uint16_t port) {
    Fd fd;
    poll_until(20s, [&] {
        fd = connect_to(host, port);
        return fd.valid();
    }, 20ms);
    return fd;
}

bool wait_refused(std::uint16_t port) {
    return poll_until(20s, [&] { return !connect_to("127.0.0.1", port); }, 20ms);
}

ReservedPort::ReservedPort(const std::string& host) : socket_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    const int on = 1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    socklen_t length = sizeof address;
    if (!socket_ || ::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1 ||
        ::setsockopt(socket_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        ::bind(socket_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(socket_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw std::runtime_error("ReservedPort: cannot bind a port of " + host);
    }
    port_ = ntohs(address.sin_port);
}

bool closed_by_peer(int fd, int timeout_ms) {
    pollfd watched{.fd = fd, .events = POLLIN, .revents = 0};
    if (::poll(&watched, 1, timeout_ms) <= 0) return false;
    char byte;
    const ssize_t got = ::recv(fd, &byte, 1, MSG_DONTWAIT);
    return got == 0 || (got < 0 && errno == ECONNRESET);
}

}  // namespace corral::test
