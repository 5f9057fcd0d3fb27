/* Unit tests of common/src/audit_chain.c: the audit trail's hash chain. The pinned hash was computed apart (Python's
 * hashlib over the canonical text of docs/security.md#tamper-evident-audit), so the C and the database's
 * audit_log_canonical() agree with one written rule, not only with each other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ltc/audit_chain.h"

static const char *row1[LTC_CHAIN_FIELDS] = {
    "1",
    "5",
    "1700000000000000",
    "alice",
    "sales",
    "gateway",
    "/ltc.ltb.v1.LeadToBidService/CreateLead",
    "leads/1",
    "rid-1",
    "9b2f",
    "OK",
    "",
    "{leads/1}",
    "[{\"new\": \"QUALIFIED\", \"old\": null, \"field\": \"stage\", \"target\": \"leads/1\"}]",
    ""};

static void test_pinned_hash(void **state) {
    (void)state;
    uint8_t zero[32] = {0}, h[32];
    assert_int_equal(ltc_audit_chain_hash(zero, row1, h), 0);
    char hex[65];
    ltc_audit_chain_hex(h, hex);
    assert_string_equal(hex, "521d30e70c9e5da447db09766e600bbb219c6ecb4e1e25d72ac4bcf0247cc20b");
    uint8_t back[32];
    assert_int_equal(ltc_audit_chain_unhex(hex, back), 0);
    assert_memory_equal(back, h, 32);
}

static void test_every_field_and_the_previous_hash_count(void **state) {
    (void)state;
    uint8_t zero[32] = {0}, base[32], h[32];
    assert_int_equal(ltc_audit_chain_hash(zero, row1, base), 0);
    for (int i = 0; i < LTC_CHAIN_FIELDS; i++) {
        const char *f[LTC_CHAIN_FIELDS];
        memcpy(f, row1, sizeof f);
        f[i] = "x";
        assert_int_equal(ltc_audit_chain_hash(zero, f, h), 0);
        assert_memory_not_equal(h, base, 32);
    }
    /* a byte moved from one field to the next changes the hash (the lengths are part of it) */
    const char *f[LTC_CHAIN_FIELDS];
    memcpy(f, row1, sizeof f);
    f[3] = "alic";
    f[4] = "esales";
    assert_int_equal(ltc_audit_chain_hash(zero, f, h), 0);
    assert_memory_not_equal(h, base, 32);
    uint8_t other[32] = {1};
    assert_int_equal(ltc_audit_chain_hash(other, row1, h), 0);
    assert_memory_not_equal(h, base, 32);
    f[2] = NULL;
    assert_int_equal(ltc_audit_chain_hash(zero, f, h), -1);
}

static void test_unhex_refuses_bad_text(void **state) {
    (void)state;
    uint8_t h[32];
    assert_int_equal(ltc_audit_chain_unhex("", h), -1);
    assert_int_equal(ltc_audit_chain_unhex(NULL, h), -1);
    char bad[65];
    memset(bad, 'a', 64);
    bad[64] = 0;
    assert_int_equal(ltc_audit_chain_unhex(bad, h), 0);
    bad[10] = 'g';
    assert_int_equal(ltc_audit_chain_unhex(bad, h), -1);
}

/* A chain of n rows: each row's fields differ by its position and reason. */
#define N 5
static char pos_text[N][8], reason[N][16];
static const char *fields[N][LTC_CHAIN_FIELDS];
static uint8_t prevh[N][32], rowh[N][32];

static void build(void) {
    uint8_t prev[32] = {0};
    for (int i = 0; i < N; i++) {
        memcpy(fields[i], row1, sizeof fields[i]);
        snprintf(pos_text[i], sizeof pos_text[i], "%d", i + 1);
        snprintf(reason[i], sizeof reason[i], "r%d", i);
        fields[i][LTC_CHAIN_F_POSITION] = pos_text[i];
        fields[i][LTC_CHAIN_F_REASON] = reason[i];
        memcpy(prevh[i], prev, 32);
        assert_int_equal(ltc_audit_chain_hash(prev, fields[i], rowh[i]), 0);
        memcpy(prev, rowh[i], 32);
    }
}

/* Walks rows `rows` (indexes into the chain, -1 ends); returns the problems found, packed as a string. */
static void walk(const int *rows, char *out) {
    ltc_audit_chain_walk w;
    ltc_audit_chain_walk_init(&w);
    out[0] = 0;
    for (; *rows >= 0; rows++) {
        int i = *rows;
        ltc_audit_chain_problem p[3];
        int64_t missing = 0;
        int n = ltc_audit_chain_step(&w, i + 1, prevh[i], rowh[i], fields[i], p, &missing);
        for (int k = 0; k < n; k++)
            sprintf(out + strlen(out), "%s@%d%s",
                    p[k] == LTC_CHAIN_GAP      ? "gap"
                    : p[k] == LTC_CHAIN_EDITED ? "edited"
                                               : "link",
                    p[k] == LTC_CHAIN_GAP ? (int)missing : i + 1, " ");
    }
}

static void test_walk_finds_deleted_and_edited_rows(void **state) {
    (void)state;
    build();
    char got[256];
    walk((const int[]){0, 1, 2, 3, 4, -1}, got);
    assert_string_equal(got, "");
    walk((const int[]){0, 1, 3, 4, -1}, got); /* row 3 deleted */
    assert_string_equal(got, "gap@3 ");
    walk((const int[]){1, 2, 3, 4, -1}, got); /* the first deleted */
    assert_string_equal(got, "gap@1 ");
    /* row 2 edited in place */
    fields[1][LTC_CHAIN_F_REASON] = "changed";
    walk((const int[]){0, 1, 2, 3, 4, -1}, got);
    assert_string_equal(got, "edited@2 ");
    /* ... and its hash recomputed: then row 3 no longer follows it */
    ltc_audit_chain_hash(prevh[1], fields[1], rowh[1]);
    walk((const int[]){0, 1, 2, 3, 4, -1}, got);
    assert_string_equal(got, "link@3 ");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_hash),
        cmocka_unit_test(test_every_field_and_the_previous_hash_count),
        cmocka_unit_test(test_unhex_refuses_bad_text),
        cmocka_unit_test(test_walk_finds_deleted_and_edited_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
