// Dropping root in a freshly forked worker, after the master has bound every socket.
#pragma once

#include <string>

namespace corral {

// When running as root with user and/or group set: initgroups, setgid, setuid, each checked.
// Without root, or with neither set, does nothing. False (logged with the failed call) when the
// drop failed: the worker must not serve with more privilege than configured.
bool drop_privileges(const std::string& user, const std::string& group);

}  // namespace corral
