// PidFile.
#include "master/pid_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/trusted_path.hpp"

namespace corral {

bool PidFile::write(const std::string& path, const std::vector<uid_t>& trusted, std::string& error) {
    const std::string where = "pid_file " + path + ": ";
    if (const std::string unsafe = untrusted_directory(path, trusted); !unsafe.empty()) {
        error = where + unsafe + "; refusing to write it there";
        return false;
    }
    const std::string text = std::to_string(::getpid()) + "\n";
    // Ours alone: the name carries our pid, and one left by a process that had it before goes.
    const std::string temporary = path + "." + std::to_string(::getpid()) + ".tmp";
    if (::unlink(temporary.c_str()) != 0 && errno != ENOENT) {
        error = where + "unlink(" + temporary + ") failed: " + std::strerror(errno);
        return false;
    }
    Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) {
        error = where + "open(" + temporary + ") failed: " + std::strerror(errno);
        return false;
    }
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
        error = where + "write() failed: " + std::strerror(errno);
        ::unlink(temporary.c_str());
        return false;
    }
    // rename replaces whatever is at path, a symlink included, without following it.
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        error = where + "rename() failed: " + std::strerror(errno);
        ::unlink(temporary.c_str());
        return false;
    }
    path_ = path;
    return true;
}

void PidFile::remove() {
    if (path_.empty()) return;
    const std::string path = std::exchange(path_, std::string());
    char content[32] = {};
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd || ::read(fd.get(), content, sizeof content - 1) <= 0) return;
    if (std::atoi(content) != ::getpid()) return;
    if (::unlink(path.c_str()) != 0) log_warning("unlink(%s) failed: %m", path.c_str());
}

}  // namespace corral
