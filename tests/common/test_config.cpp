// Tests for the YAML config reader: every key's default and override, and every kind of error
// with the exact line and column an operator would be sent to.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "common/address.hpp"
#include "common/config.hpp"

using namespace std::chrono_literals;

namespace corral {

namespace {

constexpr const char* kFile = "test.yaml";
const std::string kMinimal = "listen:\n  - address: 127.0.0.1:7000\n";

ConfigResult parse(std::string_view yaml) { return parse_config(yaml, kFile); }

std::string all_errors(const ConfigResult& result) {
    std::string text;
    for (const ConfigError& error : errors_of(result)) text += error.to_string() + "\n";
    return text;
}

Config parse_valid(std::string_view yaml) {
    const ConfigResult result = parse(yaml);
    INFO(all_errors(result));
    REQUIRE(errors_of(result).empty());
    REQUIRE(result.ok());
    return *result;
}

// A document expected to have exactly one problem.
struct Expected {
    std::string yaml;
    int line;
    int column;
    std::string message;
};

void check_single_errors(const std::vector<Expected>& cases) {
    for (const Expected& expected : cases) {
        CAPTURE(expected.yaml);
        const ConfigResult result = parse(expected.yaml);
        INFO(all_errors(result));
        CHECK_FALSE(result.ok());
        REQUIRE(errors_of(result).size() == 1);
        const ConfigError& error = errors_of(result)[0];
        CHECK(error.file == kFile);
        CHECK(error.line == expected.line);
        CHECK(error.column == expected.column);
        CHECK(error.message == expected.message);
    }
}

TEST_CASE("a config with only one listener has every default") {
    const Config config = parse_valid(kMinimal);
    CHECK(config.path == kFile);
    CHECK(config.workers == 1);
    REQUIRE(config.listen.size() == 1);
    const ListenConfig& listener = config.listen[0];
    CHECK(listener.address ==
          Address{.family = AddressFamily::ipv4, .host = "127.0.0.1", .port = 7000, .path = {}});
    CHECK(listener.service == ServiceKind::echo);
    CHECK(listener.backlog == 4096);
    CHECK(listener.balance == Balance::exclusive);
    CHECK(listener.http.routes.empty());
    CHECK_FALSE(config.admin_listen.has_value());
    CHECK(config.limits.max_connections == 10000);
    CHECK(config.limits.read_buffer == 16 * 1024);
    CHECK(config.limits.max_output_buffer == 1024 * 1024);
    CHECK(config.limits.max_worker_output == 64 * 1024 * 1024);
    CHECK(config.limits.nofile == 65536);
    CHECK(config.timeouts.idle == 60s);
    CHECK(config.timeouts.shutdown == 30s);
    CHECK(config.timeouts.drain == 0s);
    CHECK(config.timeouts.heartbeat == 5s);
    CHECK(config.user.empty());
    CHECK(config.group.empty());
    CHECK(config.pid_file.empty());
    CHECK(config.log.level == LogLevel::info);
    CHECK(config.log.file.empty());
}

TEST_CASE("every key can be set to a value other than its default") {
    const Config config = parse_valid(
        "workers: 3\n"
        "listen:\n"
        "  - address: 127.0.0.1:7000\n"
        "    service: echo\n"
        "    backlog: 128\n"
        "    balance: reuseport\n"
        "  - address: \"[::1]:7001\"\n"
        "    balance: exclusive\n"
        "  - address: unix:/run/corral/echo.sock\n"
        "admin:\n"
        "  listen: unix:/run/corral/admin.sock\n"
        "limits:\n"
        "  max_connections: 500\n"
        "  read_buffer: 64KiB\n"
        "  max_output_buffer: 2MiB\n"
        "  nofile: 4096\n"
        "timeouts:\n"
        "  idle: 0\n"
        "  shutdown: 2m\n"
        "  drain: 15s\n"
        "  heartbeat: 1500ms\n"
        "user: root\n"
        "group: root\n"
        "pid_file: /run/corral/corral.pid\n"
        "log:\n"
        "  level: debug\n"
        "  file: /var/log/corral.log\n");
    CHECK(config.workers == 3);
    REQUIRE(config.listen.size() == 3);
    CHECK(config.listen[0].backlog == 128);
    CHECK(config.listen[0].balance == Balance::reuseport);
    CHECK(config.listen[1].address ==
          Address{.family = AddressFamily::ipv6, .host = "::1", .port = 7001, .path = {}});
    CHECK(config.listen[1].balance == Balance::exclusive);
    CHECK(config.listen[2].address == Address{.family = AddressFamily::unix_path,
                                              .host = {},
                                              .port = 0,
                                              .path = "/run/corral/echo.sock"});
    REQUIRE(config.admin_listen.has_value());
    CHECK(config.admin_listen->path == "/run/corral/admin.sock");
    CHECK(config.limits.max_connections == 500);
    CHECK(config.limits.read_buffer == 64 * 1024);
    CHECK(config.limits.max_output_buffer == 2 * 1024 * 1024);
    CHECK(config.limits.nofile == 4096);
    CHECK(config.timeouts.idle == 0ms);
    CHECK(config.timeouts.shutdown == 2min);
    CHECK(config.timeouts.drain == 15s);
    CHECK(config.timeouts.heartbeat == 1500ms);
    CHECK(config.user == "root");
    CHECK(config.group == "root");
    REQUIRE(config.account.has_value());
    CHECK(config.account->uid == 0);
    CHECK(config.account->gid == 0);
    CHECK(std::find(config.account->groups.begin(), config.account->groups.end(), 0u) !=
          config.account->groups.end());
    CHECK(config.pid_file == "/run/corral/corral.pid");
    CHECK(config.log.level == LogLevel::debug);
    CHECK(config.log.file == "/var/log/corral.log");
}

TEST_CASE("every log level and balance is accepted") {
    const std::vector<std::pair<std::string, LogLevel>> levels{{"debug", LogLevel::debug},
                                                               {"info", LogLevel::info},
                                                               {"notice", LogLevel::notice},
                                                               {"warning", LogLevel::warning},
                                                               {"error", LogLevel::error}};
    for (const auto& [name, level] : levels) {
        CAPTURE(name);
        CHECK(parse_valid(kMinimal + "log: {level: " + name + "}\n").log.level == level);
    }
    CHECK(parse_valid("listen: [{address: 127.0.0.1:1, balance: exclusive}]\n").listen[0].balance ==
          Balance::exclusive);
}

TEST_CASE("workers: auto is the number of online CPUs") {
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    const Config config = parse_valid("workers: auto\n" + kMinimal);
    CHECK(config.workers == static_cast<unsigned>(online > 0 ? online : 1));
    CHECK(config.workers >= 1);
}

TEST_CASE("the edges of every range are accepted") {
    CHECK(parse_valid("workers: 1\n" + kMinimal).workers == 1);
    CHECK(parse_valid("workers: 1024\n" + kMinimal).workers == 1024);
    CHECK(parse_valid("listen: [{address: 127.0.0.1:1, backlog: 1}]\n").listen[0].backlog == 1);
    CHECK(parse_valid("listen: [{address: 127.0.0.1:1, backlog: 65535}]\n").listen[0].backlog ==
          65535);
    const std::string limits = kMinimal + "limits:\n";
    CHECK(parse_valid(limits + "  max_connections: 1\n").limits.max_connections == 1);
    CHECK(parse_valid(limits + "  max_connections: 1000000\n").limits.max_connections == 1000000);
    CHECK(parse_valid(limits + "  read_buffer: 512\n").limits.read_buffer == 512);
    CHECK(parse_valid(limits + "  read_buffer: 64MiB\n").limits.read_buffer == 64u << 20);
    CHECK(parse_valid(limits + "  max_output_buffer: 1\n").limits.max_output_buffer == 1);
    CHECK(parse_valid(limits + "  max_output_buffer: 1GiB\n").limits.max_output_buffer == 1u << 30);
    CHECK(parse_valid(limits + "  max_worker_output: 64KiB\n").limits.max_worker_output == 64u << 10);
    CHECK(parse_valid(limits + "  max_worker_output: 1024GiB\n").limits.max_worker_output == 1ull << 40);
    CHECK(parse_valid(limits + "  nofile: 1\n").limits.nofile == 1);
    CHECK(parse_valid(limits + "  nofile: 1048576\n").limits.nofile == 1048576);
    const std::string timeouts = kMinimal + "timeouts:\n";
    CHECK(parse_valid(timeouts + "  heartbeat: 1s\n").timeouts.heartbeat == 1s);
    CHECK(parse_valid(timeouts + "  heartbeat: 1000ms\n").timeouts.heartbeat == 1s);
    CHECK(parse_valid(timeouts + "  shutdown: 0\n").timeouts.shutdown == 0ms);
    CHECK(parse_valid(timeouts + "  idle: 1h\n").timeouts.idle == 1h);
}

TEST_CASE("an empty value (YAML null) means the default") {
    const Config config = parse_valid(
        "workers:\n"
        "listen:\n"
        "  - address: 127.0.0.1:7000\n"
        "    service:\n"
        "    backlog: ~\n"
        "    balance: null\n"
        "    http:\n"
        "admin:\n"
        "  listen:\n"
        "limits:\n"
        "  max_connections:\n"
        "  read_buffer: ~\n"
        "  max_output_buffer: null\n"
        "  nofile:\n"
        "timeouts:\n"
        "  idle:\n"
        "  shutdown:\n"
        "  heartbeat:\n"
        "user:\n"
        "group: ~\n"
        "pid_file:\n"
        "log:\n"
        "  level:\n"
        "  file:\n");
    const Config defaults = parse_valid(kMinimal);
    CHECK(config.workers == defaults.workers);
    CHECK(config.listen[0].service == defaults.listen[0].service);
    CHECK(config.listen[0].backlog == defaults.listen[0].backlog);
    CHECK(config.listen[0].balance == defaults.listen[0].balance);
    CHECK(config.listen[0].http == defaults.listen[0].http);
    CHECK_FALSE(config.admin_listen.has_value());
    CHECK(config.limits.max_connections == defaults.limits.max_connections);
    CHECK(config.limits.read_buffer == defaults.limits.read_buffer);
    CHECK(config.limits.max_output_buffer == defaults.limits.max_output_buffer);
    CHECK(config.limits.nofile == defaults.limits.nofile);
    CHECK(config.timeouts.idle == defaults.timeouts.idle);
    CHECK(config.timeouts.shutdown == defaults.timeouts.shutdown);
    CHECK(config.timeouts.heartbeat == defaults.timeouts.heartbeat);
    CHECK(config.user.empty());
    CHECK(config.group.empty());
    CHECK(config.pid_file.empty());
    CHECK(config.log.level == defaults.log.level);
    CHECK(config.log.file.empty());
    // Whole sections may be empty too.
    CHECK(parse_valid(kMinimal + "admin:\nlimits:\ntimeouts: ~\nlog:\n").limits.nofile == 65536);
}

TEST_CASE("listeners on port 0 may repeat: each gets its own ephemeral port") {
    const Config config = parse_valid(
        "listen:\n  - address: 127.0.0.1:0\n  - address: 127.0.0.1:0\nadmin: {listen: "
        "127.0.0.1:0}\n");
    CHECK(config.listen.size() == 2);
}

TEST_CASE("YAML that does not parse, or is not a map of settings") {
    check_single_errors({
        {"listen: a: b\n", 1, 10, "invalid YAML: illegal map value"},
        // The key indented by one space fits neither map.
        {"listen:\n  - address: 127.0.0.1:7000\n bad: 1\n", 3, 2,
         "invalid YAML: end of map not found"},
        {"", 1, 1, "the configuration is empty; at least \"listen\" is required"},
        {"# nothing but a comment\n", 1, 1,
         "the configuration is empty; at least \"listen\" is required"},
        {"- address: 127.0.0.1:7000\n", 1, 1,
         "expected a map of settings at the top level, got a sequence"},
        {"listen\n", 1, 1, "expected a map of settings at the top level, got \"listen\""},
        // yaml-cpp reads these as an empty document without complaint (and its LoadAll loops
        // forever on them), so the reader points at the text itself.
        {",orkers: auto\n" + kMinimal, 1, 1,
         "expected a map of settings at the top level, got \",orkers: auto\""},
        {"# settings\n\n  , listen\n", 3, 3,
         "expected a map of settings at the top level, got \", listen\""},
        {"--- ]\n", 1, 5, "invalid YAML: illegal flow end"},
        {std::string(5000, '['), 1, 1, "invalid YAML: nested too deeply"},
        {kMinimal + "---\n,\n", 3, 1,
         "a second YAML document (after \"---\") is not allowed; the settings must be one map"},
        {kMinimal + "---\nworkers: 2\n", 3, 1,
         "a second YAML document (after \"---\") is not allowed; the settings must be one map"},
    });
    // Document markers around a single document are fine, and so is an empty document after it.
    CHECK(parse_valid("---\n" + kMinimal + "...\n").listen.size() == 1);
    CHECK(parse_valid(kMinimal + "---\n# nothing more\n").listen.size() == 1);
    CHECK(parse_valid("%YAML 1.2\n--- # settings\n" + kMinimal).listen.size() == 1);
}

TEST_CASE("unknown keys are errors with a suggestion when one is close") {
    check_single_errors({
        {"wokers: 4\n" + kMinimal, 1, 1, "unknown key \"wokers\" (did you mean \"workers\"?)"},
        {kMinimal + "pidfile: /run/x.pid\n", 3, 1,
         "unknown key \"pidfile\" (did you mean \"pid_file\"?)"},
        {kMinimal + "usr: root\n", 3, 1, "unknown key \"usr\" (did you mean \"user\"?)"},
        {kMinimal + "limits:\n  read_bufer: 1MiB\n", 4, 3,
         "unknown key \"limits.read_bufer\" (did you mean \"limits.read_buffer\"?)"},
        {kMinimal + "limits:\n  max_conn: 10\n", 4, 3,
         "unknown key \"limits.max_conn\" (did you mean \"limits.max_connections\"?)"},
        {kMinimal + "timeouts:\n  hearbteat: 5s\n", 4, 3,
         "unknown key \"timeouts.hearbteat\" (did you mean \"timeouts.heartbeat\"?)"},
        {"listen:\n  - address: 127.0.0.1:7000\n    servce: echo\n", 3, 5,
         "unknown key \"listen[0].servce\" (did you mean \"listen[0].service\"?)"},
        {"colour: red\n" + kMinimal, 1, 1,
         "unknown key \"colour\"; known keys here: workers, listen, admin, limits, timeouts, "
         "user, group, pid_file, log"},
        {kMinimal + "timeouts:\n  connect: 5s\n", 4, 3,
         "unknown key \"timeouts.connect\"; known keys in timeouts: idle, shutdown, drain, heartbeat"},
        {kMinimal + "admin:\n  port: 9100\n", 4, 3,
         "unknown key \"admin.port\"; known keys in admin: listen, group"},
        {kMinimal + "log:\n  format: json\n", 4, 3,
         "unknown key \"log.format\"; known keys in log: level, file"},
        {"listen:\n  - address: 127.0.0.1:7000\n    tls: true\n", 3, 5,
         "unknown key \"listen[0].tls\"; known keys in listen[0]: address, service, backlog, "
         "balance, http, module"},
    });
}

TEST_CASE("duplicate and non-scalar keys") {
    check_single_errors({
        {"workers: 2\n" + kMinimal + "workers: 3\n", 4, 1,
         "duplicate key \"workers\" (first given on line 1)"},
        {kMinimal + "limits:\n  nofile: 10\n  nofile: 20\n", 5, 3,
         "duplicate key \"limits.nofile\" (first given on line 4)"},
        {kMinimal + "? [a, b]\n: 1\n", 3, 3, "expected a key name, got a sequence"},
        {kMinimal + "log:\n  ? {a: 1}\n  : 1\n", 4, 5, "log: expected a key name, got a map"},
    });
}

TEST_CASE("listen is required and must be a non-empty sequence of maps with an address") {
    check_single_errors({
        {"workers: 2\n", 1, 1,
         "listen: required key is missing; add at least one listener, e.g. "
         "\"listen: [{address: 127.0.0.1:7000}]\""},
        {"workers: 2\nlisten:\n", 2, 1, "listen: expected at least one listener, got nothing"},
        {"listen: []\n", 1, 9,
         "listen: expected a sequence of listeners like \"- address: 127.0.0.1:7000\", got an "
         "empty sequence"},
        {"listen:\n  address: 127.0.0.1:7000\n", 2, 3,
         "listen: expected a sequence of listeners like \"- address: 127.0.0.1:7000\", got a map"},
        {"listen: 127.0.0.1:7000\n", 1, 9,
         "listen: expected a sequence of listeners like \"- address: 127.0.0.1:7000\", got "
         "\"127.0.0.1:7000\""},
        {"listen:\n  - 127.0.0.1:7000\n", 2, 5,
         "listen[0]: expected a map like \"address: 127.0.0.1:7000\", got \"127.0.0.1:7000\""},
        {"listen:\n  - address: 127.0.0.1:7000\n  - service: echo\n", 3, 5,
         "listen[1].address: required key is missing"},
        {"listen:\n  - address:\n", 2, 5, "listen[0].address: expected an address, got nothing"},
        {"listen:\n  - address: {host: 127.0.0.1}\n", 2, 14,
         "listen[0].address: expected an address like 127.0.0.1:7000, got a map"},
    });
}

TEST_CASE("listen addresses are checked") {
    check_single_errors({
        {"listen:\n  - address: localhost:7000\n", 2, 14,
         "listen[0].address: invalid address \"localhost:7000\": expected a numeric IPv4 address; "
         "for IPv6 write [addr]:port (host names like \"localhost\" are not resolved)"},
        {"listen:\n  - address: 127.0.0.1:70000\n", 2, 14,
         "listen[0].address: invalid address \"127.0.0.1:70000\": port 70000 is out of range "
         "(0..65535)"},
        {"listen:\n  - address: 127.0.0.1\n", 2, 14,
         "listen[0].address: invalid address \"127.0.0.1\": missing port; expected host:port, "
         "e.g. 127.0.0.1:7000"},
        {"listen:\n  - address: \"::1:7000\"\n", 2, 14,
         "listen[0].address: invalid address \"::1:7000\": an IPv6 address needs brackets: write "
         "[::1]:7000"},
        {"listen:\n  - address: \"unix:\"\n", 2, 14,
         "listen[0].address: invalid address \"unix:\": unix: needs a path, e.g. "
         "unix:/run/corral/corral.sock"},
        {"listen:\n  - address: unix:/" + std::string(107, 'x') + "\n", 2, 14,
         "listen[0].address: invalid address \"unix:/" + std::string(107, 'x') +
             "\": the unix socket path is 108 bytes long; the limit is 107"},
    });
}

TEST_CASE("duplicate addresses name both entries") {
    check_single_errors({
        {"listen:\n"
         "  - address: 127.0.0.1:7000\n"
         "  - address: 127.0.0.1:7001\n"
         "  - address: 127.0.0.1:7000\n",
         4, 14, "listen[2].address: 127.0.0.1:7000 is already used by listen[0].address"},
        {"listen:\n  - address: \"[::1]:80\"\n  - address: \"[0:0::1]:80\"\n", 3, 14,
         "listen[1].address: [::1]:80 is already used by listen[0].address"},
        {"listen:\n  - address: unix:/run/a.sock\n  - address: unix:/run/a.sock\n", 3, 14,
         "listen[1].address: unix:/run/a.sock is already used by listen[0].address"},
        {kMinimal + "admin:\n  listen: 127.0.0.1:7000\n", 4, 11,
         "admin.listen: 127.0.0.1:7000 is already used by listen[0].address"},
    });
}

TEST_CASE("service, backlog, balance and http of a listener") {
    const std::string listener = "listen:\n  - address: 127.0.0.1:7000\n";
    check_single_errors({
        {listener + "  - address: 127.0.0.1:8080\n    service: http\n", 4, 14,
         "listen[1].http: required for service: http (routes, default and headers; see corral.yaml(5))"},
        {listener + "    service: ehco\n", 3, 14,
         "listen[0].service: expected one of echo, http, module, got \"ehco\" (did you mean \"echo\"?)"},
        {listener + "    service: [echo]\n", 3, 14,
         "listen[0].service: expected one of echo, http, module, got a sequence"},
        {listener + "    http:\n      routes: {}\n", 3, 5,
         "listen[0].http: applies only to service: http, and this listener serves echo"},
        {listener + "    backlog: 0\n", 3, 14,
         "listen[0].backlog: expected an integer from 1 to 65535, got \"0\""},
        {listener + "    backlog: 65536\n", 3, 14,
         "listen[0].backlog: expected an integer from 1 to 65535, got \"65536\""},
        {listener + "    backlog: -1\n", 3, 14,
         "listen[0].backlog: expected an integer from 1 to 65535, got \"-1\""},
        {listener + "    backlog: lots\n", 3, 14,
         "listen[0].backlog: expected an integer from 1 to 65535, got \"lots\""},
        {listener + "    balance: shared\n", 3, 14,
         "listen[0].balance: expected one of exclusive, reuseport, got \"shared\""},
        {listener + "    balance: reuse\n", 3, 14,
         "listen[0].balance: expected one of exclusive, reuseport, got \"reuse\" (did you mean "
         "\"reuseport\"?)"},
    });
}

TEST_CASE("the http map of an http listener is checked key by key") {
    const ConfigResult result = parse(
        "listen:\n"
        "  - address: 127.0.0.1:8080\n"
        "    service: http\n"
        "    http:\n"
        "      routes:\n"
        "        /: {status: [a]}\n"
        "      status: 200\n");
    REQUIRE(errors_of(result).size() == 2);
    CHECK(errors_of(result)[0].to_string() ==
          "test.yaml:6:21: error: listen[0].http.routes./.status: expected an integer from 200 to 599, got a "
          "sequence");
    CHECK(errors_of(result)[1].to_string() ==
          "test.yaml:7:7: error: unknown key \"listen[0].http.status\"; known keys in "
          "listen[0].http: routes, default, headers, header_timeout");
}

TEST_CASE("http routes, default and headers are read and checked") {
    char directory[] = "/tmp/corral-http-config-XXXXXX";
    REQUIRE(::mkdtemp(directory) != nullptr);
    const std::string page = std::string(directory) + "/maintenance.html";
    std::ofstream(page) << "<p>back soon</p>\n";
    // The page is named relative to the config file's directory.
    const std::string yaml =
        "listen:\n"
        "  - address: 127.0.0.1:8080\n"
        "    service: http\n"
        "    http:\n"
        "      routes:\n"
        "        /healthz: {status: 200, body: \"ok\\n\"}\n"
        "        /: {status: 503, file: maintenance.html, content_type: text/html}\n"
        "      default: {status: 404, body: \"not found\\n\"}\n"
        "      headers: {Cache-Control: no-store}\n"
        "      header_timeout: 2500ms\n";
    const ConfigResult result = parse_config(yaml, std::string(directory) + "/corral.yaml");
    ::unlink(page.c_str());
    ::rmdir(directory);
    INFO(all_errors(result));
    REQUIRE(errors_of(result).empty());
    const HttpConfig& http = result->listen[0].http;
    REQUIRE(http.routes.size() == 2);
    CHECK(http.routes[0].first == "/healthz");
    CHECK(http.routes[0].second.status == 200);
    CHECK(http.routes[0].second.body == "ok\n");
    CHECK(http.routes[1].first == "/");
    CHECK(http.routes[1].second.status == 503);
    CHECK(http.routes[1].second.body == "<p>back soon</p>\n");
    CHECK(http.routes[1].second.file == page);
    CHECK(http.routes[1].second.content_type == "text/html");
    CHECK(http.fallback.status == 404);
    REQUIRE(http.headers.size() == 1);
    CHECK(http.headers[0] == std::pair<std::string, std::string>("Cache-Control", "no-store"));
    CHECK(http.header_timeout == std::chrono::milliseconds(2500));

    const std::vector<std::pair<std::string, std::string>> refused = {
        {"routes: {healthz: {status: 200}}", "is not a path"},
        {"routes: {\"/a b\": {status: 200}}", "is not a path"},
        {"routes: {/: {status: 200}, /x: {status: 99}}", "expected an integer from 200 to 599"},
        {"routes: {/: {body: a, file: b}}", "body and file both given"},
        {"routes: {/: {file: /nonexistent/page.html}}", "/nonexistent/page.html: cannot open the file"},
        {"routes: {/: {status: 204, body: x}}", "a 204 response has no body"},
        {"headers: {Content-Length: 5}", "corral sets this header itself"},
        {"headers: {\"bad name\": x}", "is not a header name"},
        {"headers: {X-A: \"a\\r\\nInjected: yes\"}", "holds a control character"},
        {"routes: {/: {status: 200, content_type: \"text/html\\r\\nX: y\"}}", "holds a control character"},
        {"header_timeout: 500ms", "header_timeout: expected a duration from 1s to 1h"},
        {"header_timeout: 0", "header_timeout: expected a duration from 1s to 1h"},
    };
    for (const auto& [block, reason] : refused) {
        CAPTURE(block);
        const ConfigResult bad =
            parse("listen:\n  - address: 127.0.0.1:8080\n    service: http\n    http: {" + block + "}\n");
        bool found = false;
        for (const ConfigError& error : errors_of(bad)) found = found || error.message.find(reason) != std::string::npos;
        CHECK(found);
    }
}

TEST_CASE("workers is auto or 1..1024") {
    const std::string expected = "workers: expected \"auto\" or an integer from 1 to 1024, got ";
    check_single_errors({
        {"workers: 0\n" + kMinimal, 1, 10, expected + "\"0\""},
        {"workers: 1025\n" + kMinimal, 1, 10, expected + "\"1025\""},
        {"workers: -1\n" + kMinimal, 1, 10, expected + "\"-1\""},
        {"workers: 2.5\n" + kMinimal, 1, 10, expected + "\"2.5\""},
        {"workers: +4\n" + kMinimal, 1, 10, expected + "\"+4\""},
        {"workers: Auto\n" + kMinimal, 1, 10, expected + "\"Auto\""},
        {"workers: 99999999999999999999999\n" + kMinimal, 1, 10,
         expected + "\"99999999999999999999999\""},
        {"workers: [1]\n" + kMinimal, 1, 10, expected + "a sequence"},
    });
}

TEST_CASE("limits are checked against their ranges and units") {
    const std::string limits = kMinimal + "limits:\n";
    check_single_errors({
        {limits + "  max_connections: 0\n", 4, 20,
         "limits.max_connections: expected an integer from 1 to 1000000, got \"0\""},
        {limits + "  max_connections: 1000001\n", 4, 20,
         "limits.max_connections: expected an integer from 1 to 1000000, got \"1000001\""},
        {limits + "  read_buffer: 16KB\n", 4, 16,
         "limits.read_buffer: expected a size like 16KiB, got \"16KB\" (did you mean \"16KiB\"?)"},
        {limits + "  read_buffer: 511\n", 4, 16,
         "limits.read_buffer: expected a size from 512 to 64MiB, got \"511\""},
        {limits + "  read_buffer: 65537KiB\n", 4, 16,
         "limits.read_buffer: expected a size from 512 to 64MiB, got \"65537KiB\""},
        {limits + "  read_buffer: {size: 1}\n", 4, 16,
         "limits.read_buffer: expected a size like 16KiB, got a map"},
        {limits + "  max_worker_output: 1MB\n", 4, 22,
         "limits.max_worker_output: expected a size like 16KiB, got \"1MB\" (did you mean \"1MiB\"?)"},
        {limits + "  max_worker_output: 1KiB\n", 4, 22,
         "limits.max_worker_output: expected a size from 64KiB to 1024GiB, got \"1KiB\""},
        {limits + "  max_output_buffer: 0\n", 4, 22,
         "limits.max_output_buffer: expected a size from 1 to 1GiB, got \"0\""},
        {limits + "  max_output_buffer: 1025MiB\n", 4, 22,
         "limits.max_output_buffer: expected a size from 1 to 1GiB, got \"1025MiB\""},
        {limits + "  max_output_buffer: 1.5MiB\n", 4, 22,
         "limits.max_output_buffer: expected a size like 16KiB, got \"1.5MiB\" (fractions are "
         "not allowed; write \"1536KiB\")"},
        {limits + "  nofile: 0\n", 4, 11,
         "limits.nofile: expected an integer from 1 to 1048576, got \"0\""},
        {limits + "  nofile: 1048577\n", 4, 11,
         "limits.nofile: expected an integer from 1 to 1048576, got \"1048577\""},
        {limits + "  nofile: 64KiB\n", 4, 11,
         "limits.nofile: expected an integer from 1 to 1048576, got \"64KiB\""},
        {kMinimal + "limits: [1]\n", 3, 9, "limits: expected a map, got a sequence"},
    });
}

TEST_CASE("timeouts are checked: durations with units, heartbeat at least 1s") {
    const std::string timeouts = kMinimal + "timeouts:\n";
    check_single_errors({
        {timeouts + "  heartbeat: 999ms\n", 4, 14,
         "timeouts.heartbeat: expected a duration from 1s to 1h, got \"999ms\""},
        {timeouts + "  heartbeat: 0\n", 4, 14,
         "timeouts.heartbeat: expected a duration from 1s to 1h, got \"0\""},
        // Beyond these a clock in nanoseconds overflows: every worker or connection would time out.
        {timeouts + "  idle: 3000000h\n", 4, 9, "timeouts.idle: expected a duration from 0s to 168h, got \"3000000h\""},
        {timeouts + "  idle: 169h\n", 4, 9, "timeouts.idle: expected a duration from 0s to 168h, got \"169h\""},
        {timeouts + "  shutdown: 3000000h\n", 4, 13,
         "timeouts.shutdown: expected a duration from 0s to 24h, got \"3000000h\""},
        {timeouts + "  drain: 61m\n", 4, 10, "timeouts.drain: expected a duration from 0s to 1h, got \"61m\""},
        {timeouts + "  heartbeat: 3000000h\n", 4, 14,
         "timeouts.heartbeat: expected a duration from 1s to 1h, got \"3000000h\""},
        {timeouts + "  heartbeat: 61m\n", 4, 14, "timeouts.heartbeat: expected a duration from 1s to 1h, got \"61m\""},
        {timeouts + "  idle: 5\n", 4, 9,
         "timeouts.idle: expected a duration like 5s or 250ms, got \"5\" (a number needs a unit, "
         "e.g. \"5s\")"},
        {timeouts + "  shutdown: 5sec\n", 4, 13,
         "timeouts.shutdown: expected a duration like 5s or 250ms, got \"5sec\" (did you mean "
         "\"5s\"?)"},
        {timeouts + "  shutdown: -1s\n", 4, 13,
         "timeouts.shutdown: expected a duration like 5s or 250ms, got \"-1s\" (durations cannot "
         "be negative)"},
        {timeouts + "  idle: [5s]\n", 4, 9,
         "timeouts.idle: expected a duration like 5s or 250ms, got a sequence"},
        {kMinimal + "timeouts: 5s\n", 3, 11, "timeouts: expected a map, got \"5s\""},
    });
}

TEST_CASE("user and group must exist; strings must be scalars") {
    check_single_errors({
        {kMinimal + "user: corral-test-no-such-user\n", 3, 7,
         "user: no user named \"corral-test-no-such-user\" on this system"},
        {kMinimal + "user: root\ngroup: corral-test-no-such-group\n", 4, 8,
         "group: no group named \"corral-test-no-such-group\" on this system"},
        // Workers would change their group but stay root.
        {kMinimal + "group: root\n", 3, 8,
         "group: needs user as well; with group alone the workers would still run as root"},
        {kMinimal + "user: {name: root}\n", 3, 7, "user: expected a string, got a map"},
        {kMinimal + "pid_file: [a, b]\n", 3, 11, "pid_file: expected a string, got a sequence"},
        {kMinimal + "log:\n  file: [a]\n", 4, 9, "log.file: expected a string, got a sequence"},
        {kMinimal + "log:\n  level: warn\n", 4, 10,
         "log.level: expected one of debug, info, notice, warning, error, got \"warn\" (did you "
         "mean \"warning\"?)"},
        {kMinimal + "log:\n  level: verbose\n", 4, 10,
         "log.level: expected one of debug, info, notice, warning, error, got \"verbose\""},
    });
}

TEST_CASE("admin.group names the group of a unix admin socket") {
    const Config config = parse_valid(kMinimal + "admin:\n  listen: unix:/run/corral/admin.sock\n  group: root\n");
    CHECK(config.admin_group == "root");
    CHECK(config.admin_gid == 0u);
    CHECK_FALSE(parse_valid(kMinimal + "admin:\n  listen: unix:/run/corral/admin.sock\n").admin_gid);
    check_single_errors({
        {kMinimal + "admin:\n  listen: 127.0.0.1:9100\n  group: root\n", 5, 10,
         "admin.group: applies only to a unix admin.listen; TCP has no file to own"},
        {kMinimal + "admin:\n  listen: unix:/run/a.sock\n  group: corral-test-no-such-group\n", 5, 10,
         "admin.group: no group named \"corral-test-no-such-group\" on this system"},
    });
}

TEST_CASE("admin must be a map whose listen is an address") {
    check_single_errors({
        {kMinimal + "admin: 127.0.0.1:9100\n", 3, 8,
         "admin: expected a map, got \"127.0.0.1:9100\""},
        {kMinimal + "admin:\n  listen: 127.0.0.1\n", 4, 11,
         "admin.listen: invalid address \"127.0.0.1\": missing port; expected host:port, e.g. "
         "127.0.0.1:7000"},
    });
    const Config config = parse_valid(kMinimal + "admin:\n  listen: 127.0.0.1:9100\n");
    REQUIRE(config.admin_listen.has_value());
    CHECK(format_address(*config.admin_listen) == "127.0.0.1:9100");
}

TEST_CASE("every error in a document is reported, in document order") {
    const ConfigResult result = parse(
        "workers: 0\n"
        "timeouts:\n"
        "  heartbeat: 0\n"
        "listen:\n"
        "  - address: 127.0.0.1:7000\n"
        "    backlog: 0\n"
        "  - address: 127.0.0.1:7000\n"
        "limits:\n"
        "  read_buffer: 16KB\n"
        "  bogus: 1\n");
    CHECK_FALSE(result.ok());
    std::vector<std::string> lines;
    for (const ConfigError& error : errors_of(result)) lines.push_back(error.to_string());
    const std::vector<std::string> expected{
        "test.yaml:1:10: error: workers: expected \"auto\" or an integer from 1 to 1024, got \"0\"",
        "test.yaml:3:14: error: timeouts.heartbeat: expected a duration from 1s to 1h, got \"0\"",
        "test.yaml:6:14: error: listen[0].backlog: expected an integer from 1 to 65535, got \"0\"",
        "test.yaml:7:14: error: listen[1].address: 127.0.0.1:7000 is already used by "
        "listen[0].address",
        "test.yaml:9:16: error: limits.read_buffer: expected a size like 16KiB, got \"16KB\" (did "
        "you mean \"16KiB\"?)",
        "test.yaml:10:3: error: unknown key \"limits.bogus\"; known keys in limits: "
        "max_connections, read_buffer, max_output_buffer, max_worker_output, nofile",
    };
    CHECK(lines == expected);
}

TEST_CASE("the documented example configuration is valid") {
    const ConfigResult result = parse(
        "workers: auto               # \"auto\" = online CPUs, or 1..1024\n"
        "listen:                     # one or more\n"
        "  - address: 127.0.0.1:7000 # \"host:port\", \"[v6addr]:port\", or \"unix:/path\"\n"
        "    service: echo           # echo | http\n"
        "    backlog: 4096\n"
        "    balance: exclusive      # exclusive: one shared socket\n"
        "  - address: 127.0.0.1:8080\n"
        "    service: http\n"
        "    http:\n"
        "      routes:\n"
        "        /healthz: {status: 200, body: \"ok\\n\"}\n"
        "admin:\n"
        "  listen: 127.0.0.1:9100    # served by the master; omit to disable\n"
        "limits:\n"
        "  max_connections: 10000    # per worker\n"
        "  read_buffer: 16KiB\n"
        "  max_output_buffer: 1MiB   # per connection\n"
        "  nofile: 65536             # RLIMIT_NOFILE wanted\n"
        "timeouts:\n"
        "  idle: 60s                 # 0 = never\n"
        "  shutdown: 30s\n"
        "  heartbeat: 5s             # at least 1s\n"
        "user: \"\"\n"
        "group: \"\"\n"
        "pid_file: \"\"\n"
        "log:\n"
        "  level: info               # debug | info | notice | warning | error\n"
        "  file: \"\"                  # \"\" = stderr\n");
    INFO(all_errors(result));
    REQUIRE(errors_of(result).empty());
    REQUIRE(result->listen.size() == 2);
    CHECK(result->listen[1].service == ServiceKind::http);
    REQUIRE(result->listen[1].http.routes.size() == 1);
    CHECK(result->listen[1].http.routes[0].first == "/healthz");
    CHECK(result->listen[1].http.routes[0].second.body == "ok\n");
}

TEST_CASE("ConfigError::to_string") {
    CHECK(ConfigError{"/etc/corral/corral.yaml", 3, 7, "user: x"}.to_string() ==
          "/etc/corral/corral.yaml:3:7: error: user: x");
    CHECK(ConfigError{"corral.yaml", 0, 0, "cannot open the file: No such file or directory"}
              .to_string() ==
          "corral.yaml: error: cannot open the file: No such file or directory");
}

TEST_CASE("load_config reads a file and reports unreadable ones at line 0") {
    char directory[] = "/tmp/corral-config-test-XXXXXX";
    REQUIRE(::mkdtemp(directory) != nullptr);
    const std::string good = std::string(directory) + "/good.yaml";
    const std::string bad = std::string(directory) + "/bad.yaml";
    std::ofstream(good) << "workers: 2\n" << kMinimal;
    std::ofstream(bad) << kMinimal << "workers: many\n";

    const ConfigResult loaded = load_config(good);
    REQUIRE(loaded.ok());
    CHECK(loaded->path == good);
    CHECK(loaded->workers == 2);

    const ConfigResult rejected = load_config(bad);
    REQUIRE(errors_of(rejected).size() == 1);
    CHECK(errors_of(rejected)[0].to_string() ==
          bad +
              ":3:10: error: workers: expected \"auto\" or an integer from 1 to 1024, got "
              "\"many\"");

    const std::string missing = std::string(directory) + "/missing.yaml";
    const ConfigResult not_found = load_config(missing);
    CHECK_FALSE(not_found.ok());
    REQUIRE(errors_of(not_found).size() == 1);
    CHECK(errors_of(not_found)[0].line == 0);
    CHECK(errors_of(not_found)[0].column == 0);
    CHECK(errors_of(not_found)[0].to_string() ==
          missing + ": error: cannot open the file: No such file or directory");

    const ConfigResult a_directory = load_config(directory);
    REQUIRE(errors_of(a_directory).size() == 1);
    CHECK(errors_of(a_directory)[0].message == "it is a directory, not a file");

    // Nothing that could block the master's loop, which reads the file on SIGHUP: a FIFO without
    // a writer is refused at once, and so is a device.
    const std::string fifo = std::string(directory) + "/fifo.yaml";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const ConfigResult a_fifo = load_config(fifo);
    REQUIRE(errors_of(a_fifo).size() == 1);
    CHECK(errors_of(a_fifo)[0].message == "it is not a regular file");
    CHECK(errors_of(load_config("/dev/zero")).at(0).message == "it is not a regular file");

    // Too large is told by the size, before anything is read.
    const std::string huge = std::string(directory) + "/huge.yaml";
    std::ofstream(huge) << kMinimal;
    REQUIRE(::truncate(huge.c_str(), 100 * 1024 * 1024) == 0);
    const ConfigResult too_large = load_config(huge);
    REQUIRE(errors_of(too_large).size() == 1);
    CHECK(errors_of(too_large)[0].message == "the file is larger than 1MiB; is it the right file?");

    ::unlink(good.c_str());
    ::unlink(bad.c_str());
    ::unlink(fifo.c_str());
    ::unlink(huge.c_str());
    ::rmdir(directory);
}

TEST_CASE("odd documents give errors, never exceptions") {
    const std::vector<std::string> documents{
        "listen: &a [{address: 127.0.0.1:7000}]\nadmin: *a\n",
        "listen: *nowhere\n",
        "listen: !!binary aGVsbG8=\n",
        "\t\n",
        "{{{{",
        std::string("listen:\0\n", 9),
        "listen:\n  - address: 127.0.0.1:7000\n    http: &h {body: x}\n    <<: *h\n",
        "? \n",
        "[]",
        "42",
        "\"\"",
    };
    for (const std::string& document : documents) {
        CAPTURE(document);
        std::optional<ConfigResult> result;
        CHECK_NOTHROW(result.emplace(parse(document)));
        REQUIRE(result);
        CHECK((result->ok() != !errors_of(*result).empty()));
    }
}

TEST_CASE("balance: reuseport is refused for a unix socket, at the balance key") {
    const ConfigResult result = parse_config("listen:\n"
                                             "  - address: unix:/run/x.sock\n"
                                             "    balance: reuseport\n",
                                             "r.yaml");
    REQUIRE(errors_of(result).size() == 1);
    CHECK(errors_of(result)[0].to_string() ==
          "r.yaml:3:14: error: listen[0].balance: reuseport needs a TCP address; use exclusive for unix sockets");
}

TEST_CASE("the loader's work stays bounded: thousands of listeners, a megabyte-long key") {
    std::string many = "listen:\n";
    for (int i = 0; i < 30000; ++i) many += "  - address: 127.0.0.1:" + std::to_string(10000 + i) + "\n";
    const ConfigResult refused = parse(many);
    REQUIRE(errors_of(refused).size() == 1);
    CHECK(errors_of(refused)[0].to_string() == "test.yaml:2:3: error: listen: 30000 listeners; at most 4096");

    // At the limit, a duplicate at the very end is still found, naming the entry it repeats.
    std::string full = "listen:\n";
    for (int i = 0; i < 4095; ++i) full += "  - address: 127.0.0.1:" + std::to_string(10000 + i) + "\n";
    full += "  - address: 127.0.0.1:10007\n";
    const ConfigResult duplicate = parse(full);
    REQUIRE(errors_of(duplicate).size() == 1);
    CHECK(errors_of(duplicate)[0].message ==
          "listen[4095].address: 127.0.0.1:10007 is already used by listen[7].address");

    // A key too long to be a typo of a known one is not compared with them, and is quoted short.
    const ConfigResult long_key = parse(kMinimal + "? " + std::string(1'000'000, 'x') + "\n: 1\n");
    REQUIRE(errors_of(long_key).size() == 1);
    const std::string& message = errors_of(long_key)[0].message;
    CHECK(message.size() < 600);
    CHECK(message.starts_with("unknown key \"" + std::string(256, 'x') + "...\" (1000000 bytes); known keys here:"));
}

TEST_CASE("a NUL byte in any value is refused where it was written (found by fuzzing)") {
    const ConfigResult result = parse(std::string(
        "listen:\n"
        "  - address: \"127.0.0.1\\0junk:7000\"\n"
        "user: \"root\\0junk\"\n"
        "pid_file: \"/run/corral.pid\\0.old\"\n"
        "log:\n"
        "  file: \"/var/log/corral.log\\0.old\"\n"));
    std::vector<std::string> lines;
    for (const ConfigError& error : errors_of(result)) lines.push_back(error.to_string());
    CHECK(lines == std::vector<std::string>{
                       "test.yaml:2:14: error: listen[0].address: contains a NUL byte, which no setting can hold",
                       "test.yaml:3:7: error: user: contains a NUL byte, which no setting can hold",
                       "test.yaml:4:11: error: pid_file: contains a NUL byte, which no setting can hold",
                       "test.yaml:6:9: error: log.file: contains a NUL byte, which no setting can hold",
                   });
}

}  // namespace
}  // namespace corral
