/* ltc/audit_chain.h - the audit trail's hash chain (runtime migration 009_audit_chain.sql), pure.
 *
 * Each audit_log row since the chain started has a chain_position (1, 2, ...), prev_hash (the row_hash of the row
 * at the position before; 32 zero bytes for the first) and row_hash = sha256(prev_hash || canonical text), where the
 * canonical text is every field as "<octets>:<text>;" in the order of ltc_audit_chain_field (what the database's
 * audit_log_canonical() builds). A walk over the rows in chain order finds what was deleted, edited or replaced. */
#ifndef LTC_AUDIT_CHAIN_H
#define LTC_AUDIT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

/* The fields of the canonical text, in order (each as the database prints it). */
enum ltc_audit_chain_field {
    LTC_CHAIN_F_POSITION,
    LTC_CHAIN_F_SEQ,
    LTC_CHAIN_F_EVENT_MICROS, /* event_time as microseconds since the epoch */
    LTC_CHAIN_F_PRINCIPAL,
    LTC_CHAIN_F_ROLES,
    LTC_CHAIN_F_CALLER,
    LTC_CHAIN_F_METHOD,
    LTC_CHAIN_F_TARGET,
    LTC_CHAIN_F_REQUEST_ID,
    LTC_CHAIN_F_SERVER_REQUEST_ID,
    LTC_CHAIN_F_CODE,
    LTC_CHAIN_F_REASON,
    LTC_CHAIN_F_TARGETS, /* targets::text, e.g. {opportunities/1,bids/2} */
    LTC_CHAIN_F_CHANGES, /* changes::text (jsonb) */
    LTC_CHAIN_F_SPOOL_ID,
    LTC_CHAIN_FIELDS
};

/* row_hash of a row: sha256(prev || canonical(fields)). 0, or -1 (a field NULL, or the digest failed). */
int ltc_audit_chain_hash(const uint8_t prev[32], const char *const fields[LTC_CHAIN_FIELDS], uint8_t out[32]);

/* 64 lowercase hex digits (+ NUL) of a hash; and back (0, or -1 when not 64 hex digits). */
void ltc_audit_chain_hex(const uint8_t h[32], char out[65]);
int ltc_audit_chain_unhex(const char *hex, uint8_t out[32]);

typedef enum {
    LTC_CHAIN_OK = 0,
    LTC_CHAIN_GAP,         /* positions before this row are missing */
    LTC_CHAIN_EDITED,      /* the row's hash is not the hash of its content */
    LTC_CHAIN_BROKEN_LINK, /* the row's prev_hash is not the hash of the row before it */
} ltc_audit_chain_problem;

/* A walk over the chain in position order. Start with ltc_audit_chain_walk_init. */
typedef struct {
    int64_t position; /* the last row seen (0: none yet) */
    uint8_t hash[32]; /* its stored row_hash (zeros before the first) */
    int64_t checked;
} ltc_audit_chain_walk;

void ltc_audit_chain_walk_init(ltc_audit_chain_walk *w);

/* The next row of the walk: its position, stored prev_hash and row_hash and its fields. Reports in problems[] (up
 * to 3, in this order: GAP, BROKEN_LINK, EDITED) what is wrong with it and returns how many; the walk goes on from
 * this row's stored hash either way, so every later problem is found too. `missing_from` is set, for a GAP, to the
 * first missing position. */
int ltc_audit_chain_step(ltc_audit_chain_walk *w, int64_t position, const uint8_t prev[32], const uint8_t row_hash[32],
                         const char *const fields[LTC_CHAIN_FIELDS], ltc_audit_chain_problem problems[3],
                         int64_t *missing_from);

#endif
