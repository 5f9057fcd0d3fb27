/* Unit tests of OTD's credit gate at release and shipment (services/otd/credit.c) and the customer snapshot check
 * (services/otd/customers.c): only a well-formed APPROVED decision releases (RELEASED) or ships; a refusal keeps the
 * order in CREDIT_HOLD with DTC's reasons; anything else (no answer, an error, a malformed or unknown decision) is
 * CREDIT_HOLD with CREDIT_SERVICE_UNAVAILABLE: OTD fails closed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ltc/ask.h"
#include "otd.h"

#define DECISION "creditDecisions/0F8FAD5B-D9CB-469F-A165-70867728950E"
#define ORDER "0f8fad5b-d9cb-469f-a165-70867728950e"
#define DEAL "1f8fad5b-d9cb-469f-a165-70867728950e"

static Ltc__Dtc__V1__CreditRefusalReason REASONS[12];

static Ltc__Dtc__V1__CheckCreditResponse *answer(const char *name, Ltc__Dtc__V1__CreditOutcome outcome,
                                                 const Ltc__Dtc__V1__CreditRefusalReason *reasons, size_t n) {
    static Ltc__Dtc__V1__CheckCreditResponse resp;
    static Ltc__Dtc__V1__CreditDecision d;
    Ltc__Dtc__V1__CheckCreditResponse r0 = LTC__DTC__V1__CHECK_CREDIT_RESPONSE__INIT;
    Ltc__Dtc__V1__CreditDecision d0 = LTC__DTC__V1__CREDIT_DECISION__INIT;
    resp = r0;
    d = d0;
    d.name = (char *)name;
    d.outcome = outcome;
    for (size_t i = 0; i < n; i++) REASONS[i] = reasons[i];
    d.reasons = REASONS;
    d.n_reasons = n;
    resp.decision = &d;
    return &resp;
}

static void assert_unanswered(const otd_credit_answer *a) {
    assert_int_equal(a->outcome, OTD_CREDIT_UNANSWERED);
    assert_int_equal(a->n_reasons, 1);
    assert_string_equal(a->reasons[0], "CREDIT_SERVICE_UNAVAILABLE");
    assert_string_equal(a->decision_id, "");
    assert_string_equal(otd_credit_release_state(a), "CREDIT_HOLD");
    assert_string_equal(otd_credit_outcome_db(a), "UNAVAILABLE");
}

static void test_approved_releases(void **state) {
    (void)state;
    otd_credit_answer a;
    assert_int_equal(
        otd_credit_read(answer(DECISION, LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_APPROVED, NULL, 0), &a), 0);
    assert_int_equal(a.outcome, OTD_CREDIT_APPROVED);
    assert_int_equal(a.n_reasons, 0);
    assert_string_equal(a.decision_id, ORDER);
    assert_string_equal(otd_credit_release_state(&a), "RELEASED");
    assert_string_equal(otd_credit_outcome_db(&a), "APPROVED");
}

/* A refusal holds with every reason once, as the names the orders table accepts. */
static void test_refused_holds_with_reasons(void **state) {
    (void)state;
    const Ltc__Dtc__V1__CreditRefusalReason r[3] = {
        LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_INVOICE_OVERDUE,
        LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_LIMIT_EXCEEDED,
        LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_INVOICE_OVERDUE};
    otd_credit_answer a;
    assert_int_equal(otd_credit_read(answer(DECISION, LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_REFUSED, r, 3), &a),
                     0);
    assert_int_equal(a.outcome, OTD_CREDIT_REFUSED);
    assert_int_equal(a.n_reasons, 2);
    assert_string_equal(a.reasons[0], "CREDIT_REFUSAL_REASON_INVOICE_OVERDUE");
    assert_string_equal(a.reasons[1], "CREDIT_REFUSAL_REASON_LIMIT_EXCEEDED");
    assert_string_equal(a.decision_id, ORDER);
    assert_string_equal(otd_credit_release_state(&a), "CREDIT_HOLD");
    assert_string_equal(otd_credit_outcome_db(&a), "REFUSED");
}

static void test_malformed_answers_hold(void **state) {
    (void)state;
    const Ltc__Dtc__V1__CreditRefusalReason unknown[1] = {(Ltc__Dtc__V1__CreditRefusalReason)99};
    const Ltc__Dtc__V1__CreditRefusalReason hold[1] = {
        LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_MANUAL_HOLD};
    Ltc__Dtc__V1__CreditRefusalReason many[9];
    for (int i = 0; i < 9; i++) many[i] = LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_MANUAL_HOLD;
    Ltc__Dtc__V1__CheckCreditResponse empty = LTC__DTC__V1__CHECK_CREDIT_RESPONSE__INIT;
    otd_credit_answer a;
    assert_int_equal(otd_credit_read(NULL, &a), -1);
    assert_unanswered(&a);
    assert_int_equal(otd_credit_read(&empty, &a), -1);
    assert_unanswered(&a);
    assert_int_equal(
        otd_credit_read(answer("creditDecisions/x", LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_APPROVED, NULL, 0),
                        &a),
        -1);
    assert_unanswered(&a);
    assert_int_equal(otd_credit_read(answer(DECISION, 0, NULL, 0), &a), -1);
    assert_unanswered(&a);
    assert_int_equal(
        otd_credit_read(answer(DECISION, LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_REFUSED, NULL, 0), &a), -1);
    assert_unanswered(&a);
    assert_int_equal(
        otd_credit_read(answer(DECISION, LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_APPROVED, hold, 1), &a), -1);
    assert_unanswered(&a);
    assert_int_equal(
        otd_credit_read(answer(DECISION, LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_REFUSED, unknown, 1), &a), -1);
    assert_unanswered(&a);
    assert_int_equal(
        otd_credit_read(answer(DECISION, LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_REFUSED, many, 9), &a), -1);
    assert_unanswered(&a);
}

/* No DTC (not configured, or nothing listening) is no answer: CREDIT_HOLD with CREDIT_SERVICE_UNAVAILABLE. */
static void test_unreachable_dtc_is_no_answer(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    Ltc__Type__V1__CustomerSnapshot s = LTC__TYPE__V1__CUSTOMER_SNAPSHOT__INIT;
    s.customer = "customers/" ORDER;
    s.legal_name = "Huaxin Logistics";
    otd_credit_answer a;
    otd_credit_check(c, LTC__DTC__V1__CREDIT_STAGE__CREDIT_STAGE_RELEASE, &s, ORDER, DEAL, "CNY", 100, &a);
    assert_unanswered(&a);
    ltc_status st = {0};
    assert_int_equal(ltc_ask_open("dtc", "127.0.0.1:1", 0, &st), 0);
    otd_credit_check(c, LTC__DTC__V1__CREDIT_STAGE__CREDIT_STAGE_SHIPMENT, &s, ORDER, DEAL, "CNY", 0, &a);
    assert_unanswered(&a);
    ltc_ask_close_all();
    ltc_call_destroy_detached(c);
}

static void test_customer_snapshot_checked(void **state) {
    (void)state;
    char id[LTC_UUID_LEN + 1];
    ltc_status st = {0};
    Ltc__Type__V1__CustomerSnapshot s = LTC__TYPE__V1__CUSTOMER_SNAPSHOT__INIT;
    s.customer = "customers/" ORDER;
    s.legal_name = "Huaxin Logistics";
    s.country_code = "CN";
    s.billing_currency = "CNY";
    assert_int_equal(ltc_customer_check(&s, "customer", 1, id, &st), 0);
    assert_string_equal(id, ORDER);
    assert_int_equal(ltc_customer_check(NULL, "customer", 1, id, &st), -1);
    ltc_status_clear(&st);
    s.country_code = "CHN";
    s.customer = "";
    assert_int_equal(ltc_customer_check(&s, "customer", 1, id, &st), -1);
    assert_int_equal(st.n_violations, 2);
    assert_string_equal(st.violations[0].field, "customer.customer");
    assert_string_equal(st.violations[1].field, "customer.country_code");
    ltc_status_clear(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_approved_releases),         cmocka_unit_test(test_refused_holds_with_reasons),
        cmocka_unit_test(test_malformed_answers_hold),    cmocka_unit_test(test_unreachable_dtc_is_no_answer),
        cmocka_unit_test(test_customer_snapshot_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
