// The request head is read in one pass, byte by byte, with the decision for each byte taken from
// the bytes before it; that is what makes the verdict independent of how TCP split the bytes. The
// fields that decide framing and connection reuse are checked when their line ends, the rules that
// need the whole head (Host, expectations) at its end.
//
// Strict where a lenient reading could frame a request differently from a proxy in front of us
// (request smuggling): line ends are CRLF only, whitespace appears only where the grammar allows it,
// and Content-Length and Transfer-Encoding must each have exactly one meaning.
#include "worker/http_request.hpp"

#include <array>
#include <limits>

#include "common/ascii.hpp"
#include "common/http_syntax.hpp"

namespace corral::http {
namespace {

constexpr int kBadRequest = 400;
constexpr int kExpectationFailed = 417;
constexpr int kContentTooLarge = 413;
constexpr int kUriTooLong = 414;
constexpr int kFieldsTooLarge = 431;
constexpr int kVersionNotSupported = 505;

// Character classes of RFC 9110 §5.6, one table lookup per byte.
enum CharClass : std::uint8_t {
    kToken = 1,  // tchar
    kFieldContent = 2,  // VCHAR, obs-text, SP, HTAB: what a field value may hold
    kTargetChar = 4,  // a byte of a request target: anything visible, as the service compares bytes
    kHostChar = 8,  // reg-name, IP-literal and port of an authority (RFC 3986): no userinfo, no path
};

constexpr std::array<std::uint8_t, 256> make_char_classes() {
    std::array<std::uint8_t, 256> classes{};
    for (int c = 0; c < 256; ++c) {
        std::uint8_t bits = 0;
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (is_http_token_char(static_cast<char>(c))) bits |= kToken;
        if ((c >= 0x21 && c != 0x7f) || c == ' ' || c == '\t') bits |= kFieldContent;
        if (c >= 0x21 && c != 0x7f) bits |= kTargetChar;
        if (alnum || std::string_view("-._~!$&'()*+,;=%:[]").find(static_cast<char>(c)) != std::string_view::npos)
            bits |= kHostChar;
        classes[static_cast<std::size_t>(c)] = bits;
    }
    return classes;
}

constexpr std::array<std::uint8_t, 256> kCharClasses = make_char_classes();

bool is(char c, CharClass char_class) { return (kCharClasses[static_cast<unsigned char>(c)] & char_class) != 0; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Field names, codings and connection options are case-insensitive; `lower` is written in lower case.
bool equals_ignoring_case(std::string_view text, std::string_view lower) {
    if (text.size() != lower.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i)
        if (ascii_lower(text[i]) != lower[i]) return false;
    return true;
}

bool is_whitespace(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_whitespace(std::string_view text) {
    while (!text.empty() && is_whitespace(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_whitespace(text.back())) text.remove_suffix(1);
    return text;
}

// Calls on_element(element) for each element of a comma-separated list (RFC 9110 §5.6.1), whitespace
// trimmed; empty elements are skipped, as the RFC asks of a recipient.
template <typename OnElement>
void for_each_list_element(std::string_view list, OnElement on_element) {
    while (true) {
        const std::size_t comma = list.find(',');
        const std::string_view element = trim_whitespace(list.substr(0, comma));
        if (!element.empty()) on_element(element);
        if (comma == std::string_view::npos) return;
        list.remove_prefix(comma + 1);
    }
}

// 1*DIGIT without overflow.
bool parse_decimal(std::string_view digits, std::uint64_t& value) {
    if (digits.empty()) return false;
    value = 0;
    for (const char c : digits) {
        if (!is_digit(c)) return false;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
        value = value * 10 + digit;
    }
    return true;
}

// A Content-Length value: one decimal, or the same decimal repeated as a list ("5, 5"), which
// RFC 9110 §8.6 lets a recipient read as that decimal. Anything else is invalid framing.
bool parse_content_length(std::string_view value, std::uint64_t& length) {
    bool any = false;
    bool consistent = true;
    // Empty elements are not skipped here: "5,,5" or "5," is no repetition of a decimal.
    while (true) {
        const std::size_t comma = value.find(',');
        std::uint64_t element = 0;
        if (!parse_decimal(trim_whitespace(value.substr(0, comma)), element)) return false;
        if (any && element != length) consistent = false;
        length = element;
        any = true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return consistent;
}

// A Host value or the authority of an absolute-form target: host and optional port, no userinfo
// (RFC 9110 §4.2.4 asks a recipient to treat userinfo as an error). Empty is allowed for Host
// (RFC 9112 §3.2), not for a target's authority (RFC 9110 §4.2.1).
bool valid_authority(std::string_view authority) {
    for (const char c : authority)
        if (!is(c, kHostChar)) return false;
    return true;
}

// Where the parse of a head ended when it did not end complete.
struct Stop {
    HeadStatus status;
    int error_status;
};

class HeadParser {
public:
    HeadParser(std::string_view bytes, const HeadLimits& limits) : bytes_(bytes), limits_(limits) {}

    HeadResult parse() {
        HeadResult result;
        if (!parse_request_line() || !parse_fields() || !finish_head()) {
            result.status = stop_.status;
            result.error_status = stop_.error_status;
            return result;
        }
        result.status = HeadStatus::complete;
        result.length = position_;
        result.head = head_;
        return result;
    }

private:
    // Takes the next byte. False when there is none (incomplete) or when taking it would cross a
    // limit: the limits are judged before the end of the bytes, so a head that cannot fit any more
    // is refused without waiting for a byte that would prove it.
    bool take(char& c) {
        if (in_request_line_ && position_ - line_start_ >= limits_.max_request_line) return fail(kUriTooLong);
        if (position_ >= limits_.max_head) return fail(kFieldsTooLarge);
        if (position_ == bytes_.size()) {
            stop_ = {HeadStatus::incomplete, 0};
            return false;
        }
        c = bytes_[position_++];
        return true;
    }

    bool fail(int status) {
        stop_ = {HeadStatus::error, status};
        return false;
    }

    // After a CR, only LF: a CR alone is no line end (RFC 9112 §2.2).
    bool take_lf() {
        char c = 0;
        if (!take(c)) return false;
        return c == '\n' || fail(kBadRequest);
    }

    bool parse_request_line() {
        char c = 0;
        // RFC 9112 §2.2: ignore empty lines before the request line (some clients send CRLF after a
        // body). They count towards max_head, so an endless run of them ends in 431.
        while (true) {
            line_start_ = position_;
            in_request_line_ = true;
            if (!take(c)) return false;
            if (c != '\r') break;
            in_request_line_ = false;
            if (!take_lf()) return false;
        }

        const std::size_t method_start = position_ - 1;
        while (c != ' ') {
            if (!is(c, kToken)) return fail(kBadRequest);
            if (!take(c)) return false;
        }
        head_.method_text = bytes_.substr(method_start, position_ - 1 - method_start);
        if (head_.method_text.empty()) return fail(kBadRequest);
        head_.method = head_.method_text == "GET"    ? Method::get
                       : head_.method_text == "HEAD" ? Method::head
                                                     : Method::other;

        if (!parse_target()) return false;
        if (!parse_version()) return false;
        in_request_line_ = false;
        return true;
    }

    // The target up to the SP that ends it (exactly one SP: a second one is no target byte).
    bool parse_target() {
        char c = 0;
        if (!take(c)) return false;
        const std::size_t start = position_ - 1;
        // The first byte tells the form, so that garbage is refused at once.
        if (c == '*') {
            // asterisk-form, only for a server-wide OPTIONS (RFC 9112 §3.2.4).
            if (head_.method_text != "OPTIONS") return fail(kBadRequest);
            if (!take(c)) return false;
            if (c != ' ') return fail(kBadRequest);
            head_.target = bytes_.substr(start, 1);
            return true;
        }
        const bool origin_form = c == '/';
        // Otherwise absolute-form, which starts with a scheme; authority-form (CONNECT) is not
        // served: we are no proxy.
        if (!origin_form && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return fail(kBadRequest);
        while (c != ' ') {
            if (!is(c, kTargetChar)) return fail(kBadRequest);
            if (!take(c)) return false;
        }
        const std::string_view target = bytes_.substr(start, position_ - 1 - start);
        if (origin_form) {
            head_.target = target.substr(0, target.find('?'));
            return true;
        }
        return take_path_of_absolute_form(target);
    }

    // `http://host[:port][/path][?query]` (RFC 9112 §3.2.2): a server must accept it, and it
    // names the same resource as its path. The Host field is still required and checked.
    bool take_path_of_absolute_form(std::string_view target) {
        const std::size_t colon = target.find(':');
        const std::string_view scheme = target.substr(0, colon);
        if (!equals_ignoring_case(scheme, "http") && !equals_ignoring_case(scheme, "https")) return fail(kBadRequest);
        std::string_view rest = target.substr(scheme.size());
        if (!rest.starts_with("://")) return fail(kBadRequest);
        rest.remove_prefix(3);
        const std::size_t authority_end = rest.find_first_of("/?");
        const std::string_view authority = rest.substr(0, authority_end);
        if (authority.empty() || !valid_authority(authority)) return fail(kBadRequest);
        rest.remove_prefix(authority.size());
        const std::string_view path = rest.substr(0, rest.find('?'));
        // An empty path is "/" (RFC 9110 §4.2.3), the one target that does not point into the bytes.
        head_.target = path.empty() ? std::string_view("/") : path;
        return true;
    }

    // "HTTP/" DIGIT "." DIGIT CRLF. A well-formed version we do not speak is 505, anything else 400.
    bool parse_version() {
        constexpr std::string_view kShape = "HTTP/0.0\r";
        char version[kShape.size()] = {};
        for (std::size_t i = 0; i < kShape.size(); ++i) {
            if (!take(version[i])) return false;
            const bool fits = kShape[i] == '0' ? is_digit(version[i]) : version[i] == kShape[i];
            if (!fits) return fail(kBadRequest);
        }
        if (!take_lf()) return false;
        const char major = version[5];
        const char minor = version[7];
        if (major != '1' || (minor != '0' && minor != '1')) return fail(kVersionNotSupported);
        head_.minor_version = minor - '0';
        return true;
    }

    bool parse_fields() {
        std::size_t fields = 0;
        while (true) {
            char c = 0;
            if (!take(c)) return false;
            if (c == '\r') return take_lf();  // the empty line that ends the head
            // obs-fold (RFC 9112 §5.2): a server may refuse it with 400, and unfolding it in place
            // would be a rewrite we do not want on a hot path.
            if (is_whitespace(c)) return fail(kBadRequest);
            if (fields == limits_.max_headers) return fail(kFieldsTooLarge);
            ++fields;
            if (!parse_field_line(c)) return false;
        }
    }

    // name ":" OWS value OWS CRLF, from the name's first byte, already taken.
    bool parse_field_line(char c) {
        const std::size_t name_start = position_ - 1;
        // No whitespace between name and colon (RFC 9112 §5.1): it is the classic way to hide a
        // field from one parser and not another.
        while (c != ':') {
            if (!is(c, kToken)) return fail(kBadRequest);
            if (!take(c)) return false;
        }
        const std::string_view name = bytes_.substr(name_start, position_ - 1 - name_start);
        if (name.empty()) return fail(kBadRequest);

        const std::size_t value_start = position_;
        while (true) {
            if (!take(c)) return false;
            if (c == '\r') break;
            // NUL, a bare LF and other controls are refused rather than passed on (RFC 9110 §5.5).
            if (!is(c, kFieldContent)) return fail(kBadRequest);
        }
        if (!take_lf()) return false;
        const std::string_view value = trim_whitespace(bytes_.substr(value_start, position_ - 2 - value_start));
        return interpret_field(name, value);
    }

    // The fields that change how the request is framed or answered; others are not ours to judge.
    bool interpret_field(std::string_view name, std::string_view value) {
        if (equals_ignoring_case(name, "content-length")) {
            std::uint64_t length = 0;
            if (!parse_content_length(value, length)) return fail(kBadRequest);
            // Two lengths are two framings (RFC 9112 §6.3): refuse unless they agree.
            if (head_.body == BodyFraming::content_length && head_.content_length != length)
                return fail(kBadRequest);
            if (head_.body == BodyFraming::chunked) return fail(kBadRequest);
            head_.body = BodyFraming::content_length;
            head_.content_length = length;
        } else if (equals_ignoring_case(name, "transfer-encoding")) {
            // RFC 9112 §6.1: HTTP/1.0 has no transfer codings, so its framing is faulty. Content-Length
            // with Transfer-Encoding (§6.3) may be refused, and we refuse it: which of the two a proxy
            // in front of us honoured is exactly what we cannot know. Any coding list but a single
            // "chunked" is refused too: we decode no other coding, and every other spelling
            // ("chunked, identity", "xchunked", a second Transfer-Encoding line) is one some parser
            // reads differently.
            if (head_.minor_version == 0) return fail(kBadRequest);
            if (head_.body != BodyFraming::none) return fail(kBadRequest);
            if (!equals_ignoring_case(value, "chunked")) return fail(kBadRequest);
            head_.body = BodyFraming::chunked;
        } else if (equals_ignoring_case(name, "host")) {
            // RFC 9112 §3.2: more than one Host, or an invalid one, is 400.
            if (host_seen_ || !valid_authority(value)) return fail(kBadRequest);
            host_seen_ = true;
        } else if (equals_ignoring_case(name, "connection")) {
            for_each_list_element(value, [this](std::string_view option) {
                if (equals_ignoring_case(option, "close")) connection_close_ = true;
                if (equals_ignoring_case(option, "keep-alive")) connection_keep_alive_ = true;
            });
        } else if (equals_ignoring_case(name, "expect")) {
            for_each_list_element(value, [this](std::string_view expectation) {
                if (equals_ignoring_case(expectation, "100-continue"))
                    head_.expect_continue = true;
                else
                    unmet_expectation_ = true;
            });
        }
        return true;
    }

    // The rules that need the whole head, once its syntax and framing have passed.
    bool finish_head() {
        const bool http_1_1 = head_.minor_version == 1;
        if (http_1_1 && !host_seen_) return fail(kBadRequest);
        if (http_1_1) {
            // RFC 9110 §10.1.1 lets us refuse an expectation we cannot meet with 417, and we do
            // rather than answer a client that waits for something else.
            if (unmet_expectation_) return fail(kExpectationFailed);
            head_.keep_alive = !connection_close_;
        } else {
            // HTTP/1.0 has no Expect: §10.1.1 asks to ignore 100-continue there, and we ignore the rest.
            head_.expect_continue = false;
            head_.keep_alive = connection_keep_alive_ && !connection_close_;
        }
        return true;
    }

    std::string_view bytes_;
    const HeadLimits& limits_;
    std::size_t position_ = 0;  // of the next byte to take
    std::size_t line_start_ = 0;  // of the request line
    bool in_request_line_ = false;
    Stop stop_{HeadStatus::incomplete, 0};
    RequestHead head_;
    bool host_seen_ = false;
    bool connection_close_ = false;
    bool connection_keep_alive_ = false;
    bool unmet_expectation_ = false;
};

int hex_digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

HeadResult parse_request_head(std::string_view bytes, const HeadLimits& limits) {
    return HeadParser(bytes, limits).parse();
}

BodyDiscarder::BodyDiscarder(BodyFraming framing, std::uint64_t content_length, std::uint64_t max_body)
    : max_body_(max_body) {
    switch (framing) {
        case BodyFraming::none:
            state_ = State::done;
            break;
        case BodyFraming::content_length:
            state_ = content_length == 0 ? State::done : State::content_length;
            remaining_ = content_length;
            if (content_length > max_body) {
                state_ = State::failed;
                error_status_ = kContentTooLarge;
            }
            break;
        case BodyFraming::chunked:
            state_ = State::chunk_size;
            break;
    }
}

BodyDiscarder::Step BodyDiscarder::fail(std::size_t consumed, int status) {
    state_ = State::failed;
    error_status_ = status;
    return {consumed, false, status};
}

// Chunk extensions and trailer fields carry no data, so max_body does not bound them; this does.
bool BodyDiscarder::count_metadata() { return ++metadata_seen_ <= kMaxChunkedMetadata; }

bool BodyDiscarder::take_line_end(char c) {
    struct LineEnd {
        char wanted;
        State next;
    };
    LineEnd end{};
    switch (state_) {
        case State::chunk_data_cr: end = {'\r', State::chunk_data_lf}; break;
        case State::chunk_data_lf: end = {'\n', State::chunk_size}; break;
        case State::trailer_value_lf: end = {'\n', State::trailer_line_start}; break;
        case State::final_lf: end = {'\n', State::done}; break;
        default: return false;  // unreachable: only the four states above call this
    }
    if (c != end.wanted) return false;
    state_ = end.next;
    return true;
}

BodyDiscarder::Step BodyDiscarder::feed(std::string_view bytes) {
    std::size_t position = 0;
    while (true) {
        if (state_ == State::done) return {position, true, 0};
        if (state_ == State::failed) return {position, false, error_status_};

        if (state_ == State::content_length || state_ == State::chunk_data) {
            const std::uint64_t available = bytes.size() - position;
            const std::uint64_t taken = available < remaining_ ? available : remaining_;
            position += static_cast<std::size_t>(taken);
            remaining_ -= taken;
            if (remaining_ > 0) return {position, false, 0};
            state_ = state_ == State::content_length ? State::done : State::chunk_data_cr;
            continue;
        }

        if (position == bytes.size()) return {position, false, 0};
        const char c = bytes[position++];
        switch (state_) {
            case State::chunk_size: {
                const int digit = hex_digit_value(c);
                if (digit >= 0) {
                    if (++size_digits_ > kMaxChunkSizeDigits) return fail(position, kBadRequest);
                    // Judged digit by digit: the size only grows, so once over the bound it stays over,
                    // and it never gets the chance to overflow.
                    const std::uint64_t room = max_body_ - data_seen_;
                    if (static_cast<std::uint64_t>(digit) > room ||
                        remaining_ > (room - static_cast<std::uint64_t>(digit)) / 16)
                        return fail(position, kContentTooLarge);
                    remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(digit);
                    break;
                }
                if (size_digits_ == 0) return fail(position, kBadRequest);
                data_seen_ += remaining_;
                last_chunk_ = remaining_ == 0;
                if (c == '\r') {
                    state_ = State::chunk_size_lf;
                } else if (c == ';' || is_whitespace(c)) {
                    if (!count_metadata()) return fail(position, kContentTooLarge);
                    state_ = c == ';' ? State::chunk_extension : State::chunk_size_end;
                } else {
                    return fail(position, kBadRequest);
                }
                break;
            }
            case State::chunk_size_end:
                // Whitespace after the size only before an extension (BWS ";", RFC 9112 §7.1.1).
                if (!count_metadata()) return fail(position, kContentTooLarge);
                if (c == ';')
                    state_ = State::chunk_extension;
                else if (!is_whitespace(c))
                    return fail(position, kBadRequest);
                break;
            case State::chunk_extension:
                // Extensions are ignored, but a control byte in them is refused: a parser that ends
                // the line at a bare LF here would see a different body (RFC 9112 §7.1.1).
                if (c == '\r') {
                    state_ = State::chunk_size_lf;
                } else {
                    if (!count_metadata()) return fail(position, kContentTooLarge);
                    if (!is(c, kFieldContent)) return fail(position, kBadRequest);
                }
                break;
            case State::chunk_size_lf:
                if (c != '\n') return fail(position, kBadRequest);
                size_digits_ = 0;
                state_ = last_chunk_ ? State::trailer_line_start : State::chunk_data;
                break;
            case State::chunk_data_cr:
            case State::chunk_data_lf:
            case State::final_lf:
                if (!take_line_end(c)) return fail(position, kBadRequest);
                break;
            case State::trailer_line_start:
                if (c == '\r') {
                    state_ = State::final_lf;
                    break;
                }
                // Checked as strictly as header fields, obs-fold included, since some parsers merge
                // trailers into the header.
                if (!count_metadata()) return fail(position, kContentTooLarge);
                if (!is(c, kToken)) return fail(position, kBadRequest);
                state_ = State::trailer_name;
                break;
            case State::trailer_name:
            case State::trailer_value: {
                // A name of token characters up to ':', then a value of field content up to CR.
                if (!count_metadata()) return fail(position, kContentTooLarge);
                const bool name = state_ == State::trailer_name;
                if (c == (name ? ':' : '\r'))
                    state_ = name ? State::trailer_value : State::trailer_value_lf;
                else if (!is(c, name ? kToken : kFieldContent))
                    return fail(position, kBadRequest);
                break;
            }
            case State::trailer_value_lf:
                if (!count_metadata()) return fail(position, kContentTooLarge);
                if (!take_line_end(c)) return fail(position, kBadRequest);
                break;
            case State::content_length:
            case State::chunk_data:
            case State::done:
            case State::failed:
                break;  // handled before a byte is taken
        }
    }
}

}  // namespace corral::http
