// Generations.
#include "master/generation.hpp"

#include "common/errno_text.hpp"

namespace corral {

Result<std::unique_ptr<BalanceBoard>> make_balance_board() {
    auto board = std::make_unique<BalanceBoard>(BalanceBoard::create());
    if (!board->valid()) return Failure{"creating the balance board failed: " + errno_text()};
    return board;
}

}  // namespace corral
