/* ltc/filter.h - list filters (AIP-160, a strict subset) and order_by (AIP-132) for List methods.
 *
 * A filter is one or more comparisons joined by AND: `stage = WON AND expected_amount.units >= 100000 AND
 * create_time >= "2026-01-01"`. Each comparison names a field of the list's whitelist (ltc_filter_field), one of
 * the operators the field allows (=, !=, <, <=, >, >=) and a value: a number, a bare word ([A-Za-z0-9_.:+-]) or a
 * double-quoted string (\" and \\ escape). Values are checked by the field's type: INT a 64-bit integer, DATE a
 * calendar date "YYYY-MM-DD", ENUM one of the field's values (the enum's prefix, e.g. "OPPORTUNITY_STAGE_", may be
 * given or left out), STRING any text without control characters. No OR, NOT, parentheses, functions or ':'; a
 * field compared twice with the same operator is refused. Every refusal is INVALID_ARGUMENT naming "filter" (or
 * "order_by") with what is wrong and where. Pure: no database, no call; the caller maps each parsed term to a
 * parameter of a static SQL statement, so no filter text ever reaches SQL.
 * Adopting it in a list (any stage): declare the whitelist, parse, then pass each (field, op) term's value as the
 * statement parameter of that slot (NULL when absent): see services/ltb/leads.c and opportunities.c. */
#ifndef LTC_FILTER_H
#define LTC_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "ltc/status.h"

/* The type of a filterable field. */
typedef enum ltc_filter_type {
    LTC_FILTER_STRING = 1,
    LTC_FILTER_INT = 2,
    LTC_FILTER_DATE = 3,
    LTC_FILTER_ENUM = 4
} ltc_filter_type;

/* Operators, as bits (a field's `ops` is the set it allows). */
#define LTC_FILTER_EQ (1u << 0)
#define LTC_FILTER_NE (1u << 1)
#define LTC_FILTER_LT (1u << 2)
#define LTC_FILTER_LE (1u << 3)
#define LTC_FILTER_GT (1u << 4)
#define LTC_FILTER_GE (1u << 5)
#define LTC_FILTER_RANGE (LTC_FILTER_EQ | LTC_FILTER_LT | LTC_FILTER_LE | LTC_FILTER_GT | LTC_FILTER_GE)

/* One filterable field: its name as callers write it ("stage", "expected_amount.units"), type, allowed operators;
 * for ENUM the allowed values (short names, NULL-terminated) and the prefix a caller may put before them. */
typedef struct ltc_filter_field {
    const char *name;
    ltc_filter_type type;
    unsigned ops;
    const char *const *values;
    const char *enum_prefix;
} ltc_filter_field;

#define LTC_FILTER_MAX_TEXT 2000 /* characters of a filter */
#define LTC_FILTER_MAX_TERMS 16
#define LTC_FILTER_MAX_VALUE 256 /* bytes of one value */

/* One comparison: the field's index in the whitelist, the operator (one LTC_FILTER_* bit), the value as text (an
 * ENUM's short name; a DATE as YYYY-MM-DD; an INT in decimal) and, for INT, the number. */
typedef struct ltc_filter_term {
    size_t field;
    unsigned op;
    char value[LTC_FILTER_MAX_VALUE + 1];
    int64_t number;
} ltc_filter_term;

/* A parsed filter: its terms in the order written. */
typedef struct ltc_filter {
    ltc_filter_term terms[LTC_FILTER_MAX_TERMS];
    size_t n;
} ltc_filter;

/* Parses `text` (NULL or empty: no terms) against fields[0..n_fields) into *out. 0, or -1 with INVALID_ARGUMENT
 * naming "filter" in st (*out then holds the terms parsed before the error). */
int ltc_filter_parse(const char *text, const ltc_filter_field *fields, size_t n_fields, ltc_filter *out,
                     ltc_status *st);

/* The value of the term on field `field` with operator `op`, or NULL when the filter has none. */
const char *ltc_filter_value(const ltc_filter *f, size_t field, unsigned op);

/* Parses an order_by of one field: "<field>" or "<field> asc|desc" (spaces around allowed), the field one of
 * fields[0..n). NULL or empty: *field = -1 (the list's default order). 0, or -1 with INVALID_ARGUMENT naming
 * "order_by". */
int ltc_order_by_parse(const char *text, const char *const *fields, size_t n, int *field, int *desc, ltc_status *st);

#endif
