// parse_admin_request and admin_response on arbitrary bytes received from an admin client.
// Properties:
// - an accepted request has a path that starts with '/' and holds no query, space or control byte;
//   a refused one carries no path;
// - the verdict does not depend on how TCP split the bytes: once a prefix of the input is decided
//   (anything but incomplete), the whole input gets the same verdict, since the server answers the
//   first decided prefix it happens to read;
// - the response is one well-formed HTTP/1.1 head whose status matches the verdict and whose
//   Content-Length is the body's (HEAD: the body it would have had).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.hpp"
#include "fuzz/split_points.hpp"
#include "master/admin.hpp"
#include "master/admin_request.hpp"

using namespace corral;

namespace {

class FixedContent final : public AdminContent {
public:
    bool serving() const override { return true; }
    std::string status_json() const override { return R"({"state":"running","workers":[]})"; }
    std::string metrics_text() const override { return "# TYPE corral_workers gauge\ncorral_workers 1\n"; }
};

const char* name(AdminRequest::Outcome outcome) {
    switch (outcome) {
        case AdminRequest::Outcome::incomplete: return "incomplete";
        case AdminRequest::Outcome::ok: return "ok";
        case AdminRequest::Outcome::bad_request: return "bad_request";
        case AdminRequest::Outcome::too_large: return "too_large";
        case AdminRequest::Outcome::not_implemented: return "not_implemented";
    }
    return "?";
}

std::string describe(const AdminRequest& request) {
    std::string text = name(request.outcome);
    if (request.outcome == AdminRequest::Outcome::ok) text += (request.head ? " HEAD " : " GET ") + request.path;
    return text;
}

bool same(const AdminRequest& a, const AdminRequest& b) {
    return a.outcome == b.outcome && a.head == b.head && a.path == b.path;
}

void check_request(const AdminRequest& request) {
    if (request.outcome != AdminRequest::Outcome::ok) {
        FUZZ_CHECK(request.path.empty() && !request.head, describe(request));
        return;
    }
    const std::string& path = request.path;
    FUZZ_CHECK(!path.empty() && path.front() == '/', path);
    FUZZ_CHECK(path.find('?') == std::string::npos, path);
    FUZZ_CHECK(std::none_of(path.begin(), path.end(),
                            [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }),
               path);
}

int expected_status(const AdminRequest& request) {
    switch (request.outcome) {
        case AdminRequest::Outcome::incomplete:
        case AdminRequest::Outcome::bad_request: return 400;
        case AdminRequest::Outcome::too_large: return 431;
        case AdminRequest::Outcome::not_implemented: return 501;
        case AdminRequest::Outcome::ok: break;
    }
    if (request.path == "/healthz" || request.path == "/status" || request.path == "/metrics") return 200;
    return 404;
}

void check_response(const AdminRequest& request, const std::string& response) {
    const std::string status = std::to_string(expected_status(request));
    FUZZ_CHECK(response.starts_with("HTTP/1.1 " + status + " "), describe(request) + " -> " + response);
    const std::size_t head_end = response.find("\r\n\r\n");
    FUZZ_CHECK(head_end != std::string::npos, response);
    const std::string_view head = std::string_view(response).substr(0, head_end + 2);
    const std::string_view body = std::string_view(response).substr(head_end + 4);
    // Every line of the head ends in CRLF and nothing else breaks a line.
    for (std::size_t i = 0; i < head.size(); ++i)
        FUZZ_CHECK(head[i] != '\n' || (i > 0 && head[i - 1] == '\r'), response);
    constexpr std::string_view kLength = "\r\nContent-Length: ";
    const std::size_t length_at = head.find(kLength);
    FUZZ_CHECK(length_at != std::string_view::npos, response);
    FUZZ_CHECK(head.find(kLength, length_at + 1) == std::string_view::npos, response);
    const std::size_t digits_at = length_at + kLength.size();
    const std::string_view digits = head.substr(digits_at, head.find("\r\n", digits_at) - digits_at);
    const bool head_only = request.outcome == AdminRequest::Outcome::ok && request.head;
    if (head_only) {
        FUZZ_CHECK(body.empty(), response);
        FUZZ_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos, response);
    } else {
        FUZZ_CHECK(digits == std::to_string(body.size()), response);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view received(reinterpret_cast<const char*>(data), size);
    const AdminRequest request = parse_admin_request(received);
    check_request(request);

    for (const std::size_t point : fuzz::split_points(received, 16, 64, {kMaxAdminRequestBytes}, 4)) {
        const AdminRequest early = parse_admin_request(received.substr(0, point));
        check_request(early);
        if (early.outcome == AdminRequest::Outcome::incomplete) continue;
        FUZZ_CHECK(same(early, request), "the first " + std::to_string(point) + " bytes give " +
                                             describe(early) + ", all " + std::to_string(size) +
                                             " give " + describe(request));
    }

    static const FixedContent content;
    check_response(request, admin_response(received, content));
    return 0;
}
