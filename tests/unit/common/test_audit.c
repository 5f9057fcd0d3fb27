/* Unit tests of the audit trail's pure helper (common/src/audit.c, ltc/audit.h): money as a value in the currency's
 * own minor-unit digits, signs, and unknown currencies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ltc/audit.h"

static void test_money_text(void **state) {
    (void)state;
    char b[48];
    assert_string_equal(ltc_audit_money_text("CNY", 123456, b), "CNY 1234.56");
    assert_string_equal(ltc_audit_money_text("CNY", 5, b), "CNY 0.05");
    assert_string_equal(ltc_audit_money_text("CNY", -250, b), "CNY -2.50");
    assert_string_equal(ltc_audit_money_text("JPY", 1200, b), "JPY 1200");
    assert_string_equal(ltc_audit_money_text("BHD", 1001, b), "BHD 1.001");
    assert_string_equal(ltc_audit_money_text("ZZZ", 100, b), "ZZZ 1.00"); /* unknown: 2 digits */
    assert_string_equal(ltc_audit_money_text("USD", INT64_MIN, b), "USD -92233720368547758.08");
    assert_string_equal(ltc_audit_money_text("USD", INT64_MAX, b), "USD 92233720368547758.07");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_money_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
