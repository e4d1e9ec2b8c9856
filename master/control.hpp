// The commands that act on a running master: reload, stop, status.
#pragma once

#include "common/config_types.hpp"

namespace corral {

// Exit codes, as corral(8) gives them.
inline constexpr int kControlOk = 0;
inline constexpr int kControlFailed = 1;
inline constexpr int kControlTimedOut = 3;

int control_reload(const Config& config);
int control_stop(const Config& config, bool fast);
int control_status(const Config& config, bool json);

}  // namespace corral
