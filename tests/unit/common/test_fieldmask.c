/* Unit tests of common/src/fieldmask.c: the update mask of a standard Update method (AIP-134), on a real resource
 * type (ltc.bto.v1.Product). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ltc/bto/v1/resources.pb-c.h"
#include "ltc/fieldmask.h"

static const char *const UPDATABLE[] = {"display_name", "list_price", "unit_cost", "lead_time_days"};
#define N 4

static unsigned bits_of(char **paths, size_t n, ltc_status *st) {
    Google__Protobuf__FieldMask m = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    m.paths = paths;
    m.n_paths = n;
    return ltc_update_mask_bits(&m, &ltc__bto__v1__product__descriptor, UPDATABLE, N, st);
}

static void test_absent_empty_and_star_select_all(void **state) {
    (void)state;
    ltc_status st = {0};
    assert_int_equal(ltc_update_mask_bits(NULL, &ltc__bto__v1__product__descriptor, UPDATABLE, N, &st), 0xf);
    assert_int_equal(bits_of(NULL, 0, &st), 0xf);
    char *star[] = {"*"};
    assert_int_equal(bits_of(star, 1, &st), 0xf);
    assert_int_equal(st.code, LTC_OK);
}

static void test_named_fields(void **state) {
    (void)state;
    ltc_status st = {0};
    char *paths[] = {"unit_cost", "display_name", "unit_cost"};
    assert_int_equal(bits_of(paths, 3, &st), (1u << 2) | 1u);
    assert_int_equal(st.code, LTC_OK);
    assert_string_equal(ltc_mask_flag(5, 0), "true");
    assert_string_equal(ltc_mask_flag(5, 1), "false");
    assert_string_equal(ltc_mask_flag(5, 2), "true");
}

/* Each bad path is one violation on update_mask; the good ones still count. */
static void test_bad_paths(void **state) {
    (void)state;
    ltc_status st = {0};
    char *paths[] = {"sku", "list_price.units", "colour", NULL, "lead_time_days"};
    assert_int_equal(bits_of(paths, 5, &st), 1u << 3);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_int_equal(st.n_violations, 4);
    for (size_t i = 0; i < st.n_violations; i++) assert_string_equal(st.violations[i].field, "update_mask");
    assert_non_null(strstr(st.violations[0].description, "output only or cannot be changed"));
    assert_non_null(strstr(st.violations[1].description, "sub-fields"));
    assert_non_null(strstr(st.violations[2].description, "not a field of Product"));
    assert_non_null(strstr(st.violations[3].description, "not a field of Product")); /* NULL path reads as "" */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent_empty_and_star_select_all),
        cmocka_unit_test(test_named_fields),
        cmocka_unit_test(test_bad_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
