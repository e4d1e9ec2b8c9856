// Reading the http service's block: every path, header and page is checked here, so that the
// worker builds its responses from values that are already known to be well-formed.
#include "common/service_catalog.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>

#include "common/ascii.hpp"
#include "common/config_reader.hpp"
#include "common/http_syntax.hpp"
#include "common/units.hpp"

namespace corral {
namespace {

// A page served from memory: large enough for any maintenance page, small against a mistake.
constexpr std::size_t kMaxFileBytes = 1024 * 1024;
constexpr std::size_t kMaxPathBytes = 1024;
// Headers corral writes itself on every response; the config may not set them twice.
constexpr std::array<std::string_view, 6> kHeadersOwned{
    {"content-length", "content-type", "date", "server", "connection", "transfer-encoding"}};

using Key = ConfigReader::Key;

void read_response(ConfigReader& reader, const YAML::Node& value, const std::string& path, HttpResponseConfig& out) {
    std::optional<std::string> body;
    std::string file;
    const std::array<Key, 4> keys{{
        {"status", reader.as_integer(200, 599, out.status)},
        {"body", [&](const YAML::Node& node, const std::string& where) {
             if (const auto text = reader.scalar(node, where, "a string")) body = *text;
         }},
        {"file", reader.as_string(file)},
        {"content_type", reader.as_string(out.content_type)},
    }};
    const ConfigReader::SeenKeys seen = reader.read_map(value, path, keys);
    if (!is_http_field_value(out.content_type)) reader.fail(value.Mark(), path + ".content_type: holds a control character");
    if (body && !file.empty()) {
        reader.fail(value.Mark(), path + ": body and file both given; choose one");
        return;
    }
    if (body) out.body = *body;
    if (!file.empty()) {
        const std::string resolved = reader.resolve(file);
        if (const Result<std::string> text = read_small_file(resolved, kMaxFileBytes)) {
            out.body = *text;
            out.file = resolved;
        } else {
            reader.fail(seen.at("file").key_mark, path + ".file: " + resolved + ": " + text.error());
        }
    }
    if ((out.status == 204 || out.status == 304) && !out.body.empty())
        reader.fail(value.Mark(), path + ": a " + std::to_string(out.status) + " response has no body");
}

void read_routes(ConfigReader& reader, const YAML::Node& value, const std::string& path,
                 std::vector<std::pair<std::string, HttpResponseConfig>>& routes) {
    if (!value.IsMap()) return reader.fail_expected(value, path, "a map of paths like \"/healthz: {status: 200}\"");
    for (const auto& entry : value) {
        const auto route = reader.scalar(entry.first, path, "a path starting with /");
        if (!route) continue;
        const std::string where = path + "." + *route;
        if (route->empty() || route->front() != '/' || route->size() > kMaxPathBytes ||
            std::any_of(route->begin(), route->end(),
                        [](unsigned char c) { return c <= 0x20 || c == 0x7f || c == '?' || c == '#'; })) {
            reader.fail(entry.first.Mark(), path + ": " + quoted(*route) +
                                                " is not a path: it must start with /, hold no spaces, controls, "
                                                "? or #, and be at most " + std::to_string(kMaxPathBytes) + " bytes");
            continue;
        }
        if (std::any_of(routes.begin(), routes.end(), [&](const auto& known) { return known.first == *route; })) {
            reader.fail(entry.first.Mark(), "duplicate route " + quoted(where));
            continue;
        }
        HttpResponseConfig response;
        read_response(reader, entry.second, where, response);
        routes.emplace_back(*route, std::move(response));
    }
}

void read_headers(ConfigReader& reader, const YAML::Node& value, const std::string& path,
                  std::vector<std::pair<std::string, std::string>>& headers) {
    if (!value.IsMap()) return reader.fail_expected(value, path, "a map of header names to values");
    for (const auto& entry : value) {
        const auto name = reader.scalar(entry.first, path, "a header name");
        const auto text = reader.scalar(entry.second, path, "a header value");
        if (!name || !text) continue;
        if (!is_http_token(*name)) {
            reader.fail(entry.first.Mark(), path + ": " + quoted(*name) + " is not a header name");
        } else if (std::find(kHeadersOwned.begin(), kHeadersOwned.end(), ascii_lower(*name)) != kHeadersOwned.end()) {
            reader.fail(entry.first.Mark(), path + "." + *name + ": corral sets this header itself");
        } else if (!is_http_field_value(*text)) {
            reader.fail(entry.second.Mark(), path + "." + *name + ": the value holds a control character");
        } else {
            headers.emplace_back(*name, *text);
        }
    }
}

}  // namespace

void read_http_settings(ConfigReader& reader, const YAML::Node& block, const std::string& path,
                        ListenConfig& listener) {
    HttpConfig& http = listener.http;
    const std::array<Key, 4> keys{{
        {"routes", [&](const YAML::Node& value, const std::string& where) { read_routes(reader, value, where, http.routes); }},
        {"default", [&](const YAML::Node& value, const std::string& where) { read_response(reader, value, where, http.fallback); }},
        {"headers", [&](const YAML::Node& value, const std::string& where) { read_headers(reader, value, where, http.headers); }},
        {"header_timeout", reader.as_duration(std::chrono::seconds{1}, std::chrono::hours{1}, http.header_timeout)},
    }};
    reader.read_map(block, path, keys);
}

}  // namespace corral
