// AdminServer: /healthz, /status and /metrics, served over plain HTTP/1.1 by the master's own
// loop. Every connection is bounded in bytes, in time and in number, and gets one response; slow
// or numerous clients give way to new ones, so they cannot lock out `corral status` or `reload`.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/descriptor_shortage.hpp"
#include "common/event_loop.hpp"
#include "common/fd.hpp"
#include "common/result.hpp"
#include "master/socket_file.hpp"

namespace corral {

// What the endpoints show; the master provides it.
class AdminContent {
public:
    virtual bool serving() const = 0;
    virtual std::string status_json() const = 0;
    virtual std::string metrics_text() const = 0;

protected:
    ~AdminContent() = default;
};

class AdminServer {
public:
    using Clock = std::chrono::steady_clock;

    AdminServer(EventLoop& loop, const AdminContent& content);
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    // Serves on a bound, listening, non-blocking socket, whose unix socket file (if this process
    // created one) goes when the server closes. Fails if the loop refuses it.
    Outcome start(Fd listener, SocketFile file);
    // After a binary upgrade the socket file belongs to the new master.
    void disown_socket_file() { socket_file_.disown(); }
    // Accepts nothing more; the connections already accepted are answered.
    void close_listener() { listener_.close(); }
    int listener_fd() const { return listener_.get(); }

    // Called on every tick: closes connections that have had their time, resumes accepting after
    // a descriptor shortage, and logs what was refused since the last report.
    void on_tick(Clock::time_point now);
    // Frees connections closed during the last batch of events.
    void release_closed();
    void close_all();

private:
    struct Connection final : EventHandler {
        AdminServer* server = nullptr;
        WatchedFd fd;
        std::string peer;  // the client's address, or "uid N" on a unix socket
        std::string received;
        std::string response;  // empty until the request head is complete
        std::size_t sent = 0;
        Clock::time_point accepted_at;
        bool open = false;
        void handle_event(std::uint32_t ready) override;
    };

    void on_accept();
    // Makes room for a connection from `peer`: false when it must be refused.
    bool make_room(const std::string& peer);
    void count_refusal();
    void on_readable(Connection& connection);
    void on_writable(Connection& connection);
    void respond(Connection& connection);
    void close(Connection& connection);

    EventLoop& loop_;
    const AdminContent& content_;
    WatchedFd listener_;
    SocketFile socket_file_;
    MemberHandler<AdminServer> accept_handler_{this, &AdminServer::on_accept};
    DescriptorShortage descriptor_shortage_;
    std::size_t refused_since_report_ = 0;
    Clock::time_point last_report_{};
    std::vector<std::unique_ptr<Connection>> connections_;
    std::vector<std::unique_ptr<Connection>> closed_;
};

// The full HTTP/1.1 response for a request, as the admin server sends it. Exposed for tests.
std::string admin_response(std::string_view received_request, const AdminContent& content);

}  // namespace corral
