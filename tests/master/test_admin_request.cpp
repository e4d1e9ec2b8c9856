// parse_admin_request: what an admin connection's bytes amount to, from a complete GET to garbage,
// unsupported methods and heads that do not fit in kMaxAdminRequestBytes.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "master/admin_request.hpp"

using namespace corral;
using Outcome = AdminRequest::Outcome;

namespace {

const char* outcome_name(Outcome outcome) {
    switch (outcome) {
        case Outcome::incomplete: return "incomplete";
        case Outcome::ok: return "ok";
        case Outcome::bad_request: return "bad_request";
        case Outcome::too_large: return "too_large";
        case Outcome::not_implemented: return "not_implemented";
    }
    return "?";
}

// Outcome as a name, so that a failed check says which outcome came back.
std::string outcome_of(std::string_view received) { return outcome_name(parse_admin_request(received).outcome); }

// A GET whose head, blank line included, is exactly `size` bytes.
std::string get_of_size(std::size_t size) {
    const std::string start = "GET /status HTTP/1.1\r\nX-Pad: ";
    const std::string end = "\r\n\r\n";
    REQUIRE(size >= start.size() + end.size());
    return start + std::string(size - start.size() - end.size(), 'a') + end;
}

}  // namespace

TEST_CASE("a complete GET with headers is ok, with its path") {
    const AdminRequest request = parse_admin_request(
        "GET /status HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n");
    CHECK(outcome_name(request.outcome) == std::string("ok"));
    CHECK(request.path == "/status");
    CHECK_FALSE(request.head);
}

TEST_CASE("HEAD is ok and marked as headers-only") {
    const AdminRequest request = parse_admin_request("HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    CHECK(outcome_name(request.outcome) == std::string("ok"));
    CHECK(request.path == "/healthz");
    CHECK(request.head);
}

TEST_CASE("HTTP/1.0, with or without headers, is ok") {
    const AdminRequest bare = parse_admin_request("GET /metrics HTTP/1.0\r\n\r\n");
    CHECK(outcome_name(bare.outcome) == std::string("ok"));
    CHECK(bare.path == "/metrics");
    CHECK_FALSE(bare.head);

    const AdminRequest with_header = parse_admin_request("GET /healthz HTTP/1.0\r\nUser-Agent: probe\r\n\r\n");
    CHECK(outcome_name(with_header.outcome) == std::string("ok"));
    CHECK(with_header.path == "/healthz");
}

TEST_CASE("the query string is not part of the path") {
    CHECK(parse_admin_request("GET /status?pretty=1&x=2 HTTP/1.1\r\n\r\n").path == "/status");
    CHECK(parse_admin_request("GET /healthz? HTTP/1.1\r\n\r\n").path == "/healthz");
    CHECK(parse_admin_request("GET /?a=/b HTTP/1.1\r\n\r\n").path == "/");
    CHECK(parse_admin_request("HEAD /metrics?name[]=x HTTP/1.1\r\n\r\n").path == "/metrics");
    // Only the first '?' starts the query.
    CHECK(parse_admin_request("GET /status?a?b HTTP/1.1\r\n\r\n").path == "/status");
}

TEST_CASE("header values may be empty or hold tabs and non-ASCII bytes") {
    CHECK(outcome_of("GET / HTTP/1.1\r\nX-Empty:\r\n\r\n") == "ok");
    CHECK(outcome_of("GET / HTTP/1.1\r\nX-Tab: a\tb\r\n\r\n") == "ok");
    CHECK(outcome_of("GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\n\r\n") == "ok");
    CHECK(outcome_of("GET / HTTP/1.1\r\nX-Odd_Name!#$%&'*+-.^`|~: v\r\n\r\n") == "ok");
}

TEST_CASE("bytes after the blank line do not change the verdict") {
    const AdminRequest request = parse_admin_request("GET /status HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n");
    CHECK(outcome_name(request.outcome) == std::string("ok"));
    CHECK(request.path == "/status");
    // A request's body is not parsed as headers, even when it contains a NUL byte.
    CHECK(outcome_of(std::string("GET / HTTP/1.1\r\n\r\nbo\0dy", 23)) == "ok");
}

TEST_CASE("input without the blank line yet is incomplete") {
    CHECK(outcome_of("") == "incomplete");
    CHECK(outcome_of("G") == "incomplete");
    CHECK(outcome_of("GET /status HTTP/1.1") == "incomplete");
    CHECK(outcome_of("GET /status HTTP/1.1\r\n") == "incomplete");
    CHECK(outcome_of("GET /status HTTP/1.1\r\nHost: x\r\n") == "incomplete");
    CHECK(outcome_of("GET /status HTTP/1.1\r\nHost: x\r\n\r") == "incomplete");
}

TEST_CASE("every proper prefix of a request is incomplete and the whole of it is ok") {
    const std::string request = "HEAD /metrics?x=1 HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\n\r\n";
    for (std::size_t size = 0; size < request.size(); ++size) {
        CAPTURE(size);
        CHECK(outcome_of(std::string_view(request).substr(0, size)) == "incomplete");
    }
    const AdminRequest whole = parse_admin_request(request);
    CHECK(outcome_name(whole.outcome) == std::string("ok"));
    CHECK(whole.head);
    CHECK(whole.path == "/metrics");
}

TEST_CASE("a garbage request line is a bad request") {
    CHECK(outcome_of("\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GARBAGE\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET /status\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET /status HTTP/1.1 extra\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET  /status HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET /status  HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET /status HTTP/1.1 \r\n\r\n") == "bad_request");
    CHECK(outcome_of(" /status HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GE(T /status HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("G\xc3\x89T /status HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET\t/status HTTP/1.1\r\n\r\n") == "bad_request");
    // The start of a TLS ClientHello.
    CHECK(outcome_of("\x16\x03\x01\x02\x01\xfc\x03\x03\r\n\r\n") == "bad_request");
}

TEST_CASE("a version other than HTTP/1.0 or HTTP/1.1 is a bad request") {
    CHECK(outcome_of("GET / HTTP/2.0\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.2\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTP/0.9\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / http/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1x\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTP/1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTPS/1.1\r\n\r\n") == "bad_request");
}

TEST_CASE("a target that does not start with '/' is a bad request") {
    CHECK(outcome_of("GET status HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET * HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET ?x=/status HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("HEAD healthz HTTP/1.0\r\n\r\n") == "bad_request");
}

TEST_CASE("control characters in the request line are a bad request") {
    CHECK(outcome_of("GET /sta\x01tus HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET /status\x7f HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET /sta\ttus HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET /sta\ntus HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET /sta\rtus HTTP/1.1\r\n\r\n") == "bad_request");
    // A bare LF does not end the request line.
    CHECK(outcome_of("GET /status HTTP/1.1\nHost: x\r\n\r\n") == "bad_request");
}

TEST_CASE("malformed header lines are a bad request") {
    CHECK(outcome_of("GET / HTTP/1.1\r\nHost\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1\r\n: value\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1\r\nHost : x\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1\r\nBad(Name): x\r\n\r\n") == "bad_request");
    // Obsolete line folding.
    CHECK(outcome_of("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n") == "bad_request");
    // Control characters in a value, bare CR or LF included.
    CHECK(outcome_of("GET / HTTP/1.1\r\nX-A: a\x01z\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1\r\nX-A: a\x7fz\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1\r\nX-A: a\nX-B: b\r\n\r\n") == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1\r\nX-A: a\rz\r\n\r\n") == "bad_request");
    // Only the bad line is bad; good lines before it do not save it.
    CHECK(outcome_of("GET / HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nnonsense\r\n\r\n") == "bad_request");
}

TEST_CASE("NUL bytes are a bad request, complete or not") {
    using namespace std::string_literals;
    CHECK(outcome_of("GET /sta\0tus HTTP/1.1\r\n\r\n"s) == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n"s) == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1\r\nX\0A: b\r\n\r\n"s) == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1\0\r\n\r\n"s) == "bad_request");
    // Before the head ends: no need to wait for the rest of something already invalid.
    CHECK(outcome_of("\0"s) == "bad_request");
    CHECK(outcome_of("GET /\0"s) == "bad_request");
    CHECK(outcome_of("GET / HTTP/1.1\r\nHost: \0"s) == "bad_request");
}

TEST_CASE("methods other than GET and HEAD are not implemented") {
    CHECK(outcome_of("POST /status HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}") == "not_implemented");
    CHECK(outcome_of("DELETE /status HTTP/1.1\r\n\r\n") == "not_implemented");
    CHECK(outcome_of("PUT /metrics HTTP/1.0\r\n\r\n") == "not_implemented");
    CHECK(outcome_of("OPTIONS / HTTP/1.1\r\n\r\n") == "not_implemented");
    CHECK(outcome_of("BREW /pot HTTP/1.1\r\n\r\n") == "not_implemented");
    // Methods are case-sensitive: "get" is some other method.
    CHECK(outcome_of("get /status HTTP/1.1\r\n\r\n") == "not_implemented");
    CHECK(outcome_of("Head /status HTTP/1.1\r\n\r\n") == "not_implemented");
    // A malformed request is a bad request whatever its method.
    CHECK(outcome_of("POST /status HTTP/3\r\n\r\n") == "bad_request");
    CHECK(outcome_of("DELETE status HTTP/1.1\r\n\r\n") == "bad_request");
    CHECK(outcome_of("POST / HTTP/1.1\r\nBad Header\r\n\r\n") == "bad_request");
}

TEST_CASE("an unfinished head of kMaxAdminRequestBytes or more is too large") {
    const std::string start = "GET /status HTTP/1.1\r\nX-Pad: ";
    const std::string just_under = start + std::string(kMaxAdminRequestBytes - 1 - start.size(), 'a');
    REQUIRE(just_under.size() == kMaxAdminRequestBytes - 1);
    CHECK(outcome_of(just_under) == "incomplete");
    CHECK(outcome_of(just_under + "a") == "too_large");
    CHECK(outcome_of(just_under + std::string(5000, 'a')) == "too_large");
    // Garbage or not, no end within the limit means the limit has been reached.
    CHECK(outcome_of(std::string(kMaxAdminRequestBytes, 'x')) == "too_large");
    CHECK(outcome_of(std::string(4 * kMaxAdminRequestBytes, '\r')) == "too_large");
}

TEST_CASE("a head that ends beyond kMaxAdminRequestBytes is too large") {
    CHECK(outcome_of(get_of_size(kMaxAdminRequestBytes)) == "ok");
    CHECK(outcome_of(get_of_size(kMaxAdminRequestBytes + 1)) == "too_large");
    CHECK(outcome_of(get_of_size(kMaxAdminRequestBytes + 4)) == "too_large");
    CHECK(outcome_of(get_of_size(3 * kMaxAdminRequestBytes)) == "too_large");
    // The limit is on the head: a request that fits and is followed by more bytes is still ok.
    CHECK(outcome_of("GET /status HTTP/1.1\r\n\r\n" + std::string(2 * kMaxAdminRequestBytes, 'b')) == "ok");
}

TEST_CASE("a head fed byte by byte up to the limit is incomplete, then too large") {
    // What the admin server sees from a client that never sends the blank line.
    std::string received = "GET /status HTTP/1.1\r\n";
    while (received.size() < kMaxAdminRequestBytes) {
        REQUIRE(outcome_of(received) == "incomplete");
        received += (received.size() % 64 == 0) ? "\r\nX:" : "y";
    }
    CHECK(outcome_of(received) == "too_large");
}

TEST_CASE("input that can never become a valid head is rejected without waiting for more") {
    CHECK(outcome_of("GARBAGE\r\n") == "bad_request");
    CHECK(outcome_of("GET /healthz HTTP/2\r\n") == "bad_request");
    CHECK(outcome_of("GET /healthz HTTP/1.0\n") == "bad_request");  // bare LF
    CHECK(outcome_of("GET / HTTP/1.1\r\nA: b\nc") == "bad_request");
    // A good request line with its headers still to come is only incomplete.
    CHECK(outcome_of("GET /healthz HTTP/1.1\r\n") == "incomplete");
    CHECK(outcome_of("GET /healthz HTTP/1.1\r\nHost: x\r\n") == "incomplete");
}

TEST_CASE("a request line whose CRLF straddles the size limit is too large however it arrives (found by fuzzing)") {
    const std::string request = std::string(8191, 'a') + "\r\n";
    CHECK(outcome_name(parse_admin_request(request.substr(0, kMaxAdminRequestBytes)).outcome) ==
          std::string("too_large"));
    CHECK(outcome_name(parse_admin_request(request).outcome) == std::string("too_large"));
    // One byte shorter, the line fits, and garbage is answered as soon as it is whole.
    CHECK(outcome_name(parse_admin_request(std::string(8190, 'a') + "\r\n").outcome) == std::string("bad_request"));
}
