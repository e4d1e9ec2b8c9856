// The master process: binds the listeners, forks and supervises the workers, and turns signals
// into actions. It never accepts a connection itself.
#pragma once

#include "common/config_types.hpp"

namespace corral {

// Runs `corral run` with a validated config until stopped; returns the process exit code.
int run_master(const Config& config);

}  // namespace corral
