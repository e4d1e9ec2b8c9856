// The command line's way into a running master: one GET to its admin endpoint.
#pragma once

#include <optional>
#include <string>

#include "common/config_types.hpp"

namespace corral {

struct AdminReply {
    int status = 0;
    std::string body;
};

// GETs path from the admin endpoint at address, waiting at most a few seconds. On failure
// returns nullopt with error saying what went wrong ("connect(127.0.0.1:9100) failed: ...").
std::optional<AdminReply> admin_get(const Address& address, const std::string& path, std::string& error);

}  // namespace corral
