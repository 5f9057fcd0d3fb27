/* admission_rules.c - the pure rules of the order-admission gate (admission_rules.h). */
#include "admission_rules.h"

#include <string.h>

static const char *const CREDIT_REASONS[LTB_DTC_REASON_MAX + 1] = {
    NULL,                    /* UNSPECIFIED */
    "CREDIT_LIMIT_EXCEEDED", /* LIMIT_EXCEEDED */
    "INVOICE_OVERDUE",       /* INVOICE_OVERDUE */
    "CREDIT_ON_HOLD",        /* MANUAL_HOLD */
    "CUSTOMER_BLOCKED",      /* CUSTOMER_BLOCKED */
    "NO_CREDIT_LIMIT",       /* NO_CREDIT_LIMIT */
    "EXPOSURE_OVER_LIMIT",   /* EXPOSURE_OVER_LIMIT */
};

const char *ltb_admission_credit_reason(int n) { return n >= 1 && n <= LTB_DTC_REASON_MAX ? CREDIT_REASONS[n] : NULL; }

static void fail(ltb_check *c, const char *reason) {
    c->passed = 0;
    for (size_t i = 0; i < c->n_reasons; i++)
        if (strcmp(c->reasons[i], reason) == 0) return;
    if (c->n_reasons < LTB_CHECK_REASONS_MAX) c->reasons[c->n_reasons++] = reason;
}

void ltb_admission_decide(const ltb_admission_input *in, ltb_admission_result *out) {
    memset(out, 0, sizeof *out);
    out->credit.passed = out->compliance.passed = out->margin.passed = 1;

    const ltb_credit_answer *cr = &in->credit;
    if (!cr->answered) {
        fail(&out->credit, "CREDIT_SERVICE_UNAVAILABLE");
    } else if (!cr->approved) {
        for (size_t i = 0; i < cr->n_reasons; i++) {
            const char *r = ltb_admission_credit_reason(cr->reasons[i]);
            if (r) fail(&out->credit, r);
        }
        if (out->credit.n_reasons == 0) fail(&out->credit, "CREDIT_SERVICE_UNAVAILABLE"); /* unreadable refusal */
    }
    if (in->customer_blocked) fail(&out->compliance, "CUSTOMER_BLOCKED");
    if (in->expected_margin_bps < in->minimum_margin_bps) fail(&out->margin, "MARGIN_BELOW_MINIMUM");
    out->admitted = out->credit.passed && out->compliance.passed && out->margin.passed;
}

int ltb_admission_bid_fits(int64_t admitted, int32_t tolerance_bps, int64_t bid) {
    if (bid <= 0) return 1;
    if (admitted <= 0 || tolerance_bps < 0) return 0;
    __int128 lhs = (__int128)bid * 10000;
    __int128 rhs = (__int128)admitted * (10000 + (__int128)tolerance_bps);
    return lhs <= rhs;
}

const char *ltb_admission_bid_refusal(const ltb_bid_gate *g) {
    if (g->customer_blocked) return "CUSTOMER_BLOCKED";
    if (!g->outcome || g->superseded) return "ADMISSION_REQUIRED";
    if (strcmp(g->outcome, "ADMITTED") != 0 && strcmp(g->outcome, "OVERRIDDEN") != 0) return "ADMISSION_REFUSED";
    if (!g->same_currency || !ltb_admission_bid_fits(g->admitted_minor, g->tolerance_bps, g->bid_minor))
        return "ADMISSION_EXCEEDED";
    return NULL;
}

const char *ltb_admission_override_refusal(const char *outcome, int superseded, int compliance_failed,
                                           const char *requested_by, const char *caller) {
    if (!outcome || superseded || strcmp(outcome, "REFUSED") != 0) return "ADMISSION_NOT_REFUSED";
    if (compliance_failed) return "ADMISSION_NOT_OVERRIDABLE";
    if (requested_by && caller && strcmp(requested_by, caller) == 0) return "ADMISSION_NOT_OVERRIDABLE";
    return NULL;
}

int ltb_admission_release_needed(int previous_reserved, const ltb_credit_answer *credit, int admitted) {
    int this_reserved = credit->answered && credit->approved && credit->reserved;
    if (admitted && this_reserved) return 0; /* the new reservation replaced the old one in DTC */
    return previous_reserved || this_reserved;
}
