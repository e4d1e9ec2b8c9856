// Result: what a function that can fail returns, its value or why there is none. The reason is a
// sentence for an operator, worded by the function that failed; the caller decides whether and
// how to log it. The one exception is a thin wrapper of a single system call (Fd, EventLoop,
// send_message), which returns as the call does, with errno set.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace corral {

// Why a Result has no value: `return Failure{"no user named \"x\""};`.
template <class Reason = std::string>
struct Failure {
    Reason reason;
};

template <class Reason>
Failure(Reason) -> Failure<Reason>;
Failure(const char*) -> Failure<std::string>;

template <class T, class Reason = std::string>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    template <class Given>
    Result(Failure<Given> failure) : state_(std::in_place_index<1>, Reason(std::move(failure.reason))) {}

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& operator*() & { return std::get<0>(state_); }
    const T& operator*() const& { return std::get<0>(state_); }
    T&& operator*() && { return std::get<0>(std::move(state_)); }
    T* operator->() { return &std::get<0>(state_); }
    const T* operator->() const { return &std::get<0>(state_); }

    const Reason& error() const { return std::get<1>(state_); }

private:
    std::variant<T, Reason> state_;
};

// Success without a value, or why not.
template <class Reason>
class [[nodiscard]] Result<void, Reason> {
public:
    Result() = default;
    template <class Given>
    Result(Failure<Given> failure) : reason_(std::move(failure.reason)), failed_(true) {}

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Reason& error() const { return reason_; }

private:
    Reason reason_{};
    bool failed_ = false;
};

using Outcome = Result<void>;

}  // namespace corral
