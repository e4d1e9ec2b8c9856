// Case folding for the ASCII words in configs and protocols, independent of the C locale.
#pragma once

#include <string>
#include <string_view>

namespace corral {

constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string ascii_lower(std::string_view text) {
    std::string result(text);
    for (char& c : result) c = ascii_lower(c);
    return result;
}

}  // namespace corral
