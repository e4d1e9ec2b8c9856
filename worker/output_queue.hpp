// OutputQueue: bytes a connection owes its peer but could not write yet, kept in pooled chunks so
// that a connection holds memory only while it has unsent data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace corral {

struct OutputChunk {
    static constexpr std::size_t kCapacity = 16 * 1024;
    OutputChunk* next = nullptr;
    std::uint32_t begin = 0;  // first unsent byte
    std::uint32_t end = 0;  // one past the last byte stored
    char data[kCapacity];
};

// Keeps freed chunks for reuse, up to a bound, so a burst of slow clients does not leave the
// worker holding their peak memory forever.
class ChunkPool {
public:
    explicit ChunkPool(std::size_t max_free_chunks = 64) : max_free_(max_free_chunks) {}
    ChunkPool(const ChunkPool&) = delete;
    ChunkPool& operator=(const ChunkPool&) = delete;
    ~ChunkPool();

    OutputChunk* take();
    void give_back(OutputChunk* chunk);

    std::size_t free_chunks() const { return free_count_; }

private:
    OutputChunk* free_ = nullptr;
    std::size_t free_count_ = 0;
    std::size_t max_free_;
};

class OutputQueue {
public:
    OutputQueue() = default;
    OutputQueue(const OutputQueue&) = delete;
    OutputQueue& operator=(const OutputQueue&) = delete;

    bool empty() const { return size_ == 0; }
    std::size_t size() const { return size_; }

    void append(std::span<const char> bytes, ChunkPool& pool);

    // Writes as much as the socket takes. Returns the number of bytes written, or -1 when the
    // write failed with something other than EAGAIN (errno set).
    std::int64_t write_to(int fd, ChunkPool& pool);

    // Returns every chunk to the pool.
    void clear(ChunkPool& pool);

private:
    void pop_front(ChunkPool& pool);

    OutputChunk* head_ = nullptr;
    OutputChunk* tail_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace corral
