// The master's listening sockets. The master binds them all before forking, so workers never
// need the privilege to bind, and a worker that dies leaves its sockets (and their queued
// connections) to its replacement.
#pragma once

#include <string>
#include <vector>

#include "common/config_types.hpp"
#include "common/fd.hpp"

namespace corral {

struct BoundListener {
    ListenConfig config;
    Address bound;  // with the port the kernel chose when the config said 0
    Fd shared;  // balance: exclusive, one socket for every worker
    std::vector<Fd> per_slot;  // balance: reuseport, one socket per worker slot
    bool created_unix_path = false;
};

class ListenerSet {
public:
    // Binds every listen entry, and for reuseport entries a socket for each of `slots` workers.
    // On failure returns false with error naming the address and the failed call.
    bool bind_all(const std::vector<ListenConfig>& listen, unsigned slots, std::string& error);

    // The descriptors a worker in `slot` needs, paired with their configs; binds further
    // reuseport sockets when the slot is new. Empty optional on failure (error set).
    bool fds_for_slot(unsigned slot, std::vector<std::pair<int, ListenConfig>>& fds, std::string& error);

    // Closes every socket (graceful stop: no more connections queue up here), and removes unix
    // socket files this process created.
    void close_all();

    const std::vector<BoundListener>& listeners() const { return listeners_; }

private:
    std::vector<BoundListener> listeners_;
};

}  // namespace corral
