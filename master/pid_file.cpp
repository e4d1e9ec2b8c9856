// PidFile.
#include "master/pid_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "common/errno_text.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/trusted_path.hpp"

namespace corral {

Outcome PidFile::write(const std::string& path, const std::vector<uid_t>& trusted) {
    const std::string where = "pid_file " + path + ": ";
    if (Outcome directories = check_directories(path, trusted); !directories)
        return Failure{where + directories.error() + "; refusing to write it there"};
    const std::string text = std::to_string(::getpid()) + "\n";
    // Ours alone: the name carries our pid, and one left by a process that had it before goes.
    const std::string temporary = path + "." + std::to_string(::getpid()) + ".tmp";
    if (::unlink(temporary.c_str()) != 0 && errno != ENOENT) {
        return Failure{where + call_failed("unlink(" + temporary + ")")};
    }
    Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) return Failure{where + call_failed("open(" + temporary + ")")};
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
        const std::string why = where + call_failed("write()");
        ::unlink(temporary.c_str());
        return Failure{why};
    }
    // rename replaces whatever is at path, a symlink included, without following it.
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        const std::string why = where + call_failed("rename()");
        ::unlink(temporary.c_str());
        return Failure{why};
    }
    path_ = path;
    return {};
}

void PidFile::remove() {
    if (path_.empty()) return;
    const std::string path = std::exchange(path_, std::string());
    char content[32] = {};
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd || ::read(fd.get(), content, sizeof content - 1) <= 0) return;
    if (std::atoi(content) != ::getpid()) return;
    if (::unlink(path.c_str()) != 0) log_warning("unlink(%s) failed: %s", path.c_str(), errno_text().c_str());
}

}  // namespace corral
