// Case folding for the ASCII words in configs and protocols, independent of the C locale.
#pragma once

#include <string>
#include <string_view>

namespace corral {

inline std::string ascii_lower(std::string_view text) {
    std::string result(text);
    for (char& c : result) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return result;
}

}  // namespace corral
