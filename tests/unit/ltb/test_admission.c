/* Unit tests of the order-admission rules (services/ltb/admission_rules.c, docs/credit.md): the three checks and
 * their reasons (credit fails closed), the exact tolerance arithmetic of CreateBid, the order of CreateBid's
 * refusals, which refusals a manager may override, and when DTC must drop an admission reservation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "admission_rules.h"

static ltb_admission_input approved_input(void) {
    ltb_admission_input in = {.credit = {.answered = 1, .approved = 1},
                              .customer_blocked = 0,
                              .expected_margin_bps = 1500,
                              .minimum_margin_bps = 1000};
    return in;
}

static void test_all_checks_pass_admits(void **state) {
    (void)state;
    ltb_admission_input in = approved_input();
    ltb_admission_result r;
    ltb_admission_decide(&in, &r);
    assert_true(r.admitted);
    assert_true(r.credit.passed && r.compliance.passed && r.margin.passed);
    assert_int_equal(r.credit.n_reasons + r.compliance.n_reasons + r.margin.n_reasons, 0);
}

static void test_no_answer_fails_closed(void **state) {
    (void)state;
    ltb_admission_input in = approved_input();
    in.credit.answered = 0;
    in.credit.approved = 1; /* whatever else is set: no answer is not a pass */
    ltb_admission_result r;
    ltb_admission_decide(&in, &r);
    assert_false(r.admitted);
    assert_false(r.credit.passed);
    assert_int_equal(r.credit.n_reasons, 1);
    assert_string_equal(r.credit.reasons[0], "CREDIT_SERVICE_UNAVAILABLE");
    assert_true(r.compliance.passed && r.margin.passed); /* the other checks still run and are stored */
}

static void test_dtc_reasons_are_mapped_each_once(void **state) {
    (void)state;
    const int reasons[] = {1, 2, 3, 2, 6, 5, 4};
    ltb_admission_input in = approved_input();
    in.credit.approved = 0;
    in.credit.reasons = reasons;
    in.credit.n_reasons = sizeof reasons / sizeof reasons[0];
    ltb_admission_result r;
    ltb_admission_decide(&in, &r);
    assert_false(r.admitted);
    assert_int_equal(r.credit.n_reasons, 6);
    assert_string_equal(r.credit.reasons[0], "CREDIT_LIMIT_EXCEEDED");
    assert_string_equal(r.credit.reasons[1], "INVOICE_OVERDUE");
    assert_string_equal(r.credit.reasons[2], "CREDIT_ON_HOLD");
    assert_string_equal(r.credit.reasons[3], "EXPOSURE_OVER_LIMIT");
    assert_string_equal(r.credit.reasons[4], "NO_CREDIT_LIMIT");
    assert_string_equal(r.credit.reasons[5], "CUSTOMER_BLOCKED");
    assert_true(r.compliance.passed); /* compliance is LTB's own reading of the customer */
}

static void test_unreadable_refusal_is_no_answer(void **state) {
    (void)state;
    const int reasons[] = {0, 99};
    ltb_admission_input in = approved_input();
    in.credit.approved = 0;
    in.credit.reasons = reasons;
    in.credit.n_reasons = 2;
    ltb_admission_result r;
    ltb_admission_decide(&in, &r);
    assert_false(r.admitted);
    assert_int_equal(r.credit.n_reasons, 1);
    assert_string_equal(r.credit.reasons[0], "CREDIT_SERVICE_UNAVAILABLE");
    in.credit.n_reasons = 0; /* a refusal without reasons too */
    ltb_admission_decide(&in, &r);
    assert_false(r.credit.passed);
    assert_string_equal(r.credit.reasons[0], "CREDIT_SERVICE_UNAVAILABLE");
}

static void test_compliance_and_margin(void **state) {
    (void)state;
    ltb_admission_input in = approved_input();
    in.customer_blocked = 1;
    in.expected_margin_bps = 999;
    ltb_admission_result r;
    ltb_admission_decide(&in, &r);
    assert_false(r.admitted);
    assert_true(r.credit.passed);
    assert_string_equal(r.compliance.reasons[0], "CUSTOMER_BLOCKED");
    assert_string_equal(r.margin.reasons[0], "MARGIN_BELOW_MINIMUM");
    in.customer_blocked = 0;
    in.expected_margin_bps = 1000; /* the minimum itself passes */
    ltb_admission_decide(&in, &r);
    assert_true(r.admitted);
    in.minimum_margin_bps = -500; /* a negative minimum admits a loss-leader down to it */
    in.expected_margin_bps = -500;
    ltb_admission_decide(&in, &r);
    assert_true(r.admitted);
    in.expected_margin_bps = -501;
    ltb_admission_decide(&in, &r);
    assert_false(r.margin.passed);
}

static void test_credit_reason_names(void **state) {
    (void)state;
    assert_null(ltb_admission_credit_reason(0));
    assert_null(ltb_admission_credit_reason(7));
    assert_null(ltb_admission_credit_reason(-1));
    assert_string_equal(ltb_admission_credit_reason(3), "CREDIT_ON_HOLD");
}

static void test_bid_fits_exactly(void **state) {
    (void)state;
    assert_true(ltb_admission_bid_fits(100000, 1000, 110000));  /* exactly admitted x 1.10 */
    assert_false(ltb_admission_bid_fits(100000, 1000, 110001)); /* one fen more */
    assert_true(ltb_admission_bid_fits(100000, 0, 100000));
    assert_false(ltb_admission_bid_fits(100000, 0, 100001));
    assert_true(ltb_admission_bid_fits(1, 10000, 2));
    assert_false(ltb_admission_bid_fits(1, 10000, 3));
    assert_true(ltb_admission_bid_fits(3, 3333, 3)); /* 3 x 1.3333 = 3.9999: 4 does not fit, no rounding up */
    assert_false(ltb_admission_bid_fits(3, 3333, 4));
    assert_true(ltb_admission_bid_fits(INT64_MAX, 10000, INT64_MAX)); /* no overflow */
    assert_true(ltb_admission_bid_fits(INT64_MAX / 2, 10000, INT64_MAX - 1));
    assert_false(ltb_admission_bid_fits(0, 1000, 1));
}

static void test_bid_refusal_order(void **state) {
    (void)state;
    ltb_bid_gate g = {.customer_blocked = 0,
                      .outcome = "ADMITTED",
                      .superseded = 0,
                      .same_currency = 1,
                      .admitted_minor = 1000,
                      .tolerance_bps = 1000,
                      .bid_minor = 1100};
    assert_null(ltb_admission_bid_refusal(&g));
    g.outcome = "OVERRIDDEN";
    assert_null(ltb_admission_bid_refusal(&g));
    g.bid_minor = 1101;
    assert_string_equal(ltb_admission_bid_refusal(&g), "ADMISSION_EXCEEDED");
    g.bid_minor = 10;
    g.same_currency = 0;
    assert_string_equal(ltb_admission_bid_refusal(&g), "ADMISSION_EXCEEDED");
    g.outcome = "REFUSED";
    assert_string_equal(ltb_admission_bid_refusal(&g), "ADMISSION_REFUSED");
    g.superseded = 1;
    assert_string_equal(ltb_admission_bid_refusal(&g), "ADMISSION_REQUIRED");
    g.outcome = NULL;
    g.superseded = 0;
    assert_string_equal(ltb_admission_bid_refusal(&g), "ADMISSION_REQUIRED");
    g.customer_blocked = 1; /* checked live, before anything the decision says */
    assert_string_equal(ltb_admission_bid_refusal(&g), "CUSTOMER_BLOCKED");
    g.outcome = "ADMITTED";
    g.same_currency = 1;
    assert_string_equal(ltb_admission_bid_refusal(&g), "CUSTOMER_BLOCKED");
}

static void test_override_rules(void **state) {
    (void)state;
    assert_null(ltb_admission_override_refusal("REFUSED", 0, 0, "sales1", "manager1"));
    assert_string_equal(ltb_admission_override_refusal(NULL, 0, 0, NULL, "manager1"), "ADMISSION_NOT_REFUSED");
    assert_string_equal(ltb_admission_override_refusal("ADMITTED", 0, 0, "s", "m"), "ADMISSION_NOT_REFUSED");
    assert_string_equal(ltb_admission_override_refusal("OVERRIDDEN", 0, 0, "s", "m"), "ADMISSION_NOT_REFUSED");
    assert_string_equal(ltb_admission_override_refusal("REFUSED", 1, 0, "s", "m"), "ADMISSION_NOT_REFUSED");
    assert_string_equal(ltb_admission_override_refusal("REFUSED", 0, 1, "s", "m"), "ADMISSION_NOT_OVERRIDABLE");
    assert_string_equal(ltb_admission_override_refusal("REFUSED", 0, 0, "m", "m"), "ADMISSION_NOT_OVERRIDABLE");
}

static void test_release_of_reservations(void **state) {
    (void)state;
    ltb_credit_answer none = {.answered = 0};
    ltb_credit_answer reserving = {.answered = 1, .approved = 1, .reserved = 1};
    ltb_credit_answer approving = {.answered = 1, .approved = 1, .reserved = 0};
    ltb_credit_answer refusing = {.answered = 1, .approved = 0};
    /* nothing reserved before or now: nothing to tell */
    assert_false(ltb_admission_release_needed(0, &none, 0));
    assert_false(ltb_admission_release_needed(0, &approving, 1));
    assert_false(ltb_admission_release_needed(0, &refusing, 0));
    /* a reserving approval replaces the earlier reservation (same reference) */
    assert_false(ltb_admission_release_needed(1, &reserving, 1));
    assert_false(ltb_admission_release_needed(0, &reserving, 1));
    /* the earlier reservation must go when the new decision holds none */
    assert_true(ltb_admission_release_needed(1, &none, 0));
    assert_true(ltb_admission_release_needed(1, &refusing, 0));
    assert_true(ltb_admission_release_needed(1, &approving, 1));
    /* DTC reserved, but LTB refused (margin, compliance): the reservation goes */
    assert_true(ltb_admission_release_needed(0, &reserving, 0));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_checks_pass_admits),
        cmocka_unit_test(test_no_answer_fails_closed),
        cmocka_unit_test(test_dtc_reasons_are_mapped_each_once),
        cmocka_unit_test(test_unreadable_refusal_is_no_answer),
        cmocka_unit_test(test_compliance_and_margin),
        cmocka_unit_test(test_credit_reason_names),
        cmocka_unit_test(test_bid_fits_exactly),
        cmocka_unit_test(test_bid_refusal_order),
        cmocka_unit_test(test_override_rules),
        cmocka_unit_test(test_release_of_reservations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
