// parse_request_head and BodyDiscarder on arbitrary bytes received from an HTTP client, read the
// way the service will: a head, its body, the next head, and so on.
// Properties:
// - a result is well-formed: an error carries one of the documented statuses; a complete head ends
//   in CRLFCRLF within the input, holds no NUL, bare LF or lone CR, and its views point into it
//   (the target may also be the "/" of an absolute-form target without a path); the target starts
//   with '/' (or is the "*" of OPTIONS) and holds no query, space or control byte;
// - the head agrees with a naive reading of its lines: framing matches the Content-Length and
//   Transfer-Encoding lines present, Host appears as the version requires, no more field lines than
//   max_headers;
// - the verdict does not depend on how TCP split the bytes: once a prefix is decided, the whole
//   input gets the same result; and an incomplete head is shorter than max_head;
// - a verdict reached within tight limits, other than the limits' own 414 and 431, is the same
//   under the default (larger) limits;
// - a body discarder consumes no more than it is given, and the same bytes whether they come at
//   once, in pieces or one at a time; a Content-Length body is exactly its length.
// Every parse reads its own exact-size copy of the bytes, so a read past them is an ASan report.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.hpp"
#include "fuzz/split_points.hpp"
#include "worker/http_request.hpp"

using namespace corral::http;

namespace {

constexpr HeadLimits kDefaultLimits{};
constexpr HeadLimits kTightLimits{.max_request_line = 64, .max_head = 256, .max_headers = 4};
constexpr std::uint64_t kSmallMaxBody = 64;
constexpr std::uint64_t kLargeMaxBody = 1 << 20;
constexpr int kMaxRequestsPerInput = 8;

// Bytes in a heap block of exactly their size.
class ExactCopy {
public:
    explicit ExactCopy(std::string_view bytes) : data_(new char[bytes.size()]), size_(bytes.size()) {
        std::copy(bytes.begin(), bytes.end(), data_.get());
    }
    std::string_view view() const { return {data_.get(), size_}; }

private:
    std::unique_ptr<char[]> data_;
    std::size_t size_;
};

std::string describe(const HeadResult& result) {
    switch (result.status) {
        case HeadStatus::incomplete: return "incomplete";
        case HeadStatus::error: return "error " + std::to_string(result.error_status);
        case HeadStatus::complete: break;
    }
    const RequestHead& head = result.head;
    return "complete " + std::to_string(result.length) + " " + std::string(head.method_text) + " " +
           std::string(head.target) + " HTTP/1." + std::to_string(head.minor_version) +
           (head.keep_alive ? " keep-alive" : " close") + (head.expect_continue ? " 100-continue" : "") +
           (head.body == BodyFraming::chunked          ? " chunked"
            : head.body == BodyFraming::content_length ? " length " + std::to_string(head.content_length)
                                                       : "");
}

// Where a view points relative to `base`, or -1 for a view outside it (the absolute-form "/").
std::ptrdiff_t offset_in(std::string_view view, std::string_view base) {
    if (view.data() < base.data() || view.data() > base.data() + base.size()) return -1;
    return view.data() - base.data();
}

// The same result for two parses of the same bytes at different addresses.
bool same(const HeadResult& a, std::string_view a_bytes, const HeadResult& b, std::string_view b_bytes) {
    if (a.status != b.status || a.error_status != b.error_status || a.length != b.length) return false;
    if (a.status != HeadStatus::complete) return true;
    const RequestHead& x = a.head;
    const RequestHead& y = b.head;
    return x.method == y.method && x.method_text == y.method_text && x.target == y.target &&
           offset_in(x.method_text, a_bytes) == offset_in(y.method_text, b_bytes) &&
           offset_in(x.target, a_bytes) == offset_in(y.target, b_bytes) && x.minor_version == y.minor_version &&
           x.keep_alive == y.keep_alive && x.expect_continue == y.expect_continue && x.body == y.body &&
           x.content_length == y.content_length;
}

bool inside(std::string_view view, std::string_view text) {
    return view.data() >= text.data() && view.data() + view.size() <= text.data() + text.size();
}

std::string lower(std::string_view text) {
    std::string lowered(text);
    for (char& c : lowered)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return lowered;
}

// The head read naively: lines split at CRLF, names lower-cased up to the first colon.
void check_against_lines(const HeadResult& result, std::string_view head_bytes, const HeadLimits& limits) {
    const RequestHead& head = result.head;
    std::vector<std::string_view> lines;
    for (std::string_view rest = head_bytes; !rest.empty();) {
        const std::size_t end = rest.find("\r\n");
        FUZZ_CHECK(end != std::string_view::npos, head_bytes);
        lines.push_back(rest.substr(0, end));
        rest.remove_prefix(end + 2);
    }
    std::size_t first = 0;
    while (first < lines.size() && lines[first].empty()) ++first;  // skipped empty lines
    FUZZ_CHECK(first + 1 < lines.size() && lines.back().empty(), head_bytes);
    const std::string_view request_line = lines[first];
    FUZZ_CHECK(request_line.size() + 2 <= limits.max_request_line, head_bytes);
    FUZZ_CHECK(request_line.starts_with(head.method_text) && request_line[head.method_text.size()] == ' ',
               request_line);
    FUZZ_CHECK(request_line.ends_with(head.minor_version == 0 ? " HTTP/1.0" : " HTTP/1.1"), request_line);

    const std::size_t field_lines = lines.size() - first - 2;
    FUZZ_CHECK(field_lines <= limits.max_headers, head_bytes);
    int content_length_lines = 0;
    int transfer_encoding_lines = 0;
    int host_lines = 0;
    int expect_lines = 0;
    int connection_lines = 0;
    for (std::size_t i = first + 1; i + 1 < lines.size(); ++i) {
        const std::string_view line = lines[i];
        const std::size_t colon = line.find(':');
        FUZZ_CHECK(colon != std::string_view::npos && colon > 0, line);
        const std::string name = lower(line.substr(0, colon));
        content_length_lines += name == "content-length";
        transfer_encoding_lines += name == "transfer-encoding";
        host_lines += name == "host";
        expect_lines += name == "expect";
        connection_lines += name == "connection";
    }
    const std::string detail = describe(result) + "\n" + std::string(head_bytes);
    FUZZ_CHECK(transfer_encoding_lines <= 1 && (transfer_encoding_lines == 0 || content_length_lines == 0), detail);
    FUZZ_CHECK((head.body == BodyFraming::chunked) == (transfer_encoding_lines == 1), detail);
    FUZZ_CHECK((head.body == BodyFraming::content_length) == (content_length_lines > 0), detail);
    FUZZ_CHECK(head.body != BodyFraming::chunked || head.minor_version == 1, detail);
    FUZZ_CHECK(head.body == BodyFraming::content_length || head.content_length == 0, detail);
    FUZZ_CHECK(head.minor_version == 1 ? host_lines == 1 : host_lines <= 1, detail);
    FUZZ_CHECK(!head.expect_continue || (expect_lines > 0 && head.minor_version == 1), detail);
    // HTTP/1.0 is kept alive only when asked, HTTP/1.1 closed only when asked.
    FUZZ_CHECK(head.keep_alive == (head.minor_version == 1) || connection_lines > 0, detail);
}

void check_result(const HeadResult& result, std::string_view bytes, const HeadLimits& limits) {
    const std::string detail = describe(result);
    switch (result.status) {
        case HeadStatus::incomplete:
            FUZZ_CHECK(result.length == 0 && result.error_status == 0, detail);
            FUZZ_CHECK(bytes.size() < limits.max_head, detail);
            return;
        case HeadStatus::error: {
            const int status = result.error_status;
            FUZZ_CHECK(status == 400 || status == 414 || status == 417 || status == 431 || status == 505, detail);
            FUZZ_CHECK(result.length == 0, detail);
            return;
        }
        case HeadStatus::complete: break;
    }
    FUZZ_CHECK(result.error_status == 0, detail);
    FUZZ_CHECK(result.length >= 4 && result.length <= bytes.size() && result.length <= limits.max_head, detail);
    const std::string_view head_bytes = bytes.substr(0, result.length);
    FUZZ_CHECK(head_bytes.ends_with("\r\n\r\n"), detail);
    for (std::size_t i = 0; i < head_bytes.size(); ++i) {
        FUZZ_CHECK(head_bytes[i] != '\0', detail);
        FUZZ_CHECK(head_bytes[i] != '\n' || (i > 0 && head_bytes[i - 1] == '\r'), detail);
        FUZZ_CHECK(head_bytes[i] != '\r' || (i + 1 < head_bytes.size() && head_bytes[i + 1] == '\n'), detail);
    }

    const RequestHead& head = result.head;
    FUZZ_CHECK(inside(head.method_text, head_bytes) && !head.method_text.empty(), detail);
    FUZZ_CHECK((head.method == Method::get) == (head.method_text == "GET"), detail);
    FUZZ_CHECK((head.method == Method::head) == (head.method_text == "HEAD"), detail);
    FUZZ_CHECK(head.minor_version == 0 || head.minor_version == 1, detail);
    const std::string_view target = head.target;
    FUZZ_CHECK(inside(target, head_bytes) || (target == "/" && offset_in(target, bytes) < 0), detail);
    if (target == "*") {
        FUZZ_CHECK(head.method_text == "OPTIONS", detail);
    } else {
        FUZZ_CHECK(!target.empty() && target.front() == '/', detail);
        FUZZ_CHECK(std::none_of(target.begin(), target.end(),
                                [](char c) { return c == '?' || static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }),
                   detail);
    }
    check_against_lines(result, head_bytes, limits);
}

HeadResult parse_checked(std::string_view bytes, const HeadLimits& limits) {
    const HeadResult result = parse_request_head(bytes, limits);
    check_result(result, bytes, limits);
    for (const std::size_t point : corral::fuzz::split_points(bytes, 12, 32, {limits.max_request_line, limits.max_head}, 2)) {
        const ExactCopy prefix(bytes.substr(0, point));
        const HeadResult early = parse_request_head(prefix.view(), limits);
        check_result(early, prefix.view(), limits);
        if (early.status == HeadStatus::incomplete) continue;
        FUZZ_CHECK(same(early, prefix.view(), result, bytes),
                   "the first " + std::to_string(point) + " bytes give " + describe(early) + ", all " +
                       std::to_string(bytes.size()) + " give " + describe(result));
    }
    return result;
}

std::string describe(const BodyDiscarder::Step& step) {
    return std::to_string(step.consumed) + (step.done ? " done" : "") +
           (step.error_status != 0 ? " error " + std::to_string(step.error_status) : "");
}

// Feeds `body` in pieces of `piece` bytes, each in its own exact-size copy, until the discarder is
// done or fails; returns the total as one step.
BodyDiscarder::Step feed_in_pieces(BodyDiscarder discarder, std::string_view body, std::size_t piece) {
    BodyDiscarder::Step total;
    std::size_t at = 0;
    do {
        const ExactCopy bytes(body.substr(at, piece));
        const BodyDiscarder::Step step = discarder.feed(bytes.view());
        FUZZ_CHECK(step.consumed <= bytes.view().size(), describe(step));
        FUZZ_CHECK(step.consumed == bytes.view().size() || step.done || step.error_status != 0, describe(step));
        total.consumed += step.consumed;
        total.done = step.done;
        total.error_status = step.error_status;
        at += step.consumed;
    } while (!total.done && total.error_status == 0 && at < body.size());
    return total;
}

bool same(const BodyDiscarder::Step& a, const BodyDiscarder::Step& b) {
    return a.consumed == b.consumed && a.done == b.done && a.error_status == b.error_status;
}

// Discards the body after `head` from `body`; returns how much of it was the body, or nothing when
// the body is not over within the bytes.
BodyDiscarder::Step discard_checked(const RequestHead& head, std::string_view body, std::uint64_t max_body) {
    const BodyDiscarder fresh(head.body, head.content_length, max_body);
    BodyDiscarder discarder = fresh;
    const BodyDiscarder::Step step = discarder.feed(body);
    const std::string detail = describe(step);
    FUZZ_CHECK(step.consumed <= body.size(), detail);
    FUZZ_CHECK(step.error_status == 0 || step.error_status == 400 || step.error_status == 413, detail);
    FUZZ_CHECK(!(step.done && step.error_status != 0), detail);
    // Once over, it stays over and takes nothing more.
    if (step.done || step.error_status != 0) {
        const BodyDiscarder::Step again = discarder.feed(body.substr(step.consumed));
        FUZZ_CHECK(again.consumed == 0 && again.done == step.done && again.error_status == step.error_status,
                   describe(again));
    }
    switch (head.body) {
        case BodyFraming::none: FUZZ_CHECK(step.done && step.consumed == 0, detail); break;
        case BodyFraming::content_length:
            if (head.content_length > max_body) {
                FUZZ_CHECK(step.error_status == 413 && step.consumed == 0, detail);
            } else {
                FUZZ_CHECK(step.consumed == std::min<std::uint64_t>(head.content_length, body.size()), detail);
                FUZZ_CHECK(step.done == (head.content_length <= body.size()), detail);
            }
            break;
        case BodyFraming::chunked:
            // The smallest chunked body is the last chunk and the final CRLF.
            FUZZ_CHECK(!step.done || (step.consumed >= 5 && body.substr(0, step.consumed).ends_with("\r\n")), detail);
            break;
    }
    for (const std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{64}}) {
        const BodyDiscarder::Step pieces = feed_in_pieces(fresh, body, piece);
        FUZZ_CHECK(same(pieces, step), "at once " + detail + ", in pieces of " + std::to_string(piece) + " " +
                                           describe(pieces));
    }
    return step;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    for (int request = 0; request < kMaxRequestsPerInput; ++request) {
        const HeadResult result = parse_checked(rest, kDefaultLimits);
        const HeadResult tight = parse_checked(rest, kTightLimits);
        const bool tight_limit_hit = tight.status == HeadStatus::error &&
                                     (tight.error_status == 414 || tight.error_status == 431);
        if (tight.status != HeadStatus::incomplete && !tight_limit_hit) {
            FUZZ_CHECK(same(tight, rest, result, rest),
                       "within tight limits " + describe(tight) + ", within the defaults " + describe(result));
        }
        if (result.status != HeadStatus::complete) break;

        rest.remove_prefix(result.length);
        const ExactCopy body(rest);
        discard_checked(result.head, body.view(), kSmallMaxBody);
        const BodyDiscarder::Step step = discard_checked(result.head, body.view(), kLargeMaxBody);
        if (!step.done) break;
        rest.remove_prefix(step.consumed);
    }
    return 0;
}
