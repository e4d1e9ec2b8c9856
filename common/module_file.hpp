// Whether a module file may be loaded by the workers: checked by `corral check` and at every
// config load, as whoever runs corral (often root), without loading the file, since loading a
// shared object runs its constructors.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/fd.hpp"

namespace corral {

// The empty string when `path` is a regular file (not a symlink) with one link, owned by one of
// `trusted` and writable by nobody else, in directories nobody else can change, that defines this
// corral's module symbol; else one sentence saying what is wrong (naming both ABI versions when
// the module was built for another). On success `opened` holds the file, open read-only.
std::string unloadable_module_file(const std::string& path, const std::vector<uid_t>& trusted, Fd& opened);

}  // namespace corral
