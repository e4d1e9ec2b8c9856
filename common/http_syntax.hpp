// HTTP/1.1 field syntax (RFC 9110 §5.6.2, §5.5) shared by every place that reads or writes a
// header: the admin endpoint's request reader, the http service's parser and the config's http
// headers.
#pragma once

#include <algorithm>
#include <string_view>

namespace corral {

constexpr bool is_http_token_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

constexpr bool is_http_token(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), is_http_token_char);
}

// No control characters but tab, which rules out CR, LF and NUL.
constexpr bool is_http_field_value(std::string_view text) {
    return std::none_of(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
    });
}

}  // namespace corral
