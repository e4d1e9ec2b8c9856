// Where the master, which may run as root, may create and open files named by the config
// (pid_file, log.file, a unix socket): only where nobody but the trusted owners can swap what
// is there for a symlink or a hard link to somewhere else.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/config_types.hpp"
#include "common/result.hpp"

namespace corral {

// root, this process's effective user, and the account workers run as.
std::vector<uid_t> trusted_owners(const Config& config);

// Success when every directory leading to `file` is owned by a trusted owner, the one holding
// `file` is writable by nobody else, and those above it only with the sticky bit (as /tmp); else
// which directory is unsafe and why.
Outcome check_directories(const std::string& file, const std::vector<uid_t>& trusted);

// Success when `opened` (an fstat of what was opened) is a regular file with one link and a
// trusted owner; else why not.
Outcome check_opened_file(const struct stat& opened, const std::vector<uid_t>& trusted);

}  // namespace corral
