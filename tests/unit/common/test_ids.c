/* Unit tests of common/src/ids.c: UUID generation and validation, "collection/{uuid}" names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ltc/ids.h"

static void test_uuid_new(void **state) {
    (void)state;
    char a[LTC_UUID_LEN + 1], b[LTC_UUID_LEN + 1];
    memset(a, 'x', sizeof a);
    ltc_uuid_new(a);
    ltc_uuid_new(b);
    assert_int_equal(strlen(a), LTC_UUID_LEN);
    assert_true(ltc_uuid_valid(a));
    assert_true(ltc_uuid_valid(b));
    assert_string_not_equal(a, b);
    /* lower case, version 4, RFC 4122 variant */
    for (size_t i = 0; i < LTC_UUID_LEN; i++) assert_false(a[i] >= 'A' && a[i] <= 'F');
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
}

/* The first 48 bits of a v7 UUID, the Unix time in milliseconds it was made at. */
static uint64_t v7_ms(const char *u) {
    char hex[13];
    memcpy(hex, u, 8);
    memcpy(hex + 8, u + 9, 4);
    hex[12] = 0;
    return (uint64_t)strtoull(hex, NULL, 16);
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_uuid_new_v7(void **state) {
    (void)state;
    char prev[LTC_UUID_LEN + 1] = "";
    uint64_t before = now_ms();
    for (int i = 0; i < 2000; i++) {
        char u[LTC_UUID_LEN + 1];
        ltc_uuid_new_v7(u);
        assert_true(ltc_uuid_valid(u));
        assert_int_equal(u[14], '7'); /* version 7 */
        assert_non_null(strchr("89ab", u[19]));
        for (size_t k = 0; k < LTC_UUID_LEN; k++) assert_false(u[k] >= 'A' && u[k] <= 'F');
        assert_string_not_equal(u, prev);
        uint64_t ms = v7_ms(u);
        assert_true(ms >= before && ms <= now_ms());
        /* made later, in another millisecond: sorts after (as text and as PostgreSQL's uuid order) */
        if (prev[0] && v7_ms(prev) < ms) assert_true(strcmp(prev, u) < 0);
        memcpy(prev, u, sizeof u);
    }
}

static void test_uuid_valid(void **state) {
    (void)state;
    assert_true(ltc_uuid_valid("123e4567-e89b-12d3-a456-426614174000"));
    assert_true(ltc_uuid_valid("123E4567-E89B-12D3-A456-426614174000"));
    assert_true(ltc_uuid_valid("00000000-0000-0000-0000-000000000000"));
    const char *bad[] = {
        "",
        "123e4567-e89b-12d3-a456-42661417400",    /* short */
        "123e4567-e89b-12d3-a456-4266141740000",  /* long */
        "123e4567e89b12d3a456426614174000",       /* no hyphens */
        "123e4567-e89b-12d3-a456_426614174000",   /* wrong separator */
        "123e4567-e89b-12d3-a456-42661417400g",   /* not hex */
        "{123e4567-e89b-12d3-a456-426614174000}", /* braces */
        "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
        " 123e4567-e89b-12d3-a456-426614174000",
        "123e4567-e89b-12d3-a456-426614174000 ",
        "123e4567-e89b-12d3-a4564-26614174000", /* hyphen in the wrong place */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ltc_uuid_valid(bad[i])) fail_msg("\"%s\" accepted", bad[i]);
    assert_false(ltc_uuid_valid(NULL));
}

static void test_name_parse_ok(void **state) {
    (void)state;
    ltc_status st = {0};
    char id[LTC_UUID_LEN + 1];
    assert_int_equal(ltc_name_parse("leads/123E4567-E89B-12D3-A456-426614174ABC", "leads", "name", id, &st), 0);
    assert_string_equal(id, "123e4567-e89b-12d3-a456-426614174abc");
    assert_int_equal(st.code, LTC_OK);
    assert_int_equal(ltc_name_parse("orders/00000000-0000-0000-0000-000000000001", "orders", "order", id, &st), 0);
    assert_string_equal(id, "00000000-0000-0000-0000-000000000001");
}

static void bad_name(const char *name, const char *collection) {
    ltc_status st = {0};
    char id[LTC_UUID_LEN + 1] = "junk";
    assert_int_equal(ltc_name_parse(name, collection, "opportunity.lead", id, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_int_equal(st.n_violations, 1);
    assert_string_equal(st.violations[0].field, "opportunity.lead");
    char want[64];
    snprintf(want, sizeof want, "\"%s/{uuid}\"", collection);
    if (!strstr(st.violations[0].description, want))
        fail_msg("description \"%s\" does not show the form %s", st.violations[0].description, want);
    assert_string_equal(id, "");
}

static void test_name_parse_bad(void **state) {
    (void)state;
    bad_name(NULL, "leads");
    bad_name("", "leads");
    bad_name("leads/", "leads");
    bad_name("leads", "leads");
    bad_name("123e4567-e89b-12d3-a456-426614174000", "leads");
    bad_name("lead/123e4567-e89b-12d3-a456-426614174000", "leads");
    bad_name("leadsx/123e4567-e89b-12d3-a456-426614174000", "leads");
    bad_name("orders/123e4567-e89b-12d3-a456-426614174000", "leads");
    bad_name("Leads/123e4567-e89b-12d3-a456-426614174000", "leads");
    bad_name("/leads/123e4567-e89b-12d3-a456-426614174000", "leads");
    bad_name("leads//123e4567-e89b-12d3-a456-426614174000", "leads");
    bad_name("leads/123e4567-e89b-12d3-a456-426614174000/", "leads");
    bad_name("leads/123e4567-e89b-12d3-a456-426614174000/notes/1", "leads");
    bad_name("leads/not-a-uuid", "leads");
    bad_name("leads/123e4567-e89b-12d3-a456-42661417400", "leads");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid_new),      cmocka_unit_test(test_uuid_new_v7),    cmocka_unit_test(test_uuid_valid),
        cmocka_unit_test(test_name_parse_ok), cmocka_unit_test(test_name_parse_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
