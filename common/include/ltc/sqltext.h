/* ltc/sqltext.h - the SQL text the stages share: timestamp and date columns in the forms the row mappers read, and
 * statement parameters (int64 as decimal text, PostgreSQL array literals) built in the call's arena. Every
 * parameter is still passed separately (never spliced into SQL): these only spell values the way PostgreSQL parses
 * them. */
#ifndef LTC_SQLTEXT_H
#define LTC_SQLTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "ltc/server.h"

/* SQL: a timestamptz column as microseconds since the epoch (read it with ltc_ts_from_pg). */
#define LTC_SQL_MICROS(col) "(extract(epoch FROM " col ") * 1000000)::bigint"
/* SQL: a date column as 'YYYY-MM-DD' text (read it with ltc_date_from_pg), whatever the session's DateStyle. */
#define LTC_SQL_DATE(col) "to_char(" col ", 'YYYY-MM-DD')"
/* SQL: the timestamptz of a text parameter holding microseconds since the epoch (exact; NULL stays NULL). */
#define LTC_SQL_TS_PARAM(p)                                                                                            \
    "(to_timestamp(" p "::bigint / 1000000) + (" p "::bigint % 1000000) * interval '1 microsecond')"

/* Decimal text of v, in the call's arena (never NULL: the arena aborts on exhaustion). */
char *ltc_sql_i64(ltc_call *c, int64_t v);

/* An array literal "{a,b,...}" of n items written as they are: only for items that need no quoting (UUIDs,
 * decimal integers). A NULL item is written as an empty string. In the arena. */
char *ltc_sql_array(ltc_call *c, const char *const *items, size_t n);
/* An array literal of n text items, each double-quoted with '"' and '\' escaped (any text; NULL gives ""). In the
 * arena. */
char *ltc_sql_text_array(ltc_call *c, const char *const *items, size_t n);
/* An array literal of n integers ("{}" when n is 0). In the arena. */
char *ltc_sql_i64_array(ltc_call *c, const int64_t *items, size_t n);

/* Arrays in PostgreSQL's binary format (array_recv's: one dimension, no NULL element), for a statement's $n::uuid[],
 * $n::int[], $n::bigint[], $n::text[] or $n::bytea[] (the element type must be the one the statement gives the parameter). The
 * server takes them without parsing text: a scheduling run's arrays of 10,000 ids and 33,000 integers cost it 8-15 ms
 * each as literals. In the arena. An item that is not a UUID, an integer out of int4's range or an array over 1 GiB
 * gives a parameter that fails its statement with INTERNAL (ltc_sql_param). */
ltc_sql_param ltc_sql_uuid_array_bin(ltc_call *c, const char *const *ids, size_t n);
ltc_sql_param ltc_sql_int4_array_bin(ltc_call *c, const int64_t *items, size_t n);
ltc_sql_param ltc_sql_int8_array_bin(ltc_call *c, const int64_t *items, size_t n);
ltc_sql_param ltc_sql_text_array_bin(ltc_call *c, const char *const *items, size_t n);
/* A bytea[] of n items laid end to end in `bytes`, item i lens[i] bytes long. */
ltc_sql_param ltc_sql_bytea_array_bin(ltc_call *c, const uint8_t *bytes, const int64_t *lens, size_t n);
/* A text parameter (NULL: SQL NULL). */
static inline ltc_sql_param ltc_sql_text_param(const char *v) { return (ltc_sql_param){v, 0, 0}; }

#endif
