/* corral/module.h: the C interface between corral and a service module.
 *
 * A module is a shared object that speaks one protocol on the connections of the listeners
 * that name it (service: module). corral gives it workers, accepting, buffering and
 * back-pressure, timeouts, supervision, reloads and metrics; the module only hears what happens
 * on a connection and answers through the host functions below. It never links against corral.
 *
 * The module defines one symbol with CORRAL_MODULE_DEFINE. Its name carries the ABI version, so
 * that `corral check` can tell, from the ELF symbol table alone and without running any of the
 * module's code, whether this corral can load it.
 *
 * Everything happens on the worker's one thread: no callback is ever called concurrently, and
 * the host functions may only be called from inside a callback. A callback must not block: the
 * worker serves every other connection from the same loop. See corral-module(3).
 */
#ifndef CORRAL_MODULE_H
#define CORRAL_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Raised whenever a structure below changes in a way an older module or an older corral could
 * not cope with. */
#define CORRAL_MODULE_ABI_VERSION 1

/* The symbol's name: "corral_module_v" followed by the ABI version. */
#define CORRAL_MODULE_SYMBOL_PREFIX "corral_module_v"
#define CORRAL_MODULE_SYMBOL corral_module_v1

/* One connection, valid from opened() until closed() returns. */
typedef struct corral_connection corral_connection;
/* The worker a module instance runs in, for logging, counters and settings. */
typedef struct corral_worker corral_worker;

enum corral_log_level {
    CORRAL_LOG_DEBUG = 0,
    CORRAL_LOG_INFO = 1,
    CORRAL_LOG_NOTICE = 2,
    CORRAL_LOG_WARNING = 3,
    CORRAL_LOG_ERROR = 4,
};

/* What corral offers a module. */
typedef struct corral_host {
    uint32_t abi_version; /* CORRAL_MODULE_ABI_VERSION of the corral that loaded the module */

    /* Sends bytes on the connection: written at once as far as the socket takes them, the rest
     * queued, so the module never keeps output of its own. Bytes sent after close_after_flush()
     * or close() are dropped. */
    void (*send)(corral_connection *connection, const void *bytes, size_t length);
    /* Closes the connection once everything sent has been written. */
    void (*close_after_flush)(corral_connection *connection);
    /* Closes the connection now, dropping unsent output; closed() follows at once. */
    void (*close)(corral_connection *connection);
    /* Non-zero while the connection's output is at its bound (limits.max_output_buffer): a
     * module should stop answering, return what it has not handled from received(), and go on
     * in drained(), where those bytes are offered again. */
    int (*output_full)(const corral_connection *connection);

    /* Writes one line to corral's log, with the module's name and the worker's pid. */
    void (*log)(corral_worker *worker, int level, const char *message);

    /* Registers a counter, in worker_start() only: a name of lower-case letters, digits and
     * underscores, at most 48 bytes. Returns its id for add_to_counter(), or -1 (logged) when the
     * name is invalid or the module already has 64 counters. Counters appear in /metrics as
     * corral_module_NAME_total{listener="...",module="..."}, summed over the workers. */
    int (*register_counter)(corral_worker *worker, const char *name);
    void (*add_to_counter)(corral_worker *worker, int counter, uint64_t amount);

    /* The listener's module.settings, a YAML mapping: the text of a top-level key whose value is
     * a scalar, or NULL. The pointer stays valid until worker_stop(). */
    const char *(*setting)(corral_worker *worker, const char *key);
    /* The whole mapping as YAML text, for settings that are not plain scalars. */
    const char *(*settings_yaml)(corral_worker *worker);
} corral_host;

/* What a module offers corral. Every callback but received() may be NULL. */
typedef struct corral_module {
    uint32_t abi_version; /* CORRAL_MODULE_ABI_VERSION, as the module was built */
    const char *name;      /* short, for logs and metrics labels */

    /* Called once in each worker, after it has dropped privileges. Returns 0 with the module's
     * state for this worker in *instance, or non-zero with one sentence in error (NUL-terminated,
     * at most error_size bytes) saying why: the start or the reload then fails with it. */
    int (*worker_start)(corral_worker *worker, const corral_host *host, void **instance, char *error,
                        size_t error_size);
    /* Called when the worker leaves, after every connection has been closed. */
    void (*worker_stop)(void *instance);

    /* A connection was accepted. Returns the module's state for it (or NULL), handed to every
     * later callback for this connection. */
    void *(*opened)(void *instance, corral_connection *connection);
    /* Bytes arrived. Returns how many the module consumed; corral keeps the rest and offers them
     * again, followed by whatever arrives next. */
    size_t (*received)(void *instance, corral_connection *connection, void *state, const char *bytes,
                       size_t length);
    /* Everything sent has been written. */
    void (*drained)(void *instance, corral_connection *connection, void *state);
    /* The peer will send nothing more. When NULL, the connection closes once its output is out. */
    void (*peer_finished)(void *instance, corral_connection *connection, void *state);
    /* The connection is closed, by either side; the module frees its state here. */
    void (*closed)(void *instance, corral_connection *connection, void *state);
} corral_module;

#ifdef __cplusplus
#define CORRAL_MODULE_LINKAGE extern "C" __attribute__((visibility("default")))
#else
#define CORRAL_MODULE_LINKAGE __attribute__((visibility("default")))
#endif

/* Defines the module's one exported symbol:
 *     CORRAL_MODULE_DEFINE = {CORRAL_MODULE_ABI_VERSION, "echo", start, stop, opened, received, ...};
 */
#define CORRAL_MODULE_DEFINE CORRAL_MODULE_LINKAGE const corral_module CORRAL_MODULE_SYMBOL

#ifdef __cplusplus
}
#endif

#endif /* CORRAL_MODULE_H */
