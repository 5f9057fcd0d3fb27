/* Unit tests of the revenue-recognition arithmetic (services/dtc/revrec_engine.c): allocation of a transaction price
 * by relative standalone selling price with the largest-remainder method (the finance primer's worked example to the
 * cent, uneven shares, random cases that must add up exactly and stay within one unit of the exact share), and the
 * straight-line schedule of an over-time obligation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "revrec_engine.h"

/* Equipment 100,000.00 (point in time), installation 20,000.00 (point in time), support 12 months 30,000.00 (over
 * time); list total 150,000.00, order discount 15,000.00: transaction price 135,000.00. */
static void test_worked_example(void **state) {
    (void)state;
    const int64_t ssp[3] = {100000 * 100, 20000 * 100, 30000 * 100};
    int64_t out[3];
    assert_int_equal(dtc_revrec_allocate(135000 * 100, ssp, 3, out), 0);
    assert_int_equal(out[0], 90000 * 100);
    assert_int_equal(out[1], 18000 * 100);
    assert_int_equal(out[2], 27000 * 100);
    int64_t months[12];
    assert_int_equal(dtc_revrec_schedule(out[2], 12, months), 0);
    for (int k = 0; k < 12; k++) assert_int_equal(months[k], 2250 * 100);
    assert_int_equal(dtc_revrec_recognised(out[2], 12, 0), 0);
    assert_int_equal(dtc_revrec_recognised(out[2], 12, 5), 5 * 2250 * 100);
    assert_int_equal(dtc_revrec_recognised(out[2], 12, 12), out[2]);
    assert_int_equal(dtc_revrec_recognised(out[2], 12, 40), out[2]); /* after the service: all of it */
}

static void test_uneven_shares(void **state) {
    (void)state;
    const int64_t thirds[3] = {1, 1, 1};
    int64_t out[3];
    assert_int_equal(dtc_revrec_allocate(100, thirds, 3, out), 0);
    assert_int_equal(out[0], 34); /* equal remainders: the earlier line takes the unit */
    assert_int_equal(out[1], 33);
    assert_int_equal(out[2], 33);
    const int64_t ssp[3] = {333, 333, 334};
    assert_int_equal(dtc_revrec_allocate(10, ssp, 3, out), 0);
    /* exact shares 3.33, 3.33, 3.34: floors 3, 3, 3, the unit to the largest remainder (the third) */
    assert_int_equal(out[0], 3);
    assert_int_equal(out[1], 3);
    assert_int_equal(out[2], 4);
    const int64_t free_line[2] = {0, 500};
    assert_int_equal(dtc_revrec_allocate(99, free_line, 2, out), 0);
    assert_int_equal(out[0], 0); /* a line without a standalone price gets nothing */
    assert_int_equal(out[1], 99);
    int64_t m[7];
    assert_int_equal(dtc_revrec_schedule(100, 7, m), 0);
    int64_t sum = 0;
    for (int k = 0; k < 7; k++) {
        assert_true(m[k] == 14 || m[k] == 15);
        sum += m[k];
    }
    assert_int_equal(sum, 100);
}

static void test_refusals(void **state) {
    (void)state;
    const int64_t ssp[2] = {1, 2}, zero[2] = {0, 0}, neg[2] = {5, -1};
    int64_t out[2] = {7, 7};
    assert_int_equal(dtc_revrec_allocate(-1, ssp, 2, out), -1);
    assert_int_equal(dtc_revrec_allocate(10, zero, 2, out), -1);
    assert_int_equal(dtc_revrec_allocate(10, neg, 2, out), -1);
    assert_int_equal(dtc_revrec_allocate(10, ssp, 0, out), -1);
    assert_int_equal(out[0], 7); /* untouched */
    assert_int_equal(dtc_revrec_recognised(10, 0, 1), -1);
    assert_int_equal(dtc_revrec_recognised(-10, 12, 1), -1);
    assert_int_equal(dtc_revrec_recognised(10, DTC_REVREC_MAX_MONTHS + 1, 1), -1);
    assert_int_equal(dtc_revrec_schedule(10, 0, out), -1);
    /* big amounts do not overflow (128-bit products) */
    const int64_t big[2] = {INT64_MAX / 2, INT64_MAX / 2};
    assert_int_equal(dtc_revrec_allocate(INT64_MAX - 1, big, 2, out), 0);
    assert_int_equal(out[0] + out[1], INT64_MAX - 1);
    assert_int_equal(dtc_revrec_recognised(INT64_MAX, 1200, 600), INT64_MAX / 2);
}

/* Random prices and lines: the parts add up exactly, each within one unit above its exact share's floor, and a line
 * with a larger standalone price never gets less. */
static void test_random_allocations(void **state) {
    (void)state;
    srand(17);
    for (int run = 0; run < 2000; run++) {
        int n = 1 + rand() % 12;
        int64_t ssp[12], out[12], price = (int64_t)(rand() % 100000000);
        __int128 sum = 0;
        for (int i = 0; i < n; i++) ssp[i] = rand() % 5 == 0 ? 0 : 1 + rand() % 10000000, sum += ssp[i];
        if (sum == 0) ssp[0] = 1, sum = 1;
        assert_int_equal(dtc_revrec_allocate(price, ssp, n, out), 0);
        int64_t total = 0;
        for (int i = 0; i < n; i++) {
            int64_t fl = (int64_t)((__int128)price * ssp[i] / sum);
            assert_true(out[i] == fl || out[i] == fl + 1);
            total += out[i];
            for (int j = 0; j < n; j++)
                if (ssp[i] > ssp[j]) assert_true(out[i] >= out[j]);
        }
        assert_int_equal(total, price);
        int months = 1 + rand() % 60;
        int64_t sched[60], s = 0;
        assert_int_equal(dtc_revrec_schedule(out[0], months, sched), 0);
        for (int k = 0; k < months; k++) {
            assert_true(sched[k] == out[0] / months || sched[k] == out[0] / months + 1);
            s += sched[k];
        }
        assert_int_equal(s, out[0]);
    }
}

static void test_point_in_time_and_contract(void **state) {
    (void)state;
    /* the accepted share of the order, all of it once fully accepted */
    assert_int_equal(dtc_revrec_point_in_time(9000000, 0, 13500000, 0), 0);
    assert_int_equal(dtc_revrec_point_in_time(9000000, 4500000, 13500000, 0), 3000000);
    assert_int_equal(dtc_revrec_point_in_time(100, 1, 3, 0), 33);
    assert_int_equal(dtc_revrec_point_in_time(100, 1, 3, 1), 100);
    assert_int_equal(dtc_revrec_point_in_time(100, 5, 3, 0), 100);
    assert_int_equal(dtc_revrec_point_in_time(100, 0, 0, 0), 0);
    assert_int_equal(dtc_revrec_point_in_time(-1, 0, 3, 0), -1);
    int64_t fl, ta, nt;
    /* billed ahead: all out of the liability */
    assert_int_equal(dtc_revrec_contract(500, 800, 0, &fl, &ta, &nt), 0);
    assert_int_equal(fl, 500), assert_int_equal(ta, 0), assert_int_equal(nt, 0);
    /* recognition runs ahead of billing: the liability first, the rest a contract asset */
    assert_int_equal(dtc_revrec_contract(500, 200, 0, &fl, &ta, &nt), 0);
    assert_int_equal(fl, 200), assert_int_equal(ta, 300), assert_int_equal(nt, 0);
    /* an invoice since covered the asset: netted first, then out of the liability */
    assert_int_equal(dtc_revrec_contract(50, 500, 100, &fl, &ta, &nt), 0);
    assert_int_equal(nt, 100), assert_int_equal(fl, 50), assert_int_equal(ta, 0);
    /* an asset that grows */
    assert_int_equal(dtc_revrec_contract(70, 0, 100, &fl, &ta, &nt), 0);
    assert_int_equal(nt, 0), assert_int_equal(fl, 0), assert_int_equal(ta, 70);
    assert_int_equal(dtc_revrec_contract(-1, 0, 0, &fl, &ta, &nt), -1);
    /* random: the entries add up to the revenue and leave one side only, the net */
    srand(17);
    for (int i = 0; i < 10000; i++) {
        int64_t r = rand() % 1000, l = rand() % 1000, a = rand() % 1000;
        assert_int_equal(dtc_revrec_contract(r, l, a, &fl, &ta, &nt), 0);
        assert_true(fl >= 0 && ta >= 0 && nt >= 0);
        assert_int_equal(fl + ta, r);
        int64_t l1 = l - nt - fl, a1 = a - nt + ta;
        assert_true(l1 >= 0 && a1 >= 0 && (l1 == 0 || a1 == 0));
        assert_int_equal(l1 - a1, l - a - r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_uneven_shares),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_random_allocations),
        cmocka_unit_test(test_point_in_time_and_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
