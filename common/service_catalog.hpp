// The services a listener can serve, by name: the one list that config validation, log lines and
// the documentation take their names from. A new service gets its entry here and its
// implementation in worker/services.cpp.
#pragma once

#include <array>
#include <string_view>

#include "common/config_types.hpp"

namespace corral {

struct ServiceEntry {
    std::string_view name;
    ServiceKind value;
};

inline constexpr std::array<ServiceEntry, 2> kServiceCatalog{{
    {"echo", ServiceKind::echo},
    {"http", ServiceKind::http},
}};

constexpr std::string_view service_name(ServiceKind kind) {
    for (const ServiceEntry& entry : kServiceCatalog) {
        if (entry.value == kind) return entry.name;
    }
    return "unknown";
}

}  // namespace corral
