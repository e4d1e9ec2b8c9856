/* A module built twice, as version 1 and version 2 (-DVERSIONED_GREETING="..."): it greets each
 * new connection with its version, then echoes. A reload that swaps one file for the other shows
 * which code serves which connection. */
#include <corral/module.h>
#include <string.h>

static const corral_host *host;

static int versioned_start(corral_worker *worker, const corral_host *corral, void **instance, char *error,
                           size_t error_size) {
    (void)worker;
    (void)error;
    (void)error_size;
    host = corral;
    *instance = NULL;
    return 0;
}

static void *versioned_opened(void *instance, corral_connection *connection) {
    (void)instance;
    host->send(connection, VERSIONED_GREETING "\n", strlen(VERSIONED_GREETING "\n"));
    return NULL;
}

static size_t versioned_received(void *instance, corral_connection *connection, void *state, const char *bytes,
                                 size_t length) {
    (void)instance;
    (void)state;
    host->send(connection, bytes, length);
    return length;
}

CORRAL_MODULE_DEFINE = {
    .abi_version = CORRAL_MODULE_ABI_VERSION,
    .name = "versioned",
    .worker_start = versioned_start,
    .opened = versioned_opened,
    .received = versioned_received,
};
