// Echo. The common case costs one read() and one write(): the transport reads into the worker's
// scratch buffer and send() writes straight from it; only what the peer does not take at once is
// copied into the connection's output queue. The transport never reads more than the queue has
// room for, which is what bounds an echo.
#include "worker/echo.hpp"

#include "worker/connection.hpp"

namespace corral {

std::size_t EchoService::received(Connection& connection, std::span<const char> bytes) {
    connection.send(bytes);
    return bytes.size();
}

}  // namespace corral
