// BalanceBoard: one anonymous shared mapping, inherited across fork, and one eventfd.
#include "common/balance_board.hpp"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <new>
#include <utility>

namespace corral {
namespace {

// The slots, then the count of slots in use on a cache line of its own.
constexpr std::size_t kMappingSize = BalanceBoard::kMaxSlots * sizeof(BalanceBoard::Slot) + 64;

}  // namespace

BalanceBoard::BalanceBoard(BalanceBoard&& other) noexcept
    : slots_(std::exchange(other.slots_, nullptr)),
      slots_used_(std::exchange(other.slots_used_, nullptr)),
      nudge_(std::move(other.nudge_)) {}

BalanceBoard& BalanceBoard::operator=(BalanceBoard&& other) noexcept {
    if (this != &other) {
        if (slots_ != nullptr) ::munmap(slots_, kMappingSize);
        slots_ = std::exchange(other.slots_, nullptr);
        slots_used_ = std::exchange(other.slots_used_, nullptr);
        nudge_ = std::move(other.nudge_);
    }
    return *this;
}

BalanceBoard::~BalanceBoard() {
    if (slots_ != nullptr) ::munmap(slots_, kMappingSize);
}

BalanceBoard BalanceBoard::create() {
    BalanceBoard board;
    // Zeroed by the kernel: every slot starts empty and unavailable.
    void* memory = ::mmap(nullptr, kMappingSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return board;
    board.slots_ = new (memory) Slot[kMaxSlots];
    board.slots_used_ = new (static_cast<char*>(memory) + kMaxSlots * sizeof(Slot)) std::atomic<std::uint32_t>(0);
    // Workers watch it edge-triggered and never read it: each write is one more edge for each.
    board.nudge_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    return board;
}

namespace {

// How stale a published time may be; far below kSilentAfter.
constexpr std::chrono::milliseconds kTimeRefresh{100};

std::int64_t milliseconds(BalanceBoard::Clock::time_point time) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

}  // namespace

void BalanceBoard::publish(unsigned slot, std::uint32_t active, bool available, Clock::time_point now) {
    if (slot >= kMaxSlots) return;
    // Stores only what changed: each store takes the line out of every reader's cache, and the
    // workers publish after every batch of events.
    Slot& mine = slots_[slot];
    if (mine.active.load(std::memory_order_relaxed) != active) mine.active.store(active, std::memory_order_relaxed);
    const std::uint32_t availability = available ? 1 : 0;
    if (mine.available.load(std::memory_order_relaxed) != availability) {
        mine.available.store(availability, std::memory_order_relaxed);
    }
    const std::int64_t now_ms = milliseconds(now);
    if (now_ms - mine.published_ms.load(std::memory_order_relaxed) >= kTimeRefresh.count()) {
        mine.published_ms.store(now_ms, std::memory_order_relaxed);
    }
    std::uint32_t used = slots_used_->load(std::memory_order_relaxed);
    while (used <= slot && !slots_used_->compare_exchange_weak(used, slot + 1, std::memory_order_relaxed)) {
    }
}

void BalanceBoard::clear(unsigned slot) {
    publish(slot, 0, false, Clock::now());
    set_accepting(slot, false);
}

bool BalanceBoard::heard_from(const Slot& slot, Clock::time_point now) const {
    return milliseconds(now) - slot.published_ms.load(std::memory_order_relaxed) <= kSilentAfter.count();
}

void BalanceBoard::set_accepting(unsigned slot, bool accepting) {
    if (slot >= kMaxSlots) return;
    slots_[slot].accepting.store(accepting ? 1 : 0, std::memory_order_relaxed);
    // A store followed by loads of other slots: without a full fence, two workers leaving at once
    // could each still see the other accepting, and nobody would.
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

bool BalanceBoard::others_accepting(unsigned slot, Clock::time_point now) const {
    const std::uint32_t used = slots_used_->load(std::memory_order_relaxed);
    for (std::uint32_t other = 0; other < used && other < kMaxSlots; ++other) {
        if (other != slot && slots_[other].accepting.load(std::memory_order_relaxed) != 0 &&
            heard_from(slots_[other], now)) {
            return true;
        }
    }
    return false;
}

BalanceBoard::Share BalanceBoard::share(Clock::time_point now) const {
    Share share;
    const std::uint32_t used = slots_used_->load(std::memory_order_relaxed);
    for (std::uint32_t slot = 0; slot < used && slot < kMaxSlots; ++slot) {
        if (slots_[slot].available.load(std::memory_order_relaxed) == 0 || !heard_from(slots_[slot], now)) continue;
        share.connections += slots_[slot].active.load(std::memory_order_relaxed);
        ++share.workers;
    }
    return share;
}

void BalanceBoard::nudge() const {
    const std::uint64_t one = 1;
    // EAGAIN only once the counter nears 2^64: the workers have been nudged enough by then.
    ssize_t written = ::write(nudge_.get(), &one, sizeof one);
    (void)written;
}

}  // namespace corral
