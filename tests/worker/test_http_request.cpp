// parse_request_head and BodyDiscarder, rule by rule: the request line, versions, field syntax, the
// fields that decide framing and reuse, the smuggling cases, limits, and bytes that arrive in pieces.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "worker/http_request.hpp"

using namespace corral::http;

namespace {

constexpr std::string_view kHost = "Host: example.com\r\n";

// The verdict as text, so that a failed check shows what came back: "complete", "incomplete" or
// "error 400".
std::string verdict(const HeadResult& result) {
    switch (result.status) {
        case HeadStatus::incomplete: return "incomplete";
        case HeadStatus::complete: return "complete";
        case HeadStatus::error: return "error " + std::to_string(result.error_status);
    }
    return "?";
}

std::string verdict_of(std::string_view bytes, const HeadLimits& limits = {}) {
    return verdict(parse_request_head(bytes, limits));
}

// A complete head, or a failed test that says what came back instead.
RequestHead head_of(std::string_view bytes) {
    const HeadResult result = parse_request_head(bytes, {});
    REQUIRE(verdict(result) == "complete");
    CHECK(result.length == bytes.size());
    return result.head;
}

// An HTTP/1.1 GET of "/" with a Host and the given field lines (each ending in CRLF).
std::string get_with(std::string_view fields) {
    return "GET / HTTP/1.1\r\n" + std::string(kHost) + std::string(fields) + "\r\n";
}

std::string http_1_0_get_with(std::string_view fields) { return "GET / HTTP/1.0\r\n" + std::string(fields) + "\r\n"; }

bool same_head(const RequestHead& a, const RequestHead& b) {
    return a.method == b.method && a.method_text == b.method_text && a.target == b.target &&
           a.minor_version == b.minor_version && a.keep_alive == b.keep_alive &&
           a.expect_continue == b.expect_continue && a.body == b.body && a.content_length == b.content_length;
}

std::string step_text(const BodyDiscarder::Step& step) {
    if (step.error_status != 0) return "error " + std::to_string(step.error_status);
    return (step.done ? "done " : "more ") + std::to_string(step.consumed);
}

// Feeds a whole chunked body at once to a fresh discarder: "done N", "more N" or "error S".
std::string discard_chunked(std::string_view body, std::uint64_t max_body = 1 << 20) {
    BodyDiscarder discarder(BodyFraming::chunked, 0, max_body);
    return step_text(discarder.feed(body));
}

// The same, one byte per feed: the outcome must not depend on how the bytes arrived.
std::string discard_chunked_bytewise(std::string_view body, std::uint64_t max_body = 1 << 20) {
    BodyDiscarder discarder(BodyFraming::chunked, 0, max_body);
    std::size_t consumed = 0;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const BodyDiscarder::Step step = discarder.feed(body.substr(i, 1));
        consumed += step.consumed;
        if (step.error_status != 0) return "error " + std::to_string(step.error_status);
        if (step.done) return "done " + std::to_string(consumed);
    }
    return "more " + std::to_string(consumed);
}

// What discard_chunked says of a body that ends where `body` does.
std::string done_with(std::string_view body) { return "done " + std::to_string(body.size()); }

}  // namespace

// --- Request line ------------------------------------------------------------------------------

TEST_CASE("a complete GET: method, target, version, no body, kept alive") {
    const std::string bytes = "GET /healthz HTTP/1.1\r\nHost: example.com\r\nUser-Agent: probe/1.0\r\nAccept: */*\r\n\r\n";
    const RequestHead head = head_of(bytes);
    CHECK(head.method == Method::get);
    CHECK(head.method_text == "GET");
    CHECK(head.target == "/healthz");
    CHECK(head.minor_version == 1);
    CHECK(head.keep_alive);
    CHECK_FALSE(head.expect_continue);
    CHECK(head.body == BodyFraming::none);
    CHECK(head.content_length == 0);
}

TEST_CASE("the views point into the caller's bytes") {
    const std::string bytes = get_with("");
    const HeadResult result = parse_request_head(bytes, {});
    REQUIRE(verdict(result) == "complete");
    CHECK(result.head.method_text.data() == bytes.data());
    CHECK(result.head.target.data() == bytes.data() + 4);
}

TEST_CASE("HEAD and other methods; methods are case-sensitive tokens") {
    CHECK(head_of("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").method == Method::head);
    const RequestHead post = head_of("POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    CHECK(post.method == Method::other);
    CHECK(post.method_text == "POST");
    // Not GET: method names are case-sensitive (RFC 9110 §9.1), so the service answers 405.
    CHECK(head_of("get / HTTP/1.1\r\nHost: a\r\n\r\n").method == Method::other);
    CHECK(head_of("M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n").method_text == "M-SEARCH");
    CHECK(head_of("GETX / HTTP/1.1\r\nHost: a\r\n\r\n").method == Method::other);
    CHECK(verdict_of("G(T / HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
}

TEST_CASE("the query string is not part of the target") {
    CHECK(head_of("GET /status?pretty=1&x=2 HTTP/1.1\r\nHost: a\r\n\r\n").target == "/status");
    CHECK(head_of("GET /healthz? HTTP/1.1\r\nHost: a\r\n\r\n").target == "/healthz");
    CHECK(head_of("GET /?a=/b HTTP/1.1\r\nHost: a\r\n\r\n").target == "/");
    CHECK(head_of("GET /a?b?c HTTP/1.1\r\nHost: a\r\n\r\n").target == "/a");
    // Compared byte for byte: nothing is decoded.
    CHECK(head_of("GET /a%20b HTTP/1.1\r\nHost: a\r\n\r\n").target == "/a%20b");
    CHECK(head_of("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n").target == "/caf\xc3\xa9");
}

TEST_CASE("absolute-form targets give their path; the Host field is still required") {
    CHECK(head_of("GET http://example.com/healthz?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n").target == "/healthz");
    CHECK(head_of("GET HTTPS://example.com:8443/a/b HTTP/1.1\r\nHost: x\r\n\r\n").target == "/a/b");
    CHECK(head_of("GET http://[::1]:80/ HTTP/1.1\r\nHost: x\r\n\r\n").target == "/");
    // No path is the path "/".
    CHECK(head_of("GET http://example.com HTTP/1.1\r\nHost: x\r\n\r\n").target == "/");
    CHECK(head_of("GET http://example.com?q HTTP/1.1\r\nHost: x\r\n\r\n").target == "/");
    CHECK(verdict_of("GET http://example.com/ HTTP/1.1\r\n\r\n") == "error 400");

    CHECK(verdict_of("GET http:///path HTTP/1.1\r\nHost: x\r\n\r\n") == "error 400");  // no host
    CHECK(verdict_of("GET http://user@example.com/ HTTP/1.1\r\nHost: x\r\n\r\n") == "error 400");  // userinfo
    CHECK(verdict_of("GET ftp://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET http:/example.com/ HTTP/1.1\r\nHost: x\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET http HTTP/1.1\r\nHost: x\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET httpx://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET http://exa\"mple/ HTTP/1.1\r\nHost: x\r\n\r\n") == "error 400");
}

TEST_CASE("the asterisk target only for OPTIONS; authority-form is refused") {
    const RequestHead options = head_of("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(options.method == Method::other);
    CHECK(options.target == "*");
    CHECK(verdict_of("GET * HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("OPTIONS *?x HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    // Decided at the '*', without waiting for the rest of the line.
    CHECK(verdict_of("GET *") == "error 400");
    // We are no proxy: CONNECT's authority-form has no meaning here.
    CHECK(verdict_of("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET example.com/ HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET ?x HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
}

TEST_CASE("exactly one SP between the parts of the request line") {
    CHECK(verdict_of("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET /  HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of(" GET / HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET / HTTP/1.1 \r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    // HTTP/0.9's request line has no version: nothing we can answer.
    CHECK(verdict_of("GET /\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET\r\n\r\n") == "error 400");
}

TEST_CASE("targets hold no control bytes, DEL or NUL") {
    constexpr std::string_view with_nul("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 30);
    CHECK(verdict_of(std::string(with_nul)) == "error 400");
    CHECK(verdict_of("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET /a\x1b HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
}

// --- Versions --------------------------------------------------------------------------------

TEST_CASE("HTTP/1.0 and HTTP/1.1 are served") {
    CHECK(head_of("GET / HTTP/1.0\r\n\r\n").minor_version == 0);
    CHECK(head_of("GET / HTTP/1.1\r\nHost: a\r\n\r\n").minor_version == 1);
}

TEST_CASE("a well-formed version we do not speak is 505") {
    for (const char* version : {"HTTP/2.0", "HTTP/1.2", "HTTP/1.9", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9", "HTTP/0.0"}) {
        CAPTURE(version);
        CHECK(verdict_of("GET / " + std::string(version) + "\r\nHost: a\r\n\r\n") == "error 505");
    }
    // Decided when the request line ends, before any field is read.
    CHECK(verdict_of("GET / HTTP/2.0\r\n") == "error 505");
    CHECK(verdict_of("GET / HTTP/2.0\r") == "incomplete");
}

TEST_CASE("anything else in the version's place is 400") {
    for (const char* version :
         {"HTTP/1.10", "HTTP/11.1", "HTTP/1", "HTTP/1.", "HTTP/", "HTTP", "http/1.1", "Http/1.1", "HTTP/1.1x",
          "HTTP/a.b", "HTTP/1,1", "HTTP 1.1", "HTTP/+1.1", "HTTP/1.1/", "HTTPS/1.1"}) {
        CAPTURE(version);
        CHECK(verdict_of("GET / " + std::string(version) + "\r\nHost: a\r\n\r\n") == "error 400");
    }
    // Decided at the first byte that does not fit.
    CHECK(verdict_of("GET / HTTX") == "error 400");
    CHECK(verdict_of("GET / HTTP/1.1x") == "error 400");
}

// --- Line ends ---------------------------------------------------------------------------------

TEST_CASE("a bare LF ends no line: refused wherever it appears") {
    CHECK(verdict_of("GET / HTTP/1.1\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET / HTTP/1.1\r\nHost: a\n\r\n") == "error 400");
    CHECK(verdict_of("GET / HTTP/1.1\r\nHost: a\r\n\n") == "error 400");
    CHECK(verdict_of("GET / HTTP/1.0\n\n") == "error 400");
    CHECK(verdict_of("\nGET / HTTP/1.0\r\n\r\n") == "error 400");
    // Inside a value, where a lenient parser would start a new field.
    CHECK(verdict_of(get_with("X-A: 1\nContent-Length: 5\r\n")) == "error 400");
}

TEST_CASE("a CR not followed by LF is refused") {
    CHECK(verdict_of("GET / HTTP/1.1\rHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET / HTTP/1.1\r\nHost: a\r\n\rX") == "error 400");
    CHECK(verdict_of("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of(get_with("X-A: 1\rContent-Length: 5\r\n")) == "error 400");
}

TEST_CASE("empty lines before the request line are skipped and counted in the length") {
    const std::string bytes = "\r\n\r\nGET /a HTTP/1.1\r\nHost: a\r\n\r\n";
    const HeadResult result = parse_request_head(bytes, {});
    REQUIRE(verdict(result) == "complete");
    CHECK(result.length == bytes.size());
    CHECK(result.head.target == "/a");
    CHECK(result.head.method_text.data() == bytes.data() + 4);
    CHECK(verdict_of("\r\n") == "incomplete");
    CHECK(verdict_of("\r\n\r\n") == "incomplete");
    // An endless run of them is bounded by max_head.
    std::string endless;
    while (endless.size() < HeadLimits{}.max_head) endless += "\r\n";
    CHECK(verdict_of(endless) == "error 431");
}

// --- Field syntax ----------------------------------------------------------------------------

TEST_CASE("whitespace between a field name and its colon is refused") {
    CHECK(verdict_of(get_with("X-A : 1\r\n")) == "error 400");
    CHECK(verdict_of(get_with("X-A\t: 1\r\n")) == "error 400");
    CHECK(verdict_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == "error 400");
}

TEST_CASE("field names are tokens, not empty, followed by a colon") {
    CHECK(verdict_of(get_with(": 1\r\n")) == "error 400");
    CHECK(verdict_of(get_with("X-A 1\r\n")) == "error 400");
    CHECK(verdict_of(get_with("X-A\r\n")) == "error 400");
    CHECK(verdict_of(get_with("X(A): 1\r\n")) == "error 400");
    CHECK(verdict_of(get_with("X/A: 1\r\n")) == "error 400");
    CHECK(verdict_of(get_with("X\xc3\xa9: 1\r\n")) == "error 400");
    CHECK(verdict_of(get_with("X-Odd_Name!#$%&'*+-.^`|~: v\r\n")) == "complete");
}

TEST_CASE("obs-fold is refused, with a space or a tab") {
    CHECK(verdict_of(get_with("X-A: 1\r\n 2\r\n")) == "error 400");
    CHECK(verdict_of(get_with("X-A: 1\r\n\t2\r\n")) == "error 400");
    // Also as the first field line.
    CHECK(verdict_of("GET / HTTP/1.1\r\n Host: a\r\n\r\n") == "error 400");
    // Decided at the whitespace.
    CHECK(verdict_of("GET / HTTP/1.1\r\nHost: a\r\n ") == "error 400");
}

TEST_CASE("control bytes in values are refused, HTAB and obs-text are not") {
    CHECK(verdict_of(get_with(std::string("X-A: a\0b\r\n", 10))) == "error 400");
    CHECK(verdict_of(get_with("X-A: a\x7f\r\n")) == "error 400");
    CHECK(verdict_of(get_with("X-A: a\x0b\r\n")) == "error 400");
    CHECK(verdict_of(get_with("X-A: a\x1f\r\n")) == "error 400");
    CHECK(verdict_of(get_with("X-A: a\tb\r\n")) == "complete");
    CHECK(verdict_of(get_with("X-A: caf\xc3\xa9\r\n")) == "complete");
    CHECK(verdict_of(get_with("X-Empty:\r\n")) == "complete");
    CHECK(verdict_of(get_with("X-Empty:   \r\n")) == "complete");
    CHECK(verdict_of(get_with("X-A: \"quoted, with commas\"\r\n")) == "complete");
}

TEST_CASE("whitespace around a value is trimmed, and names are case-insensitive") {
    CHECK(head_of(get_with("Content-Length: \t 12 \t\r\n")).content_length == 12);
    CHECK(head_of(get_with("content-length:7\r\n")).content_length == 7);
    CHECK(head_of(get_with("CONTENT-LENGTH: 7\r\n")).content_length == 7);
    CHECK(head_of(get_with("transfer-ENCODING: chunked\r\n")).body == BodyFraming::chunked);
    CHECK_FALSE(head_of(get_with("CONNECTION: CLOSE\r\n")).keep_alive);
    CHECK(head_of("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n").method == Method::get);
}

// --- Content-Length --------------------------------------------------------------------------

TEST_CASE("Content-Length: digits only, up to 2^64 - 1") {
    const RequestHead head = head_of(get_with("Content-Length: 42\r\n"));
    CHECK(head.body == BodyFraming::content_length);
    CHECK(head.content_length == 42);
    const RequestHead zero = head_of(get_with("Content-Length: 0\r\n"));
    CHECK(zero.body == BodyFraming::content_length);
    CHECK(zero.content_length == 0);
    CHECK(head_of(get_with("Content-Length: 007\r\n")).content_length == 7);
    // Too large to serve is the discarder's 413, not a syntax error.
    CHECK(head_of(get_with("Content-Length: 18446744073709551615\r\n")).content_length == UINT64_MAX);

    for (const char* value : {"18446744073709551616", "99999999999999999999999", "", "-1", "+5", "0x10", "1 2",
                              "1.0", "5a", "five", "\"5\"", "1e3"}) {
        CAPTURE(value);
        CHECK(verdict_of(get_with("Content-Length: " + std::string(value) + "\r\n")) == "error 400");
    }
}

TEST_CASE("Content-Length repeated: the same value is one length, different values are refused") {
    CHECK(head_of(get_with("Content-Length: 5\r\nContent-Length: 5\r\n")).content_length == 5);
    CHECK(head_of(get_with("Content-Length: 5, 5\r\n")).content_length == 5);
    CHECK(head_of(get_with("Content-Length: 5,5,5\r\n")).content_length == 5);
    CHECK(head_of(get_with("Content-Length: 05, 5\r\n")).content_length == 5);
    CHECK(head_of(get_with("Content-Length: 5, 5\r\nContent-Length: 5\r\n")).content_length == 5);

    CHECK(verdict_of(get_with("Content-Length: 5\r\nContent-Length: 6\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Content-Length: 5, 6\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Content-Length: 5, 5\r\nContent-Length: 6\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Content-Length: 0\r\nContent-Length: 5\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Content-Length: 5,\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Content-Length: ,5\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Content-Length: 5,,5\r\n")) == "error 400");
}

// --- Transfer-Encoding -----------------------------------------------------------------------

TEST_CASE("Transfer-Encoding: chunked, alone, in HTTP/1.1") {
    const RequestHead head = head_of(get_with("Transfer-Encoding: chunked\r\n"));
    CHECK(head.body == BodyFraming::chunked);
    CHECK(head.content_length == 0);
    CHECK(head_of(get_with("Transfer-Encoding: Chunked\r\n")).body == BodyFraming::chunked);
    CHECK(head_of(get_with("Transfer-Encoding:\tchunked\t\r\n")).body == BodyFraming::chunked);
}

TEST_CASE("any other transfer coding list is refused") {
    for (const char* value : {"gzip, chunked", "chunked, identity", "identity, chunked", "chunked, chunked", "identity",
                              "gzip", "xchunked", "chunkedx", "chunked;q=1", "chunked ;", "\"chunked\"", "chunk",
                              "", ", chunked", "chunked,", "c h u n k e d"}) {
        CAPTURE(value);
        CHECK(verdict_of(get_with("Transfer-Encoding: " + std::string(value) + "\r\n")) == "error 400");
    }
    CHECK(verdict_of(get_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n")) == "error 400");
}

TEST_CASE("Transfer-Encoding in HTTP/1.0 is refused") {
    CHECK(verdict_of(http_1_0_get_with("Transfer-Encoding: chunked\r\n")) == "error 400");
    CHECK(verdict_of(http_1_0_get_with("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")) == "error 400");
}

// --- Request smuggling -----------------------------------------------------------------------

TEST_CASE("smuggling: Content-Length with Transfer-Encoding, in either order (CL.TE, TE.CL)") {
    const std::string cl_te = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "0\r\n\r\nSMUGGLED";
    CHECK(verdict_of(cl_te) == "error 400");
    const std::string te_cl = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                              "8\r\nSMUGGLED\r\n0\r\n\r\n";
    CHECK(verdict_of(te_cl) == "error 400");
    // Refused when the second of the two fields ends, before the head is over.
    CHECK(verdict_of("POST / HTTP/1.1\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n") == "error 400");
    CHECK(verdict_of(get_with("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n")) == "error 400");
}

TEST_CASE("smuggling: obfuscated Transfer-Encoding (TE.TE) is refused, not ignored") {
    for (const char* line : {
             "Transfer-Encoding : chunked\r\n",  // space before the colon
             "Transfer-Encoding\t: chunked\r\n",
             "Transfer-Encoding: xchunked\r\n",
             "Transfer-Encoding: chunked, identity\r\n",
             "Transfer-Encoding: identity\r\n",
             "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n",
             "Transfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n",
             "Transfer-Encoding:\x0b" "chunked\r\n",  // vertical tab
             "Transfer-Encoding:\x0c" "chunked\r\n",  // form feed
             "Transfer-Encoding: chunked\x0b\r\n",
             "Transfer-Encoding:\r\n chunked\r\n",  // obs-fold
             "X-A: 1\r\n Transfer-Encoding: chunked\r\n",
             "X-A: 1\nTransfer-Encoding: chunked\r\n",  // bare LF
             "X-A: 1\rTransfer-Encoding: chunked\r\n",  // bare CR
             "Transfer-Encoding: \"chunked\"\r\n",
             "Transfer-Encoding: chunked;\r\n",
             "Transfer-Encoding: ch\x00unked\r\n",
             "Transfer\x00-Encoding: chunked\r\n",
         }) {
        CAPTURE(line);
        const std::string with_body = get_with(line) + "0\r\n\r\n";
        CHECK(verdict_of(with_body) == "error 400");
    }
}

TEST_CASE("smuggling: look-alike names are other fields, and frame nothing") {
    // Some servers map '_' to '-'; a field name is compared as it is.
    CHECK(head_of(get_with("Transfer_Encoding: chunked\r\n")).body == BodyFraming::none);
    CHECK(head_of(get_with("Content_Length: 5\r\n")).body == BodyFraming::none);
    CHECK(head_of(get_with("X-Transfer-Encoding: chunked\r\n")).body == BodyFraming::none);
    CHECK(head_of(get_with("Content-Length-X: 5\r\n")).body == BodyFraming::none);
}

TEST_CASE("smuggling: duplicated and disguised Content-Length") {
    CHECK(verdict_of(get_with("Content-Length: 0\r\nContent-Length: 44\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Content-Length : 5\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Content-Length: 5\r\n Content-Length: 6\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Content-Length: +5\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Content-Length: 5\x0b\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Content-Length: 5\nX: 1\r\n")) == "error 400");
    CHECK(verdict_of(get_with("Content-Length: 1\r\nContent-Length: 01\r\n")) == "complete");
}

// --- Connection, Expect, Host ----------------------------------------------------------------

TEST_CASE("keep-alive: HTTP/1.1 unless close, HTTP/1.0 only with keep-alive") {
    CHECK(head_of(get_with("")).keep_alive);
    CHECK_FALSE(head_of(get_with("Connection: close\r\n")).keep_alive);
    CHECK(head_of(get_with("Connection: keep-alive\r\n")).keep_alive);
    CHECK_FALSE(head_of(get_with("Connection: keep-alive, close\r\n")).keep_alive);
    CHECK_FALSE(head_of(get_with("Connection: Upgrade, CLOSE\r\n")).keep_alive);
    CHECK_FALSE(head_of(get_with("Connection: x\r\nConnection: close\r\n")).keep_alive);
    CHECK_FALSE(head_of(get_with("Connection: ,,close,\r\n")).keep_alive);
    // Options are whole tokens.
    CHECK(head_of(get_with("Connection: closed\r\n")).keep_alive);
    CHECK(head_of(get_with("Connection: close-ish\r\n")).keep_alive);
    CHECK(head_of(get_with("Connection: \r\n")).keep_alive);

    CHECK_FALSE(head_of(http_1_0_get_with("")).keep_alive);
    CHECK(head_of(http_1_0_get_with("Connection: keep-alive\r\n")).keep_alive);
    CHECK(head_of(http_1_0_get_with("Connection: Keep-Alive\r\n")).keep_alive);
    CHECK_FALSE(head_of(http_1_0_get_with("Connection: keep-alive, close\r\n")).keep_alive);
    CHECK_FALSE(head_of(http_1_0_get_with("Connection: close\r\n")).keep_alive);
}

TEST_CASE("Expect: 100-continue in HTTP/1.1; other expectations are 417; HTTP/1.0 has none") {
    CHECK(head_of(get_with("Expect: 100-continue\r\nContent-Length: 5\r\n")).expect_continue);
    CHECK(head_of(get_with("Expect: 100-Continue\r\n")).expect_continue);
    CHECK_FALSE(head_of(get_with("")).expect_continue);
    CHECK_FALSE(head_of(get_with("Expect:\r\n")).expect_continue);
    CHECK(verdict_of(get_with("Expect: 200-ok\r\n")) == "error 417");
    CHECK(verdict_of(get_with("Expect: 100-continue, x\r\n")) == "error 417");
    CHECK(verdict_of(get_with("Expect: 100-continue;a=b\r\n")) == "error 417");
    CHECK(verdict_of(get_with("Expect: 100-continuex\r\n")) == "error 417");
    // A malformed head is 400 however it also fails its expectations.
    CHECK(verdict_of("GET / HTTP/1.1\r\nExpect: x\r\n\r\n") == "error 400");

    CHECK_FALSE(head_of(http_1_0_get_with("Expect: 100-continue\r\n")).expect_continue);
    CHECK(verdict_of(http_1_0_get_with("Expect: x\r\n")) == "complete");
}

TEST_CASE("Host: required once in HTTP/1.1, at most once in HTTP/1.0, and well-formed") {
    CHECK(verdict_of("GET / HTTP/1.1\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET / HTTP/1.0\r\n\r\n") == "complete");
    CHECK(verdict_of("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == "error 400");
    CHECK(verdict_of("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") == "error 400");
    // Refused when the second one ends.
    CHECK(verdict_of("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n") == "error 400");

    for (const char* host : {"example.com", "example.com:8080", "127.0.0.1:80", "[::1]:8080", "", "xn--caf-dma.example"}) {
        CAPTURE(host);
        CHECK(verdict_of("GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n") == "complete");
    }
    for (const char* host : {"a b", "user@example.com", "example.com/path", "a\tb", "caf\xc3\xa9", "a\"b", "a?b"}) {
        CAPTURE(host);
        CHECK(verdict_of("GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n") == "error 400");
    }
}

// --- Limits ----------------------------------------------------------------------------------

TEST_CASE("a request line of max_request_line bytes fits, one more is 414 before it ends") {
    const HeadLimits limits{.max_request_line = 64, .max_head = 1024, .max_headers = 10};
    const std::string start = "GET /";
    const std::string end = " HTTP/1.1\r\n";
    const std::string fitting = start + std::string(64 - start.size() - end.size(), 'a') + end;
    REQUIRE(fitting.size() == 64);
    CHECK(verdict_of(fitting + "Host: a\r\n\r\n", limits) == "complete");
    const std::string too_long = start + std::string(65 - start.size() - end.size(), 'a') + end;
    CHECK(verdict_of(too_long + "Host: a\r\n\r\n", limits) == "error 414");
    // Without its end: 414 once 64 bytes are seen, since the line cannot end within the limit.
    const std::string endless = start + std::string(100, 'a');
    CHECK(verdict_of(endless.substr(0, 63), limits) == "incomplete");
    CHECK(verdict_of(endless.substr(0, 64), limits) == "error 414");
    // Also a long method, or a line that ends in CR at the limit.
    CHECK(verdict_of(std::string(64, 'G'), limits) == "error 414");
    CHECK(verdict_of(fitting.substr(0, 62) + "\r", limits) == "incomplete");
    CHECK(verdict_of(too_long.substr(0, 64), limits) == "error 414");
    // A syntax error before the limit is still 400.
    CHECK(verdict_of("GET /\x01" + std::string(100, 'a'), limits) == "error 400");
}

TEST_CASE("the default request line limit is 8192 bytes") {
    const std::string start = "GET /";
    const std::string end = " HTTP/1.1\r\n";
    const std::string fitting = start + std::string(8192 - start.size() - end.size(), 'a') + end;
    CHECK(verdict_of(fitting + "Host: a\r\n\r\n") == "complete");
    CHECK(verdict_of(start + std::string(9000, 'a')) == "error 414");
}

TEST_CASE("a head of max_head bytes fits, one more is 431 before it ends") {
    const HeadLimits limits{.max_request_line = 64, .max_head = 128, .max_headers = 10};
    const std::string start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
    const std::string end = "\r\n\r\n";
    const std::string fitting = start + std::string(128 - start.size() - end.size(), 'a') + end;
    REQUIRE(fitting.size() == 128);
    CHECK(verdict_of(fitting, limits) == "complete");
    const std::string too_large = start + std::string(129 - start.size() - end.size(), 'a') + end;
    CHECK(verdict_of(too_large, limits) == "error 431");
    CHECK(verdict_of(too_large.substr(0, 127), limits) == "incomplete");
    CHECK(verdict_of(too_large.substr(0, 128), limits) == "error 431");
    // Bytes after a head that fits do not count.
    CHECK(verdict_of(fitting + std::string(1000, 'x'), limits) == "complete");
}

TEST_CASE("the default head limit is 16384 bytes") {
    std::string head = "GET / HTTP/1.1\r\nHost: a\r\n";
    while (head.size() < 16000) head += "X-Pad: " + std::string(181, 'a') + "\r\n";
    CHECK(verdict_of(head + "\r\n") == "complete");
    CHECK(verdict_of(head + "X-Last: " + std::string(500, 'a')) == "error 431");
}

TEST_CASE("max_headers field lines fit, the first byte of one more is 431") {
    const HeadLimits limits{.max_request_line = 64, .max_head = 1024, .max_headers = 3};
    const std::string three = "GET / HTTP/1.1\r\nHost: a\r\nX-B: 2\r\nX-C: 3\r\n";
    CHECK(verdict_of(three + "\r\n", limits) == "complete");
    CHECK(verdict_of(three + "X-D: 4\r\n\r\n", limits) == "error 431");
    CHECK(verdict_of(three + "X", limits) == "error 431");
    CHECK(verdict_of(three + "\r", limits) == "incomplete");
    // The default is 100.
    std::string hundred = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 1; i < 100; ++i) hundred += "X-" + std::to_string(i) + ": v\r\n";
    CHECK(verdict_of(hundred + "\r\n") == "complete");
    CHECK(verdict_of(hundred + "X-100: v\r\n\r\n") == "error 431");
}

// --- Bytes in pieces and pipelining --------------------------------------------------------

TEST_CASE("every prefix of a valid request is incomplete, the whole is complete with one result") {
    const std::vector<std::string> requests{
        "GET /healthz?probe=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: probe\r\nConnection: close\r\n\r\n",
        "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nExpect: 100-continue\r\n\r\n",
        "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        "\r\nHEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
    };
    for (const std::string& request : requests) {
        CAPTURE(request);
        const HeadResult whole = parse_request_head(request, {});
        REQUIRE(verdict(whole) == "complete");
        CHECK(whole.length == request.size());
        for (std::size_t size = 0; size < request.size(); ++size) {
            CAPTURE(size);
            // Its own copy, so that a read past the prefix would read other bytes than the request's.
            const std::string prefix = request.substr(0, size) + std::string(64, '\x01');
            CHECK(verdict_of(std::string_view(prefix).substr(0, size)) == "incomplete");
        }
        const std::string with_more = request + "GARBAGE";
        const HeadResult again = parse_request_head(with_more, {});
        REQUIRE(verdict(again) == "complete");
        CHECK(again.length == whole.length);
        CHECK(same_head(again.head, whole.head));
    }
}

TEST_CASE("once an error is decided, more bytes do not change it") {
    const std::vector<std::string> requests{
        "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
    };
    for (const std::string& request : requests) {
        CAPTURE(request);
        const std::string final_verdict = verdict_of(request);
        REQUIRE(final_verdict.starts_with("error"));
        bool decided = false;
        for (std::size_t size = 0; size <= request.size(); ++size) {
            const std::string at = verdict_of(std::string_view(request).substr(0, size));
            CAPTURE(size);
            if (decided) CHECK(at == final_verdict);
            if (at != "incomplete") {
                CHECK(at == final_verdict);
                decided = true;
            }
        }
    }
}

TEST_CASE("pipelined requests are parsed one after the other from the length") {
    const std::string first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
    const std::string second = "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
    const std::string body = "hello";
    const std::string third = "PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string chunked = "3\r\nabc\r\n0\r\n\r\n";
    const std::string fourth = "HEAD /d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    const std::string received = first + second + body + third + chunked + fourth;

    std::string_view rest = received;
    std::vector<std::string> targets;
    while (!rest.empty()) {
        const HeadResult result = parse_request_head(rest, {});
        REQUIRE(verdict(result) == "complete");
        targets.emplace_back(result.head.target);
        rest.remove_prefix(result.length);
        BodyDiscarder discarder(result.head.body, result.head.content_length, 1024);
        const BodyDiscarder::Step step = discarder.feed(rest);
        REQUIRE(step.done);
        rest.remove_prefix(step.consumed);
    }
    CHECK(targets == std::vector<std::string>{"/a", "/b", "/c", "/d"});
}

// --- BodyDiscarder -----------------------------------------------------------------------------

TEST_CASE("no body: done at once, nothing consumed") {
    BodyDiscarder discarder(BodyFraming::none, 0, 0);
    CHECK(step_text(discarder.feed("")) == "done 0");
    CHECK(step_text(discarder.feed("GET / HTTP/1.1\r\n")) == "done 0");
}

TEST_CASE("Content-Length: exactly that many bytes, in any number of feeds") {
    BodyDiscarder discarder(BodyFraming::content_length, 10, 100);
    CHECK(step_text(discarder.feed("")) == "more 0");
    CHECK(step_text(discarder.feed("abcd")) == "more 4");
    CHECK(step_text(discarder.feed("efgh")) == "more 4");
    CHECK(step_text(discarder.feed("ijGET /")) == "done 2");
    CHECK(step_text(discarder.feed("GET /")) == "done 0");

    BodyDiscarder empty(BodyFraming::content_length, 0, 0);
    CHECK(step_text(empty.feed("GET")) == "done 0");
    BodyDiscarder at_limit(BodyFraming::content_length, 100, 100);
    CHECK(step_text(at_limit.feed(std::string(150, 'x'))) == "done 100");
}

TEST_CASE("Content-Length over max_body is 413 before any byte is read") {
    BodyDiscarder discarder(BodyFraming::content_length, 101, 100);
    CHECK(step_text(discarder.feed("")) == "error 413");
    CHECK(step_text(discarder.feed("abc")) == "error 413");
    BodyDiscarder huge(BodyFraming::content_length, UINT64_MAX, 1 << 20);
    CHECK(step_text(huge.feed("abc")) == "error 413");
}

TEST_CASE("chunked: chunks, the last chunk, the final CRLF; what follows is left alone") {
    const std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    CHECK(discard_chunked(body) == "done " + std::to_string(body.size()));
    CHECK(discard_chunked(body + "GET / HTTP/1.1\r\n") == "done " + std::to_string(body.size()));
    CHECK(discard_chunked_bytewise(body) == "done " + std::to_string(body.size()));
    CHECK(discard_chunked("0\r\n\r\n") == "done 5");
    CHECK(discard_chunked("a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n") == "done 35");
    CHECK(discard_chunked("5\r\nhel") == "more 6");
    CHECK(discard_chunked("") == "more 0");
}

TEST_CASE("chunked: once done or failed, nothing more is taken") {
    BodyDiscarder discarder(BodyFraming::chunked, 0, 100);
    CHECK(step_text(discarder.feed("0\r\n\r\n")) == "done 5");
    CHECK(step_text(discarder.feed("0\r\n\r\n")) == "done 0");
    BodyDiscarder failed(BodyFraming::chunked, 0, 100);
    CHECK(step_text(failed.feed("x")) == "error 400");
    CHECK(step_text(failed.feed("0\r\n\r\n")) == "error 400");
}

TEST_CASE("chunked: sizes are 1 to 16 hex digits, case-insensitive, leading zeros allowed") {
    CHECK(discard_chunked("F\r\n" + std::string(15, 'x') + "\r\n0\r\n\r\n") == "done 25");
    CHECK(discard_chunked("0f\r\n" + std::string(15, 'x') + "\r\n0\r\n\r\n") == "done 26");
    CHECK(discard_chunked("000000000000000f\r\n" + std::string(15, 'x') + "\r\n0\r\n\r\n") == "done 40");
    CHECK(discard_chunked("0000000000000000\r\n\r\n") == "done 20");
    CHECK(discard_chunked("00000000000000000\r\n\r\n") == "error 400");
    for (const char* size_line : {"\r\n", "x\r\n", "-1\r\n", "+5\r\n", "0x5\r\n", " 5\r\n", "5\n", "5\rx", "g\r\n",
                                  "5 \r\n", "5\t\r\n", "5 x\r\n"}) {
        CAPTURE(size_line);
        CHECK(discard_chunked(size_line) == "error 400");
    }
}

TEST_CASE("chunked: the data must be followed by exactly CRLF") {
    CHECK(discard_chunked("5\r\nhello!\r\n0\r\n\r\n") == "error 400");
    CHECK(discard_chunked("5\r\nhell\r\n0\r\n\r\n") == "error 400");
    CHECK(discard_chunked("5\r\nhello\n0\r\n\r\n") == "error 400");
    CHECK(discard_chunked("5\r\nhello\r0\r\n\r\n") == "error 400");
    CHECK(discard_chunked("5\r\nhello0\r\n\r\n") == "error 400");
}

TEST_CASE("chunked: extensions are skipped, control bytes in them refused") {
    for (const char* body : {"5;name=value\r\nhello\r\n0;last\r\n\r\n", "5 ; a=\"quoted; value\"\r\nhello\r\n0\r\n\r\n",
                             "5\t;a\r\nhello\r\n0\r\n\r\n", "5;\r\nhello\r\n0\r\n\r\n", "5;a;b=c;d\r\nhello\r\n0\r\n\r\n"}) {
        CAPTURE(body);
        CHECK(discard_chunked(body) == done_with(body));
    }
    CHECK(discard_chunked("5;a\nhello\r\n0\r\n\r\n") == "error 400");
    CHECK(discard_chunked("5;a\rhello\r\n0\r\n\r\n") == "error 400");
    CHECK(discard_chunked(std::string("5;a\0b\r\nhello\r\n0\r\n\r\n", 19)) == "error 400");
    CHECK(discard_chunked("5;a\x7f\r\nhello\r\n0\r\n\r\n") == "error 400");
}

TEST_CASE("chunked: trailer fields are checked like header fields, then ignored") {
    const std::string_view with_trailers = "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n";
    CHECK(discard_chunked(with_trailers) == done_with(with_trailers));
    CHECK(discard_chunked("0\r\nX-A: 1\r\n 2\r\n\r\n") == "error 400");  // obs-fold
    CHECK(discard_chunked("0\r\nX-A : 1\r\n\r\n") == "error 400");
    CHECK(discard_chunked("0\r\nX-A 1\r\n\r\n") == "error 400");
    CHECK(discard_chunked("0\r\n: 1\r\n\r\n") == "error 400");
    CHECK(discard_chunked("0\r\nX-A: 1\n\r\n") == "error 400");
    CHECK(discard_chunked("0\r\nX-A: 1\r\n\n") == "error 400");
    CHECK(discard_chunked("0\r\nX-A: 1\x01\r\n\r\n") == "error 400");
    CHECK(discard_chunked("0\r\n\rx") == "error 400");
    CHECK(discard_chunked("0\r\nX-A: 1\r\n") == "more 11");
}

TEST_CASE("chunked: data over max_body is 413, judged as the size's digits arrive") {
    CHECK(discard_chunked("64\r\n" + std::string(100, 'x') + "\r\n0\r\n\r\n", 100) == "done 111");
    CHECK(discard_chunked("65\r\n", 100) == "error 413");
    // Across chunks.
    CHECK(discard_chunked("32\r\n" + std::string(50, 'x') + "\r\n33\r\n", 100) == "error 413");
    // The largest sizes do not overflow.
    CHECK(discard_chunked("ffffffffffffffff\r\n", UINT64_MAX) == "more 18");
    CHECK(discard_chunked("fffffffffffffff", 1 << 20) == "error 413");
    BodyDiscarder discarder(BodyFraming::chunked, 0, 100);
    CHECK(step_text(discarder.feed("6")) == "more 1");
    CHECK(step_text(discarder.feed("4")) == "more 1");
    CHECK(step_text(discarder.feed("0")) == "error 413");
}

TEST_CASE("chunked: extensions and trailers together are bounded") {
    const std::size_t bound = BodyDiscarder::kMaxChunkedMetadata;
    // ";" and the extension count; the size digits, CRLF and data do not.
    const std::string fitting = "1;" + std::string(bound - 1, 'e') + "\r\nx\r\n0\r\n\r\n";
    CHECK(discard_chunked(fitting) == "done " + std::to_string(fitting.size()));
    CHECK(discard_chunked("1;" + std::string(bound, 'e') + "\r\nx\r\n0\r\n\r\n") == "error 413");
    // Spread over many chunks and the trailer section.
    std::string spread;
    for (int i = 0; i < 100; ++i) spread += "1;" + std::string(99, 'e') + "\r\nx\r\n";
    CHECK(discard_chunked(spread + "0\r\n\r\n") == "done " + std::to_string(spread.size() + 5));
    std::string trailers;
    while (trailers.size() < bound) trailers += "X-T: " + std::string(95, 'v') + "\r\n";
    CHECK(discard_chunked("0\r\n" + trailers + "\r\n") == "error 413");
    CHECK(discard_chunked(spread + "0\r\n" + trailers.substr(0, trailers.size() - 10000) + "\r\n") == "error 413");
}

TEST_CASE("chunked: the same outcome whether the bytes come at once or one at a time") {
    const std::vector<std::string> bodies{
        "5\r\nhello\r\n0\r\n\r\n",
        "5;ext=1\r\nhello\r\n0\r\nX-T: v\r\n\r\nGET",
        "5\r\nhello!\r\n",
        "65\r\n",
        "0\r\nX-A 1\r\n",
        "3\r\nabc\r\n",
    };
    for (const std::string& body : bodies) {
        CAPTURE(body);
        CHECK(discard_chunked(body, 100) == discard_chunked_bytewise(body, 100));
    }
}
