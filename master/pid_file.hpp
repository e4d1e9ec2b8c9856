// pid_file: written by the master when set, rewritten by a new master after a binary upgrade,
// removed on exit by whichever master it still names.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.hpp"

namespace corral {

class PidFile {
public:
    PidFile() = default;
    PidFile(const PidFile&) = delete;
    PidFile& operator=(const PidFile&) = delete;

    // Writes this process's pid to path whole, under a name of its own created with O_EXCL, then
    // renamed over path: a reader never sees a partial pid, and nothing planted at either name is
    // followed. Refuses a directory someone untrusted can write.
    Outcome write(const std::string& path, const std::vector<uid_t>& trusted);

    // Removes the file written here if it still names this process: after a binary upgrade it
    // names the new master and is not ours to remove.
    void remove();

private:
    std::string path_;  // empty until written
};

}  // namespace corral
