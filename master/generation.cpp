// Generations.
#include "master/generation.hpp"

#include "common/log.hpp"

namespace corral {

std::unique_ptr<BalanceBoard> make_balance_board() {
    auto board = std::make_unique<BalanceBoard>(BalanceBoard::create());
    if (!board->valid()) {
        log_error("creating the balance board failed: %m; workers will accept unbalanced");
        return nullptr;
    }
    return board;
}

}  // namespace corral
