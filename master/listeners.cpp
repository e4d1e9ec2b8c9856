// Binding and keeping listeners.
#include "master/listeners.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/address.hpp"
#include "common/errno_text.hpp"
#include "common/log.hpp"
#include "common/service_catalog.hpp"
#include "common/trusted_path.hpp"

namespace corral {
namespace {

std::string failure(const char* call, const Address& address) {
    return call_failed(std::string(call) + "(" + format_address(address) + ")");
}

// A unix socket file that refuses connections is left over from a process that died; one that
// accepts belongs to a live server we must not steal from.
Outcome remove_stale_unix_socket(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return {};
    if (!S_ISSOCK(st.st_mode)) return Failure{"unix:" + path + " exists and is not a socket"};
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    Address address;
    address.family = AddressFamily::unix_path;
    address.path = path;
    const SocketAddress target = to_socket_address(address);
    if (probe && ::connect(probe.get(), target.get(), target.length) == 0) {
        return Failure{"unix:" + path + " is in use by a running server"};
    }
    if (::unlink(path.c_str()) != 0) return Failure{failure("unlink", address)};
    log_info("removed stale socket file %s", path.c_str());
    return {};
}

}  // namespace

bool inherited_matches(const Address& inherited, const Address& configured) {
    if (inherited == configured) return true;
    // Port 0 was resolved when the previous binary bound it: any port of that host is the one.
    return configured.family != AddressFamily::unix_path && configured.port == 0 &&
           inherited.family == configured.family && inherited.host == configured.host;
}

Fd take_inherited(std::vector<InheritedSocket>& inherited, const Address& address, bool for_admin) {
    for (InheritedSocket& socket : inherited) {
        if (!socket.fd) continue;
        // After an upgrade the admin socket is named: only admin.listen may take it.
        if (socket.name == kAdminSocketName && !for_admin) continue;
        if (inherited_matches(socket.address, address)) return std::move(socket.fd);
    }
    return Fd();
}

bool BoundListener::same_identity(const ListenConfig& other) const {
    return config.address == other.address && config.balance == other.balance;
}

std::vector<int> BoundListener::fds() const {
    std::vector<int> all;
    if (shared) all.push_back(shared.get());
    for (const Fd& fd : per_slot) all.push_back(fd.get());
    return all;
}

// Binds with the umask that leaves exactly `mode` (the master is single-threaded), so the file
// never exists with a wider one.
int bind_with_mode(int fd, const SocketAddress& target, mode_t mode) {
    if (mode == 0) return ::bind(fd, target.get(), target.length);
    const mode_t previous = ::umask(~mode & 0777);
    const int result = ::bind(fd, target.get(), target.length);
    ::umask(previous);
    return result;
}

namespace {

// Accepted sockets inherit TCP_NODELAY from their listener, so one call here spares one per
// connection. Without it, a service that answers pipelined requests with several writes waits
// for the peer's delayed ACK (up to 40 ms) before each write after the first.
void send_without_delay(int fd, const Address& address) {
    if (address.family == AddressFamily::unix_path) return;
    const int on = 1;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
        log_warning("setsockopt(TCP_NODELAY) on %s failed: %s; small answers may wait for the peer's ACK",
                    format_address(address).c_str(), errno_text().c_str());
}

// Binds the reuseport sockets `listener` lacks, for every slot up to and including `slot`.
Outcome bind_slot_sockets(BoundListener& listener, unsigned slot) {
    if (listener.config.balance == Balance::exclusive) return {};
    while (listener.per_slot.size() <= slot) {
        SocketFile none;  // reuseport sockets are TCP
        const BindOptions options{.backlog = listener.config.backlog, .reuseport = true, .trusted_owners = {},
                                  .unix_mode = 0, .unix_group = {}};
        Result<Fd> fd = bind_listener(listener.bound, options, none);
        if (!fd) return Failure{fd.error()};
        listener.per_slot.push_back(std::move(*fd));
    }
    return {};
}

}  // namespace

Result<Fd> bind_listener(const Address& address, const BindOptions& options, SocketFile& created) {
    const bool reuseport = options.reuseport;
    Fd fd(::socket(socket_family(address), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return Failure{failure("socket", address)};
    const int on = 1;
    if (address.family != AddressFamily::unix_path &&
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
        return Failure{failure("setsockopt(SO_REUSEADDR)", address)};
    }
    if (address.family == AddressFamily::ipv6 &&
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) {
        return Failure{failure("setsockopt(IPV6_V6ONLY)", address)};
    }
    if (reuseport && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
        return Failure{failure("setsockopt(SO_REUSEPORT)", address)};
    }
    send_without_delay(fd.get(), address);
    const bool unix_path = address.family == AddressFamily::unix_path;
    if (unix_path) {
        if (Outcome directories = check_directories(address.path, options.trusted_owners); !directories) {
            return Failure{format_address(address) + ": " + directories.error() +
                           "; refusing to create a socket there"};
        }
        if (Outcome removed = remove_stale_unix_socket(address.path); !removed) return Failure{removed.error()};
    }
    const SocketAddress target = to_socket_address(address);
    if (bind_with_mode(fd.get(), target, unix_path ? options.unix_mode : 0) != 0) {
        return Failure{failure("bind", address)};
    }
    if (unix_path) {
        created = SocketFile(address.path);
        // lchown: never through a symlink that might have replaced the file since.
        if (options.unix_group && ::lchown(address.path.c_str(), static_cast<uid_t>(-1), *options.unix_group) != 0) {
            const std::string why = failure("lchown", address);
            created.remove();
            return Failure{why};
        }
    }
    if (::listen(fd.get(), options.backlog) != 0) return Failure{failure("listen", address)};
    return fd;
}

Result<ListenerList> bind_listeners(const std::vector<ListenConfig>& listen, unsigned slots,
                                    const ListenerList& current, std::vector<InheritedSocket>& inherited,
                                    const std::vector<uid_t>& trusted_owners) {
    ListenerList bound;
    std::vector<BoundListener*> kept;
    for (const ListenConfig& config : listen) {
        const auto reusable = std::find_if(current.begin(), current.end(), [&](const auto& listener) {
            return listener->same_identity(config) &&
                   std::find(kept.begin(), kept.end(), listener.get()) == kept.end();
        });
        if (reusable != current.end()) {
            kept.push_back(reusable->get());
            bound.push_back(*reusable);
            continue;
        }
        auto listener = std::make_shared<BoundListener>();
        listener->config = config;
        listener->bound = config.address;
        const bool reuseport = config.balance == Balance::reuseport;
        Fd first = take_inherited(inherited, config.address, false);
        const bool was_inherited = first.valid();
        if (was_inherited) send_without_delay(first.get(), config.address);
        if (!first) {
            const BindOptions options{.backlog = config.backlog, .reuseport = reuseport,
                                      .trusted_owners = trusted_owners, .unix_mode = 0, .unix_group = {}};
            Result<Fd> fresh = bind_listener(config.address, options, listener->unix_file);
            if (!fresh) return Failure{fresh.error()};
            first = std::move(*fresh);
        }
        if (auto actual = local_address(first.get())) listener->bound = *actual;
        if (reuseport) listener->per_slot.push_back(std::move(first));
        else listener->shared = std::move(first);
        // Further inherited reuseport sockets of this address belong to the same group.
        while (reuseport && was_inherited) {
            Fd more = take_inherited(inherited, listener->bound, false);
            if (!more) break;
            send_without_delay(more.get(), listener->bound);
            listener->per_slot.push_back(std::move(more));
        }
        log_info("listening on %s (%s, %s%s)", format_address(listener->bound).c_str(),
                 std::string(service_name(config.service)).c_str(), reuseport ? "reuseport" : "exclusive",
                 was_inherited ? ", inherited" : "");
        bound.push_back(std::move(listener));
    }
    std::vector<std::size_t> kept_slot_counts;
    for (const BoundListener* listener : kept) kept_slot_counts.push_back(listener->per_slot.size());
    for (const auto& listener : bound) {
        if (slots == 0) break;
        if (Outcome made = bind_slot_sockets(*listener, slots - 1); !made) {
            // A reuseport socket nobody accepts on would still be given connections.
            for (std::size_t i = 0; i < kept.size(); ++i) {
                kept[i]->per_slot.resize(kept_slot_counts[i]);
            }
            return Failure{made.error()};
        }
    }
    // Only now that nothing can fail: kept sockets take their new options.
    for (std::size_t i = 0; i < listen.size(); ++i) {
        BoundListener& listener = *bound[i];
        if (std::find(kept.begin(), kept.end(), &listener) == kept.end()) continue;
        if (listener.config.backlog != listen[i].backlog) {
            for (int fd : listener.fds()) ::listen(fd, listen[i].backlog);
        }
        listener.config = listen[i];
    }
    return bound;
}

Result<SlotListeners> listener_fds_for_slot(const ListenerList& listeners, unsigned slot) {
    SlotListeners fds;
    for (const auto& listener : listeners) {
        // The worker names the listener by the address it is bound to, in its log and in the
        // labels of module counters: the real port where the config asked for port 0.
        ListenConfig named = listener->config;
        named.address = listener->bound;
        if (listener->config.balance == Balance::exclusive) {
            fds.emplace_back(listener->shared.get(), std::move(named));
            continue;
        }
        if (Outcome made = bind_slot_sockets(*listener, slot); !made) return Failure{made.error()};
        fds.emplace_back(listener->per_slot[slot].get(), std::move(named));
    }
    return fds;
}

void close_slots_from(const ListenerList& listeners, unsigned slots) {
    for (const auto& listener : listeners) {
        if (listener->per_slot.size() > slots) listener->per_slot.resize(slots);
    }
}

}  // namespace corral
