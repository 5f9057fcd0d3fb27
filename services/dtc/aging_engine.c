/* services/dtc/aging_engine.c - aging buckets, dunning levels and dunning interest (see aging_engine.h). */
#include "aging_engine.h"

int dtc_aging_bounds_check(const int32_t *bounds, int n) {
    if (!bounds || n < 1 || n > DTC_AGING_MAX_BOUNDS) return -1;
    for (int i = 0; i < n; i++) {
        if (bounds[i] < 1 || bounds[i] > 36500) return -1;
        if (i > 0 && bounds[i] <= bounds[i - 1]) return -1;
    }
    return 0;
}

int dtc_aging_bucket(int64_t days_past_due, const int32_t *bounds, int n) {
    if (dtc_aging_bounds_check(bounds, n) != 0) return -1;
    if (days_past_due < 0) return 0;
    for (int i = 0; i < n; i++)
        if (days_past_due <= bounds[i]) return i + 1;
    return n + 1;
}

int dtc_dunning_level(int64_t days_overdue, int32_t reminder_days, int32_t second_days, int32_t final_days) {
    if (reminder_days < 1 || second_days <= reminder_days || final_days <= second_days) return -1;
    if (days_overdue >= final_days) return DTC_DUNNING_FINAL;
    if (days_overdue >= second_days) return DTC_DUNNING_SECOND;
    if (days_overdue >= reminder_days) return DTC_DUNNING_REMINDER;
    return DTC_DUNNING_NONE;
}

int dtc_dunning_interest(int64_t open_minor, int32_t annual_bps, int64_t days, int32_t basis, int64_t *out) {
    if (!out || open_minor < 0 || days < 0 || annual_bps < 0 || annual_bps > 10000 || (basis != 365 && basis != 360))
        return -1;
    if (days > 36500) return -1;
    /* open (< 2^63) * bps (<= 10^4) * days (<= 36500) < 2^63 * 2^29: fits in 128 bits */
    __int128 num = (__int128)open_minor * annual_bps * days;
    __int128 den = (__int128)10000 * basis;
    __int128 q = (num + den / 2) / den;
    if (q > INT64_MAX) return -1;
    *out = (int64_t)q;
    return 0;
}
