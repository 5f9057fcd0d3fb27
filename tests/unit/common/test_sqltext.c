/* Unit tests of common/src/sqltext.c (statement parameters as PostgreSQL parses them) and of the arena helpers of
 * shared types that the stages use with it: ltc_money_msg (money.c). A detached call (no database) gives the arena. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ltc/money.h"
#include "ltc/server.h"
#include "ltc/sqltext.h"
#include "ltc/type/v1/money.pb-c.h"

static int setup(void **state) {
    *state = ltc_call_create_detached(NULL);
    return *state ? 0 : -1;
}

static int teardown(void **state) {
    ltc_call_destroy_detached(*state);
    return 0;
}

static void test_i64(void **state) {
    ltc_call *c = *state;
    assert_string_equal(ltc_sql_i64(c, 0), "0");
    assert_string_equal(ltc_sql_i64(c, -42), "-42");
    assert_string_equal(ltc_sql_i64(c, INT64_MAX), "9223372036854775807");
    assert_string_equal(ltc_sql_i64(c, INT64_MIN), "-9223372036854775808");
}

static void test_plain_array(void **state) {
    ltc_call *c = *state;
    const char *ids[] = {"4f1c2d3e-0000-4000-8000-000000000001", "12", NULL};
    assert_string_equal(ltc_sql_array(c, ids, 0), "{}");
    assert_string_equal(ltc_sql_array(c, ids, 1), "{4f1c2d3e-0000-4000-8000-000000000001}");
    assert_string_equal(ltc_sql_array(c, ids, 3), "{4f1c2d3e-0000-4000-8000-000000000001,12,}");
}

static void test_text_array_quotes_and_escapes(void **state) {
    ltc_call *c = *state;
    const char *items[] = {"a", "with \"quote\"", "back\\slash", "comma,{brace}", "", NULL};
    assert_string_equal(ltc_sql_text_array(c, items, 0), "{}");
    assert_string_equal(ltc_sql_text_array(c, items, 6),
                        "{\"a\",\"with \\\"quote\\\"\",\"back\\\\slash\",\"comma,{brace}\",\"\",\"\"}");
    /* the worst case: every character escaped */
    const char *worst[] = {"\"\"\"\\\\"};
    assert_string_equal(ltc_sql_text_array(c, worst, 1), "{\"\\\"\\\"\\\"\\\\\\\\\"}");
}

static void test_i64_array(void **state) {
    ltc_call *c = *state;
    const int64_t v[] = {1, -2, INT64_MAX, INT64_MIN, 0};
    assert_string_equal(ltc_sql_i64_array(c, v, 0), "{}");
    assert_string_equal(ltc_sql_i64_array(c, v, 1), "{1}");
    assert_string_equal(ltc_sql_i64_array(c, v, 5), "{1,-2,9223372036854775807,-9223372036854775808,0}");
}

static void test_sql_macros(void **state) {
    (void)state;
    assert_string_equal(LTC_SQL_MICROS("o.create_time"), "(extract(epoch FROM o.create_time) * 1000000)::bigint");
    assert_string_equal(LTC_SQL_DATE("due_date"), "to_char(due_date, 'YYYY-MM-DD')");
    assert_string_equal(LTC_SQL_TS_PARAM("$2"),
                        "(to_timestamp($2::bigint / 1000000) + ($2::bigint % 1000000) * interval '1 microsecond')");
}

static void test_money_msg(void **state) {
    ltc_call *c = *state;
    Ltc__Type__V1__Money *m = ltc_money_msg(c, "CNY", -12345);
    assert_non_null(m);
    assert_string_equal(m->currency_code, "CNY");
    assert_int_equal(m->units, -123);
    assert_int_equal(m->nanos, -450000000);
    m = ltc_money_msg(c, "JPY", 7);
    assert_int_equal(m->units, 7);
    assert_int_equal(m->nanos, 0);
    m = ltc_money_msg(c, "KWD", 1001);
    assert_int_equal(m->units, 1);
    assert_int_equal(m->nanos, 1000000);
    m = ltc_money_msg(c, "???", 5); /* a bug upstream: "no currency", whole units */
    assert_string_equal(m->currency_code, "XXX");
    assert_int_equal(m->units, 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_i64),
        cmocka_unit_test(test_plain_array),
        cmocka_unit_test(test_text_array_quotes_and_escapes),
        cmocka_unit_test(test_i64_array),
        cmocka_unit_test(test_sql_macros),
        cmocka_unit_test(test_money_msg),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
