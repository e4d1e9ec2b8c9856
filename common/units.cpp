// Strict parsing of durations and sizes. A config typo like "16KB" or "5sec" is answered with the
// spelling that would have worked, because the operator fixing it is usually in a hurry.
#include "common/units.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <optional>
#include <span>
#include <utility>

#include "common/ascii.hpp"

namespace corral {
namespace {

struct Unit {
    std::string_view suffix;
    std::uint64_t multiplier;
};

constexpr std::array<Unit, 4> kDurationUnits{{
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

constexpr std::array<Unit, 4> kSizeUnits{{
    {"GiB", 1024ull * 1024 * 1024},
    {"MiB", 1024 * 1024},
    {"KiB", 1024},
    {"", 1},
}};

// Spellings people reach for, mapped to what we accept (compared in lower case), and units we
// refuse on purpose, with the reason.
struct Alias {
    std::string_view written;
    std::string_view meant;
};

struct UnitSystem {
    std::string_view noun;
    std::span<const Unit> units;
    std::span<const Alias> aliases;
    std::span<const Alias> refused;
    std::string_view suggested_unit;  // for a bare number; empty when a bare number is fine
};

constexpr std::array<Alias, 21> kDurationAliases{{
    {"ms", "ms"},     {"msec", "ms"},        {"msecs", "ms"},
    {"millis", "ms"}, {"millisecond", "ms"}, {"milliseconds", "ms"},
    {"s", "s"},       {"sec", "s"},          {"secs", "s"},
    {"second", "s"},  {"seconds", "s"},      {"min", "m"},
    {"mins", "m"},    {"minute", "m"},       {"minutes", "m"},
    {"h", "h"},       {"hr", "h"},           {"hrs", "h"},
    {"hour", "h"},    {"hours", "h"},        {"m", "m"},
}};

constexpr std::array<Alias, 7> kDurationRefused{{
    {"us", "the smallest unit is ms"},
    {"ns", "the smallest unit is ms"},
    {"d", "the largest unit is h"},
    {"day", "the largest unit is h"},
    {"days", "the largest unit is h"},
    {"w", "the largest unit is h"},
    {"weeks", "the largest unit is h"},
}};

constexpr std::array<Alias, 12> kSizeAliases{{
    {"k", "KiB"},
    {"kb", "KiB"},
    {"kib", "KiB"},
    {"m", "MiB"},
    {"mb", "MiB"},
    {"mib", "MiB"},
    {"g", "GiB"},
    {"gb", "GiB"},
    {"gib", "GiB"},
    {"b", ""},
    {"byte", ""},
    {"bytes", ""},
}};

constexpr std::array<Alias, 3> kSizeRefused{{
    {"t", "the largest unit is GiB"},
    {"tb", "the largest unit is GiB"},
    {"tib", "the largest unit is GiB"},
}};

constexpr UnitSystem kDurations{"duration", kDurationUnits, kDurationAliases, kDurationRefused,
                                "s"};
constexpr UnitSystem kSizes{"size", kSizeUnits, kSizeAliases, kSizeRefused, ""};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Parses a run of decimal digits; nullopt when it does not fit in 64 bits.
std::optional<std::uint64_t> parse_digits(std::string_view digits) {
    std::uint64_t value = 0;
    for (char c : digits) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

std::optional<std::string_view> lookup(std::string_view suffix, std::span<const Alias> table) {
    const std::string lowered = ascii_lower(suffix);
    for (const Alias& alias : table)
        if (alias.written == lowered) return alias.meant;
    return std::nullopt;
}

// The exact spelling of `amount` in the largest unit that divides it, e.g. "1536KiB" for 1.5MiB.
std::string exact_spelling(std::uint64_t amount, std::span<const Unit> units) {
    // Every table ends with a multiplier of 1, so some unit always divides the amount.
    const auto divides = [amount](const Unit& unit) { return amount % unit.multiplier == 0; };
    const Unit& unit =
        amount == 0 ? units.back() : *std::find_if(units.begin(), units.end(), divides);
    // Appending rather than `to_string(...) + string(suffix)`: g++ 12 at -O3 reports a bogus
    // -Wrestrict overlap for the latter.
    std::string spelling = std::to_string(amount / unit.multiplier);
    spelling.append(unit.suffix);
    return spelling;
}

// For "1.5" in a unit: the whole amount when it is exact, so that we can suggest it.
std::optional<std::uint64_t> exact_fraction(std::string_view whole, std::string_view fraction,
                                            std::uint64_t multiplier) {
    // Nine digits on each side keep every product below inside 64 bits before the check.
    if (whole.size() > 9 || fraction.empty() || fraction.size() > 9) return std::nullopt;
    std::uint64_t scale = 1;
    for (std::size_t i = 0; i < fraction.size(); ++i) scale *= 10;
    const std::uint64_t numerator = *parse_digits(whole) * scale + *parse_digits(fraction);
    if (numerator > std::numeric_limits<std::uint64_t>::max() / multiplier) return std::nullopt;
    if (numerator * multiplier % scale != 0) return std::nullopt;
    return numerator * multiplier / scale;
}

// The amount in the smallest unit, or a hint saying why the text was refused and what would
// work instead (the hint may be empty when we have nothing useful to add).
struct Verdict {
    std::optional<std::uint64_t> amount;
    std::string hint;
};

Verdict refuse(std::string hint) { return {std::nullopt, std::move(hint)}; }

Verdict parse_amount(std::string_view text, const UnitSystem& system) {
    if (text.empty()) return refuse("");
    if (text.front() == '-') return refuse(std::string(system.noun) + "s cannot be negative");
    if (text.front() == '+') return refuse("write it without a sign");
    for (char c : text)
        if (std::isspace(static_cast<unsigned char>(c))) return refuse("remove the spaces");

    std::size_t digits_end = 0;
    while (digits_end < text.size() && is_digit(text[digits_end])) ++digits_end;
    const std::string_view digits = text.substr(0, digits_end);
    const std::string_view suffix = text.substr(digits_end);
    if (digits.empty()) return refuse("it must start with a number");

    if (!suffix.empty() && suffix.front() == '.') {
        std::size_t fraction_end = 1;
        while (fraction_end < suffix.size() && is_digit(suffix[fraction_end])) ++fraction_end;
        const std::string_view fraction = suffix.substr(1, fraction_end - 1);
        const std::string_view unit_text = suffix.substr(fraction_end);
        for (const Unit& unit : system.units)
            if (unit.suffix == unit_text)
                if (const auto exact = exact_fraction(digits, fraction, unit.multiplier))
                    return refuse("fractions are not allowed; write \"" +
                                  exact_spelling(*exact, system.units) + "\"");
        return refuse("fractions are not allowed");
    }

    const auto number = parse_digits(digits);
    for (const Unit& unit : system.units) {
        if (unit.suffix != suffix) continue;
        if (!number || *number > std::numeric_limits<std::uint64_t>::max() / unit.multiplier)
            return refuse("too large");
        return {*number * unit.multiplier, ""};
    }
    if (suffix.empty())
        return refuse("a number needs a unit, e.g. \"" + std::string(digits) +
                      std::string(system.suggested_unit) + "\"");
    if (const auto meant = lookup(suffix, system.aliases))
        return refuse("did you mean \"" + std::string(digits) + std::string(*meant) + "\"?");
    if (const auto reason = lookup(suffix, system.refused)) return refuse(std::string(*reason));
    return refuse("unknown unit \"" + std::string(suffix) + "\"");
}

std::string refusal(std::string_view expected, std::string_view text, const std::string& hint) {
    std::string message = std::string(expected) + ", got \"" + std::string(text) + "\"";
    if (!hint.empty()) message += " (" + hint + ")";
    return message;
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
    using Rep = std::chrono::milliseconds::rep;
    if (text == "0") return std::chrono::milliseconds{0};
    Verdict verdict = parse_amount(text, kDurations);
    // milliseconds counts in a signed 64-bit integer; a larger amount would wrap negative.
    constexpr auto max_amount = static_cast<std::uint64_t>(std::numeric_limits<Rep>::max());
    if (verdict.amount && *verdict.amount > max_amount) verdict = refuse("too large");
    if (!verdict.amount) return Failure{refusal("expected a duration like 5s or 250ms", text, verdict.hint)};
    return std::chrono::milliseconds{static_cast<Rep>(*verdict.amount)};
}

Result<std::uint64_t> parse_size(std::string_view text) {
    const Verdict verdict = parse_amount(text, kSizes);
    if (!verdict.amount) return Failure{refusal("expected a size like 16KiB", text, verdict.hint)};
    return *verdict.amount;
}

std::string format_duration(std::chrono::milliseconds duration) {
    if (duration.count() == 0) return "0s";
    for (const Unit& unit : kDurationUnits) {
        const auto multiplier = static_cast<std::chrono::milliseconds::rep>(unit.multiplier);
        if (duration.count() % multiplier == 0)
            return std::to_string(duration.count() / multiplier) + std::string(unit.suffix);
    }
    return std::to_string(duration.count()) + "ms";  // unreachable: ms divides everything
}

std::string format_size(std::uint64_t bytes) { return exact_spelling(bytes, kSizeUnits); }

}  // namespace corral
