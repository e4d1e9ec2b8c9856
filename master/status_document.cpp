// Reading /status with nlohmann::json without letting its type errors escape.
#include "master/status_document.hpp"

#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>

namespace corral {
namespace {

using Json = nlohmann::json;

// Reads the fields of a /status body into a document. A missing or null field keeps its default;
// the first field of another type is the problem, and reading stops mattering after it.
class StatusReader {
public:
    bool failed() const { return !problem_.empty(); }
    const std::string& problem() const { return problem_; }

    void fail(std::string why) {
        if (!failed()) problem_ = std::move(why);
    }

    void field(const Json& object, const char* key, std::uint64_t& out) {
        const Json* found = present(object, key);
        if (found == nullptr) return;
        if (!found->is_number_unsigned()) return fail(std::string("\"") + key + "\" is not a non-negative integer");
        out = found->get<std::uint64_t>();
    }

    void field(const Json& object, const char* key, std::string& out) {
        const Json* found = present(object, key);
        if (found == nullptr) return;
        if (!found->is_string()) return fail(std::string("\"") + key + "\" is not a string");
        out = found->get<std::string>();
    }

    void field(const Json& object, const char* key, double& out) {
        const Json* found = present(object, key);
        if (found == nullptr) return;
        if (!found->is_number() || found->get<double>() < 0 || found->get<double>() > 1)
            return fail(std::string("\"") + key + "\" is not a number from 0 to 1");
        out = found->get<double>();
    }

    struct Counter {
        const char* key;
        std::uint64_t* out;
    };

    void counters(const Json& object, std::initializer_list<Counter> wanted) {
        for (const Counter& counter : wanted) field(object, counter.key, *counter.out);
    }

    void pid(const Json& object, pid_t& out) {
        std::uint64_t pid = 0;
        field(object, "pid", pid);
        if (failed()) return;
        if (pid == 0 || pid > static_cast<std::uint64_t>(std::numeric_limits<pid_t>::max()))
            return fail("\"pid\" is missing or not a process id");
        out = static_cast<pid_t>(pid);
    }

    void last_reload(const Json& status, std::optional<StatusDocument::LastReload>& out) {
        const Json* found = present(status, "last_reload");
        if (found == nullptr) return;
        if (!found->is_object()) return fail("\"last_reload\" is not an object");
        StatusDocument::LastReload last;
        std::string result;
        field(*found, "result", result);
        field(*found, "error", last.error);
        field(*found, "generation", last.generation);
        last.ok = result == "ok";
        out = std::move(last);
    }

    void listeners(const Json& status, std::vector<StatusDocument::Listener>& out) {
        const Json* found = present(status, "listeners");
        if (found == nullptr) return;
        if (!found->is_array()) return fail("\"listeners\" is not an array");
        for (const Json& entry : *found) {
            StatusDocument::Listener listener;
            StatusReader entry_reader;
            if (entry.is_object()) {
                entry_reader.field(entry, "address", listener.address);
                entry_reader.field(entry, "service", listener.service);
            }
            if (!entry.is_object() || entry_reader.failed())
                return fail("listeners: an entry is not an object with an address and a service");
            out.push_back(std::move(listener));
        }
    }

    void workers(const Json& status, std::vector<StatusDocument::Worker>& out) {
        const Json* found = present(status, "workers");
        if (found == nullptr) return;
        if (!found->is_array()) return fail("\"workers\" is not an array");
        for (const Json& entry : *found) {
            if (!entry.is_object()) return fail("an entry of \"workers\" is not an object");
            StatusDocument::Worker worker;
            StatusReader entry_reader;
            entry_reader.pid(entry, worker.pid);
            entry_reader.counters(entry, {{"generation", &worker.generation},
                                          {"connections", &worker.connections},
                                          {"accepted", &worker.accepted}});
            entry_reader.field(entry, "state", worker.state);
            entry_reader.field(entry, "share", worker.share);
            if (entry_reader.failed()) return fail("workers: " + entry_reader.problem());
            out.push_back(std::move(worker));
        }
    }

private:
    // The field, or null when it is absent, null, or an earlier field was already wrong.
    const Json* present(const Json& object, const char* key) const {
        if (failed()) return nullptr;
        const auto found = object.find(key);
        if (found == object.end() || found->is_null()) return nullptr;
        return &*found;
    }

    std::string problem_;
};

}  // namespace

Result<StatusDocument> read_status_document(std::string_view body) {
    const Json status = Json::parse(body, nullptr, false);
    if (status.is_discarded() || !status.is_object()) return Failure{"not a JSON object"};
    StatusDocument document;
    StatusReader reader;
    reader.pid(status, document.pid);
    reader.counters(status, {{"generation", &document.generation},
                             {"reloads", &document.reloads},
                             {"reload_failures", &document.reload_failures},
                             {"worker_restarts", &document.worker_restarts}});
    reader.field(status, "state", document.state);
    reader.last_reload(status, document.last_reload);
    reader.listeners(status, document.listeners);
    reader.workers(status, document.workers);
    if (reader.failed()) return Failure{reader.problem()};
    return document;
}

}  // namespace corral
