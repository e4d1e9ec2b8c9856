// The seam between a connection's transport and the protocol spoken on it. The transport
// (worker/connection.*) reads into the worker's scratch buffer, keeps what a service has not
// consumed yet, queues what the peer does not take at once, applies back-pressure, watches for
// EPOLLOUT, times out and closes. A service only hears that bytes arrived, that its output has
// all been written, and that the peer has finished; it answers through the connection.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "common/ipc.hpp"
#include "common/result.hpp"

namespace corral {

struct Connection;

// What a service keeps for one connection, if anything; the transport destroys it at close.
struct ServiceState {
    virtual ~ServiceState() = default;
};

class Service {
public:
    virtual ~Service() = default;

    // Called once the worker has dropped privileges, before it accepts. A failure is one sentence
    // saying why the service cannot serve: the worker then exits, and the start or the reload
    // fails with it.
    virtual Outcome start() { return {}; }
    // Called when the worker leaves, after every connection has been closed.
    virtual void stop() {}

    // A connection was accepted; the service may give it state of its own.
    virtual void opened(Connection&) {}
    // Bytes arrived. Returns how many it consumed: the transport keeps the rest and offers them
    // again, followed by whatever arrives next.
    virtual std::size_t received(Connection& connection, std::span<const char> bytes) = 0;
    // Everything the service sent has been written.
    virtual void drained(Connection&) {}
    // The peer will send nothing more. By default the connection closes once its output is out.
    virtual void peer_finished(Connection& connection);
    // The deadline it set on this connection has passed. By default the connection closes.
    virtual void deadline_passed(Connection& connection);
    // Adds what it counts to the worker's heartbeat.
    virtual void add_counters(WorkerCounters&) const {}
    // Adds the counters it publishes under names of its own (a module's), for /metrics.
    virtual void add_module_counters(std::vector<ModuleCounterSample>&) const {}
};

}  // namespace corral
