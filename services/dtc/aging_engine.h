/* services/dtc/aging_engine.h - the pure arithmetic of aging and dunning (docs/receivables.md): which bucket an open
 * amount falls in, which dunning level an invoice has reached, and the interest a notice charges. No database, no
 * allocation, so that it can be unit-tested on its own (tests/unit/dtc/test_aging_engine.c). */
#ifndef LTC_DTC_AGING_ENGINE_H
#define LTC_DTC_AGING_ENGINE_H

#include <stdint.h>

/* Most past-due buckets an aging report may ask for (their upper bounds). */
#define DTC_AGING_MAX_BOUNDS 10

/* Checks the upper bounds (days past due) of the past-due buckets: 1..DTC_AGING_MAX_BOUNDS of them, each 1..36500,
 * strictly increasing. 0 or -1. */
int dtc_aging_bounds_check(const int32_t *bounds, int n);

/* The bucket of an amount `days_past_due` days past its due date (as_of - due_date): 0 when not yet due (< 0), i in
 * 1..n for the first bound with days_past_due <= bounds[i-1] (the default 30/60/90: 0-30, 31-60, 61-90), n + 1
 * beyond the last (90+). -1 on bad bounds. */
int dtc_aging_bucket(int64_t days_past_due, const int32_t *bounds, int n);

/* Dunning levels, in escalation order. */
enum {
    DTC_DUNNING_NONE = 0,
    DTC_DUNNING_REMINDER = 1,
    DTC_DUNNING_SECOND = 2,
    DTC_DUNNING_FINAL = 3,
};

/* The highest level an invoice `days_overdue` days past due has reached under the policy's thresholds (reminder <
 * second < final, each >= 1): DTC_DUNNING_NONE below the reminder. -1 on bad thresholds. */
int dtc_dunning_level(int64_t days_overdue, int32_t reminder_days, int32_t second_days, int32_t final_days);

/* Simple interest on `open_minor` at `annual_bps` basis points a year for `days` days on a `basis`-day year (365:
 * ACT/365, 360: ACT/360), rounded half up to the minor unit: open * bps * days / (10000 * basis). 0, or -1 on bad
 * input (negative amounts or days, bps outside 0..10000, another basis) or a result beyond int64. */
int dtc_dunning_interest(int64_t open_minor, int32_t annual_bps, int64_t days, int32_t basis, int64_t *out);

#endif
