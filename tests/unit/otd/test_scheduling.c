/* Unit tests of OTD's pure scheduling arithmetic (services/otd/capacity.c): the working days of the horizon and the
 * finite-capacity fill that gives an order its promise date. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "capacity.h"

#define ALL_WORKING(n, w)                                                                                              \
    do {                                                                                                               \
        for (int k_ = 0; k_ < (n); k_++) (w)[k_] = 1;                                                                  \
    } while (0)

static void assert_alloc(const int64_t *alloc, const int64_t *want, int n) {
    for (int i = 0; i < n; i++) assert_int_equal(alloc[i], want[i]);
}

/* Day i is today + i + 1: from a Friday, the horizon starts with Saturday and Sunday. */
static void test_working_days_skip_weekends(void **state) {
    (void)state;
    int w[14];
    otd_working_days(5, 14, w); /* today Friday */
    const int want_fri[14] = {0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1};
    for (int i = 0; i < 14; i++) assert_int_equal(w[i], want_fri[i]);
    otd_working_days(7, 7, w); /* today Sunday: Monday .. Friday, then the weekend */
    const int want_sun[7] = {1, 1, 1, 1, 1, 0, 0};
    for (int i = 0; i < 7; i++) assert_int_equal(w[i], want_sun[i]);
    otd_working_days(1, 7, w); /* today Monday: Tuesday .. Friday, weekend, Monday */
    const int want_mon[7] = {1, 1, 1, 1, 0, 0, 1};
    for (int i = 0; i < 7; i++) assert_int_equal(w[i], want_mon[i]);
    /* a whole horizon has 5 working days in every 7 */
    int h[OTD_HORIZON_DAYS], sum = 0;
    otd_working_days(3, OTD_HORIZON_DAYS, h);
    for (int i = 0; i < 364; i++) sum += h[i];
    assert_int_equal(sum, 52 * 5);
    /* out of range: nothing written */
    int untouched[3] = {7, 7, 7};
    otd_working_days(0, 3, untouched);
    otd_working_days(8, 3, untouched);
    for (int i = 0; i < 3; i++) assert_int_equal(untouched[i], 7);
}

/* Work spills over days at the daily capacity; the last day takes the remainder. */
static void test_fill_spreads_work(void **state) {
    (void)state;
    int w[7];
    ALL_WORKING(7, w);
    int64_t alloc[7];
    assert_int_equal(otd_fill_capacity(10, 4, NULL, 7, w, alloc), 2);
    const int64_t want[7] = {4, 4, 2, 0, 0, 0, 0};
    assert_alloc(alloc, want, 7);
    /* exactly one day's capacity finishes on the first day */
    assert_int_equal(otd_fill_capacity(4, 4, NULL, 7, w, alloc), 0);
    const int64_t one[7] = {4, 0, 0, 0, 0, 0, 0};
    assert_alloc(alloc, one, 7);
    /* alloc_per_day may be NULL */
    assert_int_equal(otd_fill_capacity(9, 4, NULL, 7, w, NULL), 2);
}

/* Booked capacity is taken off; a day booked at (or above) capacity gives nothing, never a negative amount. */
static void test_fill_around_bookings(void **state) {
    (void)state;
    int w[6];
    ALL_WORKING(6, w);
    const int64_t booked[6] = {3, 4, 9, 0, -2, 1};
    int64_t alloc[6];
    assert_int_equal(otd_fill_capacity(6, 4, booked, 6, w, alloc), 4);
    const int64_t want[6] = {1, 0, 0, 4, 1, 0}; /* a negative booking counts as none */
    assert_alloc(alloc, want, 6);
}

/* Weekends take nothing: from a Friday, work of 2 days' capacity finishes on Tuesday (index 3). */
static void test_fill_skips_weekends(void **state) {
    (void)state;
    int w[10];
    otd_working_days(5, 10, w);
    int64_t alloc[10];
    assert_int_equal(otd_fill_capacity(20, 10, NULL, 10, w, alloc), 3);
    const int64_t want[10] = {0, 0, 10, 10, 0, 0, 0, 0, 0, 0};
    assert_alloc(alloc, want, 10);
}

/* Refusals: nothing fits, no capacity, no work, no horizon, no calendar. alloc_per_day is all zero after each. */
static void test_fill_refusals(void **state) {
    (void)state;
    int w[5];
    ALL_WORKING(5, w);
    int64_t alloc[5];
    const int64_t zero[5] = {0};
    assert_int_equal(otd_fill_capacity(21, 4, NULL, 5, w, alloc), -1); /* 20 fit in the horizon */
    assert_alloc(alloc, zero, 5);
    assert_int_equal(otd_fill_capacity(20, 4, NULL, 5, w, alloc), 4); /* 20 just fit */
    assert_int_equal(otd_fill_capacity(5, 0, NULL, 5, w, alloc), -1); /* zero capacity */
    assert_alloc(alloc, zero, 5);
    assert_int_equal(otd_fill_capacity(5, -3, NULL, 5, w, alloc), -1);
    assert_int_equal(otd_fill_capacity(0, 4, NULL, 5, w, alloc), -1); /* no work */
    assert_int_equal(otd_fill_capacity(-1, 4, NULL, 5, w, alloc), -1);
    assert_alloc(alloc, zero, 5);
    assert_int_equal(otd_fill_capacity(1, 4, NULL, 0, w, alloc), -1); /* no horizon */
    assert_int_equal(otd_fill_capacity(1, 4, NULL, 5, NULL, alloc), -1);
    const int64_t full[5] = {4, 4, 4, 4, 4};
    assert_int_equal(otd_fill_capacity(1, 4, full, 5, w, alloc), -1); /* fully booked */
    assert_alloc(alloc, zero, 5);
    int none[5] = {0};
    assert_int_equal(otd_fill_capacity(1, 4, NULL, 5, none, alloc), -1); /* no working day at all */
}

/* Huge numbers do not overflow: the amounts are only ever subtracted. */
static void test_fill_large_values(void **state) {
    (void)state;
    int w[3];
    ALL_WORKING(3, w);
    int64_t alloc[3];
    assert_int_equal(otd_fill_capacity(INT64_MAX, INT64_MAX, NULL, 3, w, alloc), 0);
    assert_int_equal(alloc[0], INT64_MAX);
    const int64_t booked[3] = {INT64_MAX, 1, 0};
    assert_int_equal(otd_fill_capacity(INT64_MAX, INT64_MAX, booked, 3, w, alloc), 2);
    assert_int_equal(alloc[0], 0);
    assert_int_equal(alloc[1], INT64_MAX - 1);
    assert_int_equal(alloc[2], 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_working_days_skip_weekends),
        cmocka_unit_test(test_fill_spreads_work),
        cmocka_unit_test(test_fill_around_bookings),
        cmocka_unit_test(test_fill_skips_weekends),
        cmocka_unit_test(test_fill_refusals),
        cmocka_unit_test(test_fill_large_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
