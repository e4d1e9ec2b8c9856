// The reading machinery of common/config_reader.hpp.
#include "common/config_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <tuple>

#include "common/errno_text.hpp"
#include "common/fd.hpp"
#include "common/units.hpp"

namespace corral {
namespace {

// Text from the file quoted in a message is cut to this: an error must stay readable.
constexpr std::size_t kMaxQuotedBytes = 256;

std::string child_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

// Optimal string alignment distance: Levenshtein plus swapped neighbours, the commonest typo.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t substitution = d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, substitution});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

}  // namespace

// Appended piece by piece: g++ 12 at -O3 sees an overlap that cannot happen in "\"" + string
// (a false -Wrestrict, GCC bug 105329) once this is inlined into the readers.
std::string quoted(std::string_view text) {
    std::string out(1, '"');
    out.append(text.substr(0, kMaxQuotedBytes));
    if (text.size() <= kMaxQuotedBytes) return out.append(1, '"');
    return out.append("...\" (").append(std::to_string(text.size())).append(" bytes)");
}

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map:
            return "a map";
        case YAML::NodeType::Sequence:
            return node.size() == 0 ? "an empty sequence" : "a sequence";
        case YAML::NodeType::Scalar:
            return quoted(node.Scalar());
        default:
            return "nothing";
    }
}

// The closest candidate when it is close enough to be what was meant: two edits, or a third of
// the word for long ones; one edit on words of four letters or less, where two edits would
// suggest "log" for "foo". An abbreviation ("warn", "max_conn") counts as one edit. A word whose
// length alone puts it out of reach is not compared: edit_distance costs the product of lengths.
std::optional<std::string_view> closest(std::string_view written,
                                        std::span<const std::string_view> candidates) {
    std::optional<std::string_view> best;
    std::size_t best_distance = 0;
    for (std::string_view candidate : candidates) {
        const std::size_t allowed =
            candidate.size() <= 4 ? 1 : std::max<std::size_t>(2, candidate.size() / 3);
        const bool abbreviation = written.size() >= 3 && candidate.starts_with(written);
        const std::size_t length_difference = written.size() > candidate.size() ? written.size() - candidate.size()
                                                                                : candidate.size() - written.size();
        if (!abbreviation && length_difference > allowed) continue;
        const std::size_t distance = abbreviation ? 1 : edit_distance(written, candidate);
        if (distance <= allowed && (!best || distance < best_distance)) {
            best = candidate;
            best_distance = distance;
        }
    }
    return best;
}

std::string join(std::span<const std::string_view> words) {
    std::string joined;
    for (std::string_view word : words) joined += (joined.empty() ? "" : ", ") + std::string(word);
    return joined;
}

std::optional<std::uint64_t> parse_integer(const std::string& text) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return {};
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{}) return std::nullopt;  // too many digits for 64 bits
    return value;
}

// O_NONBLOCK keeps a FIFO without a writer from hanging open(); only a regular file is read, and
// one too large is refused by its size before anything is read.
Result<std::string> read_small_file(const std::string& path, std::size_t max_bytes) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) return Failure{"cannot open the file: " + errno_text()};
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Failure{"cannot stat the file: " + errno_text()};
    if (!S_ISREG(st.st_mode))
        return Failure{S_ISDIR(st.st_mode) ? "it is a directory, not a file" : "it is not a regular file"};
    const std::string too_large = "the file is larger than " + format_size(max_bytes);
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes) return Failure{too_large};
    std::string text;
    char chunk[16384];
    for (;;) {
        const ssize_t count = ::read(fd.get(), chunk, sizeof chunk);
        if (count == 0) return text;
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) return Failure{"cannot read the file: " + errno_text()};
        text.append(chunk, static_cast<std::size_t>(count));
        // It may grow while being read.
        if (text.size() > max_bytes) return Failure{too_large};
    }
}

std::string ConfigReader::resolve(const std::string& path) const {
    if (path.starts_with('/')) return path;
    const std::size_t slash = file_.rfind('/');
    return (slash == std::string::npos ? std::string(".") : file_.substr(0, slash)) + "/" + path;
}

void ConfigReader::fail(const YAML::Mark& mark, std::string message) {
    // yaml-cpp counts from 0 and uses -1 for "no position" (an empty document).
    errors_.push_back(
        {file_, std::max(mark.line, 0) + 1, std::max(mark.column, 0) + 1, std::move(message)});
}

void ConfigReader::fail_expected(const YAML::Node& node, const std::string& path, std::string_view what) {
    fail(node.Mark(), path + ": expected " + std::string(what) + ", got " + describe(node));
}

ConfigReader::SeenKeys ConfigReader::read_map(const YAML::Node& map, const std::string& path, std::span<const Key> keys) {
    SeenKeys seen;
    if (!map.IsMap()) {
        fail_expected(map, path, "a map");
        return seen;
    }
    std::vector<std::string_view> names;
    for (const Key& key : keys) names.push_back(key.name);

    for (const auto& entry : map) {
        const YAML::Node& key_node = entry.first;
        const YAML::Node& value = entry.second;
        if (!key_node.IsScalar()) {
            fail(key_node.Mark(), (path.empty() ? "" : path + ": ") + "expected a key name, got " + describe(key_node));
            continue;
        }
        const std::string& name = key_node.Scalar();
        const std::string full_name = child_path(path, name);
        const auto key = std::find_if(keys.begin(), keys.end(),
                                      [&](const Key& known) { return known.name == name; });
        if (key == keys.end()) {
            std::string message = "unknown key " + quoted(full_name);
            if (const auto meant = closest(name, names))
                message += " (did you mean " + quoted(child_path(path, *meant)) + "?)";
            else
                message += "; known keys " + (path.empty() ? "here" : "in " + path) + ": " +
                           join(names);
            fail(key_node.Mark(), message);
        } else if (const auto earlier = seen.find(name); earlier != seen.end()) {
            fail(key_node.Mark(), "duplicate key " + quoted(full_name) + " (first given on line " +
                                      std::to_string(earlier->second.key_mark.line + 1) + ")");
        } else {
            seen[name] = Seen{key_node.Mark(), !value.IsNull()};
            if (!value.IsNull()) key->read(value, full_name);
        }
    }
    return seen;
}

// A NUL (YAML's "\0") is refused in every value: names, paths and addresses all end up
// in C strings, where everything after it would be silently dropped.
std::optional<std::string> ConfigReader::scalar(const YAML::Node& node, const std::string& path,
                                                std::string_view expected) {
    if (!node.IsScalar()) {
        fail_expected(node, path, expected);
        return std::nullopt;
    }
    if (node.Scalar().find('\0') != std::string::npos) {
        fail(node.Mark(), path + ": contains a NUL byte, which no setting can hold");
        return std::nullopt;
    }
    return node.Scalar();
}

namespace {

// A reader of an amount written with units (a size, a duration): `parse` reads the text, and
// `spell` writes the bounds in the message for one out of range.
template <typename Amount, typename Parse, typename Spell, typename Store>
ConfigReader::Reader amount_reader(ConfigReader& reader, const char* kind, const char* example, Amount min,
                                   Amount max, Parse parse, Spell spell, Store store) {
    return [&reader, kind, example, min, max, parse, spell, store](const YAML::Node& value, const std::string& path) {
        const auto text = reader.scalar(value, path, std::string("a ") + kind + " like " + example);
        if (!text) return;
        const auto amount = parse(*text);
        if (!amount)
            reader.fail(value.Mark(), path + ": " + amount.error());
        else if (*amount < min || *amount > max)
            reader.fail_expected(value, path, std::string("a ") + kind + " from " + spell(min) + " to " + spell(max));
        else
            store(*amount);
    };
}

}  // namespace

ConfigReader::Reader ConfigReader::as_size(std::uint64_t min, std::uint64_t max, std::size_t& out) {
    return amount_reader(*this, "size", "16KiB", min, max, parse_size, format_size,
                         [&out](std::uint64_t size) { out = static_cast<std::size_t>(size); });
}

ConfigReader::Reader ConfigReader::as_duration(std::chrono::milliseconds min, std::chrono::milliseconds max,
                                               std::chrono::milliseconds& out) {
    return amount_reader(*this, "duration", "5s or 250ms", min, max, parse_duration, format_duration,
                         [&out](std::chrono::milliseconds duration) { out = duration; });
}

ConfigReader::Reader ConfigReader::as_string(std::string& out) {
    return [this, &out](const YAML::Node& value, const std::string& path) {
        if (const auto text = scalar(value, path, "a string")) out = *text;
    };
}

ConfigReader::Reader ConfigReader::as_map(std::span<const Key> keys) {
    return [this, keys](const YAML::Node& value, const std::string& path) {
        read_map(value, path, keys);
    };
}

void ConfigReader::run_deferred(const Config& config) {
    for (const auto& check : deferred_) check(config);
    deferred_.clear();
}

std::vector<ConfigError> ConfigReader::take_errors() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const auto& a, const auto& b) { return std::tie(a.line, a.column) < std::tie(b.line, b.column); });
    return std::move(errors_);
}

}  // namespace corral
