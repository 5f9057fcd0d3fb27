/* admission_rules.h - the pure rules of LTB's order-admission gate (订单准入, docs/credit.md): which checks pass
 * with which reasons, the outcome, what a bid may be, which refusals a manager may override, and when DTC must be
 * told to drop an admission reservation. No database, no call: admission.c gathers the inputs and stores the result;
 * tests/unit/ltb/test_admission.c tests these rules. */
#ifndef LTB_ADMISSION_RULES_H
#define LTB_ADMISSION_RULES_H

#include <stddef.h>
#include <stdint.h>

/* DTC's refusal reasons as numbered by ltc.dtc.v1.CreditRefusalReason (1..6); other numbers are unknown. */
#define LTB_DTC_REASON_MAX 6

/* What DTC answered to CheckCredit at stage ADMISSION. */
typedef struct ltb_credit_answer {
    int answered;       /* 0: no answer (deadline, UNAVAILABLE, any error): fail closed */
    int approved;       /* CREDIT_OUTCOME_APPROVED */
    int reserved;       /* DTC reserved the amount under the opportunity */
    const int *reasons; /* CreditRefusalReason numbers of a refusal */
    size_t n_reasons;
} ltb_credit_answer;

/* One check's result: passed, or failed with 1..LTB_CHECK_REASONS_MAX reasons (static strings, UPPER_SNAKE, each
 * one of admission_checks.reasons' allowed values). */
#define LTB_CHECK_REASONS_MAX 8
typedef struct ltb_check {
    int passed;
    const char *reasons[LTB_CHECK_REASONS_MAX];
    size_t n_reasons;
} ltb_check;

typedef struct ltb_admission_input {
    ltb_credit_answer credit;
    int customer_blocked;        /* the customer's state is BLOCKED (read under the opportunity's lock) */
    int32_t expected_margin_bps; /* from the request */
    int32_t minimum_margin_bps;  /* the policy's */
} ltb_admission_input;

typedef struct ltb_admission_result {
    ltb_check credit, compliance, margin; /* the three checks, stored in this order */
    int admitted;                         /* every check passed */
} ltb_admission_result;

/* The admission name of DTC's refusal reason n (LIMIT_EXCEEDED -> "CREDIT_LIMIT_EXCEEDED", INVOICE_OVERDUE,
 * MANUAL_HOLD -> "CREDIT_ON_HOLD", CUSTOMER_BLOCKED, NO_CREDIT_LIMIT, EXPOSURE_OVER_LIMIT), or NULL when unknown. */
const char *ltb_admission_credit_reason(int n);

/* Runs the three checks. CREDIT fails with CREDIT_SERVICE_UNAVAILABLE without an answer (or with a refusal none of
 * whose reasons LTB knows: an answer it cannot read is no answer), else with DTC's reasons mapped, each once;
 * COMPLIANCE fails with CUSTOMER_BLOCKED; MARGIN with MARGIN_BELOW_MINIMUM when expected < minimum. */
void ltb_admission_decide(const ltb_admission_input *in, ltb_admission_result *out);

/* True when a bid of `bid` minor units fits an admission of `admitted` with tolerance `tolerance_bps`:
 * bid <= admitted * (10000 + tolerance_bps) / 10000, computed exactly in integers (no rounding, no overflow). */
int ltb_admission_bid_fits(int64_t admitted, int32_t tolerance_bps, int64_t bid);

/* The gate of CreateBid, in this order: the customer BLOCKED now -> "CUSTOMER_BLOCKED"; no current decision (none,
 * or superseded) -> "ADMISSION_REQUIRED"; REFUSED -> "ADMISSION_REFUSED"; another currency, or above the admitted
 * amount plus the tolerance -> "ADMISSION_EXCEEDED"; else NULL (the bid may go out). `outcome` is the decision's
 * text ("ADMITTED", "REFUSED", "OVERRIDDEN"), NULL without a decision. */
typedef struct ltb_bid_gate {
    int customer_blocked;
    const char *outcome;
    int superseded;
    int same_currency;
    int64_t admitted_minor;
    int32_t tolerance_bps;
    int64_t bid_minor;
} ltb_bid_gate;
const char *ltb_admission_bid_refusal(const ltb_bid_gate *g);

/* Whether the current decision may be overridden by `caller`: NULL when it may; "ADMISSION_NOT_REFUSED" when there
 * is no current decision or it is not REFUSED; "ADMISSION_NOT_OVERRIDABLE" when its COMPLIANCE check failed or the
 * caller requested it (four eyes). */
const char *ltb_admission_override_refusal(const char *outcome, int superseded, int compliance_failed,
                                           const char *requested_by, const char *caller);

/* Whether a new decision must tell DTC to drop the opportunity's admission reservation (AcceptOpportunityClosed,
 * reason ADMISSION_SUPERSEDED): when a reservation may exist (the decision it supersedes reserved, or this answer
 * reserved) and the new decision should not hold one (it is not ADMITTED with a reservation of its own). A reserving
 * approval replaces the earlier reservation in DTC (same reference), so nothing is sent then. */
int ltb_admission_release_needed(int previous_reserved, const ltb_credit_answer *credit, int admitted);

#endif
