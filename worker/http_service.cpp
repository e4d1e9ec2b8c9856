// The http service. A connection's bytes are parsed request by request (pipelining falls out of
// that: responses go out in request order, each one send() of prebuilt bytes). A body is skipped
// before its response is sent. Any malformed or ambiguous request gets its status and a close.
#include "worker/http_service.hpp"

#include <memory>
#include <optional>

#include "common/ascii.hpp"
#include "worker/connection.hpp"

namespace corral {
namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr int kErrorStatuses[] = {400, 405, 408, 413, 414, 417, 431, 505};

}  // namespace

// What one connection is in the middle of, between two calls of received().
struct HttpService::Exchange final : ServiceState {
    bool head_started = false;  // some of the current head has arrived, and its deadline runs
    // While a request body is being skipped: the body, and what to answer once it is.
    std::optional<http::BodyDiscarder> body;
    const Responses* pending = nullptr;
    http::RequestHead pending_head;
};

HttpService::HttpService(const HttpConfig& config) : header_timeout_(config.header_timeout) {
    date_.refresh();
    for (const auto& [path, response] : config.routes) routes_.emplace(path, build(response, config.headers));
    fallback_ = build(config.fallback, config.headers);
    const std::vector<std::pair<std::string, std::string>> allow = {{"Allow", "GET, HEAD"}};
    const std::vector<std::pair<std::string, std::string>> none;
    for (int status : kErrorStatuses) {
        errors_.emplace(status, PrebuiltResponse(status, "text/plain; charset=utf-8",
                                                 ascii_lower(http_reason(status)) + "\n", status == 405 ? allow : none,
                                                 Persistence::close, date_.text()));
    }
}

HttpService::Responses HttpService::build(const HttpResponseConfig& response,
                                          const std::vector<std::pair<std::string, std::string>>& headers) {
    auto make = [&](Persistence persistence) {
        return PrebuiltResponse(response.status, response.content_type, response.body, headers, persistence,
                                date_.text());
    };
    return Responses{make(Persistence::keep_alive), make(Persistence::keep_alive_http10), make(Persistence::close)};
}

void HttpService::refresh_date() {
    if (!date_.refresh()) return;
    const std::string_view date = date_.text();
    auto update = [&](Responses& responses) {
        responses.keep_alive.set_date(date);
        responses.keep_alive_http10.set_date(date);
        responses.close.set_date(date);
    };
    for (auto& [path, responses] : routes_) update(responses);
    update(fallback_);
    for (auto& [status, response] : errors_) response.set_date(date);
}

const HttpService::Responses& HttpService::route(std::string_view target) const {
    const auto found = routes_.find(target);
    return found != routes_.end() ? found->second : fallback_;
}

void HttpService::opened(Connection& connection) { connection.state = std::make_unique<Exchange>(); }

void HttpService::send(Connection& connection, const PrebuiltResponse& response, bool head_only) {
    const int status_class = response.status() / 100;
    if (status_class >= 2 && status_class <= 5) ++responses_by_class_[status_class - 2];
    connection.send(head_only ? response.head() : response.whole());
}

void HttpService::add_counters(WorkerCounters& counters) const {
    counters.http_2xx += responses_by_class_[0];
    counters.http_3xx += responses_by_class_[1];
    counters.http_4xx += responses_by_class_[2];
    counters.http_5xx += responses_by_class_[3];
}

void HttpService::refuse(Connection& connection, int status) {
    const auto found = errors_.find(status);
    if (found != errors_.end()) send(connection, found->second, false);
    connection.close_after_flush();
}

void HttpService::deadline_passed(Connection& connection) { refuse(connection, 408); }

bool HttpService::respond(Connection& connection, const Responses& responses, const http::RequestHead& head) {
    const PrebuiltResponse& response = !head.keep_alive            ? responses.close
                                       : head.minor_version == 0 ? responses.keep_alive_http10
                                                                 : responses.keep_alive;
    send(connection, response, head.method == http::Method::head);
    if (head.keep_alive) return true;
    connection.close_after_flush();
    return false;
}

std::size_t HttpService::received(Connection& connection, std::span<const char> bytes) {
    auto& exchange = static_cast<Exchange&>(*connection.state);
    const std::string_view input(bytes.data(), bytes.size());
    refresh_date();
    std::size_t consumed = 0;
    // A client may pipeline requests for a large page and never read: answering stops while the
    // output is full, and the transport offers the rest again once it has been written.
    while (consumed < input.size() && connection.open && !connection.closing && !connection.output_full()) {
        if (exchange.body) {
            const http::BodyDiscarder::Step step = exchange.body->feed(input.substr(consumed));
            consumed += step.consumed;
            if (step.error_status != 0) {
                refuse(connection, step.error_status);
                return input.size();
            }
            if (!step.done) return consumed;
            exchange.body.reset();
            if (!respond(connection, *exchange.pending, exchange.pending_head)) {
                return input.size();
            }
            continue;
        }
        const http::HeadResult result = http::parse_request_head(input.substr(consumed), limits_);
        if (result.status == http::HeadStatus::incomplete) {
            // The clock runs from the head's first byte, however slowly the rest comes.
            if (!exchange.head_started) {
                exchange.head_started = true;
                connection.set_deadline(header_timeout_);
            }
            return consumed;
        }
        if (result.status == http::HeadStatus::error) {
            refuse(connection, result.error_status);
            return input.size();
        }
        consumed += result.length;
        if (exchange.head_started) {
            exchange.head_started = false;
            connection.clear_deadline();
        }
        const http::RequestHead& head = result.head;
        if (head.method == http::Method::other) {
            // Its body, if any, would have to be skipped to go on: closing is simpler and safe.
            refuse(connection, 405);
            return input.size();
        }
        const Responses& responses = route(head.target);
        if (head.body == http::BodyFraming::none) {
            if (!respond(connection, responses, head)) return input.size();
            continue;
        }
        exchange.body.emplace(head.body, head.content_length, kMaxRequestBody);
        // An empty feed tells at once whether the announced length is already too large.
        const http::BodyDiscarder::Step announced = exchange.body->feed({});
        if (announced.error_status != 0) {
            refuse(connection, announced.error_status);
            return input.size();
        }
        if (head.expect_continue && !announced.done) connection.send(kContinue);
        exchange.pending = &responses;
        exchange.pending_head = head;
        // The views in the head point into `input`, which the transport may move once we return;
        // only the fields used to answer are kept, and they are not views.
        exchange.pending_head.method_text = {};
        exchange.pending_head.target = {};
        if (announced.done) {
            exchange.body.reset();
            if (!respond(connection, responses, exchange.pending_head)) return input.size();
        }
    }
    return consumed;
}

}  // namespace corral
