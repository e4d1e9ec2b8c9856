/* resp: a subset of the Redis protocol (RESP2) as a corral module: PING, ECHO and QUIT, in the
 * inline and the multibulk form, pipelined; any other command gets an error. Enough for
 * redis-cli and redis-benchmark, unmodified, to talk to it.
 *
 * The module keeps no state per connection: corral hands back whatever was not consumed, so each
 * call parses the complete commands at the front of the bytes, answers them in order, and
 * consumes exactly those. While the connection's output is full it stops; corral offers the rest
 * again once the output has been written. */
#include <corral/module.h>
#include <stdio.h>
#include <string.h>

/* Bounds in the spirit of Redis's own (proto-max-bulk-len, the inline buffer), far smaller:
 * this module answers pings, not uploads. */
#define RESP_MAX_ARGUMENTS 64
#define RESP_MAX_BULK (512 * 1024)
#define RESP_MAX_INLINE (64 * 1024)

typedef struct resp {
    corral_worker *worker;
    const corral_host *host;
    int pings;
    int echoes;
    int errors;
} resp;

static resp the_resp;

typedef struct argument {
    const char *bytes;
    size_t length;
} argument;

enum parse_result { RESP_COMPLETE, RESP_INCOMPLETE, RESP_MALFORMED };

/* The number at bytes[0..) up to "\r\n", for "*N" and "$N"; -1 when it is not one. */
static long parse_count(const char *bytes, size_t length) {
    if (length == 0 || length > 10) return -1;
    long value = 0;
    for (size_t i = 0; i < length; ++i) {
        if (bytes[i] < '0' || bytes[i] > '9') return -1;
        value = value * 10 + (bytes[i] - '0');
    }
    return value;
}

static const char *find_line_end(const char *bytes, size_t length) { return memchr(bytes, '\n', length); }

/* One multibulk command at the front of bytes: *N\r\n then N times $LEN\r\nBYTES\r\n. */
static enum parse_result parse_multibulk(const char *bytes, size_t length, argument *arguments, int *count,
                                         size_t *used, const char **why) {
    const char *end = find_line_end(bytes, length);
    if (end == NULL) return length > 32 ? (*why = "invalid multibulk length", RESP_MALFORMED) : RESP_INCOMPLETE;
    if (end == bytes || end[-1] != '\r') return (*why = "invalid multibulk length", RESP_MALFORMED);
    const long arguments_wanted = parse_count(bytes + 1, (size_t)(end - 1 - (bytes + 1)));
    if (arguments_wanted < 0 || arguments_wanted > RESP_MAX_ARGUMENTS)
        return (*why = "invalid multibulk length", RESP_MALFORMED);
    size_t at = (size_t)(end + 1 - bytes);
    for (long i = 0; i < arguments_wanted; ++i) {
        if (at >= length) return RESP_INCOMPLETE;
        if (bytes[at] != '$') return (*why = "expected '$'", RESP_MALFORMED);
        const char *line_end = find_line_end(bytes + at, length - at);
        if (line_end == NULL) return length - at > 32 ? (*why = "invalid bulk length", RESP_MALFORMED) : RESP_INCOMPLETE;
        if (line_end[-1] != '\r') return (*why = "invalid bulk length", RESP_MALFORMED);
        const long bulk = parse_count(bytes + at + 1, (size_t)(line_end - 1 - (bytes + at + 1)));
        if (bulk < 0 || bulk > RESP_MAX_BULK) return (*why = "invalid bulk length", RESP_MALFORMED);
        at = (size_t)(line_end + 1 - bytes);
        if (length - at < (size_t)bulk + 2) return RESP_INCOMPLETE;
        if (bytes[at + (size_t)bulk] != '\r' || bytes[at + (size_t)bulk + 1] != '\n')
            return (*why = "bulk not followed by CRLF", RESP_MALFORMED);
        arguments[i].bytes = bytes + at;
        arguments[i].length = (size_t)bulk;
        at += (size_t)bulk + 2;
    }
    *count = (int)arguments_wanted;
    *used = at;
    return RESP_COMPLETE;
}

/* One inline command: a line of words separated by spaces, ending in "\n" or "\r\n". */
static enum parse_result parse_inline(const char *bytes, size_t length, argument *arguments, int *count,
                                      size_t *used, const char **why) {
    const char *end = find_line_end(bytes, length);
    if (end == NULL) return length > RESP_MAX_INLINE ? (*why = "too big inline request", RESP_MALFORMED) : RESP_INCOMPLETE;
    size_t line = (size_t)(end - bytes);
    *used = line + 1;
    if (line > 0 && bytes[line - 1] == '\r') --line;
    *count = 0;
    for (size_t at = 0; at < line;) {
        while (at < line && (bytes[at] == ' ' || bytes[at] == '\t')) ++at;
        if (at == line) break;
        const size_t start = at;
        while (at < line && bytes[at] != ' ' && bytes[at] != '\t') ++at;
        if (*count == RESP_MAX_ARGUMENTS) return (*why = "too many arguments", RESP_MALFORMED);
        arguments[*count].bytes = bytes + start;
        arguments[*count].length = at - start;
        ++*count;
    }
    return RESP_COMPLETE;
}

static int is_command(const argument *name, const char *command) {
    const size_t length = strlen(command);
    if (name->length != length) return 0;
    for (size_t i = 0; i < length; ++i) {
        char c = name->bytes[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != command[i]) return 0;
    }
    return 1;
}

/* The replies to one batch of pipelined commands, gathered so that they leave in one write. */
typedef struct replies {
    resp *self;
    corral_connection *connection;
    size_t used;
    char bytes[16 * 1024];
} replies;

static void flush(replies *out) {
    if (out->used > 0) out->self->host->send(out->connection, out->bytes, out->used);
    out->used = 0;
}

static void append(replies *out, const char *bytes, size_t length) {
    if (length > sizeof out->bytes - out->used) {
        flush(out);
        /* Too large to gather (a long ECHO): it goes out by itself. */
        if (length > sizeof out->bytes) {
            out->self->host->send(out->connection, bytes, length);
            return;
        }
    }
    memcpy(out->bytes + out->used, bytes, length);
    out->used += length;
}

static void send_text(replies *out, const char *text) { append(out, text, strlen(text)); }

static void send_bulk(replies *out, const argument *value) {
    char header[32];
    const int length = snprintf(header, sizeof header, "$%zu\r\n", value->length);
    append(out, header, (size_t)length);
    append(out, value->bytes, value->length);
    append(out, "\r\n", 2);
}

/* Answers one command; returns 0 when the connection is to close after the answer. */
static int answer(replies *out, const argument *arguments, int count) {
    resp *self = out->self;
    if (count == 0) return 1; /* an empty inline line: Redis ignores it */
    if (is_command(&arguments[0], "ping") && count <= 2) {
        self->host->add_to_counter(self->worker, self->pings, 1);
        if (count == 1) send_text(out, "+PONG\r\n");
        else send_bulk(out, &arguments[1]);
        return 1;
    }
    if (is_command(&arguments[0], "echo") && count == 2) {
        self->host->add_to_counter(self->worker, self->echoes, 1);
        send_bulk(out, &arguments[1]);
        return 1;
    }
    if (is_command(&arguments[0], "quit")) {
        send_text(out, "+OK\r\n");
        return 0;
    }
    self->host->add_to_counter(self->worker, self->errors, 1);
    char message[160];
    if (is_command(&arguments[0], "ping") || is_command(&arguments[0], "echo")) {
        snprintf(message, sizeof message, "-ERR wrong number of arguments for '%.*s' command\r\n",
                 (int)arguments[0].length, arguments[0].bytes);
    } else {
        /* The name is the client's: cut, and without line breaks that would end the error early. */
        int shown = arguments[0].length > 64 ? 64 : (int)arguments[0].length;
        for (int i = 0; i < shown; ++i) {
            if (arguments[0].bytes[i] == '\r' || arguments[0].bytes[i] == '\n') shown = i;
        }
        snprintf(message, sizeof message, "-ERR unknown command '%.*s'\r\n", shown, arguments[0].bytes);
    }
    send_text(out, message);
    return 1;
}

static size_t resp_received(void *instance, corral_connection *connection, void *state, const char *bytes,
                            size_t length) {
    resp *self = instance;
    (void)state;
    size_t consumed = 0;
    argument arguments[RESP_MAX_ARGUMENTS];
    replies out = {.self = self, .connection = connection, .used = 0};
    while (consumed < length && !self->host->output_full(connection)) {
        int count = 0;
        size_t used = 0;
        const char *why = NULL;
        const char *front = bytes + consumed;
        const size_t left = length - consumed;
        const enum parse_result result = front[0] == '*' ? parse_multibulk(front, left, arguments, &count, &used, &why)
                                                         : parse_inline(front, left, arguments, &count, &used, &why);
        if (result == RESP_INCOMPLETE) break;
        if (result == RESP_MALFORMED) {
            char message[96];
            snprintf(message, sizeof message, "-ERR Protocol error: %s\r\n", why);
            send_text(&out, message);
            flush(&out);
            self->host->close_after_flush(connection);
            return length;
        }
        consumed += used;
        if (!answer(&out, arguments, count)) {
            flush(&out);
            self->host->close_after_flush(connection);
            return length;
        }
        /* output_full() only knows what has been sent. */
        if (out.used > sizeof out.bytes / 2) flush(&out);
    }
    flush(&out);
    return consumed;
}

static int resp_start(corral_worker *worker, const corral_host *host, void **instance, char *error,
                      size_t error_size) {
    (void)error;
    (void)error_size;
    the_resp.worker = worker;
    the_resp.host = host;
    the_resp.pings = host->register_counter(worker, "pings");
    the_resp.echoes = host->register_counter(worker, "echoes");
    the_resp.errors = host->register_counter(worker, "errors");
    *instance = &the_resp;
    return 0;
}

CORRAL_MODULE_DEFINE = {
    .abi_version = CORRAL_MODULE_ABI_VERSION,
    .name = "resp",
    .worker_start = resp_start,
    .received = resp_received,
};
