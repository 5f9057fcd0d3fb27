/* services/dtc/split.h - how an order's value is invoiced by its payment terms: pure integer arithmetic with no
 * database, no allocation and no dependency beyond ltc/money.h, so that it can be unit-tested on its own. */
#ifndef LTC_DTC_SPLIT_H
#define LTC_DTC_SPLIT_H

#include <stdint.h>

/* Most payment terms an order may carry (BTO's contract allows 10). */
#define DTC_MAX_TERMS 10

/* Splits order_total into one total per payment term: floor(order_total * bps[i] / 10000) for every term but the
 * last, which takes the remainder, so the totals add up to order_total exactly. bps must be 1..10000 each and add up
 * to 10000; order_total >= 0. 0, or -1 on bad input (totals_out untouched). */
int dtc_term_totals(int64_t order_total, const int32_t *bps, int n_terms, int64_t *totals_out);

/* The invoice amount of each term after a delivery: amount_out[i] = target_i - invoiced_so_far[i], where target_i is
 * the term's total when `fully` (or accepted_cum == order_total), else floor(term_total_i * accepted_cum /
 * order_total). Targets only grow with accepted_cum, so a term is never billed twice and, once fully accepted, the
 * invoices of an order add up to order_total exactly. Requires 0 <= accepted_cum <= order_total and
 * 0 <= invoiced_so_far[i] <= target_i. 0, or -1 on bad input (amount_out then unspecified). Zero amounts mean "no
 * invoice for this term now". */
int dtc_split_invoices(int64_t order_total, const int32_t *bps, int n_terms, int64_t accepted_cum, int fully,
                       const int64_t *invoiced_so_far, int64_t *amount_out);

#endif
