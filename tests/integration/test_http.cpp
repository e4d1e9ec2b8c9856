// The http service over real sockets: curl for plain requests, raw sockets for pipelining, bodies,
// HTTP/1.0 and hostile input.
#include <doctest/doctest.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/admin.hpp"
#include "tests/support/checked_steps.hpp"
#include "tests/support/client.hpp"
#include "tests/support/corral_process.hpp"
#include "tests/support/wait.hpp"

using namespace corral;
using namespace corral::test;

namespace {

std::string http_config() {
    return "workers: 1\nlisten:\n  - address: 127.0.0.1:0\n    service: http\n    http:\n      routes:\n        /healthz: {status: 200, body: \"ok\\n\"}\n"
           "        /down: {status: 503, body: \"maintenance\\n\", content_type: text/html}\n"
           "      headers: {Cache-Control: no-store}\n";
}

// Everything the server sends until it closes the connection or `timeout_ms` passes.
std::string read_until_closed(int fd, int timeout_ms = 10'000) {
    std::string text;
    char buffer[4096];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd readable{.fd = fd, .events = POLLIN, .revents = 0};
        if (::poll(&readable, 1, 100) <= 0) continue;
        const ssize_t count = ::read(fd, buffer, sizeof buffer);
        if (count <= 0) return text;
        text.append(buffer, static_cast<std::size_t>(count));
    }
    return text + "<still open>";
}

// Reads until `text` holds `count` complete responses (each ending with its Content-Length body).
std::string read_responses(int fd, std::size_t count) {
    std::string text;
    // Large reads: each round looks at every response so far.
    std::vector<char> buffer(1 << 20);
    const auto complete = [&] {
        std::size_t at = 0;
        for (std::size_t seen = 0; seen < count; ++seen) {
            const std::size_t head_end = text.find("\r\n\r\n", at);
            if (head_end == std::string::npos) return false;
            const std::size_t length_at = text.find("Content-Length: ", at);
            const std::size_t length =
                length_at != std::string::npos && length_at < head_end ? std::stoul(text.substr(length_at + 16)) : 0;
            at = head_end + 4 + length;
            if (at > text.size()) return false;
        }
        return true;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!complete() && std::chrono::steady_clock::now() < deadline) {
        pollfd readable{.fd = fd, .events = POLLIN, .revents = 0};
        if (::poll(&readable, 1, 100) <= 0) continue;
        const ssize_t count_read = ::read(fd, buffer.data(), buffer.size());
        if (count_read <= 0) break;
        text.append(buffer.data(), static_cast<std::size_t>(count_read));
    }
    return text;
}

std::string curl(const std::string& arguments) { return shell_output("curl -sS --max-time 10 " + arguments); }

std::size_t occurrences(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
    return count;
}

}  // namespace

TEST_CASE("http: routes, the default, HEAD and the headers every response carries, seen by curl") {
    CorralProcess corral(http_config());
    const std::uint16_t port = wait_ready_port(corral);
    const std::string base = "http://127.0.0.1:" + std::to_string(port);

    CHECK(curl(base + "/healthz") == "ok\n");
    CHECK(curl(base + "/healthz?probe=1") == "ok\n");
    const std::string headers = curl("-i " + base + "/healthz");
    CHECK(headers.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(headers.find("\r\nServer: corral\r\n") != std::string::npos);
    CHECK(headers.find("\r\nDate: ") != std::string::npos);
    CHECK(headers.find("\r\nContent-Length: 3\r\n") != std::string::npos);
    CHECK(headers.find("\r\nCache-Control: no-store\r\n") != std::string::npos);
    CHECK(curl("-o /dev/null -w '%{http_code}' " + base + "/down") == "503");
    CHECK(curl("-o /dev/null -w '%{http_code}' " + base + "/nothing-here") == "404");
    const std::string head = curl("-I " + base + "/healthz");
    CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(head.find("Content-Length: 3") != std::string::npos);
    CHECK(head.find("ok\n") == std::string::npos);
    CHECK(curl("-o /dev/null -w '%{http_code}' -X POST -d x " + base + "/healthz") == "405");
}

TEST_CASE("http: pipelined requests are answered in order on one connection, bodies skipped") {
    CorralProcess corral(http_config());
    const std::uint16_t port = wait_ready_port(corral);
    Fd client = connect_to("127.0.0.1", port);
    REQUIRE(send_all(client.get(),
                     "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET /down HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                     "GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                     "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
    const std::string responses = read_responses(client.get(), 3);
    const std::size_t ok = responses.find("HTTP/1.1 200 OK");
    const std::size_t down = responses.find("HTTP/1.1 503 Service Unavailable");
    const std::size_t missing = responses.find("HTTP/1.1 404 Not Found");
    CHECK(ok < down);
    CHECK(down < missing);
    CHECK(missing != std::string::npos);
    // The connection stays open for more.
    REQUIRE(send_all(client.get(), "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    const std::string last = read_until_closed(client.get());
    CHECK(occurrences(last, "HTTP/1.1 200 OK") >= 1);
    CHECK(last.find("Connection: close") != std::string::npos);
    CHECK(last.ends_with("ok\n"));
}

TEST_CASE("http: pipelined responses are not held back waiting for the client's ACK") {
    CorralProcess corral(http_config());
    const std::uint16_t port = wait_ready_port(corral);
    Fd client = connect_to("127.0.0.1", port);
    std::string ten;
    for (int i = 0; i < 10; ++i) ten += "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
    // Ten responses are ten writes. With Nagle's algorithm each write after the first waits for
    // the client's delayed ACK, 40 ms on Linux, so nearly every round took longer than 35 ms.
    int slow_rounds = 0;
    for (int round = 0; round < 20; ++round) {
        const auto start = std::chrono::steady_clock::now();
        REQUIRE(send_all(client.get(), ten));
        REQUIRE(read_responses(client.get(), 10).size() > 0);
        if (std::chrono::steady_clock::now() - start > std::chrono::milliseconds(35)) ++slow_rounds;
    }
    MESSAGE(slow_rounds << " of 20 rounds of 10 pipelined requests took over 35 ms");
    CHECK(slow_rounds < 10);
}

TEST_CASE("http: HTTP/1.0 closes unless it asks for keep-alive; Expect: 100-continue is answered") {
    CorralProcess corral(http_config());
    const std::uint16_t port = wait_ready_port(corral);
    {
        Fd client = connect_to("127.0.0.1", port);
        REQUIRE(send_all(client.get(), "GET /healthz HTTP/1.0\r\n\r\n"));
        const std::string reply = read_until_closed(client.get());
        CHECK(reply.find("Connection: close") != std::string::npos);
        CHECK(reply.ends_with("ok\n"));
    }
    {
        Fd client = connect_to("127.0.0.1", port);
        REQUIRE(send_all(client.get(), "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        const std::string reply = read_responses(client.get(), 1);
        CHECK(reply.find("Connection: keep-alive") != std::string::npos);
        CHECK(!closed_by_peer(client.get(), 200));
    }
    {
        Fd client = connect_to("127.0.0.1", port);
        REQUIRE(send_all(client.get(), "GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
        CHECK(receive_exactly(client.get(), 25) == "HTTP/1.1 100 Continue\r\n\r\n");
        REQUIRE(send_all(client.get(), "body"));
        CHECK(read_responses(client.get(), 1).starts_with("HTTP/1.1 200 OK"));
    }
}

TEST_CASE("http: hostile requests get their status and a close") {
    CorralProcess corral(http_config());
    const std::uint16_t port = wait_ready_port(corral);
    const std::pair<std::string, std::string> cases[] = {
        {"GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "400"},
        {"GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "400"},
        {"GET /healthz HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n", "400"},
        {"GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", "400"},
        {"GET /healthz HTTP/1.1\r\n\r\n", "400"},
        {"GARBAGE\r\n\r\n", "400"},
        {"GET /healthz HTTP/2.0\r\nHost: a\r\n\r\n", "505"},
        {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", "414"},
        {"GET /healthz HTTP/1.1\r\nHost: a\r\n" + std::string(20000, 'X') + ": y\r\n\r\n", "431"},
        {"GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", "413"},
        {"DELETE /healthz HTTP/1.1\r\nHost: a\r\n\r\n", "405"},
    };
    for (const auto& [request, status] : cases) {
        CAPTURE(request.substr(0, 80));
        Fd client = connect_to("127.0.0.1", port);
        REQUIRE(client);
        send_all(client.get(), request);
        const std::string reply = read_until_closed(client.get());
        CHECK(reply.starts_with("HTTP/1.1 " + status + " "));
        if (status == "405") CHECK(reply.find("Allow: GET, HEAD") != std::string::npos);
        CHECK_FALSE(reply.ends_with("<still open>"));
    }
    // The worker is still there and serving.
    Fd client = connect_to("127.0.0.1", port);
    REQUIRE(send_all(client.get(), "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
    CHECK(read_responses(client.get(), 1).ends_with("ok\n"));
}

// http_config with a header timeout of one second, so that slow heads are found out quickly.
std::string http_config_with_header_timeout() { return http_config() + "      header_timeout: 1s\n"; }

TEST_CASE("http: a head not complete within http.header_timeout gets 408 and a close") {
    CorralProcess corral(http_config_with_header_timeout());
    const std::uint16_t port = wait_ready_port(corral);
    Fd client = connect_to("127.0.0.1", port);
    std::string reply;
    SUBCASE("a head that trickles in for longer than the timeout") {
        REQUIRE(send_all(client.get(), "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow: "));
        // A byte every 200 ms, as a slowloris client sends them: never idle, never done.
        for (int step = 0; step < 100 && reply.empty(); ++step) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));  // paces the client, as above
            if (!send_all(client.get(), "a")) break;
            pollfd readable{.fd = client.get(), .events = POLLIN, .revents = 0};
            if (::poll(&readable, 1, 0) > 0) reply = read_until_closed(client.get());
        }
        if (reply.empty()) reply = read_until_closed(client.get(), 2000);
    }
    SUBCASE("a head that stops half-way, answered after the timeout and not timeouts.idle") {
        REQUIRE(send_all(client.get(), "GET /healthz HTTP/1.1\r\nHost: a\r\n"));
        const auto sent_at = std::chrono::steady_clock::now();
        // timeouts.idle is 60 s: a reply within 10 s can only come from the header timeout.
        reply = read_until_closed(client.get(), 10'000);
        MESSAGE("408 after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - sent_at).count() << " ms");
    }
    CHECK(reply.starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    CHECK_FALSE(reply.ends_with("<still open>"));
}

TEST_CASE("http: a kept-alive connection waiting between requests is not cut by http.header_timeout") {
    CorralProcess corral(http_config_with_header_timeout());
    const std::uint16_t port = wait_ready_port(corral);
    Fd client = connect_to("127.0.0.1", port);
    const std::string request = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
    REQUIRE(send_all(client.get(), request));
    // Waiting with nothing sent is timeouts.idle's business; three header timeouts pass first.
    const std::string first = read_until_closed(client.get(), 3000);
    CHECK(first.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(first.ends_with("<still open>"));
    REQUIRE(send_all(client.get(), request));
    const std::string second = read_until_closed(client.get(), 2000);
    CHECK(second.starts_with("HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("http: /metrics counts the requests answered by status class, over the workers") {
    const TempDir dir;
    const Address admin = unix_admin(dir);
    CorralProcess corral(http_config() + admin_yaml(admin));
    const std::uint16_t port = wait_ready_port(corral);
    const std::string base = "http://127.0.0.1:" + std::to_string(port);
    for (int i = 0; i < 3; ++i) CHECK(curl(base + "/healthz") == "ok\n");
    CHECK(curl("-o /dev/null -w '%{http_code}' " + base + "/down") == "503");
    CHECK(curl("-o /dev/null -w '%{http_code}' " + base + "/missing") == "404");
    CHECK(curl("-o /dev/null -w '%{http_code}' " + base + "/missing") == "404");
    // Heartbeats bring the counts to the master four times a second.
    const std::string metrics_url = "--unix-socket " + admin.path + " http://corral/metrics";
    std::string metrics;
    poll_until(kPatience, [&] {
        metrics = curl(metrics_url);
        return metrics.find("corral_requests_total{service=\"http\",class=\"4xx\"} 2") != std::string::npos;
    }, 100ms);
    CHECK(metrics.find("corral_requests_total{service=\"http\",class=\"2xx\"} 3\n") != std::string::npos);
    CHECK(metrics.find("corral_requests_total{service=\"http\",class=\"3xx\"} 0\n") != std::string::npos);
    CHECK(metrics.find("corral_requests_total{service=\"http\",class=\"4xx\"} 2\n") != std::string::npos);
    CHECK(metrics.find("corral_requests_total{service=\"http\",class=\"5xx\"} 1\n") != std::string::npos);
    const nlohmann::json status = admin_status(admin);
    REQUIRE(status["listeners"].size() == 1);
    CHECK(status["listeners"][0]["service"] == "http");
}

TEST_CASE("http: pipelined requests for a large page from a client that does not read stay within the output bound") {
    TempDir dir;
    const Address admin = unix_admin(dir);
    const std::string page = dir.write("page.html", std::string(64 * 1024, 'p'));
    CorralProcess corral("workers: 1\nlisten:\n  - address: 127.0.0.1:0\n    service: http\n    http:\n      routes:\n"
                         "        /: {file: " + page + "}\n" + admin_yaml(admin) +
                         "limits:\n  max_output_buffer: 256KiB\n");
    const std::uint16_t port = wait_ready_port(corral);
    Fd client = connect_to("127.0.0.1", port);
    std::string requests;
    for (int i = 0; i < 200; ++i) requests += "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    REQUIRE(send_all(client.get(), requests));

    // Unanswered, the worker would queue 200 pages (12.5 MiB); it holds at most its bound plus
    // the one response that crossed it.
    const std::string metrics_url = "--unix-socket " + admin.path + " http://corral/metrics";
    std::uint64_t most = 0;
    for (int sample = 0; sample < 20; ++sample) {
        const std::string metrics = curl(metrics_url);
        const std::size_t at = metrics.find("corral_output_queued_bytes{worker=");
        if (at != std::string::npos) {
            const std::size_t value = metrics.find("} ", at);
            most = std::max<std::uint64_t>(most, std::stoull(metrics.substr(value + 2)));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // samples over two seconds
    }
    MESSAGE("most output queued while the client did not read: ", most, " bytes");
    CHECK(most > 0);
    CHECK(most <= 256 * 1024 + 64 * 1024 + 512);

    // Once it reads, every response arrives.
    const std::string responses = read_responses(client.get(), 200);
    CHECK(occurrences(responses, "HTTP/1.1 200 OK") == 200);
}
