/* ltc/log.h - structured logs: one JSON object a line on stdout (jansson), with time, level, service, event, the
 * request id when there is one, and a message. */
#ifndef LTC_LOG_H
#define LTC_LOG_H

#include <stddef.h>

#include "ltc/status.h"

typedef enum ltc_log_level {
    LTC_LOG_DEBUG = 0,
    LTC_LOG_INFO = 1,
    LTC_LOG_WARN = 2,
    LTC_LOG_ERROR = 3
} ltc_log_level;

/* Sets the service name and the minimum level ("debug", "info", "warn", "error"; unknown -> info). */
void ltc_log_init(const char *service, const char *level);
int ltc_log_enabled(ltc_log_level level);
/* Sets (NULL/"" clears) the request and W3C trace ids of the call this thread serves; every line logged meanwhile
 * carries them ("request_id", "trace_id"). */
void ltc_log_set_context(const char *request_id, const char *trace_id);
/* Sets the span id of this thread's call (cleared by ltc_log_set_context); lines carry it as "span_id". */
void ltc_log_set_span(const char *span_id);
/* The level a call answered with `code` is logged at: info for OK and for what the caller got wrong (NOT_FOUND,
 * INVALID_ARGUMENT, PERMISSION_DENIED, rate limited...), warn for DEADLINE_EXCEEDED, error for the server's faults
 * (INTERNAL, UNKNOWN, DATA_LOSS, UNAVAILABLE). */
ltc_log_level ltc_log_level_for_code(ltc_code code);
/* Routes gRPC core's own log lines (gpr_log) into this JSON stream (ltc_log_init does it). */
void ltc_log_route_grpc(void);

/* A structured field of a line: a string (str non-NULL) or a number (num). */
typedef struct ltc_log_field {
    const char *key;
    const char *str;
    double num;
} ltc_log_field;

/* Logs event (a short snake_case word) with an optional request id (NULL) and a printf-style message. */
void ltc_log(ltc_log_level level, const char *event, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* ltc_log with fields after the message (keys of the envelope - ts, level, service, event, ids, msg - are skipped). */
void ltc_log_fields(ltc_log_level level, const char *event, const char *request_id, const ltc_log_field *fields,
                    size_t n_fields, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define LTC_DEBUG(event, rid, ...) ltc_log(LTC_LOG_DEBUG, (event), (rid), __VA_ARGS__)
#define LTC_INFO(event, rid, ...) ltc_log(LTC_LOG_INFO, (event), (rid), __VA_ARGS__)
#define LTC_WARN(event, rid, ...) ltc_log(LTC_LOG_WARN, (event), (rid), __VA_ARGS__)
#define LTC_ERROR(event, rid, ...) ltc_log(LTC_LOG_ERROR, (event), (rid), __VA_ARGS__)

#endif
