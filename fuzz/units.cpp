// parse_size and parse_duration on the same arbitrary text, and format_size/format_duration on
// values taken from it. Properties: a refusal says why; an accepted value's shortest spelling
// parses back to it; a value's spelling always parses back to it; when a refusal suggests an exact
// spelling ("write \"90m\""), that spelling is accepted.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "common/units.hpp"
#include "fuzz/check.hpp"

using namespace corral;

namespace {

// The spelling a refusal of `text` suggests with `fractions are not allowed; write "X"`, if any.
// Found where the hint must be, after the quoted text, since the text itself may hold anything.
std::string_view suggested_spelling(std::string_view error, std::string_view expected, std::string_view text) {
    const std::string before_hint = std::string(expected) + ", got \"" + std::string(text) + "\" (";
    if (!error.starts_with(before_hint) || !error.ends_with(')')) return {};
    const std::string_view hint = error.substr(before_hint.size(), error.size() - before_hint.size() - 1);
    constexpr std::string_view kWrite = "fractions are not allowed; write \"";
    if (!hint.starts_with(kWrite) || !hint.ends_with('"')) return {};
    return hint.substr(kWrite.size(), hint.size() - kWrite.size() - 1);
}

// A refusal says why, and a spelling it suggests is accepted; an accepted value's shortest
// spelling parses back to it. `expected` opens the parser's refusals.
template <class Parser, class Formatter>
void check_text(std::string_view text, Parser parse, Formatter format, std::string_view expected) {
    const auto value = parse(text);
    if (!value) {
        const std::string& error = value.error();
        FUZZ_CHECK(!error.empty(), text);
        if (const std::string_view suggestion = suggested_spelling(error, expected, text); !suggestion.empty()) {
            FUZZ_CHECK(parse(suggestion).ok(), error);
        }
        return;
    }
    const std::string spelling = format(*value);
    const auto again = parse(spelling);
    FUZZ_CHECK(again.ok(), spelling + ": " + again.error());
    FUZZ_CHECK(*again == *value, spelling);
    // The shortest spelling: never longer than what was parsed, leading zeros aside (a duration's
    // "0" is the one spelling shorter than the formatter's "0s").
    FUZZ_CHECK(spelling.size() <= text.size() || text.starts_with('0'), spelling);
}

// The spelling of a value parses back to it.
template <class Value, class Parser, class Formatter>
void check_spelling(Value value, Parser parse, Formatter format) {
    const std::string spelling = format(value);
    const auto parsed = parse(spelling);
    FUZZ_CHECK(parsed.ok(), spelling + ": " + parsed.error());
    FUZZ_CHECK(*parsed == value, spelling);
}

// Any value has a spelling that parses back to it: sizes over the whole 64 bits, durations over
// every non-negative count of milliseconds.
void check_value(std::uint64_t value) {
    check_spelling(value, parse_size, format_size);
    using Rep = std::chrono::milliseconds::rep;
    check_spelling(std::chrono::milliseconds{static_cast<Rep>(value & std::numeric_limits<Rep>::max())},
                   parse_duration, format_duration);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    check_text(text, parse_size, format_size, "expected a size like 16KiB");
    if (const auto duration = parse_duration(text)) FUZZ_CHECK(duration->count() >= 0, text);
    check_text(text, parse_duration, format_duration, "expected a duration like 5s or 250ms");
    // The first eight bytes as a value too, so that the formatters see large and odd numbers.
    std::uint64_t value = 0;
    std::memcpy(&value, data, std::min<std::size_t>(size, sizeof value));
    check_value(value);
    return 0;
}
