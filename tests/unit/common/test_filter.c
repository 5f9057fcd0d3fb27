/* Unit tests of the list filter and order_by parser (common/src/filter.c, ltc/filter.h): terms joined by AND, each
 * operator, the types (INT, DATE, ENUM with or without its prefix, quoted STRING with escapes), and every refusal
 * naming "filter" or "order_by": unknown field, disallowed operator, bad value, OR/parentheses, a term twice,
 * unterminated strings, control characters, too many terms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ltc/filter.h"

static const char *const STAGES[] = {"QUALIFIED", "BIDDING", "WON", "LOST", NULL};
static const ltc_filter_field FIELDS[] = {
    {"stage", LTC_FILTER_ENUM, LTC_FILTER_EQ | LTC_FILTER_NE, STAGES, "OPPORTUNITY_STAGE_"},
    {"owner", LTC_FILTER_STRING, LTC_FILTER_EQ, NULL, NULL},
    {"create_time", LTC_FILTER_DATE, LTC_FILTER_RANGE, NULL, NULL},
    {"expected_amount.units", LTC_FILTER_INT, LTC_FILTER_RANGE, NULL, NULL},
};
#define NF (sizeof FIELDS / sizeof FIELDS[0])

static int parse(const char *text, ltc_filter *f, ltc_status *st) {
    memset(st, 0, sizeof *st);
    return ltc_filter_parse(text, FIELDS, NF, f, st);
}

static void refused(const char *text, const char *needle) {
    ltc_filter f;
    ltc_status st;
    assert_int_equal(parse(text, &f, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_int_equal(st.n_violations, 1);
    assert_string_equal(st.violations[0].field, "filter");
    if (needle && !strstr(st.violations[0].description, needle)) fail_msg("%s: %s", text, st.violations[0].description);
}

static void test_empty_is_no_filter(void **state) {
    (void)state;
    ltc_filter f;
    ltc_status st;
    assert_int_equal(parse(NULL, &f, &st), 0);
    assert_int_equal(f.n, 0);
    assert_int_equal(parse("   ", &f, &st), 0);
    assert_int_equal(f.n, 0);
}

static void test_terms_joined_by_and(void **state) {
    (void)state;
    ltc_filter f;
    ltc_status st;
    assert_int_equal(parse(" stage = OPPORTUNITY_STAGE_WON AND owner=\"ar.li \\\"na\\\\\" AND create_time >= "
                           "2026-02-28 AND create_time<\"2026-03-01\" AND expected_amount.units > -5",
                           &f, &st),
                     0);
    assert_int_equal(f.n, 5);
    assert_int_equal(f.terms[0].field, 0);
    assert_int_equal(f.terms[0].op, LTC_FILTER_EQ);
    assert_string_equal(f.terms[0].value, "WON"); /* the prefix is dropped */
    assert_string_equal(f.terms[1].value, "ar.li \"na\\");
    assert_string_equal(ltc_filter_value(&f, 2, LTC_FILTER_GE), "2026-02-28");
    assert_string_equal(ltc_filter_value(&f, 2, LTC_FILTER_LT), "2026-03-01");
    assert_null(ltc_filter_value(&f, 2, LTC_FILTER_EQ));
    assert_int_equal(f.terms[4].number, -5);
    assert_int_equal(f.terms[4].op, LTC_FILTER_GT);
    assert_int_equal(parse("stage != LOST", &f, &st), 0);
    assert_int_equal(f.terms[0].op, LTC_FILTER_NE);
    assert_int_equal(parse("expected_amount.units <= 007", &f, &st), 0);
    assert_string_equal(f.terms[0].value, "7");
}

static void test_refusals_name_filter(void **state) {
    (void)state;
    refused("title = x", "not a field");
    refused("owner > x", "does not allow >");
    refused("stage = PAID", "not one of its values");
    refused("create_time = 2026-02-30", "not a date");
    refused("create_time = 2025-02-29", "not a date");
    refused("expected_amount.units = 1e5", "not an integer");
    refused("expected_amount.units = 99999999999999999999", "out of range");
    refused("stage = WON OR stage = LOST", "expected AND");
    refused("(stage = WON)", "expected a field name");
    refused("stage = WON AND stage = LOST", "given twice");
    refused("owner = \"abc", "unterminated");
    refused("owner = \"a\\nb\"", "escaped");
    refused("owner = \"a\tb\"", "control character");
    refused("stage", "expected an operator");
    refused("stage =", "expected a value");
    refused("stage = WON AND", "expected a field name");
    refused("stage = WONAND owner = x", "not one of its values");
    char many[1200] = "";
    for (int i = 0; i < 17; i++) strcat(many, i ? " AND create_time = 2026-01-01" : "create_time = 2026-01-01");
    refused(many, NULL);
    char longtext[2100];
    memset(longtext, ' ', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    refused(longtext, "longer than");
}

static void test_order_by(void **state) {
    (void)state;
    static const char *const ORD[] = {"create_time", "expected_amount"};
    int f, desc;
    ltc_status st = {0};
    assert_int_equal(ltc_order_by_parse("", ORD, 2, &f, &desc, &st), 0);
    assert_int_equal(f, -1);
    assert_int_equal(ltc_order_by_parse(" expected_amount desc ", ORD, 2, &f, &desc, &st), 0);
    assert_int_equal(f, 1);
    assert_true(desc);
    assert_int_equal(ltc_order_by_parse("create_time asc", ORD, 2, &f, &desc, &st), 0);
    assert_int_equal(f, 0);
    assert_false(desc);
    assert_int_equal(ltc_order_by_parse("create_time", ORD, 2, &f, &desc, &st), 0);
    assert_false(desc);
    const char *bad[] = {"title", "create_time descending", "create_time, expected_amount", "create_time up"};
    for (size_t i = 0; i < 4; i++) {
        memset(&st, 0, sizeof st);
        assert_int_equal(ltc_order_by_parse(bad[i], ORD, 2, &f, &desc, &st), -1);
        assert_string_equal(st.violations[0].field, "order_by");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_is_no_filter),
        cmocka_unit_test(test_terms_joined_by_and),
        cmocka_unit_test(test_refusals_name_filter),
        cmocka_unit_test(test_order_by),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
