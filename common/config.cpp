// Reading the YAML configuration into a Config. Every problem in the document is collected with
// its position and full key path, so that one `corral check` shows everything there is to fix.
#include "common/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <functional>
#include <map>
#include <span>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "common/account.hpp"
#include "common/address.hpp"
#include "common/ascii.hpp"
#include "common/fd.hpp"
#include "common/http_syntax.hpp"
#include "common/service_catalog.hpp"
#include "common/units.hpp"

namespace corral {
namespace {

// A config file is a few kilobytes; anything this large is the wrong file (or /dev/zero).
constexpr std::size_t kMaxConfigBytes = 1024 * 1024;
// Far more than any machine serves on, few enough that the master's work on them stays small.
constexpr std::size_t kMaxListeners = 4096;
// Text from the file quoted in a message is cut to this: an error must stay readable.
constexpr std::size_t kMaxQuotedBytes = 256;

// A page served from memory: large enough for any maintenance page, small against a mistake.
constexpr std::size_t kMaxHttpFileBytes = 1024 * 1024;
constexpr std::size_t kMaxHttpPathBytes = 1024;
// Headers corral writes itself on every response; the config may not set them twice.
constexpr std::array<std::string_view, 6> kHttpHeadersOwned{
    {"content-length", "content-type", "date", "server", "connection", "transfer-encoding"}};
constexpr std::string_view kSecondDocument =
    "a second YAML document (after \"---\") is not allowed; the settings must be one map";

std::optional<std::string> read_file(const std::string& path, std::string& error);

std::string quoted(std::string_view text) {
    if (text.size() <= kMaxQuotedBytes) return "\"" + std::string(text) + "\"";
    return "\"" + std::string(text.substr(0, kMaxQuotedBytes)) + "...\" (" + std::to_string(text.size()) + " bytes)";
}

// What a node turned out to be, for "expected X, got Y".
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

std::string child_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

template <typename Value>
struct Choice {
    std::string_view name;
    Value value;
};

constexpr std::array<Choice<Balance>, 2> kBalances{
    {{"exclusive", Balance::exclusive}, {"reuseport", Balance::reuseport}}};
constexpr std::array<Choice<LogLevel>, 5> kLogLevels{{{"debug", LogLevel::debug},
                                                      {"info", LogLevel::info},
                                                      {"notice", LogLevel::notice},
                                                      {"warning", LogLevel::warning},
                                                      {"error", LogLevel::error}}};

// Strict integers: digits only, so that "+5", "0x10" and "12abc" are refused rather than guessed.
std::optional<std::uint64_t> parse_integer(const std::string& text) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return {};
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{}) return std::nullopt;  // too many digits for 64 bits
    return value;
}

// Where the document's text starts, and where a second document starts, found line by line.
// yaml-cpp 0.7's LoadAll can loop forever, allocating, on malformed input such as a leading ','
// (fixed upstream in yaml-cpp PR #1319), so the reader loads one document with Load and looks
// for others here: a line starting with "---" is a document marker wherever it is (YAML 1.2).
struct Outline {
    std::optional<YAML::Mark> first_text;
    std::string first_line;  // from first_text to the end of its line
    std::optional<YAML::Mark> second_document;
};

Outline outline_of(std::string_view text) {
    Outline outline;
    std::optional<YAML::Mark> marker_after_text;
    YAML::Mark mark;
    for (std::size_t start = 0; start < text.size(); ++mark.line) {
        const std::size_t end = std::min(text.find('\n', start), text.size());
        const std::string_view line = text.substr(start, end - start);
        start = end + 1;
        const bool marker = line.starts_with("---") &&
                            (line.size() == 3 || std::isspace(static_cast<unsigned char>(line[3])));
        if (marker && outline.first_text) marker_after_text = mark;
        const std::size_t skipped = marker ? 3 : 0;
        const std::size_t column = line.find_first_not_of(" \t\r", skipped);
        if (column == std::string_view::npos || line[column] == '#' || line.starts_with("%") ||
            line.starts_with("...")) {
            continue;
        }
        if (marker_after_text) {
            outline.second_document = marker_after_text;
            break;
        }
        if (!outline.first_text) {
            mark.column = static_cast<int>(column);
            outline.first_text = mark;
            outline.first_line = line.substr(column);
            mark.column = 0;
        }
    }
    return outline;
}

class ConfigReader {
public:
    explicit ConfigReader(const std::string& file) : file_(file) { config_.path = file; }

    ConfigResult read(std::string_view yaml_text) {
        try {
            const YAML::Node root = YAML::Load(std::string(yaml_text));
            const Outline outline = outline_of(yaml_text);
            // yaml-cpp returns nothing, without an error, for some text it cannot read.
            if (root.IsNull() && outline.first_text)
                fail(*outline.first_text, "expected a map of settings at the top level, got " +
                                              quoted(outline.first_line));
            else
                read_top_level(root);
            check_addresses_are_distinct();
            // YAML::Load ignores everything after a "---"; an operator would not expect that.
            if (outline.second_document)
                fail(*outline.second_document, std::string(kSecondDocument));
        } catch (const YAML::DeepRecursion& error) {
            // Its message says "bad file", which would send the operator looking in vain.
            fail(error.mark, "invalid YAML: nested too deeply");
        } catch (const YAML::Exception& error) {
            // A syntax error, or yaml-cpp refusing something we did not foresee: either way one
            // error with its position, never an exception out of the loader.
            fail(error.mark, "invalid YAML: " + error.msg);
        }
        std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
            return std::tie(a.line, a.column) < std::tie(b.line, b.column);
        });
        ConfigResult result;
        if (errors_.empty()) result.config = std::move(config_);
        result.errors = std::move(errors_);
        return result;
    }

private:
    // Reads one non-null value into the Config; path is the full key, e.g. "limits.nofile".
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
    // Every valid address and where it was written, to name both entries of a duplicate.
    struct PlacedAddress {
        Address address;
        std::string path;
        YAML::Mark mark;
    };

    void fail(const YAML::Mark& mark, std::string message) {
        // yaml-cpp counts from 0 and uses -1 for "no position" (an empty document).
        errors_.push_back(
            {file_, std::max(mark.line, 0) + 1, std::max(mark.column, 0) + 1, std::move(message)});
    }

    void fail_expected(const YAML::Node& node, const std::string& path, std::string_view what) {
        fail(node.Mark(), path + ": expected " + std::string(what) + ", got " + describe(node));
    }

    // Checks the keys of a map against the table and reads each value that is not null (null
    // keeps the default). Returns every key present, so that callers can check required ones.
    SeenKeys read_map(const YAML::Node& map, const std::string& path, std::span<const Key> keys) {
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
                fail(key_node.Mark(), (path.empty() ? "" : path + ": ") +
                                          "expected a key name, got " + describe(key_node));
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
                fail(key_node.Mark(), "duplicate key " + quoted(full_name) +
                                          " (first given on line " +
                                          std::to_string(earlier->second.key_mark.line + 1) + ")");
            } else {
                seen[name] = Seen{key_node.Mark(), !value.IsNull()};
                if (!value.IsNull()) key->read(value, full_name);
            }
        }
        return seen;
    }

    void read_top_level(const YAML::Node& root) {
        if (root.IsNull()) {
            fail(root.Mark(), "the configuration is empty; at least \"listen\" is required");
            return;
        }
        if (!root.IsMap()) {
            fail(root.Mark(), "expected a map of settings at the top level, got " + describe(root));
            return;
        }
        LimitsConfig& limits = config_.limits;
        TimeoutsConfig& timeouts = config_.timeouts;
        const std::array<Key, 5> limit_keys{{
            {"max_connections", as_integer(1, 1'000'000, limits.max_connections)},
            {"read_buffer", as_size(512, 64 << 20, limits.read_buffer)},
            {"max_output_buffer", as_size(1, 1 << 30, limits.max_output_buffer)},
            {"max_worker_output", as_size(64 << 10, 1ull << 40, limits.max_worker_output)},
            {"nofile", as_integer(1, 1 << 20, limits.nofile)},
        }};
        const std::array<Key, 3> timeout_keys{{
            // Upper bounds well below what a clock in nanoseconds can add without overflowing,
            // at lengths beyond which a setting stops making sense.
            {"idle", as_duration(std::chrono::seconds{0}, std::chrono::hours{168}, timeouts.idle)},
            {"shutdown", as_duration(std::chrono::seconds{0}, std::chrono::hours{24}, timeouts.shutdown)},
            {"heartbeat", as_duration(std::chrono::seconds{1}, std::chrono::hours{1}, timeouts.heartbeat)},
        }};
        const std::array<Key, 2> admin_keys{{{"listen", as_address(config_.admin_listen)},
                                              {"group", as_string(config_.admin_group)}}};
        const std::array<Key, 2> log_keys{{
            {"level", as_choice(kLogLevels, config_.log.level)},
            {"file", as_string(config_.log.file)},
        }};
        const std::array<Key, 9> top_keys{{
            {"workers", as_workers()},
            {"listen", [this](auto& value, auto& path) { read_listeners(value, path); }},
            {"admin", as_map(admin_keys)},
            {"limits", as_map(limit_keys)},
            {"timeouts", as_map(timeout_keys)},
            {"user", as_string(config_.user)},
            {"group", as_string(config_.group)},
            {"pid_file", as_string(config_.pid_file)},
            {"log", as_map(log_keys)},
        }};
        const SeenKeys seen = read_map(root, "", top_keys);
        resolve_account(root);
        resolve_admin_group(root);
        if (const auto listen = seen.find("listen"); listen == seen.end())
            fail(root.Mark(),
                 "listen: required key is missing; add at least one listener, e.g. "
                 "\"listen: [{address: 127.0.0.1:7000}]\"");
        else if (!listen->second.has_value)
            fail(listen->second.key_mark, "listen: expected at least one listener, got nothing");
    }

    void read_listeners(const YAML::Node& sequence, const std::string& path) {
        if (!sequence.IsSequence() || sequence.size() == 0) {
            fail_expected(sequence, path,
                          "a sequence of listeners like \"- address: 127.0.0.1:7000\"");
            return;
        }
        if (sequence.size() > kMaxListeners) {
            fail(sequence.Mark(), path + ": " + std::to_string(sequence.size()) + " listeners; at most " +
                                      std::to_string(kMaxListeners));
            return;
        }
        for (std::size_t index = 0; index < sequence.size(); ++index) {
            config_.listen.emplace_back();
            read_listener(sequence[index], path + "[" + std::to_string(index) + "]",
                          config_.listen.back());
        }
    }

    void read_listener(const YAML::Node& entry, const std::string& path, ListenConfig& listener) {
        if (!entry.IsMap()) {
            fail_expected(entry, path, "a map like \"address: 127.0.0.1:7000\"");
            return;
        }
        std::optional<Address> address;
        const std::array<Key, 5> listener_keys{{
            {"address", as_address(address)},
            {"service", as_choice(kServiceCatalog, listener.service)},
            {"backlog", as_integer(1, 65535, listener.backlog)},
            {"balance", as_choice(kBalances, listener.balance)},
            {"http", as_http(listener.http)},
        }};
        const SeenKeys seen = read_map(entry, path, listener_keys);

        if (const auto found = seen.find("address"); found == seen.end())
            fail(entry.Mark(), path + ".address: required key is missing");
        else if (!found->second.has_value)
            fail(found->second.key_mark, path + ".address: expected an address, got nothing");
        if (address) listener.address = *address;

        // SO_REUSEPORT groups are a TCP notion: a second unix socket cannot bind the same path.
        if (listener.balance == Balance::reuseport && address &&
            address->family == AddressFamily::unix_path)
            fail(entry["balance"].Mark(),
                 path + ".balance: reuseport needs a TCP address; use exclusive for unix sockets");

        if (listener.service == ServiceKind::http) {
            if (const auto http = seen.find("http"); http == seen.end() || !http->second.has_value)
                fail(entry["service"].Mark(),
                     path + ".http: required for service: http (routes, default and headers; see corral.yaml(5))");
        } else if (const auto http = seen.find("http"); http != seen.end() && http->second.has_value)
            fail(http->second.key_mark,
                 path + ".http: applies only to service: http, and this listener serves echo");
    }

    // user and group must exist now: finding out after binding, at privilege drop, is too late.
    // A group alone would change the workers' group but leave them root: refused.
    void resolve_account(const YAML::Node& root) {
        const std::string& user = config_.user;
        const std::string& group = config_.group;
        if (user.empty()) {
            if (!group.empty())
                fail(root["group"].Mark(),
                     "group: needs user as well; with group alone the workers would still run as root");
            return;
        }
        Account account;
        if (const std::string failure = lookup_user(user, account.uid, account.gid); !failure.empty())
            return fail(root["user"].Mark(), "user: " + failure);
        if (!group.empty()) {
            if (const std::string failure = lookup_group(group, account.gid); !failure.empty())
                return fail(root["group"].Mark(), "group: " + failure);
        }
        if (const std::string failure = lookup_memberships(user, account.gid, account.groups); !failure.empty())
            return fail(root["user"].Mark(), "user: " + failure);
        config_.account = std::move(account);
    }

    // Who may use a unix admin socket besides its owner.
    void resolve_admin_group(const YAML::Node& root) {
        if (config_.admin_group.empty()) return;
        const YAML::Mark mark = root["admin"]["group"].Mark();
        if (config_.admin_listen && config_.admin_listen->family != AddressFamily::unix_path)
            return fail(mark, "admin.group: applies only to a unix admin.listen; TCP has no file to own");
        gid_t gid = 0;
        if (const std::string failure = lookup_group(config_.admin_group, gid); !failure.empty())
            return fail(mark, "admin.group: " + failure);
        config_.admin_gid = gid;
    }

    // Two listeners on one address would fail to bind at start-up; say so now, naming both.
    // Port 0 is exempt: each such listener gets its own ephemeral port. O(n) with the map of
    // canonical spellings seen so far.
    void check_addresses_are_distinct() {
        std::unordered_map<std::string, const PlacedAddress*> first_use;
        for (const PlacedAddress& placed : placed_addresses_) {
            const Address& address = placed.address;
            if (address.family != AddressFamily::unix_path && address.port == 0) continue;
            const auto [earlier, inserted] = first_use.try_emplace(format_address(address), &placed);
            if (!inserted)
                fail(placed.mark, placed.path + ": " + format_address(address) + " is already used by " +
                                      earlier->second->path);
        }
    }

    // The readers below turn one kind of value into a Reader for the key tables above.

    // A NUL (YAML's "\0") is refused in every value: names, paths and addresses all end up
    // in C strings, where everything after it would be silently dropped.
    std::optional<std::string> scalar(const YAML::Node& node, const std::string& path,
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

    template <typename Integer>
    Reader as_integer(std::uint64_t min, std::uint64_t max, Integer& out) {
        return [this, min, max, &out](const YAML::Node& value, const std::string& path) {
            const std::string expected =
                "an integer from " + std::to_string(min) + " to " + std::to_string(max);
            const auto text = scalar(value, path, expected);
            if (!text) return;
            const auto number = parse_integer(*text);
            if (!number || *number < min || *number > max)
                return fail_expected(value, path, expected);
            out = static_cast<Integer>(*number);
        };
    }

    Reader as_workers() {
        return [this](const YAML::Node& value, const std::string& path) {
            constexpr std::string_view expected = "\"auto\" or an integer from 1 to 1024";
            const auto text = scalar(value, path, expected);
            if (!text) return;
            if (*text == "auto") {
                const long online = sysconf(_SC_NPROCESSORS_ONLN);
                config_.workers = online > 0 ? static_cast<unsigned>(online) : 1;
                return;
            }
            const auto number = parse_integer(*text);
            if (!number || *number < 1 || *number > 1024)
                return fail_expected(value, path, expected);
            config_.workers = static_cast<unsigned>(*number);
        };
    }

    Reader as_size(std::uint64_t min, std::uint64_t max, std::size_t& out) {
        return [this, min, max, &out](const YAML::Node& value, const std::string& path) {
            const auto text = scalar(value, path, "a size like 16KiB");
            if (!text) return;
            std::string error;
            const auto size = parse_size(*text, error);
            if (!size)
                fail(value.Mark(), path + ": " + error);
            else if (*size < min || *size > max)
                fail_expected(value, path,
                              "a size from " + format_size(min) + " to " + format_size(max));
            else
                out = static_cast<std::size_t>(*size);
        };
    }

    Reader as_duration(std::chrono::milliseconds min, std::chrono::milliseconds max,
                       std::chrono::milliseconds& out) {
        return [this, min, max, &out](const YAML::Node& value, const std::string& path) {
            const auto text = scalar(value, path, "a duration like 5s or 250ms");
            if (!text) return;
            std::string error;
            const auto duration = parse_duration(*text, error);
            if (!duration)
                fail(value.Mark(), path + ": " + error);
            else if (*duration < min || *duration > max)
                fail_expected(value, path,
                              "a duration from " + format_duration(min) + " to " + format_duration(max));
            else
                out = *duration;
        };
    }

    template <typename Entry, std::size_t N, typename Value>
    Reader as_choice(const std::array<Entry, N>& choices, Value& out) {
        return [this, &choices, &out](const YAML::Node& value, const std::string& path) {
            std::array<std::string_view, N> names;
            std::transform(choices.begin(), choices.end(), names.begin(),
                           [](const auto& choice) { return choice.name; });
            const std::string expected = "one of " + join(names);
            const auto text = scalar(value, path, expected);
            if (!text) return;
            const auto chosen =
                std::find_if(choices.begin(), choices.end(),
                             [&](const auto& choice) { return choice.name == *text; });
            if (chosen != choices.end()) {
                out = chosen->value;
                return;
            }
            std::string message = path + ": expected " + expected + ", got " + describe(value);
            if (const auto meant = closest(*text, names))
                message += " (did you mean " + quoted(*meant) + "?)";
            fail(value.Mark(), message);
        };
    }

    Reader as_string(std::string& out) {
        return [this, &out](const YAML::Node& value, const std::string& path) {
            if (const auto text = scalar(value, path, "a string")) out = *text;
        };
    }

    Reader as_address(std::optional<Address>& out) {
        return [this, &out](const YAML::Node& value, const std::string& path) {
            const auto text = scalar(value, path, "an address like 127.0.0.1:7000");
            if (!text) return;
            std::string error;
            out = parse_address(*text, error);
            if (out)
                placed_addresses_.push_back({*out, path, value.Mark()});
            else
                fail(value.Mark(), path + ": invalid address " + quoted(*text) + ": " + error);
        };
    }

    Reader as_http(HttpConfig& http) {
        return [this, &http](const YAML::Node& value, const std::string& path) {
            const std::array<Key, 4> keys{{
                {"routes", as_http_routes(http.routes)},
                {"default", as_http_response(http.fallback)},
                {"headers", as_http_headers(http.headers)},
                {"header_timeout", as_duration(std::chrono::seconds{1}, std::chrono::hours{1}, http.header_timeout)},
            }};
            read_map(value, path, keys);
        };
    }

    Reader as_http_routes(std::vector<std::pair<std::string, HttpResponseConfig>>& routes) {
        return [this, &routes](const YAML::Node& value, const std::string& path) {
            if (!value.IsMap()) return fail_expected(value, path, "a map of paths like \"/healthz: {status: 200}\"");
            for (const auto& entry : value) {
                const auto route = scalar(entry.first, path, "a path starting with /");
                if (!route) continue;
                const std::string where = path + "." + *route;
                if (route->empty() || route->front() != '/' || route->size() > kMaxHttpPathBytes ||
                    std::any_of(route->begin(), route->end(),
                                [](unsigned char c) { return c <= 0x20 || c == 0x7f || c == '?' || c == '#'; })) {
                    fail(entry.first.Mark(), path + ": " + quoted(*route) +
                                                 " is not a path: it must start with /, hold no spaces, controls, "
                                                 "? or #, and be at most " + std::to_string(kMaxHttpPathBytes) +
                                                 " bytes");
                    continue;
                }
                if (std::any_of(routes.begin(), routes.end(), [&](const auto& known) { return known.first == *route; })) {
                    fail(entry.first.Mark(), "duplicate route " + quoted(where));
                    continue;
                }
                HttpResponseConfig response;
                as_http_response(response)(entry.second, where);
                routes.emplace_back(*route, std::move(response));
            }
        };
    }

    Reader as_http_response(HttpResponseConfig& out) {
        return [this, &out](const YAML::Node& value, const std::string& path) {
            std::optional<std::string> body;
            std::string file;
            const std::array<Key, 4> keys{{
                {"status", as_integer(200, 599, out.status)},
                {"body", [this, &body](const YAML::Node& node, const std::string& where) {
                     if (const auto text = scalar(node, where, "a string")) body = *text;
                 }},
                {"file", as_string(file)},
                {"content_type", as_string(out.content_type)},
            }};
            const SeenKeys seen = read_map(value, path, keys);
            if (!is_http_field_value(out.content_type))
                fail(value.Mark(), path + ".content_type: holds a control character");
            if (body && !file.empty()) {
                fail(value.Mark(), path + ": body and file both given; choose one");
                return;
            }
            if (body) out.body = *body;
            if (!file.empty()) {
                // Relative to the config file, so that a config and its pages move together.
                const std::size_t slash = file_.rfind('/');
                const std::string directory = slash == std::string::npos ? "." : file_.substr(0, slash);
                const std::string resolved = file.front() == '/' ? file : directory + "/" + file;
                std::string error;
                const auto text = read_file(resolved, error);
                if (!text) {
                    fail(seen.at("file").key_mark, path + ".file: " + resolved + ": " + error);
                } else if (text->size() > kMaxHttpFileBytes) {
                    fail(seen.at("file").key_mark, path + ".file: " + resolved + " is larger than " +
                                                       format_size(kMaxHttpFileBytes));
                } else {
                    out.body = *text;
                    out.file = resolved;
                }
            }
            if ((out.status == 204 || out.status == 304) && !out.body.empty())
                fail(value.Mark(), path + ": a " + std::to_string(out.status) + " response has no body");
        };
    }

    Reader as_http_headers(std::vector<std::pair<std::string, std::string>>& headers) {
        return [this, &headers](const YAML::Node& value, const std::string& path) {
            if (!value.IsMap()) return fail_expected(value, path, "a map of header names to values");
            for (const auto& entry : value) {
                const auto name = scalar(entry.first, path, "a header name");
                const auto text = scalar(entry.second, path, "a header value");
                if (!name || !text) continue;
                if (!is_http_token(*name)) {
                    fail(entry.first.Mark(), path + ": " + quoted(*name) + " is not a header name");
                } else if (std::find(kHttpHeadersOwned.begin(), kHttpHeadersOwned.end(), ascii_lower(*name)) !=
                           kHttpHeadersOwned.end()) {
                    fail(entry.first.Mark(), path + "." + *name + ": corral sets this header itself");
                } else if (!is_http_field_value(*text)) {
                    fail(entry.second.Mark(), path + "." + *name + ": the value holds a control character");
                } else {
                    headers.emplace_back(*name, *text);
                }
            }
        };
    }

    Reader as_map(std::span<const Key> keys) {
        return [this, keys](const YAML::Node& value, const std::string& path) {
            read_map(value, path, keys);
        };
    }

    std::string file_;
    Config config_;
    std::vector<ConfigError> errors_;
    std::vector<PlacedAddress> placed_addresses_;
};

// The master reads the file on every SIGHUP in its own loop: nothing here may block or take long.
// O_NONBLOCK keeps a FIFO without a writer from hanging open(); only a regular file is read, and
// one too large is refused by its size before anything is read.
std::optional<std::string> read_file(const std::string& path, std::string& error) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) {
        error = "cannot open the file: " + std::generic_category().message(errno);
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        error = "cannot stat the file: " + std::generic_category().message(errno);
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        error = S_ISDIR(st.st_mode) ? "it is a directory, not a file" : "it is not a regular file";
        return std::nullopt;
    }
    const std::string too_large = "the file is larger than " + format_size(kMaxConfigBytes) + "; is it the right file?";
    if (static_cast<std::uint64_t>(st.st_size) > kMaxConfigBytes) {
        error = too_large;
        return std::nullopt;
    }
    std::string text;
    char chunk[16384];
    for (;;) {
        const ssize_t count = ::read(fd.get(), chunk, sizeof chunk);
        if (count == 0) return text;
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) {
            error = "cannot read the file: " + std::generic_category().message(errno);
            return std::nullopt;
        }
        text.append(chunk, static_cast<std::size_t>(count));
        // It may grow while being read.
        if (text.size() > kMaxConfigBytes) {
            error = too_large;
            return std::nullopt;
        }
    }
}

}  // namespace

std::string ConfigError::to_string() const {
    if (line == 0) return file + ": error: " + message;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": error: " + message;
}

ConfigResult parse_config(std::string_view yaml_text, const std::string& path) {
    try {
        return ConfigReader(path).read(yaml_text);
    } catch (const std::exception& error) {
        // yaml-cpp's own errors are handled by the reader; this is running out of memory.
        ConfigResult result;
        result.errors.push_back(
            {path, 0, 0, std::string("cannot read the configuration: ") + error.what()});
        return result;
    }
}

ConfigResult load_config(const std::string& path) {
    std::string error;
    const auto text = read_file(path, error);
    if (!text) return ConfigResult{std::nullopt, {ConfigError{path, 0, 0, error}}};
    return parse_config(*text, path);
}

}  // namespace corral
