// Loading a module and speaking to it through its C interface. A corral_connection* is the
// transport's Connection and a corral_worker* the listener's ModuleService, opaque to the module;
// the host functions cast them back.
#include "worker/module_service.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>

#include "common/address.hpp"
#include "common/log.hpp"
#include "worker/connection.hpp"

namespace corral {

namespace {

Connection& transport(corral_connection* connection) { return *reinterpret_cast<Connection*>(connection); }
corral_connection* handle_of(Connection& connection) { return reinterpret_cast<corral_connection*>(&connection); }

}  // namespace

// What a connection of a module holds: the module's own state, handed back on every callback,
// and the module's closed() called when the transport lets go of the connection.
struct ModuleService::ConnectionState final : ServiceState {
    ConnectionState(ModuleService& service, Connection& connection) : service(service), connection(connection) {}
    ~ConnectionState() override {
        if (service.module_->closed != nullptr)
            service.module_->closed(service.instance_, handle_of(connection), module_state);
    }
    ModuleService& service;
    Connection& connection;
    void* module_state = nullptr;
};

// The host functions, in one table shared by every module in the worker.
struct ModuleHost {
    static ModuleService& service(corral_worker* worker) { return *reinterpret_cast<ModuleService*>(worker); }

    static void send(corral_connection* connection, const void* bytes, size_t length) {
        if (bytes == nullptr || length == 0) return;
        transport(connection).send(std::span(static_cast<const char*>(bytes), length));
    }
    static void close_after_flush(corral_connection* connection) { transport(connection).close_after_flush(); }
    static void close(corral_connection* connection) { transport(connection).close(); }
    static int output_full(const corral_connection* connection) {
        return reinterpret_cast<const Connection*>(connection)->output_full() ? 1 : 0;
    }
    static void log(corral_worker* worker, int level, const char* message) {
        if (message == nullptr) return;
        static constexpr LogLevel kLevels[] = {LogLevel::debug, LogLevel::info, LogLevel::notice, LogLevel::warning,
                                               LogLevel::error};
        const LogLevel chosen = level >= 0 && level < 5 ? kLevels[level] : LogLevel::error;
        if (log_enabled(chosen)) log_message(chosen, "module %s: %s", service(worker).name_.c_str(), message);
    }
    static int register_counter(corral_worker* worker, const char* name) {
        ModuleService& module = service(worker);
        const std::string_view text = name == nullptr ? std::string_view() : std::string_view(name);
        if (!module.registering_ || !is_module_counter_name(text) ||
            module.counters_.size() >= ModuleService::kMaxCounters) {
            log_error("module %s: counter \"%.*s\" refused: counters are registered in worker_start, at most %zu, "
                      "named with a-z, 0-9 and _ in at most %zu bytes",
                      module.name_.c_str(), static_cast<int>(std::min<std::size_t>(text.size(), 64)), text.data(),
                      ModuleService::kMaxCounters, kMaxModuleCounterName);
            return -1;
        }
        const auto known = std::find_if(module.counters_.begin(), module.counters_.end(),
                                        [&](const ModuleService::Counter& counter) { return counter.name == text; });
        if (known != module.counters_.end()) return static_cast<int>(known - module.counters_.begin());
        module.counters_.push_back({std::string(text), 0});
        return static_cast<int>(module.counters_.size() - 1);
    }
    static void add_to_counter(corral_worker* worker, int counter, uint64_t amount) {
        ModuleService& module = service(worker);
        if (counter >= 0 && static_cast<std::size_t>(counter) < module.counters_.size())
            module.counters_[static_cast<std::size_t>(counter)].value += amount;
    }
    static const char* setting(corral_worker* worker, const char* key) {
        if (key == nullptr) return nullptr;
        for (const auto& [name, value] : service(worker).config_.scalar_settings) {
            if (name == key) return value.c_str();
        }
        return nullptr;
    }
    static const char* settings_yaml(corral_worker* worker) { return service(worker).config_.settings_yaml.c_str(); }

    static constexpr corral_host table{
        .abi_version = CORRAL_MODULE_ABI_VERSION,
        .send = send,
        .close_after_flush = close_after_flush,
        .close = close,
        .output_full = output_full,
        .log = log,
        .register_counter = register_counter,
        .add_to_counter = add_to_counter,
        .setting = setting,
        .settings_yaml = settings_yaml,
    };
};

ModuleService::ModuleService(const ListenConfig& listener)
    : config_(listener.module), listener_(format_address(listener.address)), name_(listener.module.path) {}

ModuleService::~ModuleService() { stop(); }

Outcome ModuleService::start() {
    // The file the master checked, through the descriptor it kept open: not whatever the path
    // names now, which may be a newer version renamed over it for the next reload.
    const std::string source = config_.file && *config_.file ? "/proc/self/fd/" + std::to_string(config_.file->get())
                                                             : config_.path;
    // RTLD_LOCAL: two modules may define the same names without meeting; RTLD_NOW: a missing
    // symbol is found here, at start, not in the middle of serving.
    handle_ = ::dlopen(source.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
        const char* why = ::dlerror();
        return Failure{"module " + config_.path + " cannot be loaded: " + (why != nullptr ? why : "unknown error")};
    }
    const std::string symbol = CORRAL_MODULE_SYMBOL_PREFIX + std::to_string(CORRAL_MODULE_ABI_VERSION);
    module_ = static_cast<const corral_module*>(::dlsym(handle_, symbol.c_str()));
    if (module_ == nullptr) return Failure{"module " + config_.path + " defines no " + symbol + " symbol"};
    if (module_->abi_version != CORRAL_MODULE_ABI_VERSION)
        return Failure{"module " + config_.path + " says it was built for module ABI version " +
                       std::to_string(module_->abi_version) + ", and this corral loads version " +
                       std::to_string(CORRAL_MODULE_ABI_VERSION)};
    if (module_->received == nullptr) return Failure{"module " + config_.path + " has no received() callback"};
    if (module_->name != nullptr && module_->name[0] != '\0') name_ = std::string(module_->name).substr(0, 64);
    if (module_->worker_start != nullptr) {
        char error[512] = {};
        registering_ = true;
        const int failed = module_->worker_start(reinterpret_cast<corral_worker*>(this), &ModuleHost::table,
                                                 &instance_, error, sizeof error);
        registering_ = false;
        if (failed != 0) {
            error[sizeof error - 1] = '\0';
            return Failure{"module " + name_ + " did not start: " + (error[0] != '\0' ? error : "it gave no reason")};
        }
    }
    started_ = true;
    return {};
}

void ModuleService::stop() {
    if (!started_) return;
    started_ = false;
    if (module_->worker_stop != nullptr) module_->worker_stop(instance_);
    // The handle stays open: the worker is leaving, and unloading code that may have left
    // anything behind (an atexit handler, a thread-local destructor) would only risk a crash.
}

void ModuleService::add_module_counters(std::vector<ModuleCounterSample>& samples) const {
    for (const Counter& counter : counters_)
        samples.push_back({.listener = listener_.substr(0, 255),
                           .module = name_.substr(0, 255),
                           .name = counter.name,
                           .value = counter.value});
}

void ModuleService::opened(Connection& connection) {
    auto state = std::make_unique<ConnectionState>(*this, connection);
    ConnectionState& held = *state;
    connection.state = std::move(state);
    if (module_->opened != nullptr) held.module_state = module_->opened(instance_, handle_of(connection));
}

std::size_t ModuleService::received(Connection& connection, std::span<const char> bytes) {
    auto& state = static_cast<ConnectionState&>(*connection.state);
    const std::size_t consumed =
        module_->received(instance_, handle_of(connection), state.module_state, bytes.data(), bytes.size());
    return std::min(consumed, bytes.size());
}

void ModuleService::drained(Connection& connection) {
    if (module_->drained == nullptr) return;
    auto& state = static_cast<ConnectionState&>(*connection.state);
    module_->drained(instance_, handle_of(connection), state.module_state);
}

void ModuleService::peer_finished(Connection& connection) {
    if (module_->peer_finished == nullptr) return Service::peer_finished(connection);
    auto& state = static_cast<ConnectionState&>(*connection.state);
    module_->peer_finished(instance_, handle_of(connection), state.module_state);
}

}  // namespace corral
