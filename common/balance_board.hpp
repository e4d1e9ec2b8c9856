// BalanceBoard: how many connections each worker of one generation holds, in memory the master
// maps before forking them and they all share, so that a worker can tell it holds clearly more
// than its share and leave accepting to the others. Each slot has one writer (its worker, or the
// master once that worker is gone) and any number of readers: relaxed atomics, no locks. With it
// comes the nudge, an eventfd every worker of the generation watches: a worker that stops
// accepting while connections may still be queued nudges, and whoever is under its share then
// accepts them, since the kernel wakes nobody for connections already queued.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "common/fd.hpp"

namespace corral {

class BalanceBoard {
public:
    using Clock = std::chrono::steady_clock;

    // One slot per worker slot; a generation never has more workers than this.
    static constexpr unsigned kMaxSlots = 1024;
    // A worker publishes at least on every tick of its loop (250 ms). One silent for longer than
    // this is stuck (stopped, or in a long call): it accepts nothing, so it counts as unavailable
    // and the others take its place until it is back or the master replaces it.
    static constexpr std::chrono::milliseconds kSilentAfter{1000};

    // The others' view of the worker in one slot.
    struct alignas(64) Slot {  // a cache line each: every worker writes only its own
        std::atomic<std::uint32_t> active{0};  // connections open now
        std::atomic<std::uint32_t> available{0};  // 1 while it could accept (not draining, not full)
        std::atomic<std::uint32_t> accepting{0};  // 1 while it waits on the shared listeners
        std::atomic<std::int64_t> published_ms{0};  // steady clock, when it last published
    };

    // What a worker compares itself with: its generation's available workers, itself included.
    struct Share {
        std::uint64_t connections = 0;
        unsigned workers = 0;
    };

    BalanceBoard() = default;
    BalanceBoard(BalanceBoard&& other) noexcept;
    BalanceBoard& operator=(BalanceBoard&& other) noexcept;
    BalanceBoard(const BalanceBoard&) = delete;
    BalanceBoard& operator=(const BalanceBoard&) = delete;
    ~BalanceBoard();

    // Maps a zeroed shared board and opens its nudge. valid() is false on failure (errno set).
    static BalanceBoard create();
    bool valid() const { return slots_ != nullptr && nudge_.valid(); }

    void publish(unsigned slot, std::uint32_t active, bool available, Clock::time_point now);
    // The worker in `slot` is gone: it holds nothing and accepts nothing.
    void clear(unsigned slot);
    // Whether the worker in `slot` waits on the shared listeners. Clearing it is ordered before
    // any later others_accepting(): of two workers leaving at once, one sees the other gone.
    void set_accepting(unsigned slot, bool accepting);
    // Whether a worker other than the one in `slot`, and not silent, waits on the shared listeners.
    bool others_accepting(unsigned slot, Clock::time_point now) const;
    // Over the workers that are available and not silent. O(slots in use).
    Share share(Clock::time_point now) const;

    // Wakes every worker of the generation to look at the listeners again.
    void nudge() const;
    int nudge_fd() const { return nudge_.get(); }

private:
    // Whether the worker in `slot` has published within kSilentAfter of `now`.
    bool heard_from(const Slot& slot, Clock::time_point now) const;

    Slot* slots_ = nullptr;  // kMaxSlots of them
    std::atomic<std::uint32_t>* slots_used_ = nullptr;  // one past the highest slot published
    Fd nudge_;
};

}  // namespace corral
