// Resolving the user and group names of the config to ids, with buffers that grow as far as the
// name service needs (a group with thousands of members needs far more than sysconf suggests).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.hpp"

namespace corral {

struct UserIds {
    uid_t uid = 0;
    gid_t primary_gid = 0;
};

// Each fails with a sentence saying why, e.g. "no user named "x" on this system".
Result<UserIds> lookup_user(const std::string& name);
Result<gid_t> lookup_group(const std::string& name);
// Every group `user` belongs to, `gid` included (getgrouplist(3)).
Result<std::vector<gid_t>> lookup_memberships(const std::string& user, gid_t gid);

}  // namespace corral
