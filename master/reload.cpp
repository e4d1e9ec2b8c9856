// Reload: a new generation of workers from the re-read config, sharing every listener whose
// identity is unchanged. The old generation drains only once the new one is ready, so at every
// moment some worker accepts on every kept socket: no connection is refused or cut.
#include <ctime>

#include "common/config.hpp"
#include "common/log.hpp"
#include "common/notify.hpp"
#include "common/trusted_path.hpp"
#include "master/master.hpp"

namespace corral {

void Master::record_reload(bool ok, const std::string& error) {
    last_reload_ = ReloadOutcome{.ok = ok, .error = error, .generation = current_.number, .at = std::time(nullptr)};
    if (ok) ++reloads_;
    else ++reload_failures_;
}

void Master::prepare_reload() {
    log_notice("reloading %s", config().path.c_str());
    ConfigResult loaded = load_config(config().path);
    if (!loaded) {
        for (const ConfigError& problem : loaded.error()) log_error("%s", problem.to_string().c_str());
        std::string error = loaded.error().front().to_string();
        if (loaded.error().size() > 1) error += " (and " + std::to_string(loaded.error().size() - 1) + " more)";
        carry_out(policy_.reload_not_prepared(error));
        return;
    }
    Config& next = *loaded;
    if (next.admin_listen != config().admin_listen) {
        log_warning("admin.listen changed; the admin endpoints stay on %s until a restart",
                    admin_address_ ? "the old address" : "nothing");
    }
    std::vector<InheritedSocket> none;
    Result<ListenerList> listeners =
        bind_listeners(next.listen, next.workers, current_.listeners, none, trusted_owners(next));
    if (!listeners) {
        log_error("%s", listeners.error().c_str());
        carry_out(policy_.reload_not_prepared(listeners.error()));
        return;
    }
    const MasterPolicy::GenerationShape shape = generation_shape(next);
    pending_ = Generation{.number = current_.number + 1, .config = std::move(next), .listeners = std::move(*listeners),
                          .board = new_balance_board()};
    carry_out(policy_.reload_prepared(shape, Clock::now()));
}

void Master::adopt_pending() {
    current_ = std::move(*pending_);
    pending_.reset();
    // Only the new generation's sockets stay open in the master: a removed listener closes here,
    // and once the old workers have closed theirs it stops queueing connections.
    close_slots_from(current_.listeners, policy_.workers_wanted());
    if (Outcome configured = configure_logging(); !configured)
        log_error("%s; keeping the previous log destination", configured.error().c_str());
}

}  // namespace corral
