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

#include "common/errno_text.hpp"
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

Outcome become_account(const Account& account, const std::string& user_name) {
    if (::setgroups(account.groups.size(), account.groups.data()) != 0)
        return Failure{call_failed("setgroups(" + std::to_string(account.groups.size()) + " groups of " + user_name +
                       ")")};
    if (::setgid(account.gid) != 0) return Failure{call_failed("setgid(" + std::to_string(account.gid) + ")")};
    return {};
}

// Emptying the bounding set needs CAP_SETPCAP. Without it (a service started as an ordinary
// user) the set cannot be emptied, but no_new_privs keeps anything in it from being gained.
Outcome empty_bounding_set() {
    CapabilitySets sets{};
    if (!read_capabilities(sets)) return Failure{call_failed("capget()")};
    if (!has_capability(sets, CAP_SETPCAP, &__user_cap_data_struct::effective)) {
        log_debug("no CAP_SETPCAP: the capability bounding set stays as inherited");
        return {};
    }
    // PR_CAPBSET_READ fails with EINVAL past the last capability this kernel knows.
    for (unsigned capability = 0; ::prctl(PR_CAPBSET_READ, capability, 0, 0, 0) >= 0; ++capability) {
        if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0)
            return Failure{call_failed("prctl(PR_CAPBSET_DROP, " + std::to_string(capability) + ")")};
    }
    return {};
}

Outcome become_user(const Account& account, const std::string& user_name) {
    if (::setuid(account.uid) != 0) return Failure{call_failed("setuid(" + std::to_string(account.uid) + ")")};
    // A drop that could be undone is no drop.
    if (account.uid != 0 && ::setuid(0) == 0)
        return Failure{"setuid(0) succeeded after dropping to " + user_name + "; refusing to serve"};
    return {};
}

Outcome drop_capabilities() {
    // EINVAL: a kernel older than 4.3 has no ambient set to clear.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return Failure{call_failed("prctl(PR_CAP_AMBIENT_CLEAR_ALL)")};
    CapabilitySets sets{};
    if (!read_capabilities(sets)) return Failure{call_failed("capget()")};
    if (any_capability(sets)) {
        __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        CapabilitySets none{};
        if (::syscall(SYS_capset, &header, none.data()) != 0) return Failure{call_failed("capset(no capabilities)")};
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Failure{call_failed("prctl(PR_SET_NO_NEW_PRIVS)")};
    return {};
}

}  // namespace

Outcome drop_privileges(const std::optional<Account>& account, const std::string& user_name) {
    const bool change_account = account && ::geteuid() == 0;
    if (change_account) {
        if (Outcome became = become_account(*account, user_name); !became) return became;
    }
    if (Outcome emptied = empty_bounding_set(); !emptied) return emptied;
    if (change_account) {
        if (Outcome became = become_user(*account, user_name); !became) return became;
    }
    if (Outcome dropped = drop_capabilities(); !dropped) return dropped;
    log_debug("running as uid %u, gid %u, without capabilities", static_cast<unsigned>(::getuid()),
              static_cast<unsigned>(::getgid()));
    return {};
}

}  // namespace corral
