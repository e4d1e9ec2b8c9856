// read_status_document: the master's own /status reads back whole; anything else is refused with
// a reason, never an exception.
#include <doctest/doctest.h>

#include "master/status_document.hpp"

using namespace corral;

TEST_CASE("a master's /status reads back field by field") {
    const auto status = read_status_document(
        R"({"pid":4242,"generation":3,"state":"running","reloads":2,"reload_failures":1,"worker_restarts":5,)"
        R"("last_reload":{"result":"failed","error":"bad file","generation":3,"at":1700000000},)"
        R"("listeners":[{"address":"127.0.0.1:7000","service":"echo"}],)"
        R"("workers":[{"pid":4243,"generation":3,"state":"ready","connections":7,"share":0.25,"accepted":9,"started_at":1}]})");
    REQUIRE(status.ok());
    CHECK(status->pid == 4242);
    CHECK(status->generation == 3);
    CHECK(status->state == "running");
    CHECK(status->reloads == 2);
    CHECK(status->reload_failures == 1);
    CHECK(status->worker_restarts == 5);
    REQUIRE(status->last_reload);
    CHECK_FALSE(status->last_reload->ok);
    CHECK(status->last_reload->error == "bad file");
    REQUIRE(status->listeners.size() == 1);
    CHECK(status->listeners[0].address == "127.0.0.1:7000");
    CHECK(status->listeners[0].service == "echo");
    REQUIRE(status->workers.size() == 1);
    CHECK(status->workers[0].pid == 4243);
    CHECK(status->workers[0].state == "ready");
    CHECK(status->workers[0].connections == 7);
    CHECK(status->workers[0].accepted == 9);
    CHECK(status->workers[0].share == doctest::Approx(0.25));

    const auto minimal = read_status_document(R"({"pid":1,"last_reload":null,"unknown":[1]})");
    REQUIRE(minimal.ok());
    CHECK_FALSE(minimal->last_reload);
    CHECK(minimal->workers.empty());
}

TEST_CASE("a /status of another shape is refused with the reason") {
    const std::pair<const char*, const char*> cases[] = {
        {"", "not a JSON object"},
        {"[1]", "not a JSON object"},
        {R"({"generation":1})", "\"pid\" is missing"},
        {R"({"pid":0})", "\"pid\" is missing"},
        {R"({"pid":-5})", "\"pid\" is not a non-negative integer"},
        {R"({"pid":1e3})", "\"pid\" is not a non-negative integer"},
        {R"({"pid":99999999999})", "not a process id"},
        {R"({"pid":1,"state":3})", "\"state\" is not a string"},
        {R"({"pid":1,"last_reload":[]})", "\"last_reload\" is not an object"},
        {R"({"pid":1,"last_reload":{"error":5}})", "\"error\" is not a string"},
        {R"({"pid":1,"workers":{}})", "\"workers\" is not an array"},
        {R"({"pid":1,"listeners":"a"})", "\"listeners\" is not an array"},
        {R"({"pid":1,"listeners":[{"address":1}]})", "listeners: an entry is not an object"},
        {R"({"pid":1,"workers":[3]})", "not an object"},
        {R"({"pid":1,"workers":[{"pid":"2"}]})", "workers: \"pid\" is not a non-negative integer"},
        {R"({"pid":1,"workers":[{"pid":2,"share":"half"}]})", "workers: \"share\" is not a number from 0 to 1"},
        {R"({"pid":1,"workers":[{"pid":2,"share":1.5}]})", "workers: \"share\" is not a number from 0 to 1"},
    };
    for (const auto& [body, reason] : cases) {
        CAPTURE(body);
        const auto status = read_status_document(body);
        REQUIRE_FALSE(status.ok());
        CHECK(status.error().find(reason) != std::string::npos);
    }
}
