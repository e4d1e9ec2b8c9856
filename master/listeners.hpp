// The master's listening sockets. The master binds them all before forking, so workers never
// need the privilege to bind, and a worker that dies leaves its sockets (and their queued
// connections) to its replacement. A reload keeps every socket whose identity is unchanged.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/config_types.hpp"
#include "common/fd.hpp"
#include "common/result.hpp"
#include "master/socket_file.hpp"

namespace corral {

struct BoundListener {
    BoundListener() = default;
    BoundListener(const BoundListener&) = delete;
    BoundListener& operator=(const BoundListener&) = delete;

    ListenConfig config;
    Address bound;  // with the port the kernel chose when the config said 0
    Fd shared;  // balance: exclusive, one socket for every worker
    std::vector<Fd> per_slot;  // balance: reuseport, one socket per worker slot
    SocketFile unix_file;  // a unix socket file bound here (not inherited), removed with the listener

    // Same address as configured (port 0 included) and same balance: such a listener is kept.
    bool same_identity(const ListenConfig& other) const;
    // Every descriptor, for handing the sockets to a new binary.
    std::vector<int> fds() const;
};

using ListenerList = std::vector<std::shared_ptr<BoundListener>>;

// A socket received from a previous binary or from systemd, matched to a listen entry by the
// address it is bound to.
struct InheritedSocket {
    Fd fd;
    Address address;
    std::string name;  // from LISTEN_FDNAMES: "listen" or "admin" after an upgrade
};

// The name a binary upgrade gives the admin socket, so no listen entry takes it by mistake.
inline constexpr const char* kAdminSocketName = "admin";

// Whether a socket inherited on `inherited` serves the config's `configured` address: the same
// address, or any port of the same host when the config says port 0.
bool inherited_matches(const Address& inherited, const Address& configured);

// Takes the first inherited socket that serves `address`, if any. The socket a binary upgrade
// names "admin" goes only to admin.listen (for_admin), never to a listen entry.
Fd take_inherited(std::vector<InheritedSocket>& inherited, const Address& address, bool for_admin);

struct BindOptions {
    int backlog = 4096;
    bool reuseport = false;
    // For a unix address: who may own the directories leading to it (the master may be root,
    // and binding creates a file there), the file's mode (0: as the umask leaves it) and group.
    std::vector<uid_t> trusted_owners;
    mode_t unix_mode = 0;
    std::optional<gid_t> unix_group;
};

// Binds one socket: SO_REUSEADDR, IPV6_V6ONLY for IPv6, SO_REUSEPORT when asked. For a unix
// address, only in a trusted directory, with a stale socket file replaced only when nothing
// answers on it; `created` then records the file. A failure names the address and the failed call.
Result<Fd> bind_listener(const Address& address, const BindOptions& options, SocketFile& created);

// The listeners for `listen`: sockets from `current` whose identity matches are kept (their
// backlog updated), then inherited sockets with the same address are used, and the rest bound.
// For reuseport entries a socket exists for each of `slots` workers. On failure nothing in
// `current` has changed and whatever was newly bound is closed. trusted_owners is as for
// BindOptions.
Result<ListenerList> bind_listeners(const std::vector<ListenConfig>& listen, unsigned slots,
                                    const ListenerList& current, std::vector<InheritedSocket>& inherited,
                                    const std::vector<uid_t>& trusted_owners);

// A worker's listening descriptors, each with its listener's config.
using SlotListeners = std::vector<std::pair<int, ListenConfig>>;

// The descriptors a worker in `slot` needs; binds further reuseport sockets when the slot is new.
Result<SlotListeners> listener_fds_for_slot(const ListenerList& listeners, unsigned slot);

// Closes reuseport sockets of slots at or above `slots`, so the kernel stops queueing
// connections where no worker will accept them.
void close_slots_from(const ListenerList& listeners, unsigned slots);

}  // namespace corral
