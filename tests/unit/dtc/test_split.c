/* Unit tests of DTC's pure invoice arithmetic (services/dtc/split.c): an order's value split by its payment terms,
 * and the invoices each accepted delivery raises. Money is conserved exactly: the invoices of a fully accepted order
 * add up to its total whatever the rounding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "split.h"

static void test_term_totals_give_the_remainder_to_the_last(void **state) {
    (void)state;
    int64_t t[DTC_MAX_TERMS];
    const int32_t thirds[3] = {3333, 3333, 3334};
    assert_int_equal(dtc_term_totals(100, thirds, 3, t), 0);
    assert_int_equal(t[0], 33);
    assert_int_equal(t[1], 33);
    assert_int_equal(t[2], 34);
    assert_int_equal(dtc_term_totals(10, thirds, 3, t), 0);
    assert_int_equal(t[0] + t[1] + t[2], 10);
    assert_int_equal(t[2], 4);
    const int32_t halves[2] = {5000, 5000};
    assert_int_equal(dtc_term_totals(1, halves, 2, t), 0); /* one fen: floor to the first, the rest to the last */
    assert_int_equal(t[0], 0);
    assert_int_equal(t[1], 1);
    assert_int_equal(dtc_term_totals(0, halves, 2, t), 0);
    assert_int_equal(t[0] + t[1], 0);
    const int32_t whole[1] = {10000};
    assert_int_equal(dtc_term_totals(INT64_MAX, whole, 1, t), 0);
    assert_int_equal(t[0], INT64_MAX);
    const int32_t big[2] = {1, 9999}; /* no overflow near the int64 limit */
    assert_int_equal(dtc_term_totals(INT64_MAX, big, 2, t), 0);
    assert_int_equal(t[0], INT64_MAX / 10000);
    assert_int_equal(t[0] + t[1], INT64_MAX);
}

static void test_term_totals_refusals(void **state) {
    (void)state;
    int64_t t[DTC_MAX_TERMS] = {77};
    const int32_t short_[2] = {3000, 6999}, zero[2] = {0, 10000}, over[2] = {10001, -1};
    assert_int_equal(dtc_term_totals(100, short_, 2, t), -1); /* 9999 bps */
    assert_int_equal(dtc_term_totals(100, zero, 2, t), -1);   /* a term of 0 bps */
    assert_int_equal(dtc_term_totals(100, over, 2, t), -1);
    const int32_t whole[1] = {10000};
    assert_int_equal(dtc_term_totals(-1, whole, 1, t), -1);  /* negative total */
    assert_int_equal(dtc_term_totals(100, whole, 0, t), -1); /* no terms */
    assert_int_equal(dtc_term_totals(100, NULL, 1, t), -1);
    int32_t eleven[11];
    for (int i = 0; i < 11; i++) eleven[i] = i < 10 ? 909 : 910;
    assert_int_equal(dtc_term_totals(100, eleven, 11, t), -1); /* more than DTC_MAX_TERMS */
    assert_int_equal(t[0], 77);                                /* untouched on failure */
}

/* Partial deliveries bill each term pro rata (floored); the delivery that completes the order bills the rest, so the
 * invoices add up to the order total exactly. */
static void test_split_over_deliveries(void **state) {
    (void)state;
    const int32_t bps[3] = {3333, 3333, 3334}; /* term totals of 10: 3, 3, 4 */
    int64_t invoiced[3] = {0, 0, 0}, amount[3];
    assert_int_equal(dtc_split_invoices(10, bps, 3, 5, 0, invoiced, amount), 0);
    assert_int_equal(amount[0], 1); /* floor(3 * 5 / 10) */
    assert_int_equal(amount[1], 1);
    assert_int_equal(amount[2], 2); /* floor(4 * 5 / 10) */
    for (int i = 0; i < 3; i++) invoiced[i] += amount[i];
    assert_int_equal(dtc_split_invoices(10, bps, 3, 7, 0, invoiced, amount), 0);
    assert_int_equal(amount[0], 1); /* floor(3 * 7 / 10) = 2, 1 billed */
    assert_int_equal(amount[1], 1);
    assert_int_equal(amount[2], 0); /* floor(4 * 7 / 10) = 2, 2 billed: no invoice now */
    for (int i = 0; i < 3; i++) invoiced[i] += amount[i];
    assert_int_equal(dtc_split_invoices(10, bps, 3, 10, 0, invoiced, amount), 0); /* accepted == total: full */
    assert_int_equal(amount[0], 1);
    assert_int_equal(amount[1], 1);
    assert_int_equal(amount[2], 2);
    int64_t total = 0;
    for (int i = 0; i < 3; i++) total += invoiced[i] + amount[i];
    assert_int_equal(total, 10);
}

/* `fully` (OTD says the order is fully accepted) bills each term's whole total even when the accepted value is
 * lower; an order of zero value raises zero invoices. */
static void test_split_fully_and_zero(void **state) {
    (void)state;
    const int32_t bps[2] = {3000, 7000};
    int64_t invoiced[2] = {0, 0}, amount[2];
    assert_int_equal(dtc_split_invoices(1000, bps, 2, 400, 1, invoiced, amount), 0);
    assert_int_equal(amount[0], 300);
    assert_int_equal(amount[1], 700);
    assert_int_equal(dtc_split_invoices(1000, bps, 2, 400, 0, invoiced, amount), 0);
    assert_int_equal(amount[0], 120);
    assert_int_equal(amount[1], 280);
    assert_int_equal(dtc_split_invoices(0, bps, 2, 0, 0, invoiced, amount), 0);
    assert_int_equal(amount[0], 0);
    assert_int_equal(amount[1], 0);
}

static void test_split_refusals(void **state) {
    (void)state;
    const int32_t bps[2] = {3000, 7000};
    int64_t invoiced[2] = {0, 0}, amount[2];
    assert_int_equal(dtc_split_invoices(1000, bps, 2, 1001, 0, invoiced, amount), -1); /* over-acceptance */
    assert_int_equal(dtc_split_invoices(1000, bps, 2, -1, 0, invoiced, amount), -1);
    int64_t too_much[2] = {151, 0}; /* target is 150 */
    assert_int_equal(dtc_split_invoices(1000, bps, 2, 500, 0, too_much, amount), -1);
    int64_t negative[2] = {-1, 0};
    assert_int_equal(dtc_split_invoices(1000, bps, 2, 500, 0, negative, amount), -1);
    assert_int_equal(dtc_split_invoices(1000, bps, 2, 500, 0, NULL, amount), -1);
    assert_int_equal(dtc_split_invoices(1000, bps, 2, 500, 0, invoiced, NULL), -1);
    const int32_t bad[2] = {3000, 6000};
    assert_int_equal(dtc_split_invoices(1000, bad, 2, 500, 0, invoiced, amount), -1);
}

/* Each term billed by its own event: the 30/60/10 order of docs/receivables.md (ADVANCE / ON_ACCEPTANCE /
 * RETENTION) and an ON_DELIVERY term. */
static void test_bill_terms_by_event(void **state) {
    (void)state;
    const int32_t bps[3] = {3000, 6000, 1000};
    const int kinds[3] = {DTC_TERM_ADVANCE, DTC_TERM_ON_ACCEPTANCE, DTC_TERM_RETENTION};
    int64_t inv[3] = {0, 0, 0}, a[3];
    dtc_bill_progress p = {.placed = 1};
    /* placement: the advance in full, nothing else */
    assert_int_equal(dtc_bill_terms(100000, bps, kinds, 3, &p, inv, a), 0);
    assert_int_equal(a[0], 30000);
    assert_int_equal(a[1], 0);
    assert_int_equal(a[2], 0);
    inv[0] = 30000;
    /* a shipment bills nothing of these terms */
    p.shipped = 40000;
    assert_int_equal(dtc_bill_terms(100000, bps, kinds, 3, &p, inv, a), 0);
    assert_int_equal(a[0] + a[1] + a[2], 0);
    /* first partial acceptance of 40%: 60% x 40%; retention waits */
    p.accepted = 40000;
    assert_int_equal(dtc_bill_terms(100000, bps, kinds, 3, &p, inv, a), 0);
    assert_int_equal(a[0], 0);
    assert_int_equal(a[1], 24000);
    assert_int_equal(a[2], 0);
    inv[1] = 24000;
    /* the rest accepted: the rest of ON_ACCEPTANCE and the whole retention */
    p.accepted = 100000;
    assert_int_equal(dtc_bill_terms(100000, bps, kinds, 3, &p, inv, a), 0);
    assert_int_equal(a[1], 36000);
    assert_int_equal(a[2], 10000);
    /* the retention held until its period ends (AT_PERIOD_END): nothing now, the whole share once released */
    p.retention_held = 1u << 2;
    assert_int_equal(dtc_bill_terms(100000, bps, kinds, 3, &p, inv, a), 0);
    assert_int_equal(a[2], 0);
    assert_int_equal(a[1], 36000);
    p.retention_held = 1u << 1; /* only RETENTION terms are ever held */
    assert_int_equal(dtc_bill_terms(100000, bps, kinds, 3, &p, inv, a), 0);
    assert_int_equal(a[1], 36000);
    assert_int_equal(a[2], 10000);
}

static void test_bill_terms_on_delivery_and_catch_up(void **state) {
    (void)state;
    const int32_t bps[2] = {5000, 5000};
    const int kinds[2] = {DTC_TERM_ON_DELIVERY, DTC_TERM_ADVANCE};
    int64_t inv[2] = {0, 0}, a[2];
    /* an order never placed (legacy): its first acceptance catches up the advance and bills the delivery share */
    dtc_bill_progress p = {.accepted = 33};
    assert_int_equal(dtc_bill_terms(101, bps, kinds, 2, &p, inv, a), 0);
    assert_int_equal(a[0], 16); /* floor(50 * 33 / 101) */
    assert_int_equal(a[1], 51); /* the last term takes the remainder of the split */
    inv[0] = 16, inv[1] = 51;
    /* shipped more than accepted: the delivery term follows the shipments */
    p.shipped = 70;
    assert_int_equal(dtc_bill_terms(101, bps, kinds, 2, &p, inv, a), 0);
    assert_int_equal(a[0], 34 - 16); /* floor(50 * 70 / 101) = 34 */
    inv[0] = 34;
    /* an acceptance below what shipped bills nothing more; fully shipped bills the rest */
    p.accepted = 60;
    assert_int_equal(dtc_bill_terms(101, bps, kinds, 2, &p, inv, a), 0);
    assert_int_equal(a[0] + a[1], 0);
    p.fully_shipped = 1;
    assert_int_equal(dtc_bill_terms(101, bps, kinds, 2, &p, inv, a), 0);
    assert_int_equal(a[0], 50 - 34);
    assert_int_equal(a[1], 0);
}

/* Whatever the partial events, every term's invoices add up to its share exactly once fully accepted. */
static void test_bill_terms_conserve(void **state) {
    (void)state;
    const int32_t bps[4] = {1111, 2222, 3333, 3334};
    const int kinds[4] = {DTC_TERM_ADVANCE, DTC_TERM_ON_DELIVERY, DTC_TERM_ON_ACCEPTANCE, DTC_TERM_RETENTION};
    int64_t totals[4];
    for (int64_t total = 0; total < 400; total += 7) {
        assert_int_equal(dtc_term_totals(total, bps, 4, totals), 0);
        int64_t inv[4] = {0}, a[4];
        dtc_bill_progress p = {0};
        for (int step = 1; step <= 5; step++) {
            p.shipped = total * step / 5;
            if (step > 1) p.accepted = total * (step - 1) / 5;
            assert_int_equal(dtc_bill_terms(total, bps, kinds, 4, &p, inv, a), 0);
            for (int i = 0; i < 4; i++) inv[i] += a[i];
        }
        p.accepted = total, p.fully_accepted = 1;
        assert_int_equal(dtc_bill_terms(total, bps, kinds, 4, &p, inv, a), 0);
        for (int i = 0; i < 4; i++) assert_int_equal(inv[i] + a[i], totals[i]);
    }
}

static void test_bill_terms_refusals(void **state) {
    (void)state;
    const int32_t bps[1] = {10000};
    int kinds[1] = {DTC_TERM_ON_ACCEPTANCE};
    int64_t inv[1] = {0}, a[1];
    dtc_bill_progress p = {.accepted = 101};
    assert_int_equal(dtc_bill_terms(100, bps, kinds, 1, &p, inv, a), -1); /* more than the total */
    p.accepted = 0, p.shipped = -1;
    assert_int_equal(dtc_bill_terms(100, bps, kinds, 1, &p, inv, a), -1);
    p.shipped = 0;
    inv[0] = 101;
    assert_int_equal(dtc_bill_terms(100, bps, kinds, 1, &p, inv, a), -1); /* billed beyond the term */
    inv[0] = 0;
    kinds[0] = 9;
    assert_int_equal(dtc_bill_terms(100, bps, kinds, 1, &p, inv, a), -1); /* unknown kind */
    assert_int_equal(dtc_bill_terms(100, bps, NULL, 1, &p, inv, a), -1);
}

static void test_bill_terms_milestone_and_signature(void **state) {
    (void)state;
    const int32_t bps[3] = {2000, 5000, 3000};
    const int kinds[3] = {DTC_TERM_ADVANCE, DTC_TERM_MILESTONE, DTC_TERM_MILESTONE};
    int64_t inv[3] = {0, 0, 0}, a[3];
    /* signed (account opened at signature): the advance in full, no milestone yet */
    dtc_bill_progress p = {.contract_signed = 1};
    assert_int_equal(dtc_bill_terms(100001, bps, kinds, 3, &p, inv, a), 0);
    assert_int_equal(a[0], 20000);
    assert_int_equal(a[1] + a[2], 0);
    inv[0] = 20000;
    /* the placement later finds the advance billed: nothing again */
    p.placed = 1;
    assert_int_equal(dtc_bill_terms(100001, bps, kinds, 3, &p, inv, a), 0);
    assert_int_equal(a[0] + a[1] + a[2], 0);
    /* deliveries and even full acceptance bill no milestone term */
    p.shipped = p.accepted = 100001;
    p.fully_accepted = 1;
    assert_int_equal(dtc_bill_terms(100001, bps, kinds, 3, &p, inv, a), 0);
    assert_int_equal(a[0] + a[1] + a[2], 0);
    /* the second milestone reported: its whole share (the last term takes the remainder) */
    p.milestones_reached = 1u << 2;
    assert_int_equal(dtc_bill_terms(100001, bps, kinds, 3, &p, inv, a), 0);
    assert_int_equal(a[1], 0);
    assert_int_equal(a[2], 30001);
    inv[2] = 30001;
    /* reported again: nothing more; then the first one */
    assert_int_equal(dtc_bill_terms(100001, bps, kinds, 3, &p, inv, a), 0);
    assert_int_equal(a[0] + a[1] + a[2], 0);
    p.milestones_reached |= 1u << 1;
    assert_int_equal(dtc_bill_terms(100001, bps, kinds, 3, &p, inv, a), 0);
    assert_int_equal(a[1], 50000);
    assert_int_equal(inv[0] + a[1] + inv[2], 100001);
    /* an unknown kind is refused */
    const int bad[3] = {DTC_TERM_ADVANCE, 6, DTC_TERM_MILESTONE};
    assert_int_equal(dtc_bill_terms(100001, bps, bad, 3, &p, inv, a), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_term_totals_give_the_remainder_to_the_last),
        cmocka_unit_test(test_term_totals_refusals),
        cmocka_unit_test(test_split_over_deliveries),
        cmocka_unit_test(test_split_fully_and_zero),
        cmocka_unit_test(test_split_refusals),
        cmocka_unit_test(test_bill_terms_by_event),
        cmocka_unit_test(test_bill_terms_on_delivery_and_catch_up),
        cmocka_unit_test(test_bill_terms_milestone_and_signature),
        cmocka_unit_test(test_bill_terms_conserve),
        cmocka_unit_test(test_bill_terms_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
