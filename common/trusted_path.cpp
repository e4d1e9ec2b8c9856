// Trusted paths. A directory check over the resolved path is enough once it passes: no one who
// could change a checked directory is left to race the open that follows.
#include "common/trusted_path.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/errno_text.hpp"

namespace corral {
namespace {

std::string parent_directory(const std::string& file) {
    const std::size_t slash = file.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return file.substr(0, slash);
}

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

bool trusted(uid_t owner, const std::vector<uid_t>& owners) {
    return std::find(owners.begin(), owners.end(), owner) != owners.end();
}

// Writable by someone other than its owner: the world, or a group other than root's.
bool writable_by_others(const struct stat& st) {
    return (st.st_mode & S_IWOTH) != 0 || ((st.st_mode & S_IWGRP) != 0 && st.st_gid != 0);
}

}  // namespace

std::vector<uid_t> trusted_owners(const Config& config) {
    std::vector<uid_t> owners = {0, ::geteuid()};
    if (config.account) owners.push_back(config.account->uid);
    return owners;
}

Outcome check_directories(const std::string& file, const std::vector<uid_t>& trusted_uids) {
    const std::string directory = parent_directory(file);
    const std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(directory.c_str(), nullptr), &std::free);
    if (!resolved) return Failure{"directory " + directory + ": " + errno_text()};
    const std::string target = resolved.get();
    // "/", then each directory down to the one that holds the file.
    std::vector<std::string> path = {"/"};
    for (std::size_t slash = target.find('/', 1);; slash = target.find('/', slash + 1)) {
        if (target.size() > 1) path.push_back(target.substr(0, slash));
        if (slash == std::string::npos) break;
    }
    for (std::size_t i = 0; i < path.size(); ++i) {
        struct stat st {};
        if (::lstat(path[i].c_str(), &st) != 0) return Failure{"directory " + path[i] + ": " + errno_text()};
        if (!trusted(st.st_uid, trusted_uids)) {
            return Failure{"directory " + path[i] + " is owned by uid " + std::to_string(st.st_uid) +
                           ", not by root or the account corral runs as"};
        }
        // Above the file's own directory, the sticky bit keeps others from swapping our entries.
        const bool holds_file = i + 1 == path.size();
        if (writable_by_others(st) && (holds_file || (st.st_mode & S_ISVTX) == 0)) {
            return Failure{"directory " + path[i] + " is writable by others (mode " + octal_mode(st.st_mode) + ")"};
        }
    }
    return {};
}

Outcome check_opened_file(const struct stat& opened, const std::vector<uid_t>& trusted_uids) {
    if (!S_ISREG(opened.st_mode)) return Failure{"it is not a regular file"};
    if (opened.st_nlink != 1) return Failure{"it has " + std::to_string(opened.st_nlink) + " hard links"};
    if (!trusted(opened.st_uid, trusted_uids)) {
        return Failure{"it is owned by uid " + std::to_string(opened.st_uid) +
                       ", not by root or the account corral runs as"};
    }
    return {};
}

}  // namespace corral
