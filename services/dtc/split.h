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

/* Payment term kinds, with the values of ltc.type.v1.PaymentTermKind (split.h stays free of generated code). */
enum {
    DTC_TERM_ADVANCE = 1,       /* billed in full when the order is placed (or by its first later event) */
    DTC_TERM_ON_DELIVERY = 2,   /* billed by shipped value (or accepted value, when no shipment was reported) */
    DTC_TERM_ON_ACCEPTANCE = 3, /* billed by accepted value */
    DTC_TERM_RETENTION = 4,     /* billed in full once the order is fully accepted, never by a partial one */
    DTC_TERM_MILESTONE = 5,     /* billed in full when its named billing milestone is reported reached */
};

/* How far an order has come: cumulative shipped and accepted values (0..order_total) and the flags. */
typedef struct dtc_bill_progress {
    int placed;         /* BTO placed the order (AcceptOrderPlaced) */
    int64_t shipped;    /* value shipped so far (AcceptShipment) */
    int fully_shipped;  /* every line shipped (or shipped == order_total) */
    int64_t accepted;   /* value accepted so far (AcceptDelivery) */
    int fully_accepted; /* the whole order accepted (or accepted == order_total) */
    /* bit i set: term i (a RETENTION term) is held until its retention period ends (billing policy AT_PERIOD_END) */
    uint32_t retention_held;
    int contract_signed;         /* the contract was signed and the account opened then (advance billed at signature) */
    uint32_t milestones_reached; /* bit i set: term i (a MILESTONE term) has had its milestone reported reached */
} dtc_bill_progress;

/* The invoice amount of each term after an event, each term billed by its own event: amount_out[i] =
 * max(target_i - invoiced_so_far[i], 0) where target_i is, for term i's kind (kinds[i], DTC_TERM_*):
 *   ADVANCE        the term's total once signed (account opened at signature), placed, shipped or accepted (a later
 *                  event catches up a missed placement; billed at signature, the placement finds nothing left);
 *   ON_DELIVERY    the term's total when fully shipped or fully accepted, else
 *                  floor(total_i * max(shipped, accepted) / order_total) (acceptance implies delivery);
 *   ON_ACCEPTANCE  the term's total when fully accepted, else floor(total_i * accepted / order_total);
 *   RETENTION      the term's total when fully accepted and not held (retention_held), else 0;
 *   MILESTONE      the term's total once its milestone was reported reached (milestones_reached), else 0.
 * Targets are cumulative and only grow, so a partial event bills its share and the last one takes the rest: the
 * invoices of a term add up to the term's total exactly. Requires 0 <= shipped, accepted <= order_total and
 * 0 <= invoiced_so_far[i] <= total_i, kinds 1..5. 0, or -1 on bad input (amount_out then unspecified). */
int dtc_bill_terms(int64_t order_total, const int32_t *bps, const int *kinds, int n_terms, const dtc_bill_progress *p,
                   const int64_t *invoiced_so_far, int64_t *amount_out);

#endif
