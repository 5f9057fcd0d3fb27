/* ltc/status.h - the one error type of the project: a gRPC status code plus the details that travel in the
 * `grpc-status-details-bin` trailer (google.rpc.Status with one ErrorInfo and, for bad input, a BadRequest).
 *
 * Handlers fill an ltc_status and return -1; the server turns it into exactly one gRPC status, in one place.
 * Every setter returns -1 so that a handler can write `return ltc_status_set(st, ...);`. */
#ifndef LTC_STATUS_H
#define LTC_STATUS_H

#include <stddef.h>
#include <stdint.h>

/* Canonical gRPC status codes (same values as grpc_status_code, kept here so that service code never includes a
 * gRPC header). */
typedef enum ltc_code {
    LTC_OK = 0,
    LTC_CANCELLED = 1,
    LTC_UNKNOWN = 2,
    LTC_INVALID_ARGUMENT = 3,
    LTC_DEADLINE_EXCEEDED = 4,
    LTC_NOT_FOUND = 5,
    LTC_ALREADY_EXISTS = 6,
    LTC_PERMISSION_DENIED = 7,
    LTC_RESOURCE_EXHAUSTED = 8,
    LTC_FAILED_PRECONDITION = 9,
    LTC_ABORTED = 10,
    LTC_OUT_OF_RANGE = 11,
    LTC_UNIMPLEMENTED = 12,
    LTC_INTERNAL = 13,
    LTC_UNAVAILABLE = 14,
    LTC_DATA_LOSS = 15,
    LTC_UNAUTHENTICATED = 16,
} ltc_code;

#define LTC_STATUS_MAX_VIOLATIONS 16
#define LTC_STATUS_MAX_META 2

typedef struct ltc_field_violation {
    char field[96];
    char description[160];
} ltc_field_violation;

typedef struct ltc_status {
    ltc_code code;
    char message[256];   /* developer-facing, English */
    char reason[64];     /* ErrorInfo.reason, UPPER_SNAKE, e.g. "LEAD_NOT_NEW" */
    size_t n_violations; /* BadRequest.field_violations */
    ltc_field_violation violations[LTC_STATUS_MAX_VIOLATIONS];
    /* When set, the exact serialized google.rpc.Status received from a peer (a proxy passes it through unchanged).
     * Owned by the status; freed by ltc_status_clear. */
    uint8_t *raw_details;
    size_t raw_details_len;
    int64_t retry_delay_ms; /* > 0: a google.rpc.RetryInfo detail (rate limits) */
    /* Extra ErrorInfo metadata entries (ltc_status_meta), e.g. "matches" of DUPLICATE_CUSTOMER. */
    size_t n_meta;
    struct {
        char key[32];
        char value[1024];
    } meta[LTC_STATUS_MAX_META];
} ltc_status;

/* Resets to OK, freeing any raw details. */
void ltc_status_clear(ltc_status *st);

/* Sets code, reason (may be NULL: derived from the code) and a printf-style message. Returns -1. */
int ltc_status_set(ltc_status *st, ltc_code code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Adds a BadRequest violation for `field` and makes the status INVALID_ARGUMENT (reason "INVALID_ARGUMENT",
 * message naming the first bad field). Further violations are added to the list. Returns -1. */
int ltc_status_bad_field(ltc_status *st, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Adds an ErrorInfo metadata entry `key` = the formatted value (cut at 1023 bytes; ignored beyond
 * LTC_STATUS_MAX_META entries). Keeps code and reason. Returns -1. */
int ltc_status_meta(ltc_status *st, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Name of a code, "INVALID_ARGUMENT" etc. Never NULL. */
const char *ltc_code_name(ltc_code code);
/* Makes buf (NUL-terminated) valid UTF-8 in place: invalid bytes become '?', a sequence cut short at the end is
 * dropped. */
void ltc_utf8_clean(char *buf);

/* True for codes where the outcome of a call is unknown or transient, so the same request may be retried
 * (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN, CANCELLED). */
int ltc_code_is_retryable(ltc_code code);

/* Serializes st as a google.rpc.Status (with ErrorInfo{reason, domain, metadata: request_id when given} and
 * BadRequest when there are violations).
 * Returns a malloc'd buffer the caller frees, or NULL on allocation failure. When st->raw_details is set, returns a
 * copy of it. */
uint8_t *ltc_status_pack_details(const ltc_status *st, const char *domain, const char *request_id, size_t *len_out);

/* Parses a serialized google.rpc.Status into st's reason and violations (keeping code and message as set).
 * Returns 0, or -1 if the bytes are not a valid Status. */
int ltc_status_unpack_details(ltc_status *st, const uint8_t *data, size_t len);

#endif
