// OutputQueue and ChunkPool. Only used on the slow path, when the peer is not keeping up.
#include "worker/output_queue.hpp"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace corral {

ChunkPool::~ChunkPool() {
    while (free_ != nullptr) delete std::exchange(free_, free_->next);
}

OutputChunk* ChunkPool::take() {
    OutputChunk* chunk = free_;
    if (chunk != nullptr) {
        free_ = chunk->next;
        --free_count_;
    } else {
        chunk = new OutputChunk;
    }
    chunk->next = nullptr;
    chunk->begin = chunk->end = 0;
    return chunk;
}

void ChunkPool::give_back(OutputChunk* chunk) {
    if (free_count_ >= max_free_) {
        delete chunk;
        return;
    }
    chunk->next = free_;
    free_ = chunk;
    ++free_count_;
}

void OutputQueue::append(std::span<const char> bytes, ChunkPool& pool) {
    while (!bytes.empty()) {
        if (tail_ == nullptr || tail_->end == OutputChunk::kCapacity) {
            OutputChunk* chunk = pool.take();
            if (tail_ == nullptr) {
                head_ = tail_ = chunk;
            } else {
                tail_->next = chunk;
                tail_ = chunk;
            }
        }
        const std::size_t room = OutputChunk::kCapacity - tail_->end;
        const std::size_t count = std::min(room, bytes.size());
        std::memcpy(tail_->data + tail_->end, bytes.data(), count);
        tail_->end += static_cast<std::uint32_t>(count);
        size_ += count;
        bytes = bytes.subspan(count);
    }
}

std::int64_t OutputQueue::write_to(int fd, ChunkPool& pool) {
    std::int64_t total = 0;
    while (head_ != nullptr) {
        iovec vectors[16];
        int count = 0;
        std::size_t requested = 0;
        for (OutputChunk* chunk = head_; chunk != nullptr && count < 16; chunk = chunk->next) {
            vectors[count].iov_base = chunk->data + chunk->begin;
            vectors[count].iov_len = chunk->end - chunk->begin;
            requested += vectors[count].iov_len;
            ++count;
        }
        const ssize_t written = ::writev(fd, vectors, count);
        if (written < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return total;
            return -1;
        }
        total += written;
        size_ -= static_cast<std::size_t>(written);
        std::size_t left = static_cast<std::size_t>(written);
        while (left > 0) {
            const std::size_t in_head = head_->end - head_->begin;
            if (left < in_head) {
                head_->begin += static_cast<std::uint32_t>(left);
                break;
            }
            left -= in_head;
            pop_front(pool);
        }
        // A short write means the socket buffer is full: asking again would only cost EAGAIN.
        if (static_cast<std::size_t>(written) < requested) return total;
    }
    return total;
}

void OutputQueue::clear(ChunkPool& pool) {
    while (head_ != nullptr) pop_front(pool);
    size_ = 0;
}

void OutputQueue::pop_front(ChunkPool& pool) {
    OutputChunk* chunk = head_;
    head_ = chunk->next;
    if (head_ == nullptr) tail_ = nullptr;
    pool.give_back(chunk);
}

}  // namespace corral
