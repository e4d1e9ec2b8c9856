// The echo service: every byte received is sent back, in order.
#pragma once

#include "worker/service.hpp"

namespace corral {

class EchoService final : public Service {
public:
    std::size_t received(Connection& connection, std::span<const char> bytes) override;
};

}  // namespace corral
