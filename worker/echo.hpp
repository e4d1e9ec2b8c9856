// The echo service: every byte read is written back, in order, with bounded buffering.
#pragma once

#include <cstdint>

namespace corral {

struct Connection;

void serve_echo(Connection& connection, std::uint32_t ready);

}  // namespace corral
