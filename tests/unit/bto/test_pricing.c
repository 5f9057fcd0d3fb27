/* Unit tests of BTO's pricing engine (services/bto/pricing.c): every line rounded once, half away from zero, to the
 * minor unit; lines summing exactly to the total; range and slab tiers; line and order discounts; tax per line;
 * margin; the price book and tax rate pickers; the approval comparison on the effective discount. Amounts are
 * minor units: CNY fen, JPY yen (0 decimals), BHD fils (3 decimals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pricing.h"

static bto_price_line_in line(int64_t qty, int64_t unit, int32_t disc, int32_t tax, int64_t cost) {
    bto_price_line_in l = {
        .quantity = qty, .unit_list_minor = unit, .discount_bps = disc, .tax_bps = tax, .unit_cost_minor = cost};
    return l;
}

/* The issue's example: 33.33 x 3 at 15.00%, 0.99 x 1,000,000 at 0.50%, 1,234.56 x 7 at 3.33% = CNY 993,489.13
 * (flooring the discount per unit gave 998,439.17). */
static void test_issue_example_cny(void **state) {
    (void)state;
    bto_price_line_in in[3] = {line(3, 3333, 1500, 0, 0), line(1000000, 99, 50, 0, 0), line(7, 123456, 333, 0, 0)};
    bto_price_line_out out[3];
    bto_price_totals t;
    bto_price_error e;
    assert_int_equal(bto_price_quote(in, 3, 0, out, &t, &e), 0);
    assert_int_equal(out[0].net, 8499);     /* 99.99 x 0.85 = 84.9915 -> 84.99 */
    assert_int_equal(out[1].net, 98505000); /* 990,000.00 x 0.995 = 985,050.00: the 0.5% is not lost */
    assert_int_equal(out[2].net, 835414);   /* 8,641.92 x 0.9667 = 8,354.144064 -> 8,354.14 */
    assert_int_equal(t.net, 99348913);
    assert_int_equal(t.gross, 99348913);
    assert_int_equal(t.book_amount, 9999 + 99000000 + 864192);
    assert_int_equal(t.line_discount, t.book_amount - t.net);
    assert_int_equal(t.order_discount, 0);
}

static void test_half_away_from_zero(void **state) {
    (void)state;
    assert_true(bto_round_div(5, 10) == 1);
    assert_true(bto_round_div(-5, 10) == -1);
    assert_true(bto_round_div(4, 10) == 0);
    assert_true(bto_round_div(15, 10) == 2);
    assert_true(bto_round_div(-15, 10) == -2);
    assert_true(bto_round_div(1, 3) == 0);
    assert_true(bto_round_div(2, 3) == 1);
    /* one unit at 0.01 with 50%: 0.005 -> 0.01 */
    bto_price_line_in in[1] = {line(1, 1, 5000, 0, 0)};
    bto_price_line_out out[1];
    bto_price_totals t;
    assert_int_equal(bto_price_quote(in, 1, 0, out, &t, NULL), 0);
    assert_int_equal(out[0].net, 1);
}

/* JPY (0 decimals): slab and range tiers, a 3.33% discount and 10% tax, each rounded once to the yen. */
static void test_jpy_tiers_and_tax(void **state) {
    (void)state;
    const bto_tier tiers[3] = {{1, 1000}, {10, 900}, {100, 800}};
    int64_t a;
    assert_int_equal(bto_tier_amount(150, 1000, BTO_TIERS_RANGE, tiers, 3, &a), 0);
    assert_int_equal(a, 150 * 800);
    assert_int_equal(bto_tier_amount(150, 1000, BTO_TIERS_SLAB, tiers, 3, &a), 0);
    assert_int_equal(a, 9 * 1000 + 90 * 900 + 51 * 800);
    assert_int_equal(bto_tier_amount(9, 1000, BTO_TIERS_RANGE, tiers, 3, &a), 0);
    assert_int_equal(a, 9000);
    assert_int_equal(bto_tier_amount(10, 1000, BTO_TIERS_SLAB, tiers, 3, &a), 0);
    assert_int_equal(a, 9000 + 900);

    bto_price_line_in in[2] = {line(150, 1000, 333, 1000, 500), line(150, 1000, 0, 800, 700)};
    in[0].tier_mode = BTO_TIERS_SLAB, in[0].tiers = tiers, in[0].n_tiers = 3;
    in[1].tier_mode = BTO_TIERS_RANGE, in[1].tiers = tiers, in[1].n_tiers = 3;
    bto_price_line_out out[2];
    bto_price_totals t;
    assert_int_equal(bto_price_quote(in, 2, 0, out, &t, NULL), 0);
    assert_int_equal(out[0].list_amount, 150000);
    assert_int_equal(out[0].book_amount, 130800);
    assert_int_equal(out[0].net, 126444); /* 130800 x 0.9667 = 126444.36 */
    assert_int_equal(out[0].tax, 12644);  /* 10% of 126444 = 12644.4 */
    assert_int_equal(out[1].net, 120000);
    assert_int_equal(out[1].tax, 9600);
    assert_int_equal(t.net, 246444);
    assert_int_equal(t.tax, 22244);
    assert_int_equal(t.gross, 268688);
    assert_int_equal(out[0].cost, 75000);
    assert_int_equal(out[0].margin, 126444 - 75000);
    assert_int_equal(t.margin, 246444 - 75000 - 105000);
    assert_int_equal(t.margin_bps, 2696); /* 66444 / 246444 = 0.269611... */
}

/* BHD (3 decimals): 1.234 x 7 at 12.5% and 5% off the order, 10% VAT. */
static void test_bhd_order_discount_and_tax(void **state) {
    (void)state;
    bto_price_line_in in[2] = {line(7, 1234, 1250, 1000, 0), line(3, 333, 0, 0, 0)};
    bto_price_line_out out[2];
    bto_price_totals t;
    assert_int_equal(bto_price_quote(in, 2, 500, out, &t, NULL), 0);
    assert_int_equal(out[0].book_amount, 8638);
    assert_int_equal(out[0].line_discount, 8638 - 7558); /* 7558.25 -> 7.558 */
    assert_int_equal(out[0].net, 7180);                  /* 8638 x 0.875 x 0.95 = 7180.3375 -> 7.180 */
    assert_int_equal(out[0].order_discount, 7558 - 7180);
    assert_int_equal(out[0].tax, 718);
    assert_int_equal(out[1].net, 949); /* 999 x 0.95 = 949.05 */
    assert_int_equal(out[1].tax, 0);
    assert_int_equal(t.net, 7180 + 949);
    assert_int_equal(t.tax, 718);
    assert_int_equal(t.gross, 7180 + 949 + 718);
    assert_int_equal(t.line_discount + t.order_discount, t.book_amount - t.net);
    /* effective discount of line 0: 1 - 7180/8638 = 16.879% -> rounded up 1688 */
    assert_int_equal(out[0].effective_discount_bps, 1688);
}

static void test_lines_sum_to_total_with_order_discount(void **state) {
    (void)state;
    bto_price_line_in in[5];
    for (int i = 0; i < 5; i++) in[i] = line(1 + i * 7, 1 + i * 333, i * 111, i * 137, i);
    bto_price_line_out out[5];
    bto_price_totals t;
    assert_int_equal(bto_price_quote(in, 5, 777, out, &t, NULL), 0);
    int64_t net = 0, tax = 0, od = 0;
    for (int i = 0; i < 5; i++) {
        net += out[i].net, tax += out[i].tax, od += out[i].order_discount;
        assert_int_equal(out[i].book_amount - out[i].line_discount - out[i].order_discount, out[i].net);
        assert_int_equal(out[i].gross, out[i].net + out[i].tax);
    }
    assert_int_equal(net, t.net);
    assert_int_equal(tax, t.tax);
    assert_int_equal(od, t.order_discount);
    assert_int_equal(t.gross, t.net + t.tax);
}

static void test_full_discount_and_margin(void **state) {
    (void)state;
    bto_price_line_in in[1] = {line(2, 5000, 10000, 1300, 100)};
    bto_price_line_out out[1];
    bto_price_totals t;
    assert_int_equal(bto_price_quote(in, 1, 0, out, &t, NULL), 0);
    assert_int_equal(t.net, 0);
    assert_int_equal(t.effective_discount_bps, 10000);
    assert_int_equal(t.margin, -200);
    assert_int_equal(t.margin_bps, -10000);
    assert_true(bto_discount_exceeds(10000, 0, 2500));
    assert_true(bto_discount_exceeds(10000, 8999, 1000));
    assert_false(bto_discount_exceeds(10000, 9000, 1000)); /* exactly 10% is within a 10% threshold */
    assert_false(bto_discount_exceeds(10000, 10000, 0));
    assert_true(bto_discount_exceeds(10000, 9999, 0)); /* any discount exceeds a zero threshold */
}

static void test_refusals(void **state) {
    (void)state;
    bto_price_line_out out[2];
    bto_price_totals t;
    bto_price_error e;
    bto_price_line_in in[2] = {line(1, 100, 0, 0, 0), line(0, 100, 0, 0, 0)};
    assert_int_equal(bto_price_quote(in, 2, 0, out, &t, &e), -1);
    assert_int_equal(e.line, 1);
    assert_string_equal(e.field, "quantity");
    in[1] = line(1, 100, 10001, 0, 0);
    assert_int_equal(bto_price_quote(in, 2, 0, out, &t, &e), -1);
    assert_string_equal(e.field, "discount_bps");
    in[1] = line(1000000, INT64_MAX / 1000, 0, 0, 0);
    assert_int_equal(bto_price_quote(in, 2, 0, out, &t, &e), -1);
    assert_int_equal(e.line, 1);
    in[1] = line(1, 100, 0, 0, 0);
    assert_int_equal(bto_price_quote(in, 2, 10001, out, &t, &e), -1);
    assert_string_equal(e.field, "order_discount_bps");
    assert_int_equal(bto_price_quote(in, 0, 0, out, &t, &e), -1);
    /* two lines each near INT64_MAX / 2: the total overflows */
    in[0] = line(1, INT64_MAX / 2 + 1, 0, 0, 0), in[1] = line(1, INT64_MAX / 2 + 1, 0, 0, 0);
    assert_int_equal(bto_price_quote(in, 2, 0, out, &t, &e), -1);
    assert_int_equal(e.line, -1);
    /* malformed tiers */
    const bto_tier bad_start[2] = {{2, 10}, {5, 9}}, not_increasing[2] = {{1, 10}, {1, 9}};
    int64_t a;
    assert_int_equal(bto_tier_amount(3, 10, BTO_TIERS_RANGE, bad_start, 2, &a), -1);
    assert_int_equal(bto_tier_amount(3, 10, BTO_TIERS_SLAB, not_increasing, 2, &a), -1);
    assert_int_equal(bto_tier_amount(3, 10, BTO_TIERS_SLAB, NULL, 0, &a), -1);
}

static void test_price_book_pick(void **state) {
    (void)state;
    const bto_book_ref books[] = {
        {"CNY", "", "2026-01-01", ""},
        {"CNY", "", "2026-06-01", "2026-12-31"},
        {"CNY", "KEY", "2026-01-01", "2026-03-31"},
        {"JPY", "", "2020-01-01", ""},
    };
    assert_int_equal(bto_price_book_pick(books, 4, "CNY", "", "2026-07-01"), 1);      /* latest default */
    assert_int_equal(bto_price_book_pick(books, 4, "CNY", "KEY", "2026-02-01"), 2);   /* the group's own */
    assert_int_equal(bto_price_book_pick(books, 4, "CNY", "KEY", "2026-05-01"), 0);   /* group's expired */
    assert_int_equal(bto_price_book_pick(books, 4, "CNY", "OTHER", "2027-01-01"), 0); /* book 1 ended */
    assert_int_equal(bto_price_book_pick(books, 4, "CNY", "", "2025-12-31"), -1);
    assert_int_equal(bto_price_book_pick(books, 4, "JPY", "", "2026-07-01"), 3);
    assert_int_equal(bto_price_book_pick(books, 4, "BHD", "", "2026-07-01"), -1);
    const bto_book_ref same_day[] = {{"JPY", "", "2026-01-01", ""}, {"JPY", "", "2026-01-01", ""}};
    assert_int_equal(bto_price_book_pick(same_day, 2, "JPY", "", "2026-07-01"), 1); /* the newer supersedes */
}

static void test_tax_rate_pick(void **state) {
    (void)state;
    const bto_tax_ref rates[] = {{"STANDARD", "", 1000}, {"STANDARD", "CN", 1300}, {"SERVICE", "CN", 600}};
    assert_int_equal(bto_tax_rate_pick(rates, 3, "STANDARD", "CN"), 1300);
    assert_int_equal(bto_tax_rate_pick(rates, 3, "STANDARD", "BH"), 1000);
    assert_int_equal(bto_tax_rate_pick(rates, 3, "SERVICE", "CN"), 600);
    assert_int_equal(bto_tax_rate_pick(rates, 3, "SERVICE", "JP"), -1);
    assert_int_equal(bto_tax_rate_pick(rates, 3, "EXEMPT", "CN"), -1);
}

/* The discount policy: measured on the effective discount (line + order combined), margin and zero value. */
static void test_approval_levels(void **state) {
    (void)state;
    const bto_discount_policy pol = {1000, 2500, 1000, 60};
    bto_price_line_in in[1] = {line(10, 10000, 0, 0, 5000)};
    bto_price_line_out out[1];
    bto_price_totals t;
    int32_t cases[][3] = {                                           /* line bps, order bps, level */
                          {1000, 0, 0}, {1001, 0, 1}, {500, 600, 1}, /* 5% + 6% = 10.7%: splitting gains nothing */
                          {2500, 0, 1}, {3000, 0, 2}, {2000, 700, 2}, {10000, 0, 2}, {0, 0, 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        in[0].discount_bps = cases[k][0];
        assert_int_equal(bto_price_quote(in, 1, cases[k][1], out, &t, NULL), 0);
        assert_int_equal(bto_approval_level(&out[0], &pol), cases[k][2]);
    }
    /* margin below the minimum: 10 x 100.00 at cost 95.00 = 5% margin */
    in[0] = line(10, 10000, 0, 0, 9500);
    assert_int_equal(bto_price_quote(in, 1, 0, out, &t, NULL), 0);
    assert_int_equal(bto_approval_level(&out[0], &pol), 1);
    /* a free product (book 0, cost 0) is zero-valued */
    in[0] = line(1, 0, 0, 0, 0);
    assert_int_equal(bto_price_quote(in, 1, 0, out, &t, NULL), 0);
    assert_int_equal(bto_approval_level(&out[0], &pol), 1);
    /* escalation: one level per full period, capped at director */
    assert_int_equal(bto_escalated_level(1, 59, 60), 1);
    assert_int_equal(bto_escalated_level(1, 60, 60), 2);
    assert_int_equal(bto_escalated_level(1, 6000, 60), 2);
    assert_int_equal(bto_escalated_level(0, 6000, 60), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_example_cny),
        cmocka_unit_test(test_half_away_from_zero),
        cmocka_unit_test(test_jpy_tiers_and_tax),
        cmocka_unit_test(test_bhd_order_discount_and_tax),
        cmocka_unit_test(test_lines_sum_to_total_with_order_discount),
        cmocka_unit_test(test_full_discount_and_margin),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_price_book_pick),
        cmocka_unit_test(test_tax_rate_pick),
        cmocka_unit_test(test_approval_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
