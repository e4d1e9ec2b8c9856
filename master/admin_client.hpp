// The command line's way into a running master: one GET to its admin endpoint.
#pragma once

#include <string>

#include "common/config_types.hpp"
#include "common/result.hpp"

namespace corral {

struct AdminReply {
    int status = 0;
    std::string body;
};

// GETs path from the admin endpoint at address, waiting at most a few seconds; or what went
// wrong ("connect(127.0.0.1:9100) failed: ...").
Result<AdminReply> admin_get(const Address& address, const std::string& path);

}  // namespace corral
