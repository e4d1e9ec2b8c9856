// FakeAdmin: one thread, one connection at a time; the command line makes one request each.
#include "tests/support/fake_admin.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <stdexcept>

#include "tests/support/client.hpp"

namespace corral::test {

FakeAdmin::FakeAdmin(std::string body, int status) {
    reply_ = "HTTP/1.1 " + std::to_string(status) + " Whatever\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\nConnection: close\r\n\r\n" + body;
    listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (!listener_ || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_.get(), 16) != 0 ||
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw std::runtime_error("FakeAdmin: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    server_ = std::thread([this] {
        while (!stopping_) {
            pollfd ready{.fd = listener_.get(), .events = POLLIN, .revents = 0};
            if (::poll(&ready, 1, 50) <= 0) continue;
            Fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!client) continue;
            // The request head, or whatever arrives within a second.
            std::string request;
            char buffer[4096];
            while (request.find("\r\n\r\n") == std::string::npos) {
                pollfd readable{.fd = client.get(), .events = POLLIN, .revents = 0};
                if (::poll(&readable, 1, 1000) <= 0) break;
                const ssize_t got = ::recv(client.get(), buffer, sizeof buffer, 0);
                if (got <= 0) break;
                request.append(buffer, static_cast<std::size_t>(got));
            }
            ++requests_;
            send_all(client.get(), reply_);
        }
    });
}

FakeAdmin::~FakeAdmin() {
    stopping_ = true;
    server_.join();
}

}  // namespace corral::test
