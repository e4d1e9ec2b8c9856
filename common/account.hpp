// Resolving the user and group names of the config to ids, with buffers that grow as far as the
// name service needs (a group with thousands of members needs far more than sysconf suggests).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace corral {

// Each returns the empty string on success, else a sentence saying why not, e.g.
// "no user named "x" on this system".
std::string lookup_user(const std::string& name, uid_t& uid, gid_t& primary_gid);
std::string lookup_group(const std::string& name, gid_t& gid);
// Every group `user` belongs to, `gid` included (getgrouplist(3)).
std::string lookup_memberships(const std::string& user, gid_t gid, std::vector<gid_t>& groups);

}  // namespace corral
