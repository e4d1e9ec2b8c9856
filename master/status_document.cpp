// Reading /status with nlohmann::json without letting its type errors escape.
#include "master/status_document.hpp"

#include <limits>
#include <nlohmann/json.hpp>

namespace corral {
namespace {

using Json = nlohmann::json;

// Each reads `key` of object into out when present; false (error set) when it has another type.
bool read_field(const Json& object, const char* key, std::uint64_t& out, std::string& error) {
    const auto found = object.find(key);
    if (found == object.end() || found->is_null()) return true;
    if (!found->is_number_unsigned()) {
        error = std::string("\"") + key + "\" is not a non-negative integer";
        return false;
    }
    out = found->get<std::uint64_t>();
    return true;
}

bool read_field(const Json& object, const char* key, std::string& out, std::string& error) {
    const auto found = object.find(key);
    if (found == object.end() || found->is_null()) return true;
    if (!found->is_string()) {
        error = std::string("\"") + key + "\" is not a string";
        return false;
    }
    out = found->get<std::string>();
    return true;
}

bool read_field(const Json& object, const char* key, double& out, std::string& error) {
    const auto found = object.find(key);
    if (found == object.end() || found->is_null()) return true;
    if (!found->is_number() || found->get<double>() < 0 || found->get<double>() > 1) {
        error = std::string("\"") + key + "\" is not a number from 0 to 1";
        return false;
    }
    out = found->get<double>();
    return true;
}

bool read_pid(const Json& object, pid_t& out, std::string& error) {
    std::uint64_t pid = 0;
    if (!read_field(object, "pid", pid, error)) return false;
    if (pid == 0 || pid > static_cast<std::uint64_t>(std::numeric_limits<pid_t>::max())) {
        error = "\"pid\" is missing or not a process id";
        return false;
    }
    out = static_cast<pid_t>(pid);
    return true;
}

bool read_last_reload(const Json& status, std::optional<StatusDocument::LastReload>& out, std::string& error) {
    const auto found = status.find("last_reload");
    if (found == status.end() || found->is_null()) return true;
    if (!found->is_object()) {
        error = "\"last_reload\" is not an object";
        return false;
    }
    StatusDocument::LastReload last;
    std::string result;
    if (!read_field(*found, "result", result, error) || !read_field(*found, "error", last.error, error) ||
        !read_field(*found, "generation", last.generation, error)) {
        return false;
    }
    last.ok = result == "ok";
    out = std::move(last);
    return true;
}

bool read_listeners(const Json& status, std::vector<StatusDocument::Listener>& out, std::string& error) {
    const auto found = status.find("listeners");
    if (found == status.end() || found->is_null()) return true;
    if (!found->is_array()) {
        error = "\"listeners\" is not an array";
        return false;
    }
    for (const Json& entry : *found) {
        StatusDocument::Listener listener;
        if (!entry.is_object() || !read_field(entry, "address", listener.address, error) ||
            !read_field(entry, "service", listener.service, error)) {
            error = "listeners: an entry is not an object with an address and a service";
            return false;
        }
        out.push_back(std::move(listener));
    }
    return true;
}

bool read_workers(const Json& status, std::vector<StatusDocument::Worker>& out, std::string& error) {
    const auto found = status.find("workers");
    if (found == status.end() || found->is_null()) return true;
    if (!found->is_array()) {
        error = "\"workers\" is not an array";
        return false;
    }
    for (const Json& entry : *found) {
        if (!entry.is_object()) {
            error = "an entry of \"workers\" is not an object";
            return false;
        }
        StatusDocument::Worker worker;
        if (!read_pid(entry, worker.pid, error) || !read_field(entry, "generation", worker.generation, error) ||
            !read_field(entry, "state", worker.state, error) ||
            !read_field(entry, "connections", worker.connections, error) ||
            !read_field(entry, "accepted", worker.accepted, error) ||
            !read_field(entry, "share", worker.share, error)) {
            error = "workers: " + error;
            return false;
        }
        out.push_back(std::move(worker));
    }
    return true;
}

}  // namespace

std::optional<StatusDocument> read_status_document(std::string_view body, std::string& error) {
    const Json status = Json::parse(body, nullptr, false);
    if (status.is_discarded() || !status.is_object()) {
        error = "not a JSON object";
        return std::nullopt;
    }
    StatusDocument document;
    if (!read_pid(status, document.pid, error) || !read_field(status, "generation", document.generation, error) ||
        !read_field(status, "state", document.state, error) ||
        !read_field(status, "reloads", document.reloads, error) ||
        !read_field(status, "reload_failures", document.reload_failures, error) ||
        !read_field(status, "worker_restarts", document.worker_restarts, error) ||
        !read_last_reload(status, document.last_reload, error) ||
        !read_listeners(status, document.listeners, error) || !read_workers(status, document.workers, error)) {
        return std::nullopt;
    }
    return document;
}

}  // namespace corral
