/* services/dtc/credit_engine.h - the pure arithmetic of credit decisions (docs/credit.md): exposure as the sum of
 * its parts, which refusal reasons apply to a check, and whether the automatic holds should be in force. No
 * database, no gRPC: credit.c gathers the inputs under the customer's account lock and stores what this decides.
 * Tested by tests/unit/dtc/test_credit_engine.c. */
#ifndef LTC_DTC_CREDIT_ENGINE_H
#define LTC_DTC_CREDIT_ENGINE_H

#include <stdint.h>

/* The stages that ask (values of ltc.dtc.v1.CreditStage). */
enum {
    DTC_STAGE_ADMISSION = 1,
    DTC_STAGE_ORDER_PLACEMENT = 2,
    DTC_STAGE_RELEASE = 3,
    DTC_STAGE_SHIPMENT = 4,
};

/* Refusal reasons as bits; bit (1u << v) for value v of ltc.dtc.v1.CreditRefusalReason. */
enum {
    DTC_REASON_LIMIT_EXCEEDED = 1u << 1,
    DTC_REASON_INVOICE_OVERDUE = 1u << 2,
    DTC_REASON_MANUAL_HOLD = 1u << 3,
    DTC_REASON_CUSTOMER_BLOCKED = 1u << 4,
    DTC_REASON_NO_CREDIT_LIMIT = 1u << 5,
    DTC_REASON_EXPOSURE_OVER_LIMIT = 1u << 6,
};
#define DTC_REASON_MAX 6 /* the highest CreditRefusalReason value */

/* A customer's exposure in one currency, part by part (minor units, each >= 0). */
typedef struct dtc_exposure_parts {
    int64_t open_receivables;      /* invoiced - paid of OPEN order accounts */
    int64_t accepted_not_invoiced; /* greatest(accepted - invoiced, 0) */
    int64_t open_orders;           /* total - greatest(accepted, invoiced) */
    int64_t pending_reservations;  /* live ORDER_PLACEMENT reservations */
    int64_t admitted;              /* live ADMISSION reservations (counted only when the policy says so) */
} dtc_exposure_parts;

/* The total of the counted parts (admitted only when count_admitted). 0, or -1 on overflow or a negative part. */
int dtc_exposure_total(const dtc_exposure_parts *p, int count_admitted, int64_t *total);

/* Everything one check is decided on. */
typedef struct dtc_credit_inputs {
    int stage;            /* DTC_STAGE_* */
    int stage_checked;    /* the policy's check_at_<stage> (SHIPMENT: always 0, holds and blocks only) */
    int require_limit;    /* the policy's require_credit_limit: no limit in the currency refuses NO_CREDIT_LIMIT */
    int customer_blocked; /* LTB reported the customer BLOCKED */
    int manual_hold, overdue_hold, over_limit_hold; /* ACTIVE holds of each kind (after the automatic evaluation) */
    int has_limit;                                  /* a limit in the amount's currency */
    int64_t limit;                                  /* that limit (>= 0) */
    int64_t exposure;                               /* exposure without this reference's own part (>= 0) */
    int64_t amount;                                 /* the amount asked for (>= 0) */
} dtc_credit_inputs;

/* The reasons a check is refused for (DTC_REASON_* bits; 0: APPROVED):
 * - CUSTOMER_BLOCKED at every stage;
 * - MANUAL_HOLD, INVOICE_OVERDUE, EXPOSURE_OVER_LIMIT for each ACTIVE hold: at RELEASE and SHIPMENT always, at
 *   ADMISSION and ORDER_PLACEMENT only when the stage is checked;
 * - when the stage is checked: no limit -> NO_CREDIT_LIMIT if require_limit (else the limit check does not apply);
 *   exposure + amount > limit -> LIMIT_EXCEEDED (an overflowing sum exceeds any limit). */
unsigned dtc_credit_reasons(const dtc_credit_inputs *in);

/* Whether the automatic OVER_LIMIT hold should be in force for one currency: exposure (no new amount) above a
 * limit. No limit: never. */
int dtc_over_limit_hold_wanted(int has_limit, int64_t limit, int64_t exposure);

/* Whether the automatic OVERDUE hold should be in force: some open invoice is past due by more than hold_days. */
int dtc_overdue_hold_wanted(int max_days_overdue, int hold_days);

/* The amount counted for an order at RELEASE: what OTD sent (its total) less what is paid on it, not below 0. */
int64_t dtc_release_amount(int64_t asked, int64_t paid);

#endif
