/* Unit tests of the checks of a deal's shared parts in common/src/proto.c that LTB, BTO, OTD and DTC all use: a
 * requirement (ltc_check_requirement) and the iron triangle when it is optional (ltc_check_triangle, required = 0,
 * as OTD's intake takes it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ltc/proto.h"
#include "ltc/type/v1/iron_triangle.pb-c.h"

static int setup(void **state) {
    *state = ltc_call_create_detached(NULL);
    return *state ? 0 : -1;
}

static int teardown(void **state) {
    ltc_call_destroy_detached(*state);
    return 0;
}

static void test_requirement_ok(void **state) {
    ltc_call *c = *state;
    ltc_status st = {0};
    assert_int_equal(ltc_check_requirement(c, "requirements", 0, "RACK-42U", "", 0, &st), 0);
    assert_int_equal(ltc_check_requirement(c, "requirements", 7, "X", NULL, INT64_MAX, &st), 0);
    char code[65], desc[1001];
    memset(code, 'c', 64);
    code[64] = '\0';
    memset(desc, 'd', 1000);
    desc[1000] = '\0';
    assert_int_equal(ltc_check_requirement(c, "requirements", 1, code, desc, 3, &st), 0); /* at the limits */
    assert_int_equal(st.code, LTC_OK);
}

static void test_requirement_bad_fields_named(void **state) {
    ltc_call *c = *state;
    ltc_status st = {0};
    char code[66];
    memset(code, 'c', 65);
    code[65] = '\0';
    assert_int_equal(ltc_check_requirement(c, "requirements", 3, "", "ok", -1, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_int_equal(st.n_violations, 2);
    assert_string_equal(st.violations[0].field, "requirements[3].code");
    assert_string_equal(st.violations[1].field, "requirements[3].quantity");
    ltc_status_clear(&st);
    assert_int_equal(ltc_check_requirement(c, "deal.requirements", 0, code, "\xff", 1, &st), -1);
    assert_int_equal(st.n_violations, 2);
    assert_string_equal(st.violations[0].field, "deal.requirements[0].code");        /* 65 characters */
    assert_string_equal(st.violations[1].field, "deal.requirements[0].description"); /* not UTF-8 */
}

/* Optional: a missing triangle and empty owners pass; a present owner is still checked. */
static void test_optional_triangle(void **state) {
    (void)state;
    ltc_status st = {0};
    Ltc__Type__V1__IronTriangle t = LTC__TYPE__V1__IRON_TRIANGLE__INIT;
    t.account_owner = "";
    t.solution_owner = NULL;
    t.fulfilment_owner = "fr@example.com";
    assert_int_equal(ltc_check_triangle(NULL, "iron_triangle", 0, &st), 0);
    assert_int_equal(ltc_check_triangle(&t, "iron_triangle", 0, &st), 0);
    assert_int_equal(st.code, LTC_OK);
    assert_int_equal(ltc_check_triangle(&t, "iron_triangle", 1, &st), -1);
    assert_int_equal(st.n_violations, 2);
    assert_string_equal(st.violations[0].field, "iron_triangle.account_owner");
    assert_string_equal(st.violations[1].field, "iron_triangle.solution_owner");
    ltc_status_clear(&st);
    char long_owner[130];
    memset(long_owner, 'o', 129);
    long_owner[129] = '\0';
    t.account_owner = long_owner;
    assert_int_equal(ltc_check_triangle(&t, "iron_triangle", 0, &st), -1);
    assert_int_equal(st.n_violations, 1);
    assert_string_equal(st.violations[0].field, "iron_triangle.account_owner");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requirement_ok),
        cmocka_unit_test(test_requirement_bad_fields_named),
        cmocka_unit_test(test_optional_triangle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
