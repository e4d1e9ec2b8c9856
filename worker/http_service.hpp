// The http service: HTTP/1.1 with fixed responses, for health and readiness endpoints,
// maintenance pages and default backends. Routes match the path exactly (the query is ignored);
// GET and HEAD are served, with keep-alive and pipelining; request bodies are read and discarded.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "common/config_types.hpp"
#include "worker/http_request.hpp"
#include "worker/http_response.hpp"
#include "worker/service.hpp"

namespace corral {

class HttpService final : public Service {
public:
    // A request body beyond this is refused with 413: the service has no use for bodies.
    static constexpr std::uint64_t kMaxRequestBody = 1024 * 1024;
    explicit HttpService(const HttpConfig& config);

    void opened(Connection& connection) override;
    std::size_t received(Connection& connection, std::span<const char> bytes) override;
    // A head took longer than http.header_timeout: 408 and close (slowloris).
    void deadline_passed(Connection& connection) override;
    void add_counters(WorkerCounters& counters) const override;

private:
    // One route's response, in each of its Connection header variants.
    struct Responses {
        PrebuiltResponse keep_alive;
        PrebuiltResponse keep_alive_http10;
        PrebuiltResponse close;
    };

    struct Exchange;

    Responses build(const HttpResponseConfig& response, const std::vector<std::pair<std::string, std::string>>& headers);
    const Responses& route(std::string_view target) const;
    // Sends the response a complete request gets; false when the connection closes after it.
    bool respond(Connection& connection, const Responses& responses, const http::RequestHead& head);
    // Answers an error and closes the connection.
    void refuse(Connection& connection, int status);
    void refresh_date();
    // Sends a response and counts it by its status class.
    void send(Connection& connection, const PrebuiltResponse& response, bool head_only);

    std::map<std::string, Responses, std::less<>> routes_;
    Responses fallback_;
    std::map<int, PrebuiltResponse> errors_;  // refusals, each with Connection: close
    HttpDate date_;
    http::HeadLimits limits_;
    std::chrono::milliseconds header_timeout_;
    std::uint64_t responses_by_class_[4] = {};  // 2xx, 3xx, 4xx, 5xx
};

}  // namespace corral
