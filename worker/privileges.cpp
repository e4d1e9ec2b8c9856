// Privilege drop. The order matters: each step still holds the capability it needs. Groups
// first, then the bounding set (CAP_SETPCAP), then the user, after which nothing can be taken
// back; what capabilities are left go last.
#include "worker/privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "common/log.hpp"

namespace corral {
namespace {

using CapabilitySets = std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3>;

bool read_capabilities(CapabilitySets& sets) {
    __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    return ::syscall(SYS_capget, &header, sets.data()) == 0;
}

bool has_capability(const CapabilitySets& sets, unsigned capability, __u32 __user_cap_data_struct::*set) {
    return (sets[capability / 32].*set & (1u << (capability % 32))) != 0;
}

bool any_capability(const CapabilitySets& sets) {
    for (const auto& word : sets) {
        if (word.effective != 0 || word.permitted != 0 || word.inheritable != 0) return true;
    }
    return false;
}

bool become_account(const Account& account, const std::string& user_name) {
    if (::setgroups(account.groups.size(), account.groups.data()) != 0) {
        log_error("setgroups(%zu groups of %s) failed: %m", account.groups.size(), user_name.c_str());
        return false;
    }
    if (::setgid(account.gid) != 0) {
        log_error("setgid(%u) failed: %m", static_cast<unsigned>(account.gid));
        return false;
    }
    return true;
}

// Emptying the bounding set needs CAP_SETPCAP. Without it (a service started as an ordinary
// user) the set cannot be emptied, but no_new_privs keeps anything in it from being gained.
bool empty_bounding_set() {
    CapabilitySets sets{};
    if (!read_capabilities(sets)) {
        log_error("capget() failed: %m");
        return false;
    }
    if (!has_capability(sets, CAP_SETPCAP, &__user_cap_data_struct::effective)) {
        log_debug("no CAP_SETPCAP: the capability bounding set stays as inherited");
        return true;
    }
    // PR_CAPBSET_READ fails with EINVAL past the last capability this kernel knows.
    for (unsigned capability = 0; ::prctl(PR_CAPBSET_READ, capability, 0, 0, 0) >= 0; ++capability) {
        if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0) {
            log_error("prctl(PR_CAPBSET_DROP, %u) failed: %m", capability);
            return false;
        }
    }
    return true;
}

bool become_user(const Account& account, const std::string& user_name) {
    if (::setuid(account.uid) != 0) {
        log_error("setuid(%u) failed: %m", static_cast<unsigned>(account.uid));
        return false;
    }
    // A drop that could be undone is no drop.
    if (account.uid != 0 && ::setuid(0) == 0) {
        log_error("setuid(0) succeeded after dropping to %s; refusing to serve", user_name.c_str());
        return false;
    }
    return true;
}

bool drop_capabilities() {
    // EINVAL: a kernel older than 4.3 has no ambient set to clear.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
        log_error("prctl(PR_CAP_AMBIENT_CLEAR_ALL) failed: %m");
        return false;
    }
    CapabilitySets sets{};
    if (!read_capabilities(sets)) {
        log_error("capget() failed: %m");
        return false;
    }
    if (any_capability(sets)) {
        __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        CapabilitySets none{};
        if (::syscall(SYS_capset, &header, none.data()) != 0) {
            log_error("capset(no capabilities) failed: %m");
            return false;
        }
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        log_error("prctl(PR_SET_NO_NEW_PRIVS) failed: %m");
        return false;
    }
    return true;
}

}  // namespace

bool drop_privileges(const std::optional<Account>& account, const std::string& user_name) {
    const bool change_account = account && ::geteuid() == 0;
    if (change_account && !become_account(*account, user_name)) return false;
    if (!empty_bounding_set()) return false;
    if (change_account && !become_user(*account, user_name)) return false;
    if (!drop_capabilities()) return false;
    log_debug("running as uid %u, gid %u, without capabilities", static_cast<unsigned>(::getuid()),
              static_cast<unsigned>(::getgid()));
    return true;
}

}  // namespace corral
