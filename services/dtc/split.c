/* services/dtc/split.c - how an order's value is invoiced by its payment terms (see split.h).
 *
 * Money is conserved exactly: the term totals add up to the order total (the last term takes the rounding
 * remainder), each term's cumulative target grows with the accepted value and reaches the term's total once the
 * order is fully accepted, and every invoice bills only the difference to what the term billed before. */
#include "split.h"

#include "ltc/money.h"

int dtc_term_totals(int64_t order_total, const int32_t *bps, int n_terms, int64_t *totals_out) {
    if (order_total < 0 || n_terms < 1 || n_terms > DTC_MAX_TERMS || !bps || !totals_out) return -1;
    int32_t sum_bps = 0;
    for (int i = 0; i < n_terms; i++) {
        if (bps[i] < 1 || bps[i] > 10000) return -1;
        sum_bps += bps[i]; /* at most 10 * 10000: no overflow */
    }
    if (sum_bps != 10000) return -1;

    int64_t totals[DTC_MAX_TERMS];
    int64_t sum = 0;
    for (int i = 0; i < n_terms - 1; i++) {
        totals[i] = ltc_apply_bps(order_total, bps[i]);
        sum += totals[i]; /* sum of floors of shares adding up to < 10000 bps: <= order_total */
    }
    totals[n_terms - 1] = order_total - sum;
    for (int i = 0; i < n_terms; i++) totals_out[i] = totals[i];
    return 0;
}

int dtc_split_invoices(int64_t order_total, const int32_t *bps, int n_terms, int64_t accepted_cum, int fully,
                       const int64_t *invoiced_so_far, int64_t *amount_out) {
    int64_t totals[DTC_MAX_TERMS];
    if (!invoiced_so_far || !amount_out) return -1;
    if (dtc_term_totals(order_total, bps, n_terms, totals) != 0) return -1;
    if (accepted_cum < 0 || accepted_cum > order_total) return -1;
    int full = fully || accepted_cum == order_total;

    for (int i = 0; i < n_terms; i++) {
        int64_t target;
        if (full) {
            target = totals[i];
        } else if (ltc_muldiv(totals[i], accepted_cum, order_total, &target) != 0) {
            return -1; /* cannot happen: target <= totals[i] */
        }
        if (invoiced_so_far[i] < 0 || invoiced_so_far[i] > target) return -1;
        amount_out[i] = target - invoiced_so_far[i];
    }
    return 0;
}

int dtc_bill_terms(int64_t order_total, const int32_t *bps, const int *kinds, int n_terms, const dtc_bill_progress *p,
                   const int64_t *invoiced_so_far, int64_t *amount_out) {
    int64_t totals[DTC_MAX_TERMS];
    if (!kinds || !p || !invoiced_so_far || !amount_out) return -1;
    if (dtc_term_totals(order_total, bps, n_terms, totals) != 0) return -1;
    if (p->shipped < 0 || p->shipped > order_total || p->accepted < 0 || p->accepted > order_total) return -1;
    int full_acc = p->fully_accepted || (order_total > 0 && p->accepted == order_total);
    int full_ship = full_acc || p->fully_shipped || (order_total > 0 && p->shipped == order_total);
    int64_t delivered = p->shipped > p->accepted ? p->shipped : p->accepted;
    int started = p->placed || p->contract_signed || p->shipped > 0 || p->accepted > 0 || p->fully_shipped || full_acc;

    for (int i = 0; i < n_terms; i++) {
        int64_t target = 0;
        switch (kinds[i]) {
            case DTC_TERM_ADVANCE: target = started ? totals[i] : 0; break;
            case DTC_TERM_ON_DELIVERY:
                if (full_ship)
                    target = totals[i];
                else if (order_total > 0 && ltc_muldiv(totals[i], delivered, order_total, &target) != 0)
                    return -1;
                break;
            case DTC_TERM_ON_ACCEPTANCE:
                if (full_acc)
                    target = totals[i];
                else if (order_total > 0 && ltc_muldiv(totals[i], p->accepted, order_total, &target) != 0)
                    return -1;
                break;
            case DTC_TERM_RETENTION: target = full_acc && !(p->retention_held & (1u << i)) ? totals[i] : 0; break;
            case DTC_TERM_MILESTONE: target = p->milestones_reached & (1u << i) ? totals[i] : 0; break;
            default: return -1;
        }
        if (invoiced_so_far[i] < 0 || invoiced_so_far[i] > totals[i]) return -1;
        amount_out[i] = target > invoiced_so_far[i] ? target - invoiced_so_far[i] : 0;
    }
    return 0;
}
