// A generation: a set of workers started from one config. A reload starts a new one while the
// old one drains; each has its own listeners (sockets kept across reloads are shared) and its own
// balance board.
#pragma once

#include <memory>

#include "common/balance_board.hpp"
#include "common/config_types.hpp"
#include "common/result.hpp"
#include "master/listeners.hpp"

namespace corral {

// How many workers it wants, and every decision about them, is MasterPolicy's.
struct Generation {
    unsigned number = 0;
    Config config;
    ListenerList listeners;
    // Shared with the generation's workers; null when it could not be mapped (then each worker
    // accepts as the kernel wakes it, unbalanced but correct).
    std::unique_ptr<BalanceBoard> board;
};

// A board for a new generation, or why it could not be created.
Result<std::unique_ptr<BalanceBoard>> make_balance_board();

}  // namespace corral
