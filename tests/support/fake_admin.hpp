// Test support: a stand-in for a master's admin endpoint on 127.0.0.1, answering every request
// with one fixed reply, to show what the command line does with answers it must not trust.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "common/fd.hpp"

namespace corral::test {

class FakeAdmin {
public:
    explicit FakeAdmin(std::string body, int status = 200);
    ~FakeAdmin();
    FakeAdmin(const FakeAdmin&) = delete;
    FakeAdmin& operator=(const FakeAdmin&) = delete;

    std::uint16_t port() const { return port_; }
    int requests() const { return requests_; }

private:
    Fd listener_;
    std::uint16_t port_ = 0;
    std::string reply_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> requests_{0};
    std::thread server_;
};

}  // namespace corral::test
