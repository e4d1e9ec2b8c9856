// The machinery every part of the configuration is read with: key tables checked against the
// document (an unknown key gets "did you mean"), typed values with their bounds, and every problem
// collected with its FILE:LINE:COLUMN and full key path, so that one `corral check` shows all
// there is to fix. The top level (common/config.cpp) and each service's own block of settings
// (named in common/service_catalog.hpp) are read with it.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/config.hpp"

namespace corral {

// Text from the file as a message quotes it: in double quotes, cut to stay readable.
std::string quoted(std::string_view text);
// What a node turned out to be, for "expected X, got Y".
std::string describe(const YAML::Node& node);
// The candidate the operator most likely meant by `written`, if one is close enough.
std::optional<std::string_view> closest(std::string_view written, std::span<const std::string_view> candidates);
std::string join(std::span<const std::string_view> words);
// Digits only: "+5", "0x10" and "12abc" are refused rather than guessed.
std::optional<std::uint64_t> parse_integer(const std::string& text);

// Reads a regular file of at most max_bytes without ever blocking (a FIFO is refused, not waited
// on). The master does this in its own loop on every reload.
Result<std::string> read_small_file(const std::string& path, std::size_t max_bytes);

class ConfigReader {
public:
    // Reads one non-null value; path is the full key, e.g. "limits.nofile".
    using Reader = std::function<void(const YAML::Node& value, const std::string& path)>;
    struct Key {
        std::string_view name;
        Reader read;
    };
    struct Seen {
        YAML::Mark key_mark;
        bool has_value = false;
    };
    using SeenKeys = std::map<std::string, Seen, std::less<>>;

    explicit ConfigReader(std::string file) : file_(std::move(file)) {}

    // A path as written in the file: relative ones are relative to the file's directory, so that
    // a config and what it names move together.
    std::string resolve(const std::string& path) const;

    void fail(const YAML::Mark& mark, std::string message);
    void fail_expected(const YAML::Node& node, const std::string& path, std::string_view what);

    // Checks the keys of a map against the table and reads each value that is not null (null
    // keeps the default). Returns every key present, so that callers can check required ones.
    SeenKeys read_map(const YAML::Node& map, const std::string& path, std::span<const Key> keys);

    // The text of a scalar without NUL bytes, or nothing (the error recorded).
    std::optional<std::string> scalar(const YAML::Node& node, const std::string& path, std::string_view expected);

    // Readers of one kind of value each, for the key tables.
    template <typename Integer>
    Reader as_integer(std::uint64_t min, std::uint64_t max, Integer& out);
    Reader as_size(std::uint64_t min, std::uint64_t max, std::size_t& out);
    Reader as_duration(std::chrono::milliseconds min, std::chrono::milliseconds max, std::chrono::milliseconds& out);
    // `choices` holds entries with a `name` and a `value`.
    template <typename Entry, std::size_t N, typename Value>
    Reader as_choice(const std::array<Entry, N>& choices, Value& out);
    Reader as_string(std::string& out);
    Reader as_map(std::span<const Key> keys);

    // A check that needs the whole configuration (the account workers run as, say): run by
    // run_deferred() once everything has been read.
    void defer(std::function<void(const Config&)> check) { deferred_.push_back(std::move(check)); }
    void run_deferred(const Config& config);

    bool has_errors() const { return !errors_.empty(); }
    // The errors in the order of the document.
    std::vector<ConfigError> take_errors();

protected:
    const std::string& file() const { return file_; }

private:
    std::string file_;
    std::vector<ConfigError> errors_;
    std::vector<std::function<void(const Config&)>> deferred_;
};

template <typename Integer>
ConfigReader::Reader ConfigReader::as_integer(std::uint64_t min, std::uint64_t max, Integer& out) {
    return [this, min, max, &out](const YAML::Node& value, const std::string& path) {
        const std::string expected = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
        const auto text = scalar(value, path, expected);
        if (!text) return;
        const auto number = parse_integer(*text);
        if (!number || *number < min || *number > max) return fail_expected(value, path, expected);
        out = static_cast<Integer>(*number);
    };
}

template <typename Entry, std::size_t N, typename Value>
ConfigReader::Reader ConfigReader::as_choice(const std::array<Entry, N>& choices, Value& out) {
    return [this, &choices, &out](const YAML::Node& value, const std::string& path) {
        std::array<std::string_view, N> names;
        std::transform(choices.begin(), choices.end(), names.begin(), [](const auto& choice) { return choice.name; });
        const std::string expected = "one of " + join(names);
        const auto text = scalar(value, path, expected);
        if (!text) return;
        const auto chosen =
            std::find_if(choices.begin(), choices.end(), [&](const auto& choice) { return choice.name == *text; });
        if (chosen != choices.end()) {
            out = chosen->value;
            return;
        }
        std::string message = path + ": expected " + expected + ", got " + describe(value);
        if (const auto meant = closest(*text, names)) message += " (did you mean " + quoted(*meant) + "?)";
        fail(value.Mark(), message);
    };
}

}  // namespace corral
