// Whether a module file may be loaded by the workers: checked by `corral check` and at every
// config load, as whoever runs corral (often root), without loading the file, since loading a
// shared object runs its constructors.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace corral {

// The file at `path`, open read-only, when it is a regular file (not a symlink) with one link,
// owned by one of `trusted` and writable by nobody else, in directories nobody else can change,
// that defines this corral's module symbol; else one sentence saying what is wrong (naming both
// ABI versions when the module was built for another).
Result<Fd> open_module_file(const std::string& path, const std::vector<uid_t>& trusted);

}  // namespace corral
