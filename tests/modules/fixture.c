/* A module for the tests, driven by its settings:
 *   greeting: TEXT    sent on every new connection, then every byte is echoed (built with
 *                     -DFIXTURE_VERSION=\"v1\", the greeting is "v1\n" unless set: the same
 *                     module in two versions shows which code serves which connection);
 *   fail_start: TEXT  worker_start fails with TEXT as its reason;
 *   crash_on: TEXT    the worker aborts when a read holds TEXT;
 *   crash_at_start: any value: the worker aborts in worker_start;
 *   crash_at_start_if: PATH: the same, while PATH exists;
 *   hoard: any value: nothing received is ever consumed (or echoed).
 * It counts the bytes it echoed in the counter "echoed_bytes". */
#define _GNU_SOURCE /* memmem */
#include <corral/module.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fixture {
    corral_worker *worker;
    const corral_host *host;
    const char *greeting;
    const char *crash_on;
    int hoard;
    int echoed_bytes;
} fixture;

static fixture the_fixture;

static int fixture_start(corral_worker *worker, const corral_host *host, void **instance, char *error,
                         size_t error_size) {
    if (host->setting(worker, "crash_at_start") != NULL) abort();
    const char *crash_if = host->setting(worker, "crash_at_start_if");
    if (crash_if != NULL && access(crash_if, F_OK) == 0) abort();
    const char *fail = host->setting(worker, "fail_start");
    if (fail != NULL) {
        strncpy(error, fail, error_size - 1);
        error[error_size - 1] = '\0';
        return -1;
    }
    the_fixture.worker = worker;
    the_fixture.host = host;
    the_fixture.greeting = host->setting(worker, "greeting");
#ifdef FIXTURE_VERSION
    if (the_fixture.greeting == NULL) the_fixture.greeting = FIXTURE_VERSION "\n";
#endif
    the_fixture.crash_on = host->setting(worker, "crash_on");
    the_fixture.hoard = host->setting(worker, "hoard") != NULL;
    the_fixture.echoed_bytes = host->register_counter(worker, "echoed_bytes");
    *instance = &the_fixture;
    host->log(worker, CORRAL_LOG_INFO, "fixture started");
    return 0;
}

static void *fixture_opened(void *instance, corral_connection *connection) {
    fixture *self = instance;
    if (self->greeting != NULL) self->host->send(connection, self->greeting, strlen(self->greeting));
    return NULL;
}

static size_t fixture_received(void *instance, corral_connection *connection, void *state, const char *bytes,
                               size_t length) {
    fixture *self = instance;
    (void)state;
    if (self->hoard) return 0;
    if (self->crash_on != NULL && memmem(bytes, length, self->crash_on, strlen(self->crash_on)) != NULL) abort();
    self->host->send(connection, bytes, length);
    self->host->add_to_counter(self->worker, self->echoed_bytes, length);
    return length;
}

CORRAL_MODULE_DEFINE = {
    .abi_version = CORRAL_MODULE_ABI_VERSION,
    .name = "fixture",
    .worker_start = fixture_start,
    .opened = fixture_opened,
    .received = fixture_received,
};
