// log.file. O_NOFOLLOW refuses a symlink in the last component; the directory check covers the
// rest of the path, and fstat checks what was actually opened.
#include "master/log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/errno_text.hpp"
#include "common/trusted_path.hpp"

namespace corral {

Result<Fd> open_log_file(const std::string& path, const std::vector<uid_t>& trusted) {
    const std::string where = "log.file " + path + ": ";
    if (Outcome directories = check_directories(path, trusted); !directories)
        return Failure{where + directories.error() + "; refusing to open it there"};
    // O_NONBLOCK: opening a FIFO without a reader must fail, not hang the master.
    Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0640));
    if (!fd && errno == ELOOP) return Failure{where + "it is a symbolic link; refusing to follow it"};
    if (!fd) return Failure{where + call_failed("open()")};
    struct stat opened {};
    if (::fstat(fd.get(), &opened) != 0) return Failure{where + call_failed("fstat()")};
    if (Outcome file = check_opened_file(opened, trusted); !file)
        return Failure{where + file.error() + "; refusing to write to it"};
    return fd;
}

}  // namespace corral
