/* matching.h - LTB's duplicate matching, the pure part (docs/credit.md, "Matching rules").
 *
 * Normalisation is done in ONE place: the IMMUTABLE SQL functions of migrations/002_customers.sql
 * (normalize_company_name, normalize_email, normalize_phone, normalize_tax_id), which compute the stored, indexed
 * generated columns and, in customers.c's queries, the probe's keys. There is no C copy of them that could drift.
 * What is left to C, and tested by tests/unit/ltb/test_matching.c: grouping the rows a match query returns (one row
 * per shared key) into one match per party with every reason, checking the caller's `distinct_from` against them,
 * and writing the ErrorInfo metadata "matches". */
#ifndef LTB_MATCHING_H
#define LTB_MATCHING_H

#include <stddef.h>

#define LTB_MATCH_MAX_REASONS 8
#define LTB_MATCH_MAX 100      /* FindDuplicateCustomers answers at most this many */
#define LTB_MATCH_NAMES_MAX 20 /* names in the metadata "matches" */

/* One row of a match query: the party (kind "CUSTOMER" or "LEAD", its id, its display name) and one shared key
 * (field "COMPANY_NAME", "EMAIL", "PHONE", "TAX_ID"; the normalised value). The strings are borrowed. */
typedef struct ltb_match_row {
    const char *kind;
    const char *id;
    const char *display;
    const char *field;
    const char *value;
} ltb_match_row;

/* One matching party with each distinct reason once (the strings are those of the rows). */
typedef struct ltb_match {
    int is_lead;
    const char *id;
    const char *display;
    size_t n_reasons;
    struct {
        const char *field;
        const char *value;
    } reasons[LTB_MATCH_MAX_REASONS];
} ltb_match;

/* Groups rows into at most `max` matches, in the order each party first appears, customers before leads; each
 * (field, value) reason once per party. Returns the number of matches written to out. */
size_t ltb_match_group(const ltb_match_row *rows, size_t n, ltb_match *out, size_t max);

/* The resource name of a match: "customers/{id}" or "leads/{id}", into buf (cap bytes). */
void ltb_match_name(const ltb_match *m, char *buf, size_t cap);

/* True when `name` (a resource name as a caller writes it) is among the n names of `names`. */
int ltb_name_listed(const char *name, const char *const *names, size_t n);

/* The matches not named in distinct_from (nd names): moves them to the front of m and returns how many. A write
 * goes ahead only when this is 0. */
size_t ltb_match_unconfirmed(ltb_match *m, size_t n, const char *const *distinct_from, size_t nd);

/* The names of the first LTB_MATCH_NAMES_MAX matches, comma separated ("customers/…,leads/…"), into buf (cap bytes;
 * a name that does not fit whole is left out). Returns buf. */
char *ltb_match_names(const ltb_match *m, size_t n, char *buf, size_t cap);

#endif
