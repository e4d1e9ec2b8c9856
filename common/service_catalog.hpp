// The services a listener can serve, by name: the one list that config validation, log lines,
// /status and the documentation take their names from. A service with settings of its own names
// the key of its block in a listener and the function that reads it; the worker makes each
// service in worker/services.cpp.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "common/config_types.hpp"

namespace YAML {
class Node;
}

namespace corral {

class ConfigReader;

// The readers of the services' own blocks, each in a file of its own. They report problems
// through the reader, with positions, and fill the listener's config.

// http: routes, the default response, headers, the header timeout (common/http_settings.cpp).
// Every page named by `file:` is read here, so that a reload picks up a new one.
void read_http_settings(ConfigReader& reader, const YAML::Node& block, const std::string& path, ListenConfig& listener);
// module: the shared object's path and its settings (common/module_settings.cpp). The file is
// checked once the whole config is read (its owner may be the account workers run as), without
// loading it.
void read_module_settings(ConfigReader& reader, const YAML::Node& block, const std::string& path,
                          ListenConfig& listener);

struct ServiceEntry {
    std::string_view name;
    ServiceKind value;
    // The key of the service's own block in a listener ("" for none), required when the listener
    // serves it and refused otherwise, and the reader of that block.
    std::string_view settings_key;
    void (*read_settings)(ConfigReader&, const YAML::Node& block, const std::string& path, ListenConfig&);
    // What the block holds, for the message that says it is missing.
    std::string_view settings_summary;
};

inline constexpr std::array<ServiceEntry, 3> kServiceCatalog{{
    {"echo", ServiceKind::echo, "", nullptr, ""},
    {"http", ServiceKind::http, "http", read_http_settings, "routes, default and headers"},
    {"module", ServiceKind::module, "module", read_module_settings, "the path of the module and its settings"},
}};

constexpr const ServiceEntry& service_entry(ServiceKind kind) {
    for (const ServiceEntry& entry : kServiceCatalog) {
        if (entry.value == kind) return entry;
    }
    return kServiceCatalog.front();
}

constexpr std::string_view service_name(ServiceKind kind) { return service_entry(kind).name; }

}  // namespace corral
