/* Unit tests of DTC's pure credit arithmetic (services/dtc/credit_engine.c): exposure as the sum of its parts, the
 * reasons a credit check is refused for at each stage and policy, and when the automatic holds apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "credit_engine.h"
#include "ltc/dtc/v1/resources.pb-c.h"

static void test_exposure_adds_the_counted_parts(void **state) {
    (void)state;
    dtc_exposure_parts p = {100, 20, 300, 40, 5};
    int64_t t;
    assert_int_equal(dtc_exposure_total(&p, 0, &t), 0);
    assert_int_equal(t, 460);
    assert_int_equal(dtc_exposure_total(&p, 1, &t), 0);
    assert_int_equal(t, 465);
    dtc_exposure_parts over = {INT64_MAX, 1, 0, 0, 0};
    assert_int_equal(dtc_exposure_total(&over, 0, &t), -1);
    dtc_exposure_parts neg = {0, -1, 0, 0, 0};
    assert_int_equal(dtc_exposure_total(&neg, 0, &t), -1);
}

static dtc_credit_inputs base(int stage) {
    dtc_credit_inputs in = {0};
    in.stage = stage;
    in.stage_checked = 1;
    in.has_limit = 1;
    in.limit = 1000;
    in.exposure = 600;
    in.amount = 400;
    return in;
}

static void test_within_the_limit_is_approved(void **state) {
    (void)state;
    dtc_credit_inputs in = base(DTC_STAGE_ORDER_PLACEMENT);
    assert_int_equal(dtc_credit_reasons(&in), 0); /* 600 + 400 == 1000: exactly at the limit passes */
    in.amount = 401;
    assert_int_equal(dtc_credit_reasons(&in), DTC_REASON_LIMIT_EXCEEDED);
    in.amount = INT64_MAX; /* an overflowing sum exceeds any limit */
    assert_int_equal(dtc_credit_reasons(&in), DTC_REASON_LIMIT_EXCEEDED);
}

static void test_no_limit_follows_require_credit_limit(void **state) {
    (void)state;
    dtc_credit_inputs in = base(DTC_STAGE_ADMISSION);
    in.has_limit = 0;
    assert_int_equal(dtc_credit_reasons(&in), 0); /* require_credit_limit false: the limit check does not apply */
    in.require_limit = 1;
    assert_int_equal(dtc_credit_reasons(&in), DTC_REASON_NO_CREDIT_LIMIT);
    in.overdue_hold = 1; /* holds still refuse without a limit */
    in.require_limit = 0;
    assert_int_equal(dtc_credit_reasons(&in), DTC_REASON_INVOICE_OVERDUE);
}

static void test_zero_limit_grants_nothing(void **state) {
    (void)state;
    dtc_credit_inputs in = base(DTC_STAGE_ORDER_PLACEMENT);
    in.limit = 0;
    in.exposure = 0;
    in.amount = 1;
    assert_int_equal(dtc_credit_reasons(&in), DTC_REASON_LIMIT_EXCEEDED);
    in.amount = 0;
    assert_int_equal(dtc_credit_reasons(&in), 0);
}

static void test_blocked_refuses_at_every_stage_whatever_the_policy(void **state) {
    (void)state;
    for (int s = DTC_STAGE_ADMISSION; s <= DTC_STAGE_SHIPMENT; s++) {
        dtc_credit_inputs in = base(s);
        in.stage_checked = 0;
        in.customer_blocked = 1;
        assert_int_equal(dtc_credit_reasons(&in), DTC_REASON_CUSTOMER_BLOCKED);
    }
}

static void test_holds_stop_release_and_shipment_always(void **state) {
    (void)state;
    dtc_credit_inputs in = base(DTC_STAGE_RELEASE);
    in.stage_checked = 0;
    in.manual_hold = in.overdue_hold = in.over_limit_hold = 1;
    unsigned all = DTC_REASON_MANUAL_HOLD | DTC_REASON_INVOICE_OVERDUE | DTC_REASON_EXPOSURE_OVER_LIMIT;
    assert_int_equal(dtc_credit_reasons(&in), all);
    in.stage = DTC_STAGE_SHIPMENT;
    assert_int_equal(dtc_credit_reasons(&in), all);
    /* at admission and placement holds count only when the policy checks the stage */
    in.stage = DTC_STAGE_ADMISSION;
    assert_int_equal(dtc_credit_reasons(&in), 0);
    in.stage_checked = 1;
    assert_int_equal(dtc_credit_reasons(&in), all);
}

static void test_shipment_never_checks_the_limit(void **state) {
    (void)state;
    dtc_credit_inputs in = base(DTC_STAGE_SHIPMENT);
    in.exposure = 5000;
    in.has_limit = 1;
    in.require_limit = 1;
    assert_int_equal(dtc_credit_reasons(&in), 0);
    in.has_limit = 0;
    assert_int_equal(dtc_credit_reasons(&in), 0);
}

static void test_every_reason_is_listed(void **state) {
    (void)state;
    dtc_credit_inputs in = base(DTC_STAGE_ORDER_PLACEMENT);
    in.customer_blocked = in.manual_hold = in.overdue_hold = in.over_limit_hold = 1;
    in.amount = 5000;
    assert_int_equal(dtc_credit_reasons(&in), DTC_REASON_CUSTOMER_BLOCKED | DTC_REASON_MANUAL_HOLD |
                                                  DTC_REASON_INVOICE_OVERDUE | DTC_REASON_EXPOSURE_OVER_LIMIT |
                                                  DTC_REASON_LIMIT_EXCEEDED);
}

static void test_automatic_holds(void **state) {
    (void)state;
    assert_false(dtc_over_limit_hold_wanted(0, 0, 1000));
    assert_false(dtc_over_limit_hold_wanted(1, 1000, 1000));
    assert_true(dtc_over_limit_hold_wanted(1, 1000, 1001));
    assert_false(dtc_overdue_hold_wanted(30, 30)); /* more than the policy's days */
    assert_true(dtc_overdue_hold_wanted(31, 30));
    assert_false(dtc_overdue_hold_wanted(0, 0));
    assert_true(dtc_overdue_hold_wanted(1, 0));
}

static void test_release_counts_what_is_unpaid(void **state) {
    (void)state;
    assert_int_equal(dtc_release_amount(1000, 0), 1000);
    assert_int_equal(dtc_release_amount(1000, 300), 700);
    assert_int_equal(dtc_release_amount(1000, 1000), 0);
    assert_int_equal(dtc_release_amount(0, 10), 0);
}

/* The engine's stage values and reason bits are the contract's enum values (credit.c converts by them). */
static void test_values_follow_the_contract(void **state) {
    (void)state;
    assert_int_equal(DTC_STAGE_ADMISSION, LTC__DTC__V1__CREDIT_STAGE__CREDIT_STAGE_ADMISSION);
    assert_int_equal(DTC_STAGE_ORDER_PLACEMENT, LTC__DTC__V1__CREDIT_STAGE__CREDIT_STAGE_ORDER_PLACEMENT);
    assert_int_equal(DTC_STAGE_RELEASE, LTC__DTC__V1__CREDIT_STAGE__CREDIT_STAGE_RELEASE);
    assert_int_equal(DTC_STAGE_SHIPMENT, LTC__DTC__V1__CREDIT_STAGE__CREDIT_STAGE_SHIPMENT);
    assert_int_equal(DTC_REASON_LIMIT_EXCEEDED,
                     1u << LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_LIMIT_EXCEEDED);
    assert_int_equal(DTC_REASON_INVOICE_OVERDUE,
                     1u << LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_INVOICE_OVERDUE);
    assert_int_equal(DTC_REASON_MANUAL_HOLD,
                     1u << LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_MANUAL_HOLD);
    assert_int_equal(DTC_REASON_CUSTOMER_BLOCKED,
                     1u << LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_CUSTOMER_BLOCKED);
    assert_int_equal(DTC_REASON_NO_CREDIT_LIMIT,
                     1u << LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_NO_CREDIT_LIMIT);
    assert_int_equal(DTC_REASON_EXPOSURE_OVER_LIMIT,
                     1u << LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_EXPOSURE_OVER_LIMIT);
    assert_int_equal(DTC_REASON_MAX, LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_EXPOSURE_OVER_LIMIT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposure_adds_the_counted_parts),
        cmocka_unit_test(test_within_the_limit_is_approved),
        cmocka_unit_test(test_no_limit_follows_require_credit_limit),
        cmocka_unit_test(test_zero_limit_grants_nothing),
        cmocka_unit_test(test_blocked_refuses_at_every_stage_whatever_the_policy),
        cmocka_unit_test(test_holds_stop_release_and_shipment_always),
        cmocka_unit_test(test_shipment_never_checks_the_limit),
        cmocka_unit_test(test_every_reason_is_listed),
        cmocka_unit_test(test_automatic_holds),
        cmocka_unit_test(test_release_counts_what_is_unpaid),
        cmocka_unit_test(test_values_follow_the_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
