/* log.c - structured logs, one JSON object a line on stdout (see ltc/log.h).
 *
 *   {"ts":"2026-11-27T05:00:00.123Z","level":"info","service":"ltb","event":"lead_created","request_id":"...",
 *    "trace_id":"...","span_id":"...","msg":"...", <fields>}
 *
 * Structured fields (ltc_log_fields) follow the message as JSON strings or numbers: the "rpc" line of every call
 * carries method, code, reason, duration_ms, principal and peer that way. gRPC core's own lines (gpr_log) are
 * routed here too (event "grpc", with file and line), so stdout holds nothing but JSON.
 *
 * The message is formatted into a 4 KiB stack buffer (longer ones are truncated). Text that is not valid UTF-8
 * (client input quoted in a message, a cut in the middle of a character) is repaired with U+FFFD so that every line
 * stays valid JSON. Each line is written with one fwrite and flushed under a mutex, so lines of concurrent threads
 * never interleave. */
#include "ltc/log.h"

#include <grpc/support/log.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LTC_LOG_MSG_MAX 4096

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_service[64] = "ltc"; /* guarded by log_mu */
static atomic_int log_min = LTC_LOG_INFO;

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error"};

void ltc_log_init(const char *service, const char *level) {
    int min = LTC_LOG_INFO;
    if (level) {
        for (int i = 0; i < 4; i++)
            if (strcasecmp(level, LEVEL_NAMES[i]) == 0) min = i;
        if (strcasecmp(level, "warning") == 0) min = LTC_LOG_WARN;
    }
    pthread_mutex_lock(&log_mu);
    snprintf(log_service, sizeof log_service, "%s", service ? service : "ltc");
    pthread_mutex_unlock(&log_mu);
    atomic_store(&log_min, min);
    ltc_log_route_grpc();
}

int ltc_log_enabled(ltc_log_level level) { return (int)level >= atomic_load(&log_min); }

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it is not one (overlong forms, surrogates and
 * code points above U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

/* A JSON string of s with every invalid byte replaced by U+FFFD (jansson refuses invalid UTF-8). */
static json_t *json_text(const char *s) {
    if (!s) s = "";
    size_t n = strlen(s);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k) break;
        i += k;
    }
    if (i == n) return json_stringn(s, n);
    char *fixed = malloc(n * 3 + 1); /* each bad byte grows to 3 */
    if (!fixed) return json_string("");
    size_t o = 0;
    for (i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (k) {
            memcpy(fixed + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    json_t *j = json_stringn(fixed, o);
    free(fixed);
    return j;
}

static void format_ts(char out[64]) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(now.tv_nsec / 1000000L));
}

/* The call a worker thread is serving: its ids go into every line it logs. */
static __thread char ctx_request_id[80];
static __thread char ctx_trace_id[40];
static __thread char ctx_span_id[24];

void ltc_log_set_context(const char *request_id, const char *trace_id) {
    snprintf(ctx_request_id, sizeof ctx_request_id, "%s", request_id ? request_id : "");
    snprintf(ctx_trace_id, sizeof ctx_trace_id, "%s", trace_id ? trace_id : "");
    ctx_span_id[0] = 0;
}

void ltc_log_set_span(const char *span_id) { snprintf(ctx_span_id, sizeof ctx_span_id, "%s", span_id ? span_id : ""); }

ltc_log_level ltc_log_level_for_code(ltc_code code) {
    switch (code) {
        case LTC_INTERNAL:
        case LTC_UNKNOWN:
        case LTC_DATA_LOSS:
        case LTC_UNAVAILABLE: return LTC_LOG_ERROR;      /* our fault: a bug, a lost peer or database */
        case LTC_DEADLINE_EXCEEDED: return LTC_LOG_WARN; /* the caller's budget, or our slowness: either */
        default: return LTC_LOG_INFO; /* OK, and what the caller got wrong (refused, not found, rate limited) */
    }
}

static void vlog(ltc_log_level level, const char *event, const char *request_id, const ltc_log_field *fields,
                 size_t n_fields, const char *fmt, va_list ap) {
    if (!request_id && ctx_request_id[0]) request_id = ctx_request_id;
    if (!ltc_log_enabled(level)) return;
    if ((int)level < LTC_LOG_DEBUG) level = LTC_LOG_DEBUG;
    if ((int)level > LTC_LOG_ERROR) level = LTC_LOG_ERROR;

    char msg[LTC_LOG_MSG_MAX];
    msg[0] = '\0';
    if (fmt) {
        int n = vsnprintf(msg, sizeof msg, fmt, ap);
        if (n < 0) msg[0] = '\0';
    }
    char ts[64];
    format_ts(ts);

    json_t *o = json_object();
    if (!o) return;
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(LEVEL_NAMES[level]));
    pthread_mutex_lock(&log_mu);
    json_object_set_new(o, "service", json_text(log_service));
    pthread_mutex_unlock(&log_mu);
    json_object_set_new(o, "event", json_text(event));
    if (request_id) json_object_set_new(o, "request_id", json_text(request_id));
    if (ctx_trace_id[0]) json_object_set_new(o, "trace_id", json_text(ctx_trace_id));
    if (ctx_span_id[0]) json_object_set_new(o, "span_id", json_text(ctx_span_id));
    json_object_set_new(o, "msg", json_text(msg));
    for (size_t i = 0; i < n_fields; i++) {
        const ltc_log_field *f = &fields[i];
        if (!f->key || json_object_get(o, f->key)) continue; /* the envelope's keys are not overwritten */
        if (f->str)
            json_object_set_new(o, f->key, json_text(f->str));
        else
            json_object_set_new(o, f->key, json_real(f->num));
    }
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(o);
    if (!line) return;
    size_t len = strlen(line);
    char *full = realloc(line, len + 2);
    if (!full) {
        free(line);
        return;
    }
    full[len] = '\n';
    full[len + 1] = '\0';

    pthread_mutex_lock(&log_mu);
    fwrite(full, 1, len + 1, stdout);
    fflush(stdout);
    pthread_mutex_unlock(&log_mu);
    free(full);
}

void ltc_log(ltc_log_level level, const char *event, const char *request_id, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(level, event, request_id, NULL, 0, fmt, ap);
    va_end(ap);
}

void ltc_log_fields(ltc_log_level level, const char *event, const char *request_id, const ltc_log_field *fields,
                    size_t n_fields, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(level, event, request_id, fields, n_fields, fmt, ap);
    va_end(ap);
}

/* gRPC core's lines (those its GRPC_VERBOSITY lets through, ERROR by default) as JSON lines of event "grpc". */
static void grpc_line(gpr_log_func_args *a) {
    ltc_log_level lvl = a->severity == GPR_LOG_SEVERITY_ERROR  ? LTC_LOG_ERROR
                        : a->severity == GPR_LOG_SEVERITY_INFO ? LTC_LOG_INFO
                                                               : LTC_LOG_DEBUG;
    if (!ltc_log_enabled(lvl)) return;
    const char *file = a->file ? a->file : "";
    const char *base = strrchr(file, '/');
    ltc_log_field f[2] = {{.key = "file", .str = base ? base + 1 : file}, {.key = "line", .num = a->line}};
    ltc_log_fields(lvl, "grpc", NULL, f, 2, "%s", a->message ? a->message : "");
}

void ltc_log_route_grpc(void) { gpr_set_log_function(grpc_line); }
