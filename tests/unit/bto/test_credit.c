/* Unit tests of BTO's credit gate at placement (services/bto/credit.c) and the customer snapshot check
 * (services/bto/customers.c): only a well-formed APPROVED decision places an order; a refusal is CREDIT_REFUSED with
 * DTC's reasons; anything else (no answer, an error, a malformed or unknown decision) is CREDIT_SERVICE_UNAVAILABLE:
 * BTO fails closed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bto.h"
#include "ltc/ask.h"

#define DECISION "creditDecisions/0F8FAD5B-D9CB-469F-A165-70867728950E"

static Ltc__Dtc__V1__CreditRefusalReason REASONS[3];

/* A response with one decision (name, outcome, n reasons copied from `reasons`), in static storage. */
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

static void test_approved_places(void **state) {
    (void)state;
    bto_credit_answer a;
    assert_int_equal(
        bto_credit_read(answer(DECISION, LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_APPROVED, NULL, 0), &a), 0);
    assert_int_equal(a.outcome, BTO_CREDIT_APPROVED);
    assert_string_equal(a.decision_id, "0f8fad5b-d9cb-469f-a165-70867728950e");
    ltc_status st = {0};
    assert_int_equal(bto_credit_fail(&a, "contracts/x", &st), 0);
    assert_int_equal(st.code, LTC_OK);
}

static void test_refused_names_every_reason(void **state) {
    (void)state;
    const Ltc__Dtc__V1__CreditRefusalReason r[2] = {
        LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_LIMIT_EXCEEDED,
        LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_INVOICE_OVERDUE};
    bto_credit_answer a;
    assert_int_equal(bto_credit_read(answer(DECISION, LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_REFUSED, r, 2), &a),
                     0);
    assert_int_equal(a.outcome, BTO_CREDIT_REFUSED);
    assert_string_equal(a.reasons, "CREDIT_REFUSAL_REASON_LIMIT_EXCEEDED,CREDIT_REFUSAL_REASON_INVOICE_OVERDUE");
    ltc_status st = {0};
    assert_int_equal(bto_credit_fail(&a, "contracts/x", &st), -1);
    assert_int_equal(st.code, LTC_FAILED_PRECONDITION);
    assert_string_equal(st.reason, "CREDIT_REFUSED");
    assert_non_null(strstr(st.message, "LIMIT_EXCEEDED"));
    assert_non_null(strstr(st.message, "0f8fad5b-d9cb-469f-a165-70867728950e"));
    assert_int_equal(st.n_meta, 2);
    assert_string_equal(st.meta[0].key, "credit_decision");
    assert_string_equal(st.meta[0].value, "creditDecisions/0f8fad5b-d9cb-469f-a165-70867728950e");
    assert_string_equal(st.meta[1].key, "credit_reasons");
    assert_string_equal(st.meta[1].value, "CREDIT_REFUSAL_REASON_LIMIT_EXCEEDED,CREDIT_REFUSAL_REASON_INVOICE_OVERDUE");
}

/* Each malformed answer is no answer: UNAVAILABLE CREDIT_SERVICE_UNAVAILABLE, never a placement. */
static void test_malformed_answers_fail_closed(void **state) {
    (void)state;
    const Ltc__Dtc__V1__CreditRefusalReason unknown[1] = {(Ltc__Dtc__V1__CreditRefusalReason)99};
    const Ltc__Dtc__V1__CreditRefusalReason unspecified[1] = {0};
    const Ltc__Dtc__V1__CreditRefusalReason hold[1] = {
        LTC__DTC__V1__CREDIT_REFUSAL_REASON__CREDIT_REFUSAL_REASON_MANUAL_HOLD};
    Ltc__Dtc__V1__CheckCreditResponse empty = LTC__DTC__V1__CHECK_CREDIT_RESPONSE__INIT;
    bto_credit_answer a;
    const Ltc__Dtc__V1__CheckCreditResponse *cases[] = {
        NULL,
        &empty,
        answer("creditDecisions/not-a-uuid", LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_APPROVED, NULL, 0),
        answer("decisions/0f8fad5b-d9cb-469f-a165-70867728950e", LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_APPROVED,
               NULL, 0),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(bto_credit_read(cases[i], &a), -1);
        assert_int_equal(a.outcome, BTO_CREDIT_UNANSWERED);
    }
    assert_int_equal(bto_credit_read(answer(DECISION, 0, NULL, 0), &a), -1);
    assert_int_equal(
        bto_credit_read(answer(DECISION, LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_REFUSED, NULL, 0), &a), -1);
    assert_int_equal(
        bto_credit_read(answer(DECISION, LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_APPROVED, hold, 1), &a), -1);
    assert_int_equal(
        bto_credit_read(answer(DECISION, LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_REFUSED, unknown, 1), &a), -1);
    assert_int_equal(
        bto_credit_read(answer(DECISION, LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_REFUSED, unspecified, 1), &a),
        -1);
    assert_int_equal(a.outcome, BTO_CREDIT_UNANSWERED);
    ltc_status st = {0};
    assert_int_equal(bto_credit_fail(&a, "contracts/x", &st), -1);
    assert_int_equal(st.code, LTC_UNAVAILABLE);
    assert_string_equal(st.reason, "CREDIT_SERVICE_UNAVAILABLE");
}

static Ltc__Type__V1__CustomerSnapshot snapshot(void) {
    Ltc__Type__V1__CustomerSnapshot s = LTC__TYPE__V1__CUSTOMER_SNAPSHOT__INIT;
    s.customer = "customers/0f8fad5b-d9cb-469f-a165-70867728950e";
    s.legal_name = "Huaxin Logistics Co., Ltd.";
    s.country_code = "CN";
    s.billing_currency = "CNY";
    s.account_owner = "ar.wang";
    return s;
}

/* A DTC that cannot be reached (or is not configured) is no answer: the order is refused UNAVAILABLE. */
static void test_unreachable_dtc_refuses_placement(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    Ltc__Type__V1__CustomerSnapshot s = snapshot();
    bto_credit_answer a;
    assert_int_equal(bto_credit_check(c, &s, "0f8fad5b-d9cb-469f-a165-70867728950e",
                                      "1f8fad5b-d9cb-469f-a165-70867728950e", "CNY", 100000, &a),
                     0);
    assert_int_equal(a.outcome, BTO_CREDIT_UNANSWERED); /* this process does not ask dtc */
    ltc_status st = {0};
    assert_int_equal(ltc_ask_open("dtc", "127.0.0.1:1", 0, &st), 0);
    assert_int_equal(bto_credit_check(c, &s, "0f8fad5b-d9cb-469f-a165-70867728950e",
                                      "1f8fad5b-d9cb-469f-a165-70867728950e", "CNY", 100000, &a),
                     0);
    assert_int_equal(a.outcome, BTO_CREDIT_UNANSWERED);
    assert_int_equal(bto_credit_fail(&a, "contracts/0f8fad5b-d9cb-469f-a165-70867728950e", &st), -1);
    assert_string_equal(st.reason, "CREDIT_SERVICE_UNAVAILABLE");
    ltc_status_clear(&st);
    ltc_ask_close_all();
    ltc_call_destroy_detached(c);
}

static void test_customer_snapshot_checked(void **state) {
    (void)state;
    char id[LTC_UUID_LEN + 1];
    ltc_status st = {0};
    Ltc__Type__V1__CustomerSnapshot s = snapshot();
    assert_int_equal(ltc_customer_check(&s, "customer", 1, id, &st), 0);
    assert_string_equal(id, "0f8fad5b-d9cb-469f-a165-70867728950e");
    s.tax_id = "";
    s.country_code = "";
    s.billing_currency = "";
    assert_int_equal(ltc_customer_check(&s, "customer", 1, id, &st), 0);
    assert_int_equal(ltc_customer_check(NULL, "customer", 0, id, &st), 0);
    assert_string_equal(id, "");
    assert_int_equal(ltc_customer_check(NULL, "customer", 1, id, &st), -1);
    assert_string_equal(st.violations[0].field, "customer");
    ltc_status_clear(&st);

    s = snapshot();
    s.customer = "leads/0f8fad5b-d9cb-469f-a165-70867728950e";
    s.legal_name = "";
    s.country_code = "cn";
    s.billing_currency = "RMBX";
    assert_int_equal(ltc_customer_check(&s, "customer", 1, id, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_int_equal(st.n_violations, 4);
    assert_string_equal(st.violations[0].field, "customer.customer");
    assert_string_equal(st.violations[1].field, "customer.legal_name");
    assert_string_equal(st.violations[2].field, "customer.country_code");
    assert_string_equal(st.violations[3].field, "customer.billing_currency");
    ltc_status_clear(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_approved_places),
        cmocka_unit_test(test_refused_names_every_reason),
        cmocka_unit_test(test_malformed_answers_fail_closed),
        cmocka_unit_test(test_unreachable_dtc_refuses_placement),
        cmocka_unit_test(test_customer_snapshot_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
