// A unix socket file this process created by binding. Removing it is the creator's job, and only
// while the path still holds that very socket: a file that another process has bound since, one
// handed to a new binary, or one received from systemd is never this process's to remove.
#pragma once

#include <sys/types.h>

#include <string>

namespace corral {

class SocketFile {
public:
    SocketFile() = default;
    // Records the identity (device and inode) of the socket file just bound at path.
    explicit SocketFile(std::string path);
    SocketFile(SocketFile&& other) noexcept;
    SocketFile& operator=(SocketFile&& other) noexcept;
    SocketFile(const SocketFile&) = delete;
    SocketFile& operator=(const SocketFile&) = delete;
    ~SocketFile() { remove(); }

    // Unlinks the path if it is still the socket recorded; afterwards this owns nothing.
    void remove();
    // Hands the file over (to a new binary): it will not be removed from here.
    void disown() { path_.clear(); }

private:
    std::string path_;  // empty: nothing owned
    dev_t device_ = 0;
    ino_t inode_ = 0;
};

}  // namespace corral
