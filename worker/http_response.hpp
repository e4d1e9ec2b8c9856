// Fixed HTTP responses, built once when the config is loaded: a request costs one send() of bytes
// that already exist. Only the Date header changes, once a second, in place.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config_types.hpp"

namespace corral {

// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7), formatted at most once a second.
class HttpDate {
public:
    static constexpr std::size_t kLength = 29;

    // Reformats if the second has changed; true when it did.
    bool refresh();
    std::string_view text() const { return {text_, kLength}; }

private:
    std::time_t second_ = -1;
    char text_[kLength + 1] = {};
};

// What the connection becomes after a response, which decides its Connection header.
enum class Persistence { keep_alive, keep_alive_http10, close };

class PrebuiltResponse {
public:
    PrebuiltResponse() = default;
    // `extra_headers` are written as given, each "Name: value".
    PrebuiltResponse(int status, std::string_view content_type, std::string_view body,
                     const std::vector<std::pair<std::string, std::string>>& extra_headers, Persistence persistence,
                     std::string_view date);

    int status() const { return status_; }
    std::string_view whole() const { return bytes_; }
    std::string_view head() const { return std::string_view(bytes_).substr(0, head_length_); }
    void set_date(std::string_view date) { bytes_.replace(date_offset_, date.size(), date); }

private:
    int status_ = 0;
    std::string bytes_;
    std::size_t head_length_ = 0;
    std::size_t date_offset_ = 0;
};

std::string_view http_reason(int status);

}  // namespace corral
