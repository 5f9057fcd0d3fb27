/* Unit tests of DTC's aging and dunning arithmetic (services/dtc/aging_engine.c): buckets by days past due, dunning
 * levels by the policy's thresholds, interest with its day count and rounding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aging_engine.h"

static void test_default_buckets(void **state) {
    (void)state;
    const int32_t b[3] = {30, 60, 90};
    assert_int_equal(dtc_aging_bucket(-1, b, 3), 0); /* not yet due */
    assert_int_equal(dtc_aging_bucket(0, b, 3), 1);  /* due today: 0-30 */
    assert_int_equal(dtc_aging_bucket(30, b, 3), 1);
    assert_int_equal(dtc_aging_bucket(31, b, 3), 2);
    assert_int_equal(dtc_aging_bucket(60, b, 3), 2);
    assert_int_equal(dtc_aging_bucket(61, b, 3), 3);
    assert_int_equal(dtc_aging_bucket(90, b, 3), 3);
    assert_int_equal(dtc_aging_bucket(91, b, 3), 4); /* 90+ */
    assert_int_equal(dtc_aging_bucket(INT64_MAX, b, 3), 4);
    assert_int_equal(dtc_aging_bucket(INT64_MIN, b, 3), 0);
}

static void test_configured_buckets_and_refusals(void **state) {
    (void)state;
    const int32_t one[1] = {7};
    assert_int_equal(dtc_aging_bucket(7, one, 1), 1);
    assert_int_equal(dtc_aging_bucket(8, one, 1), 2);
    const int32_t down[2] = {60, 30}, zero[1] = {0}, same[2] = {30, 30};
    assert_int_equal(dtc_aging_bounds_check(down, 2), -1);
    assert_int_equal(dtc_aging_bounds_check(zero, 1), -1);
    assert_int_equal(dtc_aging_bounds_check(same, 2), -1);
    assert_int_equal(dtc_aging_bounds_check(one, 0), -1);
    assert_int_equal(dtc_aging_bounds_check(NULL, 1), -1);
    int32_t eleven[11];
    for (int i = 0; i < 11; i++) eleven[i] = (i + 1) * 10;
    assert_int_equal(dtc_aging_bounds_check(eleven, 10), 0);
    assert_int_equal(dtc_aging_bounds_check(eleven, 11), -1);
    assert_int_equal(dtc_aging_bucket(5, down, 2), -1);
}

static void test_dunning_levels(void **state) {
    (void)state;
    assert_int_equal(dtc_dunning_level(0, 1, 15, 30), DTC_DUNNING_NONE);
    assert_int_equal(dtc_dunning_level(1, 1, 15, 30), DTC_DUNNING_REMINDER);
    assert_int_equal(dtc_dunning_level(14, 1, 15, 30), DTC_DUNNING_REMINDER);
    assert_int_equal(dtc_dunning_level(15, 1, 15, 30), DTC_DUNNING_SECOND);
    assert_int_equal(dtc_dunning_level(30, 1, 15, 30), DTC_DUNNING_FINAL);
    assert_int_equal(dtc_dunning_level(1000, 1, 15, 30), DTC_DUNNING_FINAL);
    assert_int_equal(dtc_dunning_level(-5, 1, 15, 30), DTC_DUNNING_NONE);
    assert_int_equal(dtc_dunning_level(5, 0, 15, 30), -1);
    assert_int_equal(dtc_dunning_level(5, 15, 15, 30), -1);
    assert_int_equal(dtc_dunning_level(5, 1, 30, 30), -1);
}

static void test_interest(void **state) {
    (void)state;
    int64_t v = -1;
    /* 10,000.00 at 5% for 73 days ACT/365: 100.00 */
    assert_int_equal(dtc_dunning_interest(1000000, 500, 73, 365, &v), 0);
    assert_int_equal(v, 10000);
    /* ACT/360: 1000000 * 500 * 73 / 3600000 = 10138.88 -> 10139 */
    assert_int_equal(dtc_dunning_interest(1000000, 500, 73, 360, &v), 0);
    assert_int_equal(v, 10139);
    /* half up: 1 * 10000 * 1 / 20000 would need basis 2; 365 * 10000 / 2 boundary: open 1825, 1 bp, 1000 days */
    assert_int_equal(dtc_dunning_interest(1825, 1, 1000, 365, &v), 0); /* 1825000 / 3650000 = 0.5 -> 1 */
    assert_int_equal(v, 1);
    assert_int_equal(dtc_dunning_interest(1824, 1, 1000, 365, &v), 0); /* 0.4997 -> 0 */
    assert_int_equal(v, 0);
    assert_int_equal(dtc_dunning_interest(0, 500, 10, 365, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(dtc_dunning_interest(INT64_MAX, 10000, 36500, 365, &v), -1); /* beyond int64 */
    assert_int_equal(dtc_dunning_interest(INT64_MAX, 10000, 1, 365, &v), 0);      /* fits */
    assert_int_equal(dtc_dunning_interest(-1, 500, 10, 365, &v), -1);
    assert_int_equal(dtc_dunning_interest(100, 10001, 10, 365, &v), -1);
    assert_int_equal(dtc_dunning_interest(100, 500, -1, 365, &v), -1);
    assert_int_equal(dtc_dunning_interest(100, 500, 10, 364, &v), -1);
    assert_int_equal(dtc_dunning_interest(100, 500, 10, 365, NULL), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_buckets),
        cmocka_unit_test(test_configured_buckets_and_refusals),
        cmocka_unit_test(test_dunning_levels),
        cmocka_unit_test(test_interest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
