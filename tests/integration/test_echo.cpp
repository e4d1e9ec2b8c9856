// The echo service as a client sees it: exact bytes, concurrency, every worker accepting, every
// kind of listener, bounded memory, idle timeout and the connection limit.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

#include "tests/support/admin.hpp"
#include "tests/support/checked_steps.hpp"
#include "tests/support/client.hpp"
#include "tests/support/configs.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/process_probe.hpp"
#include "tests/support/wait.hpp"

using namespace corral;
using namespace corral::test;

namespace {

// Echoes a large payload: a sender thread writes while this thread reads, as any real client
// of a large echo must.
bool echoes_large(int fd, const std::string& payload) {
    std::atomic<bool> sent{false};
    std::thread sender([&] { sent = send_all(fd, payload); });
    const std::string back = receive_exactly(fd, payload.size());
    sender.join();
    return sent && back == payload;
}

// Sends from every client, none of which reads, until the server pushes back: no room to send
// appears on any of them for a whole second. Returns the bytes each one sent.
std::vector<std::size_t> send_until_pushed_back(const std::vector<Fd>& clients) {
    const std::string block = pattern_bytes(64 * 1024, 11);
    std::vector<std::size_t> sent(clients.size(), 0);
    std::vector<pollfd> watched;
    for (const Fd& client : clients) watched.push_back(pollfd{.fd = client.get(), .events = POLLOUT, .revents = 0});
    while (::poll(watched.data(), watched.size(), 1000) > 0) {
        for (std::size_t i = 0; i < clients.size(); ++i) {
            if ((watched[i].revents & POLLOUT) == 0) continue;
            const ssize_t n = ::send(clients[i].get(), block.data(), block.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) sent[i] += static_cast<std::size_t>(n);
            if (n < 0 && errno != EAGAIN) watched[i].fd = -1;  // closed by the server
        }
        std::size_t total = 0;
        for (std::size_t bytes : sent) total += bytes;
        REQUIRE(total < 2048u * 1024 * 1024);  // the server must push back long before this
    }
    return sent;
}

// Clients with a small receive buffer, so that the kernel holds little on their behalf.
std::vector<Fd> small_window_clients(std::uint16_t port, int count) {
    std::vector<Fd> clients;
    for (int i = 0; i < count; ++i) {
        Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        const int size = 4096;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        clients.push_back(std::move(fd));
    }
    return clients;
}

// The worker's unsent bytes as /metrics reports them, once two heartbeats agree.
std::uint64_t output_queued(const Address& admin) {
    std::uint64_t previous = ~0ull;
    std::uint64_t queued = 0;
    // Read every 300 ms: a heartbeat is due every 250 ms.
    const bool settled = poll_until(kPatience, [&] {
        const auto metrics = admin_fetch(admin, "/metrics");
        REQUIRE(metrics);
        const std::string name = "corral_output_queued_bytes{";
        const std::size_t at = metrics->body.find(name);
        REQUIRE(at != std::string::npos);
        queued = std::stoull(metrics->body.substr(metrics->body.find(' ', at) + 1));
        if (queued == previous) return true;
        previous = queued;
        return false;
    }, 300ms);
    if (!settled) FAIL("corral_output_queued_bytes did not settle");
    return queued;
}

}  // namespace

TEST_CASE("echo is byte-exact from 1 byte to 16 MiB") {
    CorralProcess corral(echo_config(2));
    const std::uint16_t port = wait_ready_port(corral);
    for (std::size_t size : {1u, 2u, 63u, 4096u, 65537u, 1u << 20, 16u << 20}) {
        CAPTURE(size);
        Fd client = connect_to("127.0.0.1", port);
        REQUIRE(client);
        CHECK(echoes_large(client.get(), pattern_bytes(size, static_cast<std::uint32_t>(size))));
    }
    // Several messages on one connection stay in order.
    Fd client = connect_to("127.0.0.1", port);
    REQUIRE(client);
    for (std::uint32_t i = 0; i < 50; ++i) CHECK(echoes(client.get(), pattern_bytes(100 + i, i)));
}

TEST_CASE("200 concurrent clients each get their own bytes back") {
    CorralProcess corral(echo_config(2));
    const std::uint16_t port = wait_ready_port(corral);
    constexpr int kClients = 200;
    std::atomic<int> good{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.emplace_back([&, i] {
            Fd client = connect_to("127.0.0.1", port);
            if (!client) return;
            for (std::uint32_t round = 0; round < 5; ++round) {
                if (!echoes(client.get(), pattern_bytes(1000 + i, static_cast<std::uint32_t>(i * 10 + round)))) return;
            }
            ++good;
        });
    }
    for (auto& client : clients) client.join();
    CHECK(good == kClients);
}

TEST_CASE("the configured number of workers exist and every one of them accepts") {
    CorralProcess corral(echo_config(3));
    const std::uint16_t port = wait_ready_port(corral);
    const std::vector<pid_t> workers = corral.workers();
    REQUIRE(workers.size() == 3);
    CHECK(children_named(::getpid(), "corral-master") == std::vector<pid_t>{corral.pid()});

    // With every other worker stopped, the connection can only be accepted by this one.
    for (pid_t serving : workers) {
        CAPTURE(serving);
        for (pid_t other : workers) {
            if (other == serving) continue;
            ::kill(other, SIGSTOP);
            REQUIRE(wait_stopped(other));
        }
        Fd client = connect_to("127.0.0.1", port);
        REQUIRE(client);
        CHECK(echoes(client.get(), "served by one worker"));
        for (pid_t other : workers) ::kill(other, SIGCONT);
    }
}

TEST_CASE("IPv6 and unix socket listeners echo") {
    TempDir sockets;
    const std::string path = sockets.path() + "/echo.sock";
    CorralProcess corral("workers: 2\nlisten:\n  - address: \"[::1]:0\"\n  - address: unix:" + path +
                         "\n  - address: 127.0.0.1:0\n");
    const auto ports = corral.wait_ready();
    REQUIRE(ports.size() == 3);
    Fd v6 = connect_to("::1", ports[0]);
    REQUIRE(v6);
    CHECK(echoes(v6.get(), "over IPv6"));
    Fd local = connect_to(path, 0);
    REQUIRE(local);
    CHECK(echoes(local.get(), "over a unix socket"));
    Fd v4 = connect_to("127.0.0.1", ports[2]);
    REQUIRE(v4);
    CHECK(echoes(v4.get(), "over IPv4"));
}

TEST_CASE("a stale unix socket file is replaced, a live one is not") {
    TempDir sockets;
    const std::string path = sockets.path() + "/echo.sock";
    const std::string config = "workers: 1\nlisten:\n  - address: unix:" + path + "\n";
    {
        CorralProcess first(config);
        REQUIRE(first.wait_ready().size() == 1);
        // A second server on the same path must refuse to start rather than steal it.
        CorralProcess second(config);
        CHECK(second.wait_exit() == 1);
        CHECK(second.log().find("in use") != std::string::npos);
        const std::vector<pid_t> first_workers = first.workers();
        first.signal(SIGKILL);  // leaves the socket file behind
        REQUIRE(first.wait_exit().has_value());
        // An orphaned worker closes its listener once it notices: until then the file is live.
        for (pid_t worker : first_workers) REQUIRE(wait_gone(worker));
    }
    CorralProcess third(config);
    REQUIRE(third.wait_ready().size() == 1);
    CHECK(third.log().find("removed stale socket file") != std::string::npos);
    Fd client = connect_to(path, 0);
    REQUIRE(client);
    CHECK(echoes(client.get(), "after a crash"));
}

TEST_CASE("a read never takes more than the room left in the connection's output queue") {
    // A read buffer far larger than the queue: none of a read may be written at once.
    CorralWithAdmin served(1, "limits:\n  read_buffer: 64KiB\n  max_output_buffer: 4KiB\n");
    auto& [dir, admin, corral] = served;
    const std::uint16_t port = wait_ready_port(corral);
    const std::vector<Fd> clients = small_window_clients(port, 20);
    send_until_pushed_back(clients);
    const std::uint64_t queued = output_queued(admin);
    MESSAGE("20 clients that never read: ", queued, " bytes queued in the worker");
    CHECK(queued <= 20 * 4 * 1024);
}

TEST_CASE("limits.max_worker_output bounds what all of a worker's connections hold; those owed most are closed") {
    CorralWithAdmin served(
        1, "limits:\n  read_buffer: 16KiB\n  max_output_buffer: 1MiB\n  max_worker_output: 2MiB\n");
    auto& [dir, admin, corral] = served;
    const std::uint16_t port = wait_ready_port(corral);
    const pid_t worker = corral.workers().at(0);
    const std::size_t before_kib = resident_kib(worker);

    const std::vector<Fd> clients = small_window_clients(port, 20);
    send_until_pushed_back(clients);
    const std::uint64_t queued = output_queued(admin);
    const std::size_t after_kib = resident_kib(worker);
    MESSAGE("20 clients that never read, 1MiB each allowed: ", queued, " bytes queued; worker RSS ", before_kib,
            " -> ", after_kib, " KiB");
    // The budget, plus at most one read for each connection that had nothing waiting.
    CHECK(queued <= 2 * 1024 * 1024 + 20 * 16 * 1024);
    CHECK(corral.wait_for_log("unsent output reached limits.max_worker_output (2MiB) over 20 connections"));

    // Nobody reads: after the grace period the connections owed the most are closed.
    REQUIRE(corral.wait_for_log("closed the "));
    CHECK(output_queued(admin) <= 3 * 512 * 1024);
    std::size_t closed = 0;
    for (const Fd& client : clients) {
        // Whatever was echoed comes first; a closed one then ends (or is reset).
        char buffer[65536];
        for (;;) {
            pollfd readable{.fd = client.get(), .events = POLLIN, .revents = 0};
            if (::poll(&readable, 1, 200) <= 0) break;
            const ssize_t got = ::recv(client.get(), buffer, sizeof buffer, MSG_DONTWAIT);
            if (got <= 0) {
                ++closed;
                break;
            }
        }
    }
    MESSAGE(closed, " of 20 connections were closed");
    CHECK(closed > 0);
    CHECK(closed < 20);
}

TEST_CASE("a client that sends without reading cannot grow the worker's memory") {
    CorralProcess corral(echo_config(1, "limits:\n  read_buffer: 16KiB\n  max_output_buffer: 64KiB\n"));
    const std::uint16_t port = wait_ready_port(corral);
    const pid_t worker = corral.workers().at(0);
    const std::size_t before_kib = resident_kib(worker);

    Fd client = connect_to("127.0.0.1", port);
    REQUIRE(client);
    const std::string block = pattern_bytes(64 * 1024, 7);
    std::string sent;
    // Send until the server has stopped reading: no room to send appears for a whole second.
    for (;;) {
        pollfd writable{.fd = client.get(), .events = POLLOUT, .revents = 0};
        if (::poll(&writable, 1, 1000) == 0) break;
        const ssize_t n = ::send(client.get(), block.data(), block.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            CAPTURE(corral.log());
            FAIL("send() failed: the server dropped a slow reader");
        }
        if (n > 0) sent.append(block.data(), static_cast<std::size_t>(n));
        REQUIRE(sent.size() < 512u * 1024 * 1024);  // the server must push back long before this
    }
    const std::size_t after_kib = resident_kib(worker);
    MESSAGE("sent ", sent.size(), " bytes before back-pressure; worker RSS ", before_kib, " -> ", after_kib, " KiB");
    CHECK(after_kib < before_kib + 4 * 1024);

    // Nothing was lost: reading now returns every byte, in order.
    CHECK(receive_exactly(client.get(), sent.size()) == sent);
}

TEST_CASE("timeouts.idle closes silent connections and spares active ones") {
    CorralProcess corral(echo_config(1, "timeouts:\n  idle: 1s\n"));
    const std::uint16_t port = wait_ready_port(corral);
    Fd silent = connect_to("127.0.0.1", port);
    Fd chatty = connect_to("127.0.0.1", port);
    REQUIRE(silent);
    REQUIRE(chatty);
    const auto start = std::chrono::steady_clock::now();
    CHECK(echoes(silent.get(), "then nothing"));
    // The chatty one talks every 300 ms for 2.4 s: longer than the timeout, never silent for it.
    for (int i = 0; i < 8; ++i) {
        CHECK(echoes(chatty.get(), "still here"));
        std::this_thread::sleep_for(300ms);  // paces the chatty client; not a wait for anything
    }
    CHECK(closed_by_peer(silent.get(), 10'000));
    CHECK(std::chrono::steady_clock::now() - start >= 1s);
    CHECK(echoes(chatty.get(), "still served"));
    CHECK(closed_by_peer(chatty.get(), 10'000));
}

TEST_CASE("at max_connections a worker stops accepting until a connection closes") {
    CorralProcess corral(echo_config(1, "limits:\n  max_connections: 5\n"));
    const std::uint16_t port = wait_ready_port(corral);
    std::vector<Fd> open;
    for (int i = 0; i < 5; ++i) {
        open.push_back(connect_to("127.0.0.1", port));
        REQUIRE(open.back());
        REQUIRE(echoes(open.back().get(), "counted"));
    }
    CHECK(corral.wait_for_log("max_connections (5) reached"));
    // The sixth completes the TCP handshake in the backlog but is not served.
    Fd waiting = connect_to("127.0.0.1", port);
    REQUIRE(waiting);
    REQUIRE(send_all(waiting.get(), "queued"));
    pollfd readable{.fd = waiting.get(), .events = POLLIN, .revents = 0};
    CHECK(::poll(&readable, 1, 1000) == 0);

    open.front().reset();
    CHECK(receive_exactly(waiting.get(), 6) == "queued");
}

TEST_CASE("running out of descriptors pauses accepting without spinning, then recovers") {
    // 48 descriptors: a few for the worker itself, so the rest of 60 connections hit EMFILE.
    CorralProcess corral(echo_config(1, "limits:\n  nofile: 48\n"));
    const std::uint16_t port = wait_ready_port(corral);
    const pid_t worker = corral.workers().at(0);

    std::vector<Fd> clients;
    for (int i = 0; i < 60; ++i) {
        clients.push_back(connect_to("127.0.0.1", port));
        REQUIRE(clients.back());
    }
    REQUIRE(corral.wait_for_log("failed: Too many open files"));

    // Paused, not spinning: the worker uses next to nothing, where a busy loop would use the whole
    // window. Half the window tells them apart however slow the machine.
    const double before = cpu_seconds(worker);
    const auto window_start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(1s);  // the window over which CPU is measured
    const double used = cpu_seconds(worker) - before;
    const double window = std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
    MESSAGE("worker CPU while out of descriptors: ", used, " s in ", window, " s");
    CHECK(used < window / 2);

    clients.clear();
    // Once descriptors are free again, connections are served; the error was logged once.
    Fd client = connect_to("127.0.0.1", port);
    REQUIRE(client);
    CHECK(echoes(client.get(), "recovered"));
    const std::string log = corral.log();
    const std::string error = "failed: Too many open files";
    CAPTURE(log);
    CHECK(log.find(error) == log.rfind(error));
}

TEST_CASE("balance: reuseport serves on one socket per worker, and a replacement inherits its queue") {
    CorralProcess corral("workers: 2\nlisten:\n  - address: 127.0.0.1:0\n    balance: reuseport\n");
    const std::uint16_t port = wait_ready_port(corral);
    CHECK(corral.log().find("reuseport") != std::string::npos);
    const std::vector<pid_t> workers = corral.workers();
    REQUIRE(workers.size() == 2);

    // Connections made while a worker is dead wait in its socket's queue, which the master keeps.
    ::kill(workers[0], SIGKILL);
    std::vector<Fd> clients;
    for (int i = 0; i < 40; ++i) {
        clients.push_back(connect_to("127.0.0.1", port));
        REQUIRE(clients.back());
        REQUIRE(send_all(clients.back().get(), "queued " + std::to_string(i)));
    }
    for (int i = 0; i < 40; ++i) {
        const std::string expected = "queued " + std::to_string(i);
        CHECK(receive_exactly(clients[i].get(), expected.size()) == expected);
    }
    CHECK(corral.wait_for_workers(2, {workers[0]}));
}
