// Admin request parsing: request line, then header lines up to the blank line. Header values are
// not interpreted (every response closes the connection), but their syntax is checked.
#include "master/admin_request.hpp"

#include <algorithm>

#include "common/http_syntax.hpp"

namespace corral {
namespace {

bool valid_header_line(std::string_view line) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    return is_http_token(line.substr(0, colon)) && is_http_field_value(line.substr(colon + 1));
}

AdminRequest with(AdminRequest::Outcome outcome) {
    AdminRequest request;
    request.outcome = outcome;
    return request;
}

// Checks "METHOD SP TARGET SP HTTP/1.x" and fills in the request from it.
bool parse_request_line(std::string_view line, AdminRequest& request, bool& known_method) {
    const std::size_t first_space = line.find(' ');
    const std::size_t second_space = line.find(' ', first_space + 1);
    if (first_space == std::string_view::npos || second_space == std::string_view::npos) return false;
    const std::string_view method = line.substr(0, first_space);
    const std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
    const std::string_view version = line.substr(second_space + 1);
    if (!is_http_token(method)) return false;
    if (version != "HTTP/1.1" && version != "HTTP/1.0") return false;
    if (target.empty() || target.front() != '/' ||
        std::any_of(target.begin(), target.end(),
                    [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
        return false;
    }
    known_method = method == "GET" || method == "HEAD";
    request.head = method == "HEAD";
    request.path = std::string(target.substr(0, target.find('?')));
    return true;
}

// A bare LF or a NUL can never become part of a valid head: no need to wait for more bytes.
bool has_forbidden_bytes(std::string_view received) {
    for (std::size_t i = 0; i < received.size(); ++i) {
        if (received[i] == '\0') return true;
        if (received[i] == '\n' && (i == 0 || received[i - 1] != '\r')) return true;
    }
    return false;
}

}  // namespace

AdminRequest parse_admin_request(std::string_view received) {
    // Whatever follows the head is not ours to judge.
    const std::size_t head_end = received.find("\r\n\r\n");
    const std::size_t head_size = head_end == std::string_view::npos ? received.size() : head_end + 4;
    if (has_forbidden_bytes(received.substr(0, std::min(head_size, kMaxAdminRequestBytes)))) {
        return with(AdminRequest::Outcome::bad_request);
    }
    AdminRequest request;
    bool known_method = false;
    const std::size_t line_end = received.find("\r\n");
    // The request line is judged as soon as it is whole, so garbage is answered at once; one
    // whose CRLF does not fit within the limit is too large, however the bytes arrived.
    if (line_end != std::string_view::npos && line_end + 2 <= kMaxAdminRequestBytes &&
        !parse_request_line(received.substr(0, line_end), request, known_method)) {
        return with(AdminRequest::Outcome::bad_request);
    }
    if (head_end == std::string_view::npos) {
        if (received.size() >= kMaxAdminRequestBytes) return with(AdminRequest::Outcome::too_large);
        return with(AdminRequest::Outcome::incomplete);
    }
    if (head_end + 4 > kMaxAdminRequestBytes) return with(AdminRequest::Outcome::too_large);

    std::string_view rest = received.substr(line_end + 2, head_end - line_end);
    while (!rest.empty()) {
        const std::size_t end = rest.find("\r\n");
        if (end == 0) break;  // the blank line that ends the head
        if (!valid_header_line(rest.substr(0, end))) return with(AdminRequest::Outcome::bad_request);
        rest = rest.substr(end + 2);
    }
    if (!known_method) return with(AdminRequest::Outcome::not_implemented);
    request.outcome = AdminRequest::Outcome::ok;
    return request;
}

}  // namespace corral
