// parse_config on arbitrary text, as `corral check` would read it. Properties: no exception
// escapes; there is a config exactly when there are no errors; every error names the file, has a
// message and a position inside the text (or none at all), and errors come in the order of their
// positions; an accepted config keeps every value within the range the reader promises.
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>

#include "common/address.hpp"
#include "common/config.hpp"
#include "fuzz/check.hpp"

using namespace corral;
using namespace std::chrono_literals;

namespace {

const std::string kPath = "fuzz.yaml";

void check_errors(const ConfigResult& result, std::string_view yaml_text) {
    FUZZ_CHECK(result.ok() == errors_of(result).empty());
    // A position may be one past the end of the text (the error is that the text ended), and
    // yaml-cpp reports an escape cut off by the end where its digits would have ended: up to 9
    // past the end for the 8-digit one. It also counts columns in its own UTF-8 re-encoding of
    // the text (a NUL may make it read UTF-16, an invalid byte becomes three), so the bound holds
    // for ASCII text only.
    const bool ascii = std::all_of(yaml_text.begin(), yaml_text.end(), [](char c) { return c > 0; });
    const int limit = ascii ? static_cast<int>(std::min<std::size_t>(yaml_text.size(), 1 << 30)) + 9 : INT_MAX;
    for (const ConfigError& error : errors_of(result)) {
        const std::string text = error.to_string();
        FUZZ_CHECK(error.file == kPath, text);
        FUZZ_CHECK(!error.message.empty(), text);
        FUZZ_CHECK(text.starts_with(kPath + ":"), text);
        const bool whole_file = error.line == 0 && error.column == 0;
        FUZZ_CHECK(whole_file || (error.line >= 1 && error.column >= 1), text);
        FUZZ_CHECK(error.line <= limit && error.column <= limit, text);
    }
    FUZZ_CHECK(std::is_sorted(errors_of(result).begin(), errors_of(result).end(), [](const auto& a, const auto& b) {
        return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    }));
}

void check_address(const Address& address) {
    const std::string canonical = format_address(address);
    const auto again = parse_address(canonical);
    FUZZ_CHECK(again.ok(), canonical + ": " + again.error());
    FUZZ_CHECK(*again == address, canonical);
}

void check_config(const Config& config) {
    FUZZ_CHECK(config.path == kPath, config.path);
    FUZZ_CHECK(config.workers >= 1 && config.workers <= 1024, std::to_string(config.workers));
    FUZZ_CHECK(!config.listen.empty());
    for (std::size_t i = 0; i < config.listen.size(); ++i) {
        const ListenConfig& listener = config.listen[i];
        const std::string where = "listen[" + std::to_string(i) + "] " + format_address(listener.address);
        check_address(listener.address);
        FUZZ_CHECK(listener.backlog >= 1 && listener.backlog <= 65535, where);
        // What the http service writes on the wire as given must be safe there.
        for (const auto& [path, response] : listener.http.routes) {
            FUZZ_CHECK(!path.empty() && path.front() == '/', where);
            FUZZ_CHECK(response.status >= 200 && response.status <= 599, where);
            FUZZ_CHECK(response.content_type.find_first_of("\r\n") == std::string::npos, where);
        }
        for (const auto& [name, value] : listener.http.headers) {
            FUZZ_CHECK(name.find_first_of("\r\n: ") == std::string::npos, where);
            FUZZ_CHECK(value.find_first_of("\r\n") == std::string::npos, where);
        }
        FUZZ_CHECK(listener.balance == Balance::exclusive ||
                       listener.address.family != AddressFamily::unix_path,
                   where);
        // Two listeners on one address would fail to bind; port 0 is the exception.
        const bool ephemeral = listener.address.family != AddressFamily::unix_path && listener.address.port == 0;
        for (std::size_t j = 0; j < i && !ephemeral; ++j)
            FUZZ_CHECK(!(config.listen[j].address == listener.address), where);
    }
    if (config.admin_listen) check_address(*config.admin_listen);
    const LimitsConfig& limits = config.limits;
    FUZZ_CHECK(limits.max_connections >= 1 && limits.max_connections <= 1'000'000);
    FUZZ_CHECK(limits.read_buffer >= 512 && limits.read_buffer <= (64u << 20));
    FUZZ_CHECK(limits.max_output_buffer >= 1 && limits.max_output_buffer <= (1u << 30));
    FUZZ_CHECK(limits.max_worker_output >= (64u << 10) && limits.max_worker_output <= (1ull << 40));
    FUZZ_CHECK(limits.nofile >= 1 && limits.nofile <= (1u << 20));
    FUZZ_CHECK(config.timeouts.idle >= 0ms && config.timeouts.idle <= 168h);
    FUZZ_CHECK(config.timeouts.shutdown >= 0ms && config.timeouts.shutdown <= 24h);
    FUZZ_CHECK(config.timeouts.heartbeat >= 1s && config.timeouts.heartbeat <= 1h);
    FUZZ_CHECK(config.listen.size() <= 4096);
    // Names and paths end up in C strings: a NUL would cut them short (crashes/config-nul-in-strings).
    for (const std::string* text : {&config.user, &config.group, &config.pid_file, &config.log.file,
                                    &config.admin_group}) {
        FUZZ_CHECK(text->find('\0') == std::string::npos, *text);
    }
    FUZZ_CHECK(!config.group.empty() <= !config.user.empty(), "group without user");
    FUZZ_CHECK(config.account.has_value() == !config.user.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::optional<ConfigResult> result;
    try {
        result.emplace(parse_config(text, kPath));
    } catch (...) {
        FUZZ_CHECK(false, "parse_config threw");
    }
    check_errors(*result, text);
    if (result->ok()) check_config(**result);
    return 0;
}
