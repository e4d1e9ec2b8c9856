// Opening log.file: the master opens it (at start, on reload, on USR1) and workers write to the
// descriptor it hands them.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace corral {

// Opens path for appending, creating it (mode 0640) when missing. Refuses, naming the path and
// the reason: a directory that someone untrusted can write, a symlink, anything but a
// regular file, a file with more than one link, a file of an untrusted owner.
Result<Fd> open_log_file(const std::string& path, const std::vector<uid_t>& trusted);

}  // namespace corral
