// The worker's side of the service catalog (common/service_catalog.hpp): the implementation of
// each service, made for one listener from its config.
#pragma once

#include <memory>

#include "common/config_types.hpp"
#include "worker/service.hpp"

namespace corral {

// Null when this build has no implementation of the listener's service (config validation
// refuses such a config first).
std::unique_ptr<Service> make_service(const ListenConfig& listener);

}  // namespace corral
