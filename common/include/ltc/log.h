/* ltc/log.h - structured logs: one JSON object a line on stdout (jansson), with time, level, service, event, the
 * request id when there is one, and a message. */
#ifndef LTC_LOG_H
#define LTC_LOG_H

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
/* Logs event (a short snake_case word) with an optional request id (NULL) and a printf-style message. */
void ltc_log(ltc_log_level level, const char *event, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LTC_DEBUG(event, rid, ...) ltc_log(LTC_LOG_DEBUG, (event), (rid), __VA_ARGS__)
#define LTC_INFO(event, rid, ...) ltc_log(LTC_LOG_INFO, (event), (rid), __VA_ARGS__)
#define LTC_WARN(event, rid, ...) ltc_log(LTC_LOG_WARN, (event), (rid), __VA_ARGS__)
#define LTC_ERROR(event, rid, ...) ltc_log(LTC_LOG_ERROR, (event), (rid), __VA_ARGS__)

#endif
