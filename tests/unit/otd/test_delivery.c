/* Unit tests of OTD's over-delivery arithmetic (services/otd/shipments.c, otd_shippable): what a line may still
 * ship given its quantity, what shipped and its tolerance in basis points (floor), never negative, no overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "otd.h"

static void test_shippable(void **state) {
    (void)state;
    assert_int_equal(otd_shippable(3, 0, 0), 3);                     /* no tolerance: the quantity */
    assert_int_equal(otd_shippable(3, 0, 3400), 4);                  /* 34% of 3 = 1.02: one more */
    assert_int_equal(otd_shippable(3, 0, 3300), 3);                  /* 0.99: none */
    assert_int_equal(otd_shippable(100, 98, 500), 7);                /* 105 allowed, 98 shipped */
    assert_int_equal(otd_shippable(100, 110, 500), 0);               /* never negative */
    assert_int_equal(otd_shippable(10, 0, 10000), 20);               /* at most double */
    assert_int_equal(otd_shippable(INT64_MAX, 0, 10000), INT64_MAX); /* saturates, no overflow */
    assert_int_equal(otd_shippable(INT64_MAX / 3, 0, 5000), INT64_MAX / 3 + INT64_MAX / 3 / 2);
    assert_int_equal(otd_shippable(0, 0, 500), 0);
    assert_int_equal(otd_shippable(5, 0, -1), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_shippable)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
