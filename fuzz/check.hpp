// The one assertion the fuzz targets share: a broken property prints what broke and traps, and
// libFuzzer keeps the input that did it.
#pragma once

#include <cstdio>
#include <string_view>

namespace corral::fuzz {

[[noreturn]] inline void broken(const char* file, int line, const char* property, std::string_view detail) {
    std::fprintf(stderr, "%s:%d: property broken: %s\n", file, line, property);
    if (!detail.empty())
        std::fprintf(stderr, "  %.*s\n", static_cast<int>(detail.size()), detail.data());
    std::fflush(stderr);
    __builtin_trap();
}

}  // namespace corral::fuzz

// FUZZ_CHECK(condition) or FUZZ_CHECK(condition, detail): detail is anything a string_view
// can be made from, shown when the condition is false.
#define FUZZ_CHECK(condition, ...)                                                               \
    do {                                                                                         \
        if (!(condition))                                                                        \
            ::corral::fuzz::broken(__FILE__, __LINE__, #condition, std::string_view{__VA_ARGS__}); \
    } while (false)
