// AdminServer. Requests are small and answers are computed in microseconds, so one response per
// connection, then close: no keep-alive state to bound or time out.
#include "master/admin.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/errno_text.hpp"
#include "common/log.hpp"
#include "master/admin_request.hpp"

namespace corral {
namespace {

// Monitoring and the command line send their request at once: a head not complete this soon
// after the connection was accepted will not be worth waiting for.
constexpr std::chrono::seconds kHeadTimeout{2};
// The whole exchange, our answer included.
constexpr std::chrono::seconds kConnectionTimeout{5};
// Monitoring makes a handful of concurrent requests; more than this is abuse or a bug.
constexpr std::size_t kMaxConnections = 32;
constexpr std::size_t kMaxConnectionsPerPeer = 8;
// Refused and cut-short connections are reported together, at most once per this period.
constexpr std::chrono::seconds kRefusalReportPeriod{10};

// Who a connection comes from: its address, or on a unix socket the peer's uid.
std::string peer_of(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "unknown";
    char text[INET6_ADDRSTRLEN] = {};
    switch (address.ss_family) {
        case AF_INET:
            ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, text, sizeof text);
            return text;
        case AF_INET6:
            ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, text, sizeof text);
            return text;
        case AF_UNIX: {
            ucred credentials{};
            socklen_t size = sizeof credentials;
            if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) == 0) {
                return "uid " + std::to_string(credentials.uid);
            }
            return "unix";
        }
        default: return "unknown";
    }
}

// accept4() errors that concern one connection only: the next one may be fine.
bool concerns_one_connection(int error) {
    return error == ECONNABORTED || error == EPROTO || error == EPERM || error == EINTR;
}

std::string http_response(int status, const char* reason, const char* content_type, const std::string& body,
                          bool head) {
    std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
    response += "Content-Type: ";
    response += content_type;
    response += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    if (!head) response += body;
    return response;
}

}  // namespace

std::string admin_response(std::string_view received_request, const AdminContent& content) {
    const AdminRequest request = parse_admin_request(received_request);
    constexpr const char* kText = "text/plain; charset=utf-8";
    switch (request.outcome) {
        case AdminRequest::Outcome::incomplete:
        case AdminRequest::Outcome::bad_request:
            return http_response(400, "Bad Request", kText, "bad request\n", false);
        case AdminRequest::Outcome::too_large:
            return http_response(431, "Request Header Fields Too Large", kText, "request too large\n", false);
        case AdminRequest::Outcome::not_implemented:
            return http_response(501, "Not Implemented", kText, "only GET and HEAD\n", false);
        case AdminRequest::Outcome::ok: break;
    }
    if (request.path == "/healthz") {
        return content.serving() ? http_response(200, "OK", kText, "ok\n", request.head)
                                 : http_response(503, "Service Unavailable", kText, "stopping\n", request.head);
    }
    if (request.path == "/status") {
        return http_response(200, "OK", "application/json", content.status_json(), request.head);
    }
    if (request.path == "/metrics") {
        return http_response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", content.metrics_text(),
                             request.head);
    }
    return http_response(404, "Not Found", kText, "not found\n", request.head);
}

AdminServer::AdminServer(EventLoop& loop, const AdminContent& content) : loop_(loop), content_(content) {}

Outcome AdminServer::start(Fd listener, SocketFile file) {
    listener_ = WatchedFd(loop_, std::move(listener));
    socket_file_ = std::move(file);
    if (!listener_.watch(EPOLLIN, &accept_handler_))
        return Failure{call_failed("epoll_ctl(ADD) for the admin listener")};
    return {};
}

void AdminServer::on_accept() {
    for (;;) {
        Fd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            const int error = errno;
            if (error == EAGAIN || error == EWOULDBLOCK) return;
            if (concerns_one_connection(error)) continue;
            // Out of descriptors, or worse: the listener stays readable, so accepting pauses.
            descriptor_shortage_.record("the admin listener", Clock::now());
            if (!listener_.unwatch())
                log_error("epoll_ctl(DEL) for the admin listener failed: %s", errno_text().c_str());
            return;
        }
        std::string peer = peer_of(fd.get());
        if (!make_room(peer)) {
            count_refusal();
            continue;  // closing the descriptor refuses it
        }
        auto connection = std::make_unique<Connection>();
        connection->server = this;
        connection->fd = WatchedFd(loop_, std::move(fd));
        connection->peer = std::move(peer);
        connection->accepted_at = Clock::now();
        connection->open = true;
        if (!connection->fd.watch(EPOLLIN, connection.get())) {
            log_warning("epoll_ctl(ADD) for an admin connection failed: %s", errno_text().c_str());
            continue;
        }
        Connection& added = *connections_.emplace_back(std::move(connection));
        // The request is usually here already: answering now leaves nobody time to push it out.
        on_readable(added);
    }
}

// While there is room nobody waits. Otherwise the oldest connection still without a complete
// request gives way, one of the same peer when that peer holds its share, so clients that
// connect and dawdle cannot keep out those that ask at once.
bool AdminServer::make_room(const std::string& peer) {
    const auto same_peer = static_cast<std::size_t>(
        std::count_if(connections_.begin(), connections_.end(), [&](const auto& c) { return c->peer == peer; }));
    const bool peer_full = same_peer >= kMaxConnectionsPerPeer;
    if (!peer_full && connections_.size() < kMaxConnections) return true;
    Connection* oldest = nullptr;
    for (const auto& connection : connections_) {
        if (!connection->response.empty() || (peer_full && connection->peer != peer)) continue;
        if (oldest == nullptr || connection->accepted_at < oldest->accepted_at) oldest = connection.get();
    }
    if (oldest == nullptr) return false;
    count_refusal();
    close(*oldest);
    return true;
}

void AdminServer::count_refusal() { ++refused_since_report_; }

void AdminServer::Connection::handle_event(std::uint32_t ready) {
    if (!open) return;
    if (response.empty()) server->on_readable(*this);
    else if (ready & (EPOLLOUT | EPOLLERR | EPOLLHUP)) server->on_writable(*this);
}

void AdminServer::on_readable(Connection& connection) {
    char buffer[4096];
    const ssize_t got = ::read(connection.fd.get(), buffer, sizeof buffer);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (got <= 0) {
        close(connection);
        return;
    }
    connection.received.append(buffer, static_cast<std::size_t>(got));
    if (parse_admin_request(connection.received).outcome == AdminRequest::Outcome::incomplete) return;
    respond(connection);
}

void AdminServer::respond(Connection& connection) {
    connection.response = admin_response(connection.received, content_);
    connection.received.clear();
    connection.received.shrink_to_fit();
    // Only writability matters from now on: further input is ignored.
    if (!connection.fd.watch(EPOLLOUT, &connection)) {
        close(connection);
        return;
    }
    on_writable(connection);
}

void AdminServer::on_writable(Connection& connection) {
    while (connection.sent < connection.response.size()) {
        const ssize_t put = ::send(connection.fd.get(), connection.response.data() + connection.sent,
                                   connection.response.size() - connection.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (put < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (put <= 0) break;
        connection.sent += static_cast<std::size_t>(put);
    }
    // Closing after the last byte: a client that did not wait is fine, the bytes are queued.
    ::shutdown(connection.fd.get(), SHUT_WR);
    close(connection);
}

void AdminServer::close(Connection& connection) {
    if (!connection.open) return;
    connection.open = false;
    connection.fd.close();
    auto found = std::find_if(connections_.begin(), connections_.end(),
                              [&](const auto& c) { return c.get() == &connection; });
    if (found != connections_.end()) {
        closed_.push_back(std::move(*found));
        connections_.erase(found);
    }
}

void AdminServer::on_tick(Clock::time_point now) {
    std::vector<Connection*> late;
    for (auto& connection : connections_) {
        const auto limit = connection->response.empty() ? kHeadTimeout : kConnectionTimeout;
        if (now - connection->accepted_at >= limit) late.push_back(connection.get());
    }
    refused_since_report_ += late.size();
    for (Connection* connection : late) close(*connection);

    if (listener_ && !listener_.watched() && !descriptor_shortage_.pausing(now) &&
        !listener_.watch(EPOLLIN, &accept_handler_)) {
        log_error("epoll_ctl(ADD) for the admin listener failed: %s", errno_text().c_str());
    }
    if (refused_since_report_ > 0 &&
        (last_report_ == Clock::time_point{} || now - last_report_ >= kRefusalReportPeriod)) {
        log_warning("admin: %zu connections refused or cut short (at most %zu open, %zu per client, %lld s for a "
                    "request)",
                    refused_since_report_, kMaxConnections, kMaxConnectionsPerPeer,
                    static_cast<long long>(kHeadTimeout.count()));
        refused_since_report_ = 0;
        last_report_ = now;
    }
}

void AdminServer::release_closed() { closed_.clear(); }

void AdminServer::close_all() {
    while (!connections_.empty()) close(*connections_.back());
    listener_.close();
    socket_file_.remove();
}

}  // namespace corral
