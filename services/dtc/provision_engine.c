/* services/dtc/provision_engine.c - the pure arithmetic of doubtful debt: see provision_engine.h. */
#include "provision_engine.h"

int dtc_provision_required(int64_t open_minor, int32_t bps, int64_t *out) {
    if (open_minor < 0 || bps < 0 || bps > DTC_BPS_MAX) return -1;
    /* open * bps may overflow: split open into its multiples of 10000 and the rest */
    int64_t q = open_minor / DTC_BPS_MAX, r = open_minor % DTC_BPS_MAX;
    if (q > INT64_MAX / DTC_BPS_MAX) return -1;
    *out = q * bps + (r * bps + DTC_BPS_MAX / 2) / DTC_BPS_MAX;
    return 0;
}

int dtc_provision_specific(int64_t open_minor, int64_t amount_minor, int32_t bps, int64_t *out) {
    if (open_minor < 0) return -1;
    if (bps >= 0) return dtc_provision_required(open_minor, bps, out);
    if (amount_minor < 0) return -1;
    *out = amount_minor < open_minor ? amount_minor : open_minor;
    return 0;
}

int dtc_provision_policy_check(const int32_t *bps, int n) {
    if (!bps || n < 3) return -1;
    for (int i = 0; i < n; i++) {
        if (bps[i] < 0 || bps[i] > DTC_BPS_MAX) return -1;
        if (i > 0 && bps[i] < bps[i - 1]) return -1;
    }
    return 0;
}

int dtc_writeoff_split(int64_t amount_minor, int64_t allowance_minor, int64_t *from_allowance, int64_t *to_expense) {
    if (amount_minor < 0 || allowance_minor < 0) return -1;
    *from_allowance = amount_minor < allowance_minor ? amount_minor : allowance_minor;
    *to_expense = amount_minor - *from_allowance;
    return 0;
}

int dtc_provision_adjustment(int64_t current_minor, int64_t required_minor, int64_t *increase, int64_t *decrease) {
    if (current_minor < 0 || required_minor < 0) return -1;
    *increase = required_minor > current_minor ? required_minor - current_minor : 0;
    *decrease = current_minor > required_minor ? current_minor - required_minor : 0;
    return 0;
}
