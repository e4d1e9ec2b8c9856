// Tests for the strict duration and size parsers: what is accepted, what is refused, and that
// each refusal tells the operator what to write instead.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/units.hpp"

using namespace std::chrono_literals;

namespace corral {
namespace {

struct Refusal {
    std::string text;
    std::string error;
};

// Each text parses (with parse_duration or parse_size) to the value beside it.
template <class Value, class Parser>
void check_accepted(Parser parse, const std::vector<std::pair<std::string, Value>>& accepted) {
    for (const auto& [text, expected] : accepted) {
        CAPTURE(text);
        const auto parsed = parse(text);
        REQUIRE(parsed.ok());
        CHECK(*parsed == expected);
    }
}

// Each text is refused with the error beside it.
template <class Parser>
void check_refused(Parser parse, const std::vector<Refusal>& refused) {
    for (const auto& [text, error] : refused) {
        CAPTURE(text);
        const auto parsed = parse(text);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error() == error);
    }
}

TEST_CASE("parse_duration accepts every unit and a bare zero") {
    const std::vector<std::pair<std::string, std::chrono::milliseconds>> accepted{
        {"0", 0ms},
        {"0ms", 0ms},
        {"0s", 0ms},
        {"0h", 0ms},
        {"1ms", 1ms},
        {"250ms", 250ms},
        {"5s", 5s},
        {"2m", 2min},
        {"1h", 1h},
        {"90m", 90min},
        {"1000h", 1000h},
        {"0005s", 5s},
        {"9223372036854775807ms", std::chrono::milliseconds::max()},
    };
    check_accepted(parse_duration, accepted);
}

TEST_CASE("parse_duration refuses loose spellings and says what would work") {
    const std::string expected = "expected a duration like 5s or 250ms, got ";
    const std::vector<Refusal> refused{
        {"5", expected + "\"5\" (a number needs a unit, e.g. \"5s\")"},
        {"5 s", expected + "\"5 s\" (remove the spaces)"},
        {" 5s", expected + "\" 5s\" (remove the spaces)"},
        {"5s\n", expected + "\"5s\n\" (remove the spaces)"},
        {"5sec", expected + "\"5sec\" (did you mean \"5s\"?)"},
        {"5seconds", expected + "\"5seconds\" (did you mean \"5s\"?)"},
        {"5S", expected + "\"5S\" (did you mean \"5s\"?)"},
        {"3min", expected + "\"3min\" (did you mean \"3m\"?)"},
        {"2hours", expected + "\"2hours\" (did you mean \"2h\"?)"},
        {"100msec", expected + "\"100msec\" (did you mean \"100ms\"?)"},
        {"-5s", expected + "\"-5s\" (durations cannot be negative)"},
        {"+5s", expected + "\"+5s\" (write it without a sign)"},
        {"1.5s", expected + "\"1.5s\" (fractions are not allowed; write \"1500ms\")"},
        {"0.5h", expected + "\"0.5h\" (fractions are not allowed; write \"30m\")"},
        {"1.0001s", expected + "\"1.0001s\" (fractions are not allowed)"},
        {"1.5", expected + "\"1.5\" (fractions are not allowed)"},
        {"2d", expected + "\"2d\" (the largest unit is h)"},
        {"10us", expected + "\"10us\" (the smallest unit is ms)"},
        {"5m30s", expected + "\"5m30s\" (unknown unit \"m30s\")"},
        {"s", expected + "\"s\" (it must start with a number)"},
        {"", expected + "\"\""},
        {"9223372036854775808ms", expected + "\"9223372036854775808ms\" (too large)"},
        {"2562047788016h", expected + "\"2562047788016h\" (too large)"},
        {"99999999999999999999999s", expected + "\"99999999999999999999999s\" (too large)"},
    };
    check_refused(parse_duration, refused);
}

TEST_CASE("parse_size accepts bytes and binary suffixes") {
    const std::vector<std::pair<std::string, std::uint64_t>> accepted{
        {"0", 0},
        {"512", 512},
        {"4096", 4096},
        {"16KiB", 16 * 1024},
        {"1MiB", 1024 * 1024},
        {"64MiB", 64ull << 20},
        {"1GiB", 1ull << 30},
        {"16GiB", 16ull << 30},
        {"18446744073709551615", 18446744073709551615ull},
    };
    check_accepted(parse_size, accepted);
}

TEST_CASE("parse_size refuses decimal and loose suffixes and says what would work") {
    const std::string expected = "expected a size like 16KiB, got ";
    const std::vector<Refusal> refused{
        {"16KB", expected + "\"16KB\" (did you mean \"16KiB\"?)"},
        {"16k", expected + "\"16k\" (did you mean \"16KiB\"?)"},
        {"16K", expected + "\"16K\" (did you mean \"16KiB\"?)"},
        {"16kib", expected + "\"16kib\" (did you mean \"16KiB\"?)"},
        {"2MB", expected + "\"2MB\" (did you mean \"2MiB\"?)"},
        {"1G", expected + "\"1G\" (did you mean \"1GiB\"?)"},
        {"512B", expected + "\"512B\" (did you mean \"512\"?)"},
        {"512bytes", expected + "\"512bytes\" (did you mean \"512\"?)"},
        {"-1", expected + "\"-1\" (sizes cannot be negative)"},
        {"+1", expected + "\"+1\" (write it without a sign)"},
        {"1.5MiB", expected + "\"1.5MiB\" (fractions are not allowed; write \"1536KiB\")"},
        {"0.5GiB", expected + "\"0.5GiB\" (fractions are not allowed; write \"512MiB\")"},
        {"1.1MiB", expected + "\"1.1MiB\" (fractions are not allowed)"},
        {"16 KiB", expected + "\"16 KiB\" (remove the spaces)"},
        {"1TiB", expected + "\"1TiB\" (the largest unit is GiB)"},
        {"16XiB", expected + "\"16XiB\" (unknown unit \"XiB\")"},
        {"KiB", expected + "\"KiB\" (it must start with a number)"},
        {"0x10", expected + "\"0x10\" (unknown unit \"x10\")"},
        {"", expected + "\"\""},
        {"18446744073709551616", expected + "\"18446744073709551616\" (too large)"},
        {"17179869184GiB", expected + "\"17179869184GiB\" (too large)"},
    };
    check_refused(parse_size, refused);
}

TEST_CASE("format_duration picks the largest exact unit") {
    CHECK(format_duration(0ms) == "0s");
    CHECK(format_duration(1ms) == "1ms");
    CHECK(format_duration(1500ms) == "1500ms");
    CHECK(format_duration(5s) == "5s");
    CHECK(format_duration(90s) == "90s");
    CHECK(format_duration(2min) == "2m");
    CHECK(format_duration(90min) == "90m");
    CHECK(format_duration(1h) == "1h");
    CHECK(format_duration(48h) == "48h");
}

TEST_CASE("format_size picks the largest exact unit") {
    CHECK(format_size(0) == "0");
    CHECK(format_size(512) == "512");
    CHECK(format_size(1025) == "1025");
    CHECK(format_size(16 * 1024) == "16KiB");
    CHECK(format_size(1536 * 1024) == "1536KiB");
    CHECK(format_size(64ull << 20) == "64MiB");
    CHECK(format_size(1ull << 30) == "1GiB");
    CHECK(format_size(3ull << 40) == "3072GiB");
}

TEST_CASE("formatted durations and sizes parse back to the same value") {
    const std::vector<std::chrono::milliseconds> durations{0ms, 7ms, 1000ms, 61s, 3min, 25h};
    for (const auto duration : durations) {
        CAPTURE(duration.count());
        const auto parsed = parse_duration(format_duration(duration));
        REQUIRE(parsed.ok());
        CHECK(*parsed == duration);
    }
    for (const std::uint64_t size : {0ull, 1ull, 1023ull, 1024ull, 3ull << 20, 5ull << 30}) {
        CAPTURE(size);
        const auto parsed = parse_size(format_size(size));
        REQUIRE(parsed.ok());
        CHECK(*parsed == size);
    }
}

}  // namespace
}  // namespace corral
