// What the admin endpoints report: /status as JSON, /metrics in Prometheus text format 0.0.4.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <map>
#include <nlohmann/json.hpp>

#include "common/address.hpp"
#include "common/service_catalog.hpp"
#include "master/master.hpp"

namespace corral {
namespace {

void append_metric(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void append_sample(std::string& out, const char* name, const std::string& labels, std::uint64_t value) {
    out += name;
    if (!labels.empty()) out += "{" + labels + "}";
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

// A label value in the text format: backslash, double quote and newline escaped.
std::string label_value(std::string_view text) {
    std::string escaped;
    for (char c : text) {
        if (c == '\\' || c == '"') escaped += '\\';
        if (c == '\n') escaped += "\\n";
        else escaped += c;
    }
    return escaped;
}

// One family with a sample per live worker, labelled with its pid.
void append_per_worker(std::string& out, const Supervisor& supervisor, const char* name, const char* type,
                       const char* help, std::uint64_t WorkerCounters::*counter) {
    append_metric(out, name, type, help);
    for (const auto& worker : supervisor.workers()) {
        append_sample(out, name, "worker=\"" + std::to_string(worker->pid) + "\"", worker->counters.*counter);
    }
}

// The counters modules publish, one family per counter name.
void append_module_counters(std::string& out, const Supervisor& supervisor) {
    std::vector<ModuleCounterSample> totals = supervisor.exited_module_totals();
    for (const auto& worker : supervisor.workers()) add_module_totals(totals, worker->module_counters);
    std::erase_if(totals, [](const ModuleCounterSample& sample) { return !is_module_counter_name(sample.name); });
    std::sort(totals.begin(), totals.end(), [](const ModuleCounterSample& a, const ModuleCounterSample& b) {
        return std::tie(a.name, a.listener, a.module) < std::tie(b.name, b.listener, b.module);
    });
    for (std::size_t i = 0; i < totals.size(); ++i) {
        const std::string family = "corral_module_" + totals[i].name + "_total";
        if (i == 0 || totals[i - 1].name != totals[i].name)
            append_metric(out, family.c_str(), "counter",
                          "A counter a module publishes, over every worker including those that have exited.");
        append_sample(out, family.c_str(),
                      "listener=\"" + label_value(totals[i].listener) + "\",module=\"" + label_value(totals[i].module) + "\"",
                      totals[i].value);
    }
}

}  // namespace

bool Master::serving() const { return policy_.healthy(); }

std::string Master::status_json() const {
    nlohmann::json status = {
        {"pid", ::getpid()},
        {"generation", current_.number},
        {"state", master_state_name(policy_.reported_state())},
        {"reloads", reloads_},
        {"reload_failures", reload_failures_},
        {"worker_restarts", worker_restarts_},
        {"last_reload", nullptr},
        {"listeners", nlohmann::json::array()},
        {"workers", nlohmann::json::array()},
    };
    for (const auto& listener : current_.listeners) {
        status["listeners"].push_back({
            {"address", format_address(listener->bound)},
            {"service", service_name(listener->config.service)},
        });
    }
    if (last_reload_) {
        status["last_reload"] = {
            {"result", last_reload_->ok ? "ok" : "failed"},
            {"error", last_reload_->ok ? nlohmann::json(nullptr) : nlohmann::json(last_reload_->error)},
            {"generation", last_reload_->generation},
            {"at", last_reload_->at},
        };
    }
    // A worker's share is of its own generation's connections: during a reload the draining
    // generation's workers share what they still hold, and the new one's what it has taken.
    std::map<unsigned, std::uint64_t> generation_connections;
    for (const auto& worker : supervisor_.workers()) {
        generation_connections[worker->generation] += worker->counters.active_connections;
    }
    for (const auto& worker : supervisor_.workers()) {
        const std::uint64_t total = generation_connections[worker->generation];
        const double share =
            total == 0 ? 0.0 : static_cast<double>(worker->counters.active_connections) / static_cast<double>(total);
        status["workers"].push_back({
            {"pid", worker->pid},
            {"generation", worker->generation},
            {"state", worker_state_name(worker->state)},
            {"connections", worker->counters.active_connections},
            {"share", std::round(share * 10000) / 10000},
            {"accepted", worker->counters.accepted},
            {"started_at", worker->started_at},
        });
    }
    // Invalid UTF-8 in an error message (from a config file) is replaced, never thrown.
    return status.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string Master::metrics_text() const {
    WorkerCounters totals = supervisor_.exited_totals();
    for (const auto& worker : supervisor_.workers()) {
        add_totals(totals, worker->counters);
    }
    std::string out;
    append_metric(out, "corral_workers", "gauge", "Worker processes alive, of every generation.");
    append_sample(out, "corral_workers", "", supervisor_.live());
    append_metric(out, "corral_generation", "gauge", "The generation currently serving.");
    append_sample(out, "corral_generation", "", current_.number);

    append_per_worker(out, supervisor_, "corral_connections_active", "gauge", "Open connections per worker.",
                      &WorkerCounters::active_connections);
    append_per_worker(out, supervisor_, "corral_output_queued_bytes", "gauge",
                      "Unsent bytes a worker holds for its connections (bounded by limits.max_worker_output).",
                      &WorkerCounters::output_queued);
    append_per_worker(out, supervisor_, "corral_connections_accepted_total", "counter",
                      "Connections accepted per worker.", &WorkerCounters::accepted);
    append_metric(out, "corral_connections_accepted_all_total", "counter",
                  "Connections accepted by every worker, including those that have exited.");
    append_sample(out, "corral_connections_accepted_all_total", "", totals.accepted);
    append_metric(out, "corral_bytes_received_total", "counter", "Bytes read from clients.");
    append_sample(out, "corral_bytes_received_total", "", totals.bytes_received);
    append_metric(out, "corral_bytes_sent_total", "counter", "Bytes written to clients.");
    append_sample(out, "corral_bytes_sent_total", "", totals.bytes_sent);
    append_metric(out, "corral_accept_wakeups_total", "counter", "Times a worker was woken to accept.");
    append_sample(out, "corral_accept_wakeups_total", "", totals.accept_wakeups);
    append_metric(out, "corral_accept_wakeups_empty_total", "counter",
                  "Times a worker was woken to accept and found nothing to accept.");
    append_sample(out, "corral_accept_wakeups_empty_total", "", totals.accept_wakeups_empty);
    append_metric(out, "corral_requests_total", "counter",
                  "Requests answered, by service and status class, over every worker including those that have "
                  "exited.");
    append_sample(out, "corral_requests_total", "service=\"http\",class=\"2xx\"", totals.http_2xx);
    append_sample(out, "corral_requests_total", "service=\"http\",class=\"3xx\"", totals.http_3xx);
    append_sample(out, "corral_requests_total", "service=\"http\",class=\"4xx\"", totals.http_4xx);
    append_sample(out, "corral_requests_total", "service=\"http\",class=\"5xx\"", totals.http_5xx);
    append_module_counters(out, supervisor_);
    append_metric(out, "corral_worker_restarts_total", "counter", "Workers replaced after dying.");
    append_sample(out, "corral_worker_restarts_total", "", worker_restarts_);
    append_metric(out, "corral_reloads_total", "counter", "Reloads by outcome.");
    append_sample(out, "corral_reloads_total", "result=\"ok\"", reloads_);
    append_sample(out, "corral_reloads_total", "result=\"failed\"", reload_failures_);
    return out;
}

}  // namespace corral
