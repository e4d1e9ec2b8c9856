// admin_response: the bytes the admin server sends for a request, with a fake AdminContent standing
// in for the master.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "master/admin.hpp"
#include "master/admin_request.hpp"

using namespace corral;

namespace {

class FakeContent final : public AdminContent {
public:
    bool serving_now = true;
    std::string status = R"({"pid":42,"generation":3,"state":"running","workers":[]})";
    std::string metrics = "# TYPE corral_workers gauge\ncorral_workers 4\n";

    bool serving() const override { return serving_now; }
    std::string status_json() const override { return status; }
    std::string metrics_text() const override { return metrics; }
};

struct Response {
    std::string status_line;
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    // Every value of the header `name`, compared without regard to case.
    std::vector<std::string> all(std::string_view name) const {
        std::vector<std::string> values;
        for (const auto& [key, value] : headers) {
            if (std::equal(key.begin(), key.end(), name.begin(), name.end(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                })) {
                values.push_back(value);
            }
        }
        return values;
    }
    std::string header(std::string_view name) const {
        const std::vector<std::string> values = all(name);
        return values.size() == 1 ? values.front() : "<" + std::to_string(values.size()) + " values>";
    }
};

std::string trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return std::string(text);
}

// Splits a response into status line, headers and body; fails the test if it is not HTTP/1.1.
Response parse(const std::string& raw) {
    Response response;
    const std::size_t head_end = raw.find("\r\n\r\n");
    REQUIRE_MESSAGE(head_end != std::string::npos, "no blank line in: ", raw);
    const std::string_view head = std::string_view(raw).substr(0, head_end);
    response.body = raw.substr(head_end + 4);

    std::size_t line_end = std::min(head.find("\r\n"), head.size());
    response.status_line = std::string(head.substr(0, line_end));
    REQUIRE_MESSAGE(response.status_line.rfind("HTTP/1.1 ", 0) == 0, response.status_line);
    REQUIRE(response.status_line.size() >= 12);
    REQUIRE(response.status_line[12] == ' ');
    response.status = std::stoi(response.status_line.substr(9, 3));

    std::string_view rest = line_end < head.size() ? head.substr(line_end + 2) : std::string_view();
    while (!rest.empty()) {
        line_end = std::min(rest.find("\r\n"), rest.size());
        const std::string_view line = rest.substr(0, line_end);
        const std::size_t colon = line.find(':');
        REQUIRE_MESSAGE(colon != std::string_view::npos, "header line without a colon: ", std::string(line));
        response.headers.emplace_back(std::string(line.substr(0, colon)), trim(line.substr(colon + 1)));
        rest = line_end < rest.size() ? rest.substr(line_end + 2) : std::string_view();
    }
    return response;
}

Response respond(const std::string& request, const AdminContent& content) {
    return parse(admin_response(request, content));
}

std::string get(std::string_view path) { return "GET " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\n\r\n"; }
std::string head(std::string_view path) { return "HEAD " + std::string(path) + " HTTP/1.1\r\nHost: localhost\r\n\r\n"; }

}  // namespace

TEST_CASE("/healthz is 200 ok while serving and 503 while not") {
    FakeContent content;
    const Response serving = respond(get("/healthz"), content);
    CHECK(serving.status == 200);
    CHECK(serving.body == "ok\n");
    CHECK(serving.header("Content-Type").rfind("text/plain", 0) == 0);

    content.serving_now = false;
    const Response stopping = respond(get("/healthz"), content);
    CHECK(stopping.status == 503);
    CHECK(stopping.status_line == "HTTP/1.1 503 Service Unavailable");
    CHECK(stopping.body != "ok\n");

    content.serving_now = true;
    CHECK(respond(get("/healthz"), content).status == 200);
}

TEST_CASE("/healthz answers HTTP/1.0 clients and ignores the query string") {
    FakeContent content;
    const Response old_client = respond("GET /healthz HTTP/1.0\r\n\r\n", content);
    CHECK(old_client.status == 200);
    CHECK(old_client.body == "ok\n");
    const Response with_query = respond(get("/healthz?probe=kubelet"), content);
    CHECK(with_query.status == 200);
    CHECK(with_query.body == "ok\n");
}

TEST_CASE("/status is 200 JSON with the content's body") {
    FakeContent content;
    const Response response = respond(get("/status"), content);
    CHECK(response.status == 200);
    CHECK(response.header("Content-Type") == "application/json");
    CHECK(response.body == content.status);

    content.status = R"({"state":"reloading","last_reload":{"error":"line 3: \"x\"\n"}})";
    CHECK(respond(get("/status"), content).body == content.status);
}

TEST_CASE("/status and /metrics still answer while stopping") {
    FakeContent content;
    content.serving_now = false;
    content.status = R"({"state":"stopping"})";
    const Response status = respond(get("/status"), content);
    CHECK(status.status == 200);
    CHECK(status.body == content.status);
    const Response metrics = respond(get("/metrics"), content);
    CHECK(metrics.status == 200);
    CHECK(metrics.body == content.metrics);
}

TEST_CASE("/metrics is Prometheus text format 0.0.4") {
    FakeContent content;
    const Response response = respond(get("/metrics"), content);
    CHECK(response.status == 200);
    const std::string type = response.header("Content-Type");
    CAPTURE(type);
    CHECK(type.rfind("text/plain; version=0.0.4", 0) == 0);
    CHECK(response.body == content.metrics);
}

TEST_CASE("unknown paths are 404") {
    FakeContent content;
    for (const char* path : {"/", "/nope", "/healthz/", "/healthzz", "/HEALTHZ", "/status.json", "//status",
                             "/metrics/x"}) {
        CAPTURE(path);
        const Response response = respond(get(path), content);
        CHECK(response.status == 404);
        CHECK(response.body != content.status);
        CHECK(response.body != content.metrics);
    }
}

TEST_CASE("HEAD has GET's status and headers but no body") {
    FakeContent content;
    content.status = std::string(3000, 's');
    for (bool serving : {true, false}) {
        content.serving_now = serving;
        for (const char* path : {"/healthz", "/status", "/metrics", "/unknown"}) {
            CAPTURE(serving);
            CAPTURE(path);
            const Response full = respond(get(path), content);
            const Response headers_only = respond(head(path), content);
            CHECK(headers_only.status_line == full.status_line);
            CHECK(headers_only.headers == full.headers);
            CHECK(headers_only.header("Content-Length") == std::to_string(full.body.size()));
            CHECK(headers_only.body.empty());
            CHECK_FALSE(full.body.empty());
        }
    }
}

TEST_CASE("a malformed request is 400") {
    using namespace std::string_literals;
    FakeContent content;
    for (const std::string& request : {"GARBAGE\r\n\r\n"s, "GET /status HTTP/9.9\r\n\r\n"s, "GET status HTTP/1.1\r\n\r\n"s,
                                       "GET /status HTTP/1.1\r\nNo colon here\r\n\r\n"s,
                                       "GET /sta\0tus HTTP/1.1\r\n\r\n"s, "GET /\0"s}) {
        CAPTURE(request);
        const Response response = respond(request, content);
        CHECK(response.status == 400);
        CHECK(response.body != content.status);
    }
}

TEST_CASE("a request cut short is not answered as if it were complete") {
    FakeContent content;
    CHECK(respond("GET /status HTTP/1.1\r\n", content).status == 400);
}

TEST_CASE("methods other than GET and HEAD are 501") {
    FakeContent content;
    for (const char* request : {"POST /status HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "DELETE /healthz HTTP/1.1\r\n\r\n",
                                "PUT /metrics HTTP/1.0\r\n\r\n"}) {
        CAPTURE(request);
        const Response response = respond(request, content);
        CHECK(response.status == 501);
        CHECK(response.body != content.status);
        CHECK(response.body != content.metrics);
    }
}

TEST_CASE("a head too large is 431") {
    FakeContent content;
    const std::string huge = "GET /status HTTP/1.1\r\nX-Pad: " + std::string(kMaxAdminRequestBytes, 'a') + "\r\n\r\n";
    CHECK(respond(huge, content).status == 431);
    CHECK(respond(huge.substr(0, kMaxAdminRequestBytes), content).status == 431);
}

TEST_CASE("every response closes the connection and has a Content-Length equal to its body") {
    using namespace std::string_literals;
    FakeContent content;
    content.status = std::string(100'000, '[');
    const std::vector<std::string> requests = {
        get("/healthz"),
        get("/status"),
        get("/metrics"),
        get("/missing"),
        "GET /healthz HTTP/1.0\r\n\r\n",
        "GARBAGE\r\n\r\n",
        "GET /x\0"s,
        "POST /status HTTP/1.1\r\n\r\n",
        "DELETE / HTTP/1.1\r\n\r\n",
        "GET /status HTTP/1.1\r\nX: " + std::string(kMaxAdminRequestBytes, 'a') + "\r\n\r\n",
    };
    for (bool serving : {true, false}) {
        content.serving_now = serving;
        for (const std::string& request : requests) {
            CAPTURE(serving);
            CAPTURE(request.substr(0, 40));
            const Response response = respond(request, content);
            CHECK(response.all("Connection").size() == 1);
            CHECK(response.header("Connection") == "close");
            CHECK(response.all("Content-Length").size() == 1);
            CHECK(response.header("Content-Length") == std::to_string(response.body.size()));
            CHECK(response.all("Content-Type").size() == 1);
            CHECK_FALSE(response.body.empty());
        }
    }
}

TEST_CASE("an empty metrics text is served with Content-Length 0") {
    FakeContent content;
    content.metrics.clear();
    const Response response = respond(get("/metrics"), content);
    CHECK(response.status == 200);
    CHECK(response.header("Content-Length") == "0");
    CHECK(response.body.empty());
}
