// A blocking HTTP/1.1 GET with timeouts; the admin server always closes after one response.
#include "master/admin_client.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>

#include "common/address.hpp"
#include "common/errno_text.hpp"
#include "common/fd.hpp"

namespace corral {
namespace {

constexpr std::size_t kMaxReplyBytes = 16 * 1024 * 1024;

}  // namespace

Result<AdminReply> admin_get(const Address& address, const std::string& path) {
    const std::string where = format_address(address);
    Fd fd(::socket(socket_family(address), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return Failure{call_failed("socket()")};
    timeval timeout{.tv_sec = 5, .tv_usec = 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    const SocketAddress target = to_socket_address(address);
    if (::connect(fd.get(), target.get(), target.length) != 0) {
        return Failure{call_failed("connect(" + where + ")")};
    }
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: corral\r\nConnection: close\r\n\r\n";
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        return Failure{"sending to " + where + " failed: " + errno_text()};
    }
    std::string reply;
    char buffer[16384];
    for (;;) {
        const ssize_t got = ::recv(fd.get(), buffer, sizeof buffer, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return Failure{"reading from " + where + " failed: " + errno_text()};
        if (got == 0) break;
        reply.append(buffer, static_cast<std::size_t>(got));
        if (reply.size() > kMaxReplyBytes) return Failure{"the reply from " + where + " is too large"};
    }
    const std::size_t head_end = reply.find("\r\n\r\n");
    if (!reply.starts_with("HTTP/1.1 ") || head_end == std::string::npos || reply.size() < 12) {
        return Failure{"not an HTTP reply from " + where};
    }
    AdminReply parsed;
    parsed.status = std::atoi(reply.c_str() + 9);
    parsed.body = reply.substr(head_end + 4);
    return parsed;
}

}  // namespace corral
