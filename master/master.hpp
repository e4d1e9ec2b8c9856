// The master process: binds the listeners, runs generations of workers, reloads, upgrades, and
// serves the admin endpoints. It never accepts a connection itself.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "common/config_types.hpp"
#include "common/event_loop.hpp"
#include "common/fd.hpp"
#include "master/admin.hpp"
#include "master/generation.hpp"
#include "master/inherited_sockets.hpp"
#include "master/listeners.hpp"
#include "master/master_policy.hpp"
#include "master/pid_file.hpp"
#include "master/supervisor.hpp"

namespace corral {

// What the master's policy needs to know of a config's generation.
MasterPolicy::GenerationShape generation_shape(const Config& config);

// Runs `corral run` with a validated config until stopped; returns the process exit code.
int run_master(const Config& config, const std::string& binary_path, Inheritance inheritance);

struct ReloadOutcome {
    bool ok = false;
    std::string error;
    unsigned generation = 0;
    std::time_t at = 0;
};

// The acting layer: it owns the descriptors, processes and generations, turns what happens into
// MasterPolicy's events and carries out the actions it returns.
class Master final : public AdminContent, public SupervisorEvents {
public:
    using Clock = std::chrono::steady_clock;

    Master(const Config& config, std::string binary_path, Inheritance inheritance);
    int run();

    // AdminContent
    bool serving() const override;
    std::string status_json() const override;
    std::string metrics_text() const override;

    // SupervisorEvents
    void on_worker_ready(WorkerProcess& worker) override;
    void on_worker_exit(const WorkerProcess& worker, int status) override;

private:
    // master.cpp
    Outcome start();
    void on_signal();
    void on_tick();
    void on_child_exit();
    void carry_out(const Actions& actions);
    void carry_out(const Action& action);
    void spawn(const Action& action);
    void reopen_logs();
    Outcome configure_logging();
    void update_service_manager(Clock::time_point now);
    std::string status_text() const;
    bool heartbeats_fresh(Clock::time_point now) const;
    void log_descriptor_limit();
    // Null (logged) when none can be made: the generation's workers then accept unbalanced.
    std::unique_ptr<BalanceBoard> new_balance_board();
    Outcome bind_admin(const std::optional<Address>& address, std::vector<InheritedSocket>& inherited);

    // reload.cpp
    void prepare_reload();
    void adopt_pending();
    void record_reload(bool ok, const std::string& error);

    // upgrade.cpp
    void start_upgrade();
    void on_upgrade_child_exit(int status);
    void on_upgrade_child_gone();
    void forget_upgrade_child();
    void send_signal_to_upgrade_child(int signal_number);
    void hand_over(pid_t new_master);
    void tell_previous_master();

    // The config of the generation that serves; a reload replaces it only once the new one is ready.
    const Config& config() const { return current_.config; }

    std::string binary_path_;
    EventLoop loop_;
    Supervisor supervisor_;
    AdminServer admin_;
    std::optional<Address> admin_address_;
    Fd log_file_;
    WatchedFd signals_;
    WatchedFd tick_timer_;
    MemberHandler<Master> signal_handler_{this, &Master::on_signal};
    MemberHandler<Master> tick_handler_{this, &Master::on_tick};

    MasterPolicy policy_;
    Generation current_;
    std::optional<Generation> pending_;  // a reload's generation until it is ready

    unsigned reloads_ = 0;
    unsigned reload_failures_ = 0;
    unsigned worker_restarts_ = 0;
    std::optional<ReloadOutcome> last_reload_;

    WatchedFd upgrade_child_pidfd_;  // readable once the new master has exited
    MemberHandler<Master> upgrade_child_handler_{this, &Master::on_upgrade_child_gone};
    std::vector<InheritedSocket> inherited_;  // taken by start()
    PreviousMaster previous_master_;  // the master that started this one, told once we are ready
    // In a binary upgrade, the admin listener until this master is ready (see bind_admin).
    struct HeldAdmin {
        Fd listener;
        SocketFile file;
    };
    std::optional<HeldAdmin> held_admin_;

    std::optional<std::chrono::microseconds> watchdog_interval_;
    Clock::time_point next_watchdog_{};
    Clock::time_point next_status_{};
    std::string last_status_;

    PidFile pid_file_;
    bool loop_failed_ = false;
};

}  // namespace corral
