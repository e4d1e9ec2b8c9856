// log.file. O_NOFOLLOW refuses a symlink in the last component; the directory check covers the
// rest of the path, and fstat checks what was actually opened.
#include "master/log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/trusted_path.hpp"

namespace corral {

Fd open_log_file(const std::string& path, const std::vector<uid_t>& trusted, std::string& error) {
    const std::string where = "log.file " + path + ": ";
    if (const std::string unsafe = untrusted_directory(path, trusted); !unsafe.empty()) {
        error = where + unsafe + "; refusing to open it there";
        return Fd();
    }
    // O_NONBLOCK: opening a FIFO without a reader must fail, not hang the master.
    Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0640));
    if (!fd) {
        error = where + (errno == ELOOP ? std::string("it is a symbolic link; refusing to follow it")
                                        : "open() failed: " + std::string(std::strerror(errno)));
        return Fd();
    }
    struct stat opened {};
    if (::fstat(fd.get(), &opened) != 0) {
        error = where + "fstat() failed: " + std::strerror(errno);
        return Fd();
    }
    if (const std::string unsafe = untrusted_file(opened, trusted); !unsafe.empty()) {
        error = where + unsafe + "; refusing to write to it";
        return Fd();
    }
    return fd;
}

}  // namespace corral
