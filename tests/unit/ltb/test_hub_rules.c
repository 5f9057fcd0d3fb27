/* Unit tests of the CRM hub's pure rules (services/ltb/hub_rules.c): lead scoring (each factor, engagement caps,
 * clamping, rule order in the explanation), routing by score, nearest-rank percentiles, and the stage spans of a
 * deal's flow (open stage, clock skew, skipped stages). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hub_rules.h"

static const ltb_score_rule RULES[] = {
    {LTB_FACTOR_SOURCE, "REFERRAL", 25, 0},
    {LTB_FACTOR_SOURCE, "WEBSITE", 10, 0},
    {LTB_FACTOR_COMPLETENESS, "CONTACT_EMAIL", 10, 0},
    {LTB_FACTOR_COMPLETENESS, "CONTACT_PHONE", 5, 0},
    {LTB_FACTOR_COMPANY_DATA, "CUSTOMER_KNOWN", 15, 0},
    {LTB_FACTOR_COMPANY_DATA, "TAX_ID", 10, 0},
    {LTB_FACTOR_ENGAGEMENT, "DEMO_REQUESTED", 20, 20},
    {LTB_FACTOR_ENGAGEMENT, "EMAIL_OPENED", 2, 10},
};
#define NRULES (sizeof RULES / sizeof RULES[0])

static void test_score_sums_matching_rules_in_order(void **state) {
    (void)state;
    const char *kinds[] = {"EMAIL_OPENED"};
    const int64_t counts[] = {3};
    ltb_lead_facts f = {.source = "WEBSITE",
                        .has_contact_email = 1,
                        .engagement_kinds = kinds,
                        .engagement_counts = counts,
                        .n_engagement = 1};
    ltb_score_item items[NRULES];
    size_t n = 0;
    int score = ltb_lead_score(RULES, NRULES, &f, items, &n);
    assert_int_equal(score, 10 + 10 + 6);
    assert_int_equal(n, 3);
    assert_int_equal(items[0].rule, 1); /* WEBSITE */
    assert_int_equal(items[1].rule, 2); /* CONTACT_EMAIL */
    assert_int_equal(items[2].rule, 7); /* EMAIL_OPENED x3 */
    assert_int_equal(items[2].points, 6);
    assert_int_equal(items[2].count, 3);
    assert_false(items[2].capped);
}

static void test_engagement_is_capped_and_score_clamped(void **state) {
    (void)state;
    const char *kinds[] = {"DEMO_REQUESTED", "EMAIL_OPENED"};
    const int64_t counts[] = {4, 50};
    ltb_lead_facts f = {.source = "REFERRAL",
                        .has_contact_email = 1,
                        .has_contact_phone = 1,
                        .customer_known = 1,
                        .has_tax_id = 1,
                        .engagement_kinds = kinds,
                        .engagement_counts = counts,
                        .n_engagement = 2};
    ltb_score_item items[NRULES];
    size_t n = 0;
    int score = ltb_lead_score(RULES, NRULES, &f, items, &n);
    /* 25 + 10 + 5 + 15 + 10 + 20 (capped from 80) + 10 (capped from 100) = 95 */
    assert_int_equal(score, 95);
    assert_int_equal(items[n - 2].points, 20);
    assert_true(items[n - 2].capped);
    assert_int_equal(items[n - 1].points, 10);
    ltb_score_rule big[] = {{LTB_FACTOR_SOURCE, "REFERRAL", 100, 0}, {LTB_FACTOR_COMPLETENESS, "CONTACT_EMAIL", 50, 0}};
    assert_int_equal(ltb_lead_score(big, 2, &f, items, &n), 100);
    ltb_score_rule neg[] = {{LTB_FACTOR_SOURCE, "REFERRAL", -40, 0}};
    assert_int_equal(ltb_lead_score(neg, 1, &f, items, &n), 0);
    assert_int_equal(n, 1);
}

static void test_unknown_keys_never_match(void **state) {
    (void)state;
    ltb_score_rule r[] = {
        {LTB_FACTOR_COMPLETENESS, "FAX", 50, 0}, {LTB_FACTOR_COMPANY_DATA, "REVENUE", 50, 0}, {99, "REFERRAL", 50, 0}};
    ltb_lead_facts f = {.source = "REFERRAL", .has_contact_name = 1, .customer_known = 1};
    ltb_score_item items[3];
    size_t n = 9;
    assert_int_equal(ltb_lead_score(r, 3, &f, items, &n), 0);
    assert_int_equal(n, 0);
}

static void test_route_picks_highest_threshold_reached(void **state) {
    (void)state;
    const ltb_route routes[] = {{40, "inside-sales"}, {0, "nurture"}, {70, "field-sales"}};
    assert_string_equal(ltb_lead_route(routes, 3, 0), "nurture");
    assert_string_equal(ltb_lead_route(routes, 3, 39), "nurture");
    assert_string_equal(ltb_lead_route(routes, 3, 40), "inside-sales");
    assert_string_equal(ltb_lead_route(routes, 3, 100), "field-sales");
    assert_null(ltb_lead_route(routes, 1, 10));
}

static void test_percentile_nearest_rank(void **state) {
    (void)state;
    int64_t v[] = {50, 10, 40, 30, 20};
    assert_int_equal(ltb_percentile(v, 5, 50), 30); /* ceil(2.5) = 3rd */
    assert_int_equal(ltb_percentile(v, 5, 90), 50); /* ceil(4.5) = 5th */
    int64_t w[] = {7, 1, 3, 5};
    assert_int_equal(ltb_percentile(w, 4, 50), 3); /* 2nd */
    assert_int_equal(ltb_percentile(w, 4, 90), 7); /* ceil(3.6) = 4th */
    int64_t one[] = {42};
    assert_int_equal(ltb_percentile(one, 1, 90), 42);
    assert_int_equal(ltb_percentile(NULL, 0, 50), 0);
    int64_t ten[] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    assert_int_equal(ltb_percentile(ten, 10, 90), 9);
    assert_int_equal(ltb_percentile(ten, 10, 50), 5);
}

#define S 1000000LL
static void test_flow_spans_closed_and_open(void **state) {
    (void)state;
    ltb_flow_times t = {100 * S, 200 * S, 260 * S, 400 * S, 1000 * S};
    ltb_stage_span sp[4];
    assert_int_equal(ltb_flow_spans(&t, 5000 * S, sp), 4);
    assert_int_equal(sp[0].stage, LTB_FLOW_LTB);
    assert_int_equal(sp[0].seconds, 100);
    assert_int_equal(sp[1].seconds, 60);
    assert_int_equal(sp[2].seconds, 140);
    assert_int_equal(sp[3].stage, LTB_FLOW_DTC);
    assert_int_equal(sp[3].seconds, 600);
    assert_false(sp[3].open);

    ltb_flow_times u = {100 * S, 200 * S, 0, 0, 0}; /* won, not yet ordered */
    assert_int_equal(ltb_flow_spans(&u, 500 * S, sp), 2);
    assert_false(sp[0].open);
    assert_true(sp[1].open);
    assert_int_equal(sp[1].seconds, 300);
    assert_int_equal(sp[1].end, 0);
}

static void test_flow_spans_never_negative(void **state) {
    (void)state;
    /* an ORDER_PLACED stamped before WON (another clock): OTD starts when BTO started, BTO lasts 0 */
    ltb_flow_times t = {100 * S, 200 * S, 150 * S, 0, 0};
    ltb_stage_span sp[4];
    assert_int_equal(ltb_flow_spans(&t, 300 * S, sp), 3);
    assert_int_equal(sp[1].seconds, 0);
    assert_int_equal(sp[2].start, 200 * S);
    assert_int_equal(sp[2].seconds, 100);
    /* cash collected stamped before the last start */
    ltb_flow_times u = {100 * S, 200 * S, 0, 0, 150 * S};
    assert_int_equal(ltb_flow_spans(&u, 300 * S, sp), 2);
    assert_int_equal(sp[1].seconds, 0);
    assert_false(sp[1].open);
}

static void test_days_late(void **state) {
    (void)state;
    assert_int_equal(ltb_days_late(100, 100), 0);
    assert_int_equal(ltb_days_late(100, 97), 0);
    assert_int_equal(ltb_days_late(100, 103), 3);
}

static void test_weighted_dso(void **state) {
    (void)state;
    ltb_weighted w = {0, 0};
    assert_int_equal(ltb_weighted_seconds(&w), 0); /* no payment: 0 */
    /* 100.00 paid after 10 days and 900.00 after 20 days: (100 x 10 + 900 x 20) / 1000 = 19 days, not the 15 of a
     * plain average */
    const int64_t D = 86400;
    assert_int_equal(ltb_weighted_add(&w, 10000, "8640000000"), 0); /* 10000 x 10 d */
    assert_int_equal(ltb_weighted_add(&w, 90000, "155520000000"), 0);
    assert_int_equal(ltb_weighted_seconds(&w), 19 * D);
    assert_int_equal(ltb_weighted_add(&w, 0, ""), 0); /* a deal without payments adds nothing */
    assert_int_equal(ltb_weighted_add(&w, 0, NULL), 0);
    assert_int_equal(ltb_weighted_seconds(&w), 19 * D);
    /* rounded down */
    ltb_weighted r = {0, 0};
    assert_int_equal(ltb_weighted_add(&r, 3, "10"), 0);
    assert_int_equal(ltb_weighted_seconds(&r), 3);
    /* sums past 2^63 (big amounts over long times) stay exact */
    ltb_weighted big = {0, 0};
    assert_int_equal(ltb_weighted_add(&big, INT64_MAX / 2, "461168601842738790300000000"), 0);
    assert_int_equal(ltb_weighted_add(&big, INT64_MAX / 2, "461168601842738790300000000"), 0);
    assert_int_equal(ltb_weighted_seconds(&big), 100000000);
    /* refused: not an integer, a negative weight, a weight without its sum, an overflowing weight */
    ltb_weighted bad = {0, 0};
    assert_int_equal(ltb_weighted_add(&bad, 5, "1.5"), -1);
    assert_int_equal(ltb_weighted_add(&bad, 5, "-3"), -1);
    assert_int_equal(ltb_weighted_add(&bad, -1, "3"), -1);
    assert_int_equal(ltb_weighted_add(&bad, 5, ""), -1);
    assert_int_equal(ltb_weighted_add(&bad, INT64_MAX, "1"), 0);
    assert_int_equal(ltb_weighted_add(&bad, 1, "1"), -1);
    assert_int_equal(bad.weight, INT64_MAX);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_sums_matching_rules_in_order),
        cmocka_unit_test(test_engagement_is_capped_and_score_clamped),
        cmocka_unit_test(test_unknown_keys_never_match),
        cmocka_unit_test(test_route_picks_highest_threshold_reached),
        cmocka_unit_test(test_percentile_nearest_rank),
        cmocka_unit_test(test_flow_spans_closed_and_open),
        cmocka_unit_test(test_flow_spans_never_negative),
        cmocka_unit_test(test_days_late),
        cmocka_unit_test(test_weighted_dso),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
