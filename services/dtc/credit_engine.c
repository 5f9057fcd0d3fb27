/* services/dtc/credit_engine.c - the pure arithmetic of credit decisions (see credit_engine.h). */
#include "credit_engine.h"

#include <stddef.h>

int dtc_exposure_total(const dtc_exposure_parts *p, int count_admitted, int64_t *total) {
    const int64_t parts[] = {p->open_receivables, p->accepted_not_invoiced, p->open_orders, p->pending_reservations,
                             count_admitted ? p->admitted : 0};
    int64_t sum = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i] < 0 || __builtin_add_overflow(sum, parts[i], &sum)) return -1;
    }
    *total = sum;
    return 0;
}

unsigned dtc_credit_reasons(const dtc_credit_inputs *in) {
    unsigned r = 0;
    if (in->customer_blocked) r |= DTC_REASON_CUSTOMER_BLOCKED;
    int holds_count = in->stage == DTC_STAGE_RELEASE || in->stage == DTC_STAGE_SHIPMENT || in->stage_checked;
    if (holds_count) {
        if (in->manual_hold) r |= DTC_REASON_MANUAL_HOLD;
        if (in->overdue_hold) r |= DTC_REASON_INVOICE_OVERDUE;
        if (in->over_limit_hold) r |= DTC_REASON_EXPOSURE_OVER_LIMIT;
    }
    if (in->stage_checked && in->stage != DTC_STAGE_SHIPMENT) {
        if (!in->has_limit) {
            if (in->require_limit) r |= DTC_REASON_NO_CREDIT_LIMIT;
        } else {
            int64_t after;
            if (__builtin_add_overflow(in->exposure, in->amount, &after) || after > in->limit)
                r |= DTC_REASON_LIMIT_EXCEEDED;
        }
    }
    return r;
}

int dtc_over_limit_hold_wanted(int has_limit, int64_t limit, int64_t exposure) { return has_limit && exposure > limit; }

int dtc_overdue_hold_wanted(int max_days_overdue, int hold_days) { return max_days_overdue > hold_days; }

int64_t dtc_release_amount(int64_t asked, int64_t paid) { return asked > paid ? asked - paid : 0; }
