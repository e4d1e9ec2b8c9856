// Reload: a new generation of workers from the re-read config, sharing every listener whose
// identity is unchanged. The old generation drains only once the new one is ready, so at every
// moment some worker accepts on every kept socket: no connection is refused or cut.
#include <algorithm>
#include <ctime>

#include "common/config.hpp"
#include "common/log.hpp"
#include "common/notify.hpp"
#include "common/trusted_path.hpp"
#include "master/master.hpp"

namespace corral {
namespace {

// corral(8): a new generation that is not ready within this has failed.
constexpr std::chrono::seconds kReadyLimit{10};

}  // namespace

void Master::record_reload(bool ok, const std::string& error) {
    last_reload_ = ReloadOutcome{.ok = ok, .error = error, .generation = current_.number, .at = std::time(nullptr)};
    if (ok) ++reloads_;
    else ++reload_failures_;
}

void Master::begin_reload() {
    if (state_ == MasterState::stopping) return;
    if (pending_ || state_ == MasterState::starting) {
        // One more reload once this one is settled: the file may have changed again since.
        log_notice("reload requested while another is in progress; it will follow");
        reload_requested_again_ = true;
        return;
    }
    log_notice("reloading %s", config().path.c_str());
    ConfigResult loaded = load_config(config().path);
    if (!loaded.config) {
        std::string error;
        for (const ConfigError& problem : loaded.errors) {
            log_error("%s", problem.to_string().c_str());
            if (error.empty()) error = problem.to_string();
        }
        if (loaded.errors.size() > 1) error += " (and " + std::to_string(loaded.errors.size() - 1) + " more)";
        fail_reload(error);
        return;
    }
    Config& next = *loaded.config;
    if (next.admin_listen != config().admin_listen) {
        log_warning("admin.listen changed; the admin endpoints stay on %s until a restart",
                    admin_address_ ? "the old address" : "nothing");
    }
    std::vector<InheritedSocket> none;
    ListenerList listeners;
    std::string error;
    if (!bind_listeners(next.listen, next.workers, current_.listeners, none, trusted_owners(next), listeners, error)) {
        log_error("%s", error.c_str());
        fail_reload(error);
        return;
    }
    pending_ = Generation{.number = current_.number + 1, .config = std::move(next),
                          .listeners = std::move(listeners), .workers = 0, .started = Clock::now(),
                          .board = make_balance_board()};
    pending_->workers = pending_->config.workers;
    state_ = MasterState::reloading;
    notify_reloading();
    log_notice("starting generation %u with %u workers", pending_->number, pending_->workers);
    for (unsigned slot = 0; slot < pending_->workers; ++slot) {
        if (!supervisor_.spawn(*pending_, slot)) {
            fail_reload("could not start the new workers");
            return;
        }
    }
}

void Master::finish_reload() {
    const unsigned old_generation = current_.number;
    supervisor_.drain_generation(old_generation);
    current_ = std::move(*pending_);
    pending_.reset();
    respawns_.clear();
    deaths_before_ready_ = 0;
    replacements_stopped_ = false;
    // Only the new generation's sockets stay open in the master: a removed listener closes here,
    // and once the old workers have closed theirs it stops queueing connections.
    close_slots_from(current_.listeners, current_.workers);
    if (!configure_logging()) log_error("keeping the previous log destination");
    state_ = MasterState::running;
    record_reload(true, "");
    notify_ready(status_text());
    log_notice("reload complete: generation %u serving with %u workers; generation %u draining", current_.number,
               current_.workers, old_generation);
    if (std::exchange(reload_requested_again_, false)) begin_reload();
}

void Master::fail_reload(const std::string& reason) {
    if (pending_) {
        // Workers that did get ready may already hold connections: they drain, not die.
        supervisor_.drain_generation(pending_->number);
        pending_.reset();
    }
    const bool announced = state_ == MasterState::reloading;
    if (announced) state_ = MasterState::running;
    record_reload(false, reason);
    // After RELOADING=1 the manager waits for READY=1; before it, only the status changes.
    if (announced) notify_ready(status_text());
    else notify_status(status_text());
    log_error("reload failed: %s; generation %u keeps serving", reason.c_str(), current_.number);
    if (std::exchange(reload_requested_again_, false)) begin_reload();
}

void Master::check_reload_deadline(Clock::time_point now) {
    if (pending_ && now - pending_->started > kReadyLimit) {
        fail_reload("the new workers were not ready within " + std::to_string(kReadyLimit.count()) + " s");
    }
}

}  // namespace corral
