// Binding listeners: SO_REUSEADDR always, IPV6_V6ONLY for IPv6 so that [::]:p and 0.0.0.0:p are
// separate entries, SO_REUSEPORT for balance: reuseport, and stale unix socket files replaced only
// when nothing answers on them.
#include "master/listeners.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/address.hpp"
#include "common/log.hpp"

namespace corral {
namespace {

std::string failure(const char* call, const Address& address) {
    return std::string(call) + "(" + format_address(address) + ") failed: " + std::strerror(errno);
}

// A unix socket file that refuses connections is left over from a process that died; one that
// accepts belongs to a live server we must not steal from.
bool remove_stale_unix_socket(const std::string& path, std::string& error) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return true;
    if (!S_ISSOCK(st.st_mode)) {
        error = "unix:" + path + " exists and is not a socket";
        return false;
    }
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    Address address;
    address.family = AddressFamily::unix_path;
    address.path = path;
    const SocketAddress target = to_socket_address(address);
    if (probe && ::connect(probe.get(), target.get(), target.length) == 0) {
        error = "unix:" + path + " is in use by a running server";
        return false;
    }
    if (::unlink(path.c_str()) != 0) {
        error = failure("unlink", address);
        return false;
    }
    log_info("removed stale socket file %s", path.c_str());
    return true;
}

Fd open_listener(const ListenConfig& config, const Address& address, bool reuseport, std::string& error) {
    Fd fd(::socket(socket_family(address), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        error = failure("socket", address);
        return Fd();
    }
    const int on = 1;
    if (address.family != AddressFamily::unix_path) {
        if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
            error = failure("setsockopt(SO_REUSEADDR)", address);
            return Fd();
        }
    }
    if (address.family == AddressFamily::ipv6 &&
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) {
        error = failure("setsockopt(IPV6_V6ONLY)", address);
        return Fd();
    }
    if (reuseport && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
        error = failure("setsockopt(SO_REUSEPORT)", address);
        return Fd();
    }
    if (address.family == AddressFamily::unix_path && !remove_stale_unix_socket(address.path, error)) {
        return Fd();
    }
    const SocketAddress target = to_socket_address(address);
    if (::bind(fd.get(), target.get(), target.length) != 0) {
        error = failure("bind", address);
        return Fd();
    }
    if (::listen(fd.get(), config.backlog) != 0) {
        error = failure("listen", address);
        return Fd();
    }
    return fd;
}

}  // namespace

bool ListenerSet::bind_all(const std::vector<ListenConfig>& listen, unsigned slots, std::string& error) {
    for (const ListenConfig& config : listen) {
        BoundListener listener;
        listener.config = config;
        listener.bound = config.address;
        const bool reuseport = config.balance == Balance::reuseport;
        Fd first = open_listener(config, config.address, reuseport, error);
        if (!first) return false;
        listener.created_unix_path = config.address.family == AddressFamily::unix_path;
        if (auto bound = local_address(first.get())) listener.bound = *bound;
        // Every reuseport socket of one entry must share the port the first one was given.
        if (reuseport) listener.per_slot.push_back(std::move(first));
        else listener.shared = std::move(first);
        log_info("listening on %s (%s, %s)", format_address(listener.bound).c_str(),
                 config.service == Service::echo ? "echo" : "http",
                 reuseport ? "reuseport" : "exclusive");
        listeners_.push_back(std::move(listener));
    }
    std::vector<std::pair<int, ListenConfig>> unused;
    for (unsigned slot = 1; slot < slots; ++slot) {
        if (!fds_for_slot(slot, unused, error)) return false;
    }
    return true;
}

bool ListenerSet::fds_for_slot(unsigned slot, std::vector<std::pair<int, ListenConfig>>& fds,
                               std::string& error) {
    fds.clear();
    for (BoundListener& listener : listeners_) {
        if (listener.config.balance == Balance::exclusive) {
            fds.emplace_back(listener.shared.get(), listener.config);
            continue;
        }
        while (listener.per_slot.size() <= slot) {
            Fd fd = open_listener(listener.config, listener.bound, true, error);
            if (!fd) return false;
            listener.per_slot.push_back(std::move(fd));
        }
        fds.emplace_back(listener.per_slot[slot].get(), listener.config);
    }
    return true;
}

void ListenerSet::close_all() {
    for (BoundListener& listener : listeners_) {
        listener.shared.reset();
        listener.per_slot.clear();
        if (listener.created_unix_path) {
            ::unlink(listener.bound.path.c_str());
            listener.created_unix_path = false;
        }
    }
}

}  // namespace corral
