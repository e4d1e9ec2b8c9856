// service: module: a protocol from a shared object built against corral/module.h. The worker
// loads it after dropping privileges, one instance per listener, and forwards each connection's
// events to it; the module answers through the host functions, which map onto the transport.
#pragma once

#include <string>
#include <vector>

#include "common/config_types.hpp"
#include "corral/module.h"
#include "worker/service.hpp"

namespace corral {

class ModuleService final : public Service {
public:
    // At most this many counters per module: each travels in every heartbeat.
    static constexpr std::size_t kMaxCounters = 64;

    ModuleService(const ListenConfig& listener);
    ~ModuleService() override;

    Outcome start() override;
    void stop() override;
    void opened(Connection& connection) override;
    std::size_t received(Connection& connection, std::span<const char> bytes) override;
    void drained(Connection& connection) override;
    void peer_finished(Connection& connection) override;
    void add_module_counters(std::vector<ModuleCounterSample>& samples) const override;

    struct Counter {
        std::string name;
        std::uint64_t value = 0;
    };
    const std::vector<Counter>& counters() const { return counters_; }
    const std::string& module_name() const { return name_; }
    const std::string& listener_name() const { return listener_; }

private:
    struct ConnectionState;
    friend struct ModuleHost;

    ModuleConfig config_;
    std::string listener_;  // the listener's address, for logs and metrics
    std::string name_;  // the module's own name, once loaded
    void* handle_ = nullptr;  // from dlopen
    const corral_module* module_ = nullptr;
    void* instance_ = nullptr;
    bool started_ = false;
    bool registering_ = false;  // counters may be registered only in worker_start
    std::vector<Counter> counters_;
};

}  // namespace corral
