// Reading the YAML configuration into a Config. Every problem in the document is collected with
// its position and full key path, so that one `corral check` shows everything there is to fix.
#include "common/config.hpp"

#include <unistd.h>

#include <array>
#include <cctype>
#include <map>
#include <unordered_map>
#include <vector>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "common/account.hpp"
#include "common/address.hpp"
#include "common/config_reader.hpp"
#include "common/service_catalog.hpp"
#include "common/units.hpp"

namespace corral {
namespace {

// A config file is a few kilobytes; anything this large is the wrong file (or /dev/zero).
constexpr std::size_t kMaxConfigBytes = 1024 * 1024;
// Far more than any machine serves on, few enough that the master's work on them stays small.
constexpr std::size_t kMaxListeners = 4096;
constexpr std::string_view kSecondDocument =
    "a second YAML document (after \"---\") is not allowed; the settings must be one map";

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

class ConfigFileReader final : public ConfigReader {
public:
    explicit ConfigFileReader(const std::string& file) : ConfigReader(file) { config_.path = file; }

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
        ConfigErrors errors = take_errors();
        if (!errors.empty()) return Failure{std::move(errors)};
        return std::move(config_);
    }

private:
    // Every valid address and where it was written, to name both entries of a duplicate.
    struct PlacedAddress {
        Address address;
        std::string path;
        YAML::Mark mark;
    };

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
        const std::array<Key, 4> timeout_keys{{
            // Upper bounds well below what a clock in nanoseconds can add without overflowing,
            // at lengths beyond which a setting stops making sense.
            {"idle", as_duration(std::chrono::seconds{0}, std::chrono::hours{168}, timeouts.idle)},
            {"shutdown", as_duration(std::chrono::seconds{0}, std::chrono::hours{24}, timeouts.shutdown)},
            {"drain", as_duration(std::chrono::seconds{0}, std::chrono::hours{1}, timeouts.drain)},
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
        run_deferred(config_);
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
        std::vector<Key> listener_keys{{
            {"address", as_address(address)},
            {"service", as_choice(kServiceCatalog, listener.service)},
            {"backlog", as_integer(1, 65535, listener.backlog)},
            {"balance", as_choice(kBalances, listener.balance)},
        }};
        // A service's block is read once the service is known, whatever the order of the keys.
        std::map<std::string_view, YAML::Node> blocks;
        for (const ServiceEntry& service : kServiceCatalog) {
            if (service.settings_key.empty()) continue;
            listener_keys.push_back(
                {service.settings_key, [&blocks, &service](const YAML::Node& value, const std::string&) {
                     blocks[service.settings_key] = value;
                 }});
        }
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

        const ServiceEntry& served = service_entry(listener.service);
        for (const auto& [key, block] : blocks) {
            if (key != served.settings_key)
                fail(seen.at(std::string(key)).key_mark, path + "." + std::string(key) + ": applies only to service: " +
                                                             std::string(key) + ", and this listener serves " +
                                                             std::string(served.name));
        }
        if (served.settings_key.empty()) return;
        const std::string block_path = path + "." + std::string(served.settings_key);
        if (const auto block = blocks.find(served.settings_key); block != blocks.end())
            served.read_settings(*this, block->second, block_path, listener);
        else
            fail(entry["service"].Mark(), block_path + ": required for service: " + std::string(served.name) + " (" +
                                              std::string(served.settings_summary) + "; see corral.yaml(5))");
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
        const Result<UserIds> ids = lookup_user(user);
        if (!ids) return fail(root["user"].Mark(), "user: " + ids.error());
        Account account;
        account.uid = ids->uid;
        account.gid = ids->primary_gid;
        if (!group.empty()) {
            const Result<gid_t> gid = lookup_group(group);
            if (!gid) return fail(root["group"].Mark(), "group: " + gid.error());
            account.gid = *gid;
        }
        Result<std::vector<gid_t>> groups = lookup_memberships(user, account.gid);
        if (!groups) return fail(root["user"].Mark(), "user: " + groups.error());
        account.groups = std::move(*groups);
        config_.account = std::move(account);
    }

    // Who may use a unix admin socket besides its owner.
    void resolve_admin_group(const YAML::Node& root) {
        if (config_.admin_group.empty()) return;
        const YAML::Mark mark = root["admin"]["group"].Mark();
        if (config_.admin_listen && config_.admin_listen->family != AddressFamily::unix_path)
            return fail(mark, "admin.group: applies only to a unix admin.listen; TCP has no file to own");
        const Result<gid_t> gid = lookup_group(config_.admin_group);
        if (!gid) return fail(mark, "admin.group: " + gid.error());
        config_.admin_gid = *gid;
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

    Reader as_address(std::optional<Address>& out) {
        return [this, &out](const YAML::Node& value, const std::string& path) {
            const auto text = scalar(value, path, "an address like 127.0.0.1:7000");
            if (!text) return;
            const Result<Address> address = parse_address(*text);
            if (!address) {
                fail(value.Mark(), path + ": invalid address " + quoted(*text) + ": " + address.error());
                return;
            }
            out = *address;
            placed_addresses_.push_back({*out, path, value.Mark()});
        };
    }

    Config config_;
    std::vector<PlacedAddress> placed_addresses_;
};

}  // namespace

std::string ConfigError::to_string() const {
    if (line == 0) return file + ": error: " + message;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": error: " + message;
}

ConfigResult parse_config(std::string_view yaml_text, const std::string& path) {
    try {
        return ConfigFileReader(path).read(yaml_text);
    } catch (const std::exception& error) {
        // yaml-cpp's own errors are handled by the reader; this is running out of memory.
        return Failure{ConfigErrors{{path, 0, 0, std::string("cannot read the configuration: ") + error.what()}}};
    }
}

const ConfigErrors& errors_of(const ConfigResult& result) {
    static const ConfigErrors none;
    return result.ok() ? none : result.error();
}

ConfigResult load_config(const std::string& path) {
    const Result<std::string> text = read_small_file(path, kMaxConfigBytes);
    if (!text) {
        std::string error = text.error();
        if (error.starts_with("the file is larger")) error += "; is it the right file?";
        return Failure{ConfigErrors{ConfigError{path, 0, 0, error}}};
    }
    return parse_config(*text, path);
}

}  // namespace corral
