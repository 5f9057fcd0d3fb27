/* Unit tests of migration ordering (common/src/db.c ltc_migrations_check). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ltc/db.h"

static void test_sorted_unique_versions_pass(void **state) {
    (void)state;
    const ltc_migration m[] = {{1, "001_a.sql", "SELECT 1"}, {2, "002_b.sql", "SELECT 1"}, {10, "010_c.sql", ""}};
    ltc_status st = {0};
    assert_int_equal(ltc_migrations_check(m, 3, &st), 0);
    assert_int_equal(ltc_migrations_check(m, 0, &st), 0);
}

static void test_duplicate_version_refused(void **state) {
    (void)state;
    const ltc_migration m[] = {{1, "001_a.sql", ""}, {1, "001_b.sql", ""}};
    ltc_status st = {0};
    assert_int_equal(ltc_migrations_check(m, 2, &st), -1);
    assert_int_equal(st.code, LTC_INTERNAL);
    assert_string_equal(st.reason, "BAD_MIGRATION");
}

static void test_out_of_order_refused(void **state) {
    (void)state;
    const ltc_migration m[] = {{2, "002_a.sql", ""}, {1, "001_b.sql", ""}};
    ltc_status st = {0};
    assert_int_equal(ltc_migrations_check(m, 2, &st), -1);
}

static void test_non_positive_refused(void **state) {
    (void)state;
    const ltc_migration m[] = {{0, "000_a.sql", ""}};
    ltc_status st = {0};
    assert_int_equal(ltc_migrations_check(m, 1, &st), -1);
    const ltc_migration n[] = {{1, "001_a.sql", NULL}};
    assert_int_equal(ltc_migrations_check(n, 1, &st), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_unique_versions_pass),
        cmocka_unit_test(test_duplicate_version_refused),
        cmocka_unit_test(test_out_of_order_refused),
        cmocka_unit_test(test_non_positive_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
