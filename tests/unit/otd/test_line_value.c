/* Unit tests of OTD's valuation of part of an order line (services/otd/shipments.c, otd_line_value): the line's net
 * amount pro rata, rounded half away from zero, the part that completes the line takes the rest, parts add up to the
 * net amount exactly however the line is split, no overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "otd.h"

static int64_t value_of(int64_t net, int64_t quantity, int64_t done, int64_t q) {
    int64_t v = -1;
    assert_int_equal(otd_line_value(net, quantity, done, q, &v), 0);
    return v;
}

static void test_pro_rata(void **state) {
    (void)state;
    assert_int_equal(value_of(1000, 10, 0, 3), 300); /* divides: quantity x unit price */
    assert_int_equal(value_of(1000, 10, 0, 10), 1000);
    assert_int_equal(value_of(100, 3, 0, 1), 33); /* 33.33 */
    assert_int_equal(value_of(100, 3, 0, 2), 67); /* 66.67 */
    assert_int_equal(value_of(5, 2, 0, 1), 3);    /* 2.5: half away from zero */
    assert_int_equal(value_of(0, 7, 0, 3), 0);
    /* 1,000,000 units for 985,050.00: half of them 492,525.00 */
    assert_int_equal(value_of(98505000, 1000000, 0, 500000), 49252500);
    assert_int_equal(value_of(98505000, 1000000, 0, 1), 99); /* 0.98505 */
}

static void test_last_takes_rest(void **state) {
    (void)state;
    assert_int_equal(value_of(100, 3, 1, 2), 67); /* 100 - 33 */
    assert_int_equal(value_of(100, 3, 2, 1), 33); /* 100 - 67 */
    assert_int_equal(value_of(100, 3, 0, 1) + value_of(100, 3, 1, 1) + value_of(100, 3, 2, 1), 100);
    assert_int_equal(value_of(5, 2, 1, 1), 2); /* the second half takes what the first left */
    assert_int_equal(value_of(98505000, 1000000, 999999, 1), 98505000 - 98504901);
}

static void test_random_splits_exact(void **state) {
    (void)state;
    srand(42);
    for (int round = 0; round < 2000; round++) {
        int64_t quantity = 1 + rand() % 5000;
        int64_t net = ((int64_t)rand() << 20 ^ rand()) % 1000000000000LL;
        int64_t done = 0, sum = 0;
        while (done < quantity) {
            int64_t q = 1 + rand() % (quantity - done);
            int64_t v = value_of(net, quantity, done, q);
            assert_true(v >= 0);
            sum += v;
            done += q;
        }
        assert_int_equal(sum, net);
    }
}

static void test_no_overflow(void **state) {
    (void)state;
    assert_int_equal(value_of(INT64_MAX, INT64_MAX, 0, INT64_MAX), INT64_MAX);
    assert_int_equal(value_of(INT64_MAX, 2, 0, 1), INT64_MAX / 2 + 1);
    assert_int_equal(value_of(INT64_MAX, 2, 1, 1), INT64_MAX / 2);
    assert_int_equal(value_of(INT64_MAX - 1, 1000000007, 12345, 1000000007 - 12345) +
                         value_of(INT64_MAX - 1, 1000000007, 0, 12345),
                     INT64_MAX - 1);
    int64_t v;
    assert_int_equal(otd_line_value(INT64_MAX, 10, 0, 20, &v), -1); /* over-delivery beyond int64 */
    assert_int_equal(otd_line_value(100, 0, 0, 1, &v), -1);
    assert_int_equal(otd_line_value(-1, 3, 0, 1, &v), -1);
    assert_int_equal(otd_line_value(100, 3, -1, 1, &v), -1);
    assert_int_equal(otd_line_value(100, 3, INT64_MAX, 1, &v), -1);
    assert_int_equal(value_of(100, 10, 10, 1), 10); /* over-delivery: pro rata too */
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pro_rata), cmocka_unit_test(test_last_takes_rest),
                                       cmocka_unit_test(test_random_splits_exact), cmocka_unit_test(test_no_overflow)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
