// OutputQueue keeps bytes in order across chunks and partial writes, and ChunkPool stays bounded.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "common/fd.hpp"
#include "worker/output_queue.hpp"

using namespace corral;

namespace {

std::string pattern(std::size_t size) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
    return bytes;
}

std::string drain_socket(int fd) {
    std::string all;
    char buffer[65536];
    for (;;) {
        const ssize_t got = ::read(fd, buffer, sizeof buffer);
        if (got <= 0) break;
        all.append(buffer, static_cast<std::size_t>(got));
    }
    return all;
}

}  // namespace

TEST_CASE("bytes leave an OutputQueue in order, across chunks and short writes") {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == 0);
    Fd writer(pair[0]);
    Fd reader(pair[1]);
    const int small = 4096;
    ::setsockopt(writer.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);

    ChunkPool pool;
    OutputQueue queue;
    const std::string payload = pattern(5 * OutputChunk::kCapacity + 123);
    queue.append(std::string_view(payload).substr(0, 1000), pool);
    queue.append(std::string_view(payload).substr(1000), pool);
    CHECK(queue.size() == payload.size());

    std::string received;
    while (!queue.empty()) {
        const std::int64_t written = queue.write_to(writer.get(), pool);
        REQUIRE(written >= 0);
        received += drain_socket(reader.get());
    }
    received += drain_socket(reader.get());
    CHECK(received == payload);
    CHECK(pool.free_chunks() == 6);
}

TEST_CASE("a write error is reported and clear() returns every chunk") {
    ::signal(SIGPIPE, SIG_IGN);  // as in corral itself: a closed peer is EPIPE, not death
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == 0);
    Fd writer(pair[0]);
    Fd reader(pair[1]);
    ChunkPool pool;
    OutputQueue queue;
    queue.append(pattern(3 * OutputChunk::kCapacity), pool);
    reader.reset();
    CHECK(queue.write_to(writer.get(), pool) == -1);
    queue.clear(pool);
    CHECK(queue.empty());
    CHECK(pool.free_chunks() == 3);
}

TEST_CASE("ChunkPool keeps at most its bound of free chunks") {
    ChunkPool pool(2);
    OutputChunk* a = pool.take();
    OutputChunk* b = pool.take();
    OutputChunk* c = pool.take();
    pool.give_back(a);
    pool.give_back(b);
    pool.give_back(c);
    CHECK(pool.free_chunks() == 2);
}
