/* Unit tests of BTO's reading of OTD's available-to-promise answer (services/bto/atp.c): a date is known only when
 * OTD gave a valid earliest_promise_date; anything else leaves the quote's availability UNKNOWN with a reason (the
 * quote is still sent: the answer is advisory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bto.h"
#include "ltc/otd/v1/availability_service.pb-c.h"

static void test_known_date(void **state) {
    (void)state;
    Ltc__Type__V1__Date d = LTC__TYPE__V1__DATE__INIT;
    d.year = 2027, d.month = 3, d.day = 9;
    Ltc__Otd__V1__CheckAvailabilityResponse r = LTC__OTD__V1__CHECK_AVAILABILITY_RESPONSE__INIT;
    r.earliest_promise_date = &d;
    r.meets_requested_date = 1;
    bto_atp_answer a;
    assert_int_equal(bto_atp_read(&r, &a), 0);
    assert_int_equal(a.known, 1);
    assert_string_equal(a.date, "2027-03-09");
    assert_int_equal(a.meets, 1);
}

static void test_missing_or_bad_date_is_unknown(void **state) {
    (void)state;
    bto_atp_answer a;
    Ltc__Otd__V1__CheckAvailabilityResponse r = LTC__OTD__V1__CHECK_AVAILABILITY_RESPONSE__INIT;
    assert_int_equal(bto_atp_read(&r, &a), -1);
    assert_int_equal(a.known, 0);
    assert_true(strlen(a.reason) > 0);
    Ltc__Type__V1__Date d = LTC__TYPE__V1__DATE__INIT;
    d.year = 2027, d.month = 13, d.day = 1;
    r.earliest_promise_date = &d;
    assert_int_equal(bto_atp_read(&r, &a), -1);
    assert_int_equal(bto_atp_read(NULL, &a), -1);
    assert_int_equal(a.known, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_date),
        cmocka_unit_test(test_missing_or_bad_date_is_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
