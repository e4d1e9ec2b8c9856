// Admin request parsing: request line, then header lines up to the blank line. Header values are
// not interpreted (every response closes the connection), but their syntax is checked.
#include "master/admin_request.hpp"

#include <algorithm>

namespace corral {
namespace {

bool is_token_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool valid_header_line(std::string_view line) {
    const std::size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    const std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return false;
    const std::string_view value = line.substr(colon + 1);
    return std::none_of(value.begin(), value.end(), [](char c) {
        return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
    });
}

AdminRequest with(AdminRequest::Outcome outcome) {
    AdminRequest request;
    request.outcome = outcome;
    return request;
}

}  // namespace

AdminRequest parse_admin_request(std::string_view received) {
    const std::size_t head_end = received.find("\r\n\r\n");
    if (head_end == std::string_view::npos) {
        if (received.size() >= kMaxAdminRequestBytes) return with(AdminRequest::Outcome::too_large);
        if (received.find('\0') != std::string_view::npos) return with(AdminRequest::Outcome::bad_request);
        return with(AdminRequest::Outcome::incomplete);
    }
    if (head_end + 4 > kMaxAdminRequestBytes) return with(AdminRequest::Outcome::too_large);

    const std::string_view head = received.substr(0, head_end);
    const std::size_t line_end = std::min(head.find("\r\n"), head.size());
    const std::string_view line = head.substr(0, line_end);

    // METHOD SP TARGET SP HTTP/1.x
    const std::size_t first_space = line.find(' ');
    const std::size_t second_space = line.find(' ', first_space + 1);
    if (first_space == std::string_view::npos || second_space == std::string_view::npos ||
        line.find(' ', second_space + 1) != std::string_view::npos) {
        return with(AdminRequest::Outcome::bad_request);
    }
    const std::string_view method = line.substr(0, first_space);
    const std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
    const std::string_view version = line.substr(second_space + 1);
    if (method.empty() || !std::all_of(method.begin(), method.end(), is_token_char)) {
        return with(AdminRequest::Outcome::bad_request);
    }
    if (version != "HTTP/1.1" && version != "HTTP/1.0") return with(AdminRequest::Outcome::bad_request);
    if (target.empty() || target.front() != '/' ||
        std::any_of(target.begin(), target.end(),
                    [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
        return with(AdminRequest::Outcome::bad_request);
    }

    std::string_view rest = line_end < head.size() ? head.substr(line_end + 2) : std::string_view();
    while (!rest.empty()) {
        const std::size_t end = std::min(rest.find("\r\n"), rest.size());
        if (!valid_header_line(rest.substr(0, end))) return with(AdminRequest::Outcome::bad_request);
        rest = end < rest.size() ? rest.substr(end + 2) : std::string_view();
    }

    if (method != "GET" && method != "HEAD") return with(AdminRequest::Outcome::not_implemented);
    AdminRequest request;
    request.outcome = AdminRequest::Outcome::ok;
    request.head = method == "HEAD";
    request.path = std::string(target.substr(0, target.find('?')));
    return request;
}

}  // namespace corral
