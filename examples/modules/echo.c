/* echo as a module: every byte received is sent back, in order. The same service corral has
 * built in, so that the two can be compared (bench/run) and so that the smallest module shows
 * the whole interface a protocol needs. */
#include <corral/module.h>

static const corral_host *host;

static int echo_start(corral_worker *worker, const corral_host *corral, void **instance, char *error,
                      size_t error_size) {
    (void)worker;
    (void)error;
    (void)error_size;
    host = corral;
    *instance = NULL;
    return 0;
}

static size_t echo_received(void *instance, corral_connection *connection, void *state, const char *bytes,
                            size_t length) {
    (void)instance;
    (void)state;
    /* corral queues what the socket does not take, and stops reading while the queue is full. */
    host->send(connection, bytes, length);
    return length;
}

CORRAL_MODULE_DEFINE = {
    .abi_version = CORRAL_MODULE_ABI_VERSION,
    .name = "echo",
    .worker_start = echo_start,
    .received = echo_received,
};
