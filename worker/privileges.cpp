// Privilege drop. The order matters: supplementary groups and the group first, while we still
// may change them; the user last, after which nothing can be taken back.
#include "worker/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/log.hpp"

namespace corral {
namespace {

bool lookup_user(const std::string& name, uid_t& uid, gid_t& gid) {
    passwd entry{};
    passwd* found = nullptr;
    std::vector<char> buffer(16384);
    const int error = ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (found == nullptr) {
        errno = error != 0 ? error : ENOENT;
        log_error("getpwnam(%s) failed: %m", name.c_str());
        return false;
    }
    uid = entry.pw_uid;
    gid = entry.pw_gid;
    return true;
}

bool lookup_group(const std::string& name, gid_t& gid) {
    group entry{};
    group* found = nullptr;
    std::vector<char> buffer(16384);
    const int error = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (found == nullptr) {
        errno = error != 0 ? error : ENOENT;
        log_error("getgrnam(%s) failed: %m", name.c_str());
        return false;
    }
    gid = entry.gr_gid;
    return true;
}

}  // namespace

bool drop_privileges(const std::string& user, const std::string& group) {
    if ((user.empty() && group.empty()) || ::geteuid() != 0) return true;
    uid_t uid = 0;
    gid_t gid = 0;
    if (!user.empty() && !lookup_user(user, uid, gid)) return false;
    if (!group.empty() && !lookup_group(group, gid)) return false;

    if (!user.empty()) {
        if (::initgroups(user.c_str(), gid) != 0) {
            log_error("initgroups(%s, %u) failed: %m", user.c_str(), static_cast<unsigned>(gid));
            return false;
        }
    } else if (::setgroups(0, nullptr) != 0) {
        log_error("setgroups(0) failed: %m");
        return false;
    }
    if (::setgid(gid) != 0) {
        log_error("setgid(%u) failed: %m", static_cast<unsigned>(gid));
        return false;
    }
    if (!user.empty() && ::setuid(uid) != 0) {
        log_error("setuid(%u) failed: %m", static_cast<unsigned>(uid));
        return false;
    }
    // A drop that could be undone is no drop.
    if (!user.empty() && uid != 0 && ::setuid(0) == 0) {
        log_error("setuid(0) succeeded after dropping to %s; refusing to serve", user.c_str());
        return false;
    }
    log_debug("running as %s:%s (uid %u, gid %u)", user.empty() ? "root" : user.c_str(),
              group.empty() ? "(user's group)" : group.c_str(), static_cast<unsigned>(::getuid()),
              static_cast<unsigned>(::getgid()));
    return true;
}

}  // namespace corral
