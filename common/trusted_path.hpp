// Where the master, which may run as root, may create and open files named by the config
// (pid_file, log.file, a unix socket): only where nobody but the trusted owners can swap what
// is there for a symlink or a hard link to somewhere else.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/config_types.hpp"

namespace corral {

// root, this process's effective user, and the account workers run as.
std::vector<uid_t> trusted_owners(const Config& config);

// The empty string when every directory leading to `file` is owned by a trusted owner, the one
// holding `file` is writable by nobody else, and those above it only with the sticky bit (as
// /tmp); else a sentence saying which directory is unsafe and why.
std::string untrusted_directory(const std::string& file, const std::vector<uid_t>& trusted);

// The empty string when `opened` (an fstat of what was opened) is a regular file with one link
// and a trusted owner; else why not.
std::string untrusted_file(const struct stat& opened, const std::vector<uid_t>& trusted);

}  // namespace corral
