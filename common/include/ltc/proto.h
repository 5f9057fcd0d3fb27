/* ltc/proto.h - helpers between protobuf-c messages and the database: timestamps, dates, page tokens. */
#ifndef LTC_PROTO_H
#define LTC_PROTO_H

#include <stdint.h>

#include "ltc/server.h"
#include "ltc/status.h"

struct Google__Protobuf__Timestamp;
struct Ltc__Type__V1__Date;

/* A Timestamp in the call's arena from microseconds since the Unix epoch (SQL form below).
 * Returns NULL when `is_null`. */
struct Google__Protobuf__Timestamp *ltc_ts_from_micros(ltc_call *c, int64_t micros, int is_null);
/* A Timestamp from a result column holding microseconds since the epoch; NULL for SQL NULL. */
struct Google__Protobuf__Timestamp *ltc_ts_from_pg(ltc_call *c, const PGresult *r, int row, int col);
/* SQL to turn a timestamptz into microseconds since the epoch:
 *   SELECT (extract(epoch FROM create_time) * 1000000)::bigint ... */

/* A Date in the call's arena from PostgreSQL's ISO text "YYYY-MM-DD"; NULL for SQL NULL. */
struct Ltc__Type__V1__Date *ltc_date_from_pg(ltc_call *c, const PGresult *r, int row, int col);
/* Validates a Date (required unless allow_missing) and writes "YYYY-MM-DD" into out (11 bytes). A missing date with
 * allow_missing writes "" and returns 0. INVALID_ARGUMENT naming `field` otherwise. */
int ltc_date_to_text(const struct Ltc__Type__V1__Date *d, const char *field, int allow_missing, char out[11],
                     ltc_status *st);

/* Pagination (AIP-158). Lists order by a per-table bigserial `seq` column, descending or ascending; a page token
 * is the opaque (base64url) form of the last seq returned.
 * Parses page_size (0 -> 50, 1..500, else INVALID_ARGUMENT "page_size") and the token (empty -> *after = 0, which
 * means "from the start"; malformed -> INVALID_ARGUMENT "page_token"). *limit is page size + 1, to detect a next
 * page. */
int ltc_page_parse(int32_t page_size, const char *page_token, int *limit, int64_t *after, ltc_status *st);
/* The token for a page whose last row has `seq`. In the arena. */
char *ltc_page_token(ltc_call *c, int64_t seq);

/* Checks a free-text field: valid UTF-8, at most max_chars characters, and (required) not empty. 0, or -1 with
 * INVALID_ARGUMENT naming `field`. NULL counts as empty. */
int ltc_check_text(const char *s, const char *field, int required, int max_chars, ltc_status *st);

/* Enums are stored as their short name: the value name without the enum's prefix ("SUBMITTED" for
 * BID_STATE_SUBMITTED, prefix "BID_STATE_"). */
/* The value for a stored short name; 0 (the _UNSPECIFIED value) when NULL or unknown. */
int ltc_enum_from_db(const ProtobufCEnumDescriptor *d, const char *prefix, const char *text);
/* The short name of a value, or NULL when `value` is not a value of the enum or does not carry the prefix (so an
 * unknown number from a client is caught). Static storage. */
const char *ltc_enum_to_db(const ProtobufCEnumDescriptor *d, const char *prefix, int value);

struct Ltc__Type__V1__IronTriangle;
/* An IronTriangle in the arena from three consecutive result columns of `row`: AR at `col`, SR, FR (SQL NULL reads
 * as ""). */
struct Ltc__Type__V1__IronTriangle *ltc_triangle_from_pg(ltc_call *c, const PGresult *r, int row, int col);
/* ltc_call_check_owners (ltc/server.h) on a record's IronTriangle as read (NULL: no owners). */
int ltc_call_check_triangle(ltc_call *c, const struct Ltc__Type__V1__IronTriangle *t, const char *name, ltc_status *st);
/* Checks an iron triangle: each owner at most 128 characters of valid UTF-8. When `required`, the message and every
 * owner must be present (1 to 128 characters); otherwise a missing message and empty owners pass. Adds a violation
 * per bad owner ("<field>.account_owner" etc.) to st. Returns 0 or -1 (INVALID_ARGUMENT). */
int ltc_check_triangle(const struct Ltc__Type__V1__IronTriangle *t, const char *field, int required, ltc_status *st);

/* Most requirements a deal may carry (LTB's QualifyLead, BTO's AcceptWonBid). */
#define LTC_MAX_REQUIREMENTS 100
/* Checks requirement i of a deal's list `field` (LTB's Requirement and BTO's WonBidRequirement share these fields):
 * "<field>[i].code" 1 to 64 characters, ".description" at most 1000, ".quantity" not negative. Adds a violation per
 * bad field (names in the call's arena). Returns 0 or -1 (INVALID_ARGUMENT). */
int ltc_check_requirement(ltc_call *c, const char *field, size_t i, const char *code, const char *description,
                          int64_t quantity, ltc_status *st);

#endif
