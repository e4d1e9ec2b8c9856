// Dropping privileges in a freshly forked worker, after the master has bound every socket.
#pragma once

#include <optional>
#include <string>

#include "common/config_types.hpp"
#include "common/result.hpp"

namespace corral {

// Becomes `account` when running as root and one is configured (supplementary groups, group,
// user). Then, in every worker whoever started it, gives up every capability: the bounding set
// (when CAP_SETPCAP allows), the ambient, inheritable, permitted and effective sets, and sets
// no_new_privs so that nothing can be regained through execve. A worker only accepts, reads and
// writes. Fails, naming the failed call, when any step fails: the worker must not serve with
// more privilege than it needs.
Outcome drop_privileges(const std::optional<Account>& account, const std::string& user_name);

}  // namespace corral
