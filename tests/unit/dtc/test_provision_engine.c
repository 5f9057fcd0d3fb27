/* Unit tests of DTC's doubtful-debt arithmetic (services/dtc/provision_engine.c): the allowance an open amount
 * requires by bucket percentage (rounding half up) or by a specific provision, the policy check, the adjustment a
 * run posts and the split of a write-off between the invoice's allowance and bad-debt expense. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "provision_engine.h"

static int64_t req(int64_t open, int32_t bps) {
    int64_t out = -7;
    assert_int_equal(dtc_provision_required(open, bps, &out), 0);
    return out;
}

static void test_required_by_percentage(void **state) {
    (void)state;
    assert_int_equal(req(1000000, 500), 50000); /* 5% of 10,000.00: 500.00 */
    assert_int_equal(req(333333, 100), 3333);   /* 1% of 3,333.33: 33.3333 -> 33.33 */
    assert_int_equal(req(50, 100), 1);          /* 0.50 -> half up */
    assert_int_equal(req(49, 100), 0);          /* 0.49 -> 0 */
    assert_int_equal(req(150, 3333), 50);       /* 49.995 -> 50 */
    assert_int_equal(req(123456789, 10000), 123456789);
    assert_int_equal(req(123456789, 0), 0);
    assert_int_equal(req(0, 5000), 0);
    /* no overflow for the largest amounts */
    assert_int_equal(req(INT64_MAX, 10000), INT64_MAX);
    assert_true(req(INT64_MAX, 5000) <= INT64_MAX / 2 + 1);
    int64_t out;
    assert_int_equal(dtc_provision_required(-1, 100, &out), -1);
    assert_int_equal(dtc_provision_required(100, -1, &out), -1);
    assert_int_equal(dtc_provision_required(100, 10001, &out), -1);
    /* never above the open amount */
    for (int64_t open = 0; open < 2000; open += 7)
        for (int32_t bps = 0; bps <= 10000; bps += 499) assert_true(req(open, bps) <= open);
}

static void test_specific(void **state) {
    (void)state;
    int64_t out;
    assert_int_equal(dtc_provision_specific(100000, 30000, -1, &out), 0);
    assert_int_equal(out, 30000);
    assert_int_equal(dtc_provision_specific(20000, 30000, -1, &out), 0); /* capped at what is open */
    assert_int_equal(out, 20000);
    assert_int_equal(dtc_provision_specific(100000, 999, 8000, &out), 0); /* a percentage: the amount ignored */
    assert_int_equal(out, 80000);
    assert_int_equal(dtc_provision_specific(100000, -1, -1, &out), -1);
    assert_int_equal(dtc_provision_specific(-1, 5, -1, &out), -1);
}

static void test_policy_check(void **state) {
    (void)state;
    const int32_t ok[5] = {0, 100, 500, 2000, 5000}, flat[3] = {0, 0, 0}, down[5] = {0, 100, 50, 2000, 5000},
                  big[3] = {0, 100, 10001}, neg[3] = {-1, 0, 0};
    assert_int_equal(dtc_provision_policy_check(ok, 5), 0);
    assert_int_equal(dtc_provision_policy_check(flat, 3), 0);
    assert_int_equal(dtc_provision_policy_check(down, 5), -1);
    assert_int_equal(dtc_provision_policy_check(big, 3), -1);
    assert_int_equal(dtc_provision_policy_check(neg, 3), -1);
    assert_int_equal(dtc_provision_policy_check(ok, 2), -1);
    assert_int_equal(dtc_provision_policy_check(NULL, 5), -1);
}

static void test_adjustment_and_split(void **state) {
    (void)state;
    int64_t up, down, a, e;
    assert_int_equal(dtc_provision_adjustment(1000, 1500, &up, &down), 0);
    assert_int_equal(up, 500), assert_int_equal(down, 0);
    assert_int_equal(dtc_provision_adjustment(1500, 1000, &up, &down), 0);
    assert_int_equal(up, 0), assert_int_equal(down, 500);
    assert_int_equal(dtc_provision_adjustment(1000, 1000, &up, &down), 0); /* a rerun: nothing */
    assert_int_equal(up, 0), assert_int_equal(down, 0);
    assert_int_equal(dtc_provision_adjustment(-1, 0, &up, &down), -1);

    assert_int_equal(dtc_writeoff_split(10000, 2500, &a, &e), 0); /* 25% provided: the rest is expense */
    assert_int_equal(a, 2500), assert_int_equal(e, 7500);
    assert_int_equal(dtc_writeoff_split(2000, 2500, &a, &e), 0); /* a part: all from the allowance */
    assert_int_equal(a, 2000), assert_int_equal(e, 0);
    assert_int_equal(dtc_writeoff_split(2000, 0, &a, &e), 0);
    assert_int_equal(a, 0), assert_int_equal(e, 2000);
    assert_int_equal(dtc_writeoff_split(-1, 0, &a, &e), -1);
    /* the two parts always add up to the amount */
    for (int64_t amt = 0; amt < 500; amt += 13)
        for (int64_t al = 0; al < 500; al += 17) {
            assert_int_equal(dtc_writeoff_split(amt, al, &a, &e), 0);
            assert_int_equal(a + e, amt);
            assert_true(a <= al && a >= 0 && e >= 0);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_by_percentage),
        cmocka_unit_test(test_specific),
        cmocka_unit_test(test_policy_check),
        cmocka_unit_test(test_adjustment_and_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
