// SocketFile.
#include "master/socket_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "common/errno_text.hpp"
#include "common/log.hpp"

namespace corral {

SocketFile::SocketFile(std::string path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
        log_warning("lstat(%s) after bind() failed or found no socket: it will not be removed on exit", path.c_str());
        return;
    }
    path_ = std::move(path);
    device_ = st.st_dev;
    inode_ = st.st_ino;
}

SocketFile::SocketFile(SocketFile&& other) noexcept
    : path_(std::exchange(other.path_, std::string())), device_(other.device_), inode_(other.inode_) {}

SocketFile& SocketFile::operator=(SocketFile&& other) noexcept {
    if (this != &other) {
        remove();
        path_ = std::exchange(other.path_, std::string());
        device_ = other.device_;
        inode_ = other.inode_;
    }
    return *this;
}

void SocketFile::remove() {
    if (path_.empty()) return;
    const std::string path = std::exchange(path_, std::string());
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_dev != device_ || st.st_ino != inode_) {
        log_debug("%s is no longer the socket this process bound; leaving it", path.c_str());
        return;
    }
    if (::unlink(path.c_str()) != 0) log_warning("unlink(%s) failed: %s", path.c_str(), errno_text().c_str());
}

}  // namespace corral
