// Parsing the one request an admin connection makes. Strict and bounded: the master's loop must
// never be held up or made to allocate without limit by a slow or hostile client.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace corral {

inline constexpr std::size_t kMaxAdminRequestBytes = 8192;

struct AdminRequest {
    enum class Outcome {
        incomplete,  // need more bytes
        ok,
        bad_request,  // 400
        too_large,  // 431: the head does not fit in kMaxAdminRequestBytes
        not_implemented,  // 501: a method other than GET or HEAD
    };
    Outcome outcome = Outcome::incomplete;
    bool head = false;  // HEAD: headers only
    std::string path;  // without the query string
};

// Looks at everything received so far on a connection.
AdminRequest parse_admin_request(std::string_view received);

}  // namespace corral
