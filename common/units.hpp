// Strict parsing of the config's durations ("250ms", "5s", "2m", "1h") and sizes ("4096",
// "16KiB", "1MiB", "1GiB").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace corral {

// Accepts digits followed by ms, s, m or h; a bare "0" is also accepted. Rejects signs, spaces,
// fractions, unknown suffixes and values that overflow, saying what would work.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Accepts digits optionally followed by KiB, MiB or GiB. Same strictness as parse_duration.
Result<std::uint64_t> parse_size(std::string_view text);

// "1500ms", "5s", "2m": the shortest exact spelling, for messages.
std::string format_duration(std::chrono::milliseconds duration);

// "512", "16KiB", "1536KiB": the shortest exact spelling, for messages.
std::string format_size(std::uint64_t bytes);

}  // namespace corral
