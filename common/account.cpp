// Account lookups through the name service (getpwnam_r, getgrnam_r, getgrouplist).
#include "common/account.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "common/errno_text.hpp"

namespace corral {
namespace {

// A bound on what one lookup may allocate: far beyond any real group, short of a runaway.
constexpr std::size_t kMaxLookupBuffer = 1u << 26;

// getpwnam_r/getgrnam_r report "no such name" either as success with no result or, on some
// systems and NSS modules, as one of these errors (see getpwnam(3)).
bool means_not_found(int error) {
    return error == 0 || error == ENOENT || error == ESRCH || error == EBADF || error == EPERM;
}

// The name's entry, turned into what the caller wants by `use`.
template <typename Entry, typename Lookup, typename Use>
auto lookup_entry(const std::string& name, const char* kind, int size_hint, Lookup lookup, Use use)
    -> Result<decltype(use(std::declval<const Entry&>()))> {
    const long suggested = ::sysconf(size_hint);
    std::vector<char> buffer(suggested > 0 ? static_cast<std::size_t>(suggested) : 16384);
    Entry entry{};
    Entry* found = nullptr;
    int error = 0;
    while ((error = lookup(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE &&
           buffer.size() < kMaxLookupBuffer) {
        buffer.resize(buffer.size() * 2);
    }
    if (found != nullptr) return use(*found);
    if (means_not_found(error)) return Failure{std::string("no ") + kind + " named \"" + name + "\" on this system"};
    return Failure{std::string("cannot look up ") + kind + " \"" + name + "\": " + errno_text(error)};
}

}  // namespace

Result<UserIds> lookup_user(const std::string& name) {
    return lookup_entry<passwd>(name, "user", _SC_GETPW_R_SIZE_MAX, ::getpwnam_r, [](const passwd& entry) {
        return UserIds{.uid = entry.pw_uid, .primary_gid = entry.pw_gid};
    });
}

Result<gid_t> lookup_group(const std::string& name) {
    return lookup_entry<group>(name, "group", _SC_GETGR_R_SIZE_MAX, ::getgrnam_r,
                               [](const group& entry) { return entry.gr_gid; });
}

Result<std::vector<gid_t>> lookup_memberships(const std::string& user, gid_t gid) {
    std::vector<gid_t> groups;
    int count = 32;
    for (;;) {
        groups.resize(static_cast<std::size_t>(count));
        const int wanted = count;
        // Returns -1 and sets count to the number needed when the array is too small.
        if (::getgrouplist(user.c_str(), gid, groups.data(), &count) >= 0) {
            groups.resize(static_cast<std::size_t>(count));
            return groups;
        }
        if (count <= wanted) count = wanted * 2;
        if (static_cast<std::size_t>(count) > kMaxLookupBuffer / sizeof(gid_t)) {
            return Failure{"cannot list the groups of user \"" + user + "\": too many"};
        }
    }
}

}  // namespace corral
