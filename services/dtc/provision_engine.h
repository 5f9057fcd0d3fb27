/* services/dtc/provision_engine.h - the pure arithmetic of doubtful debt (docs/finance.md, "Doubtful debt"): the
 * allowance an open amount requires under the aging-bucket policy or a specific provision, and the split of a
 * write-off between the allowance held for the invoice and bad-debt expense. No database
 * (tests/unit/dtc/test_provision_engine.c); provisions.c applies it. */
#ifndef LTC_DTC_PROVISION_ENGINE_H
#define LTC_DTC_PROVISION_ENGINE_H

#include <stdint.h>

/* A percentage in basis points: 0..10000 (100.00%). */
#define DTC_BPS_MAX 10000

/* The allowance `open_minor` requires at `bps` basis points: open * bps / 10000 rounded half up (to the minor unit,
 * never above open). 0, or -1 on a negative amount, bps outside 0..10000 or an overflow. */
int dtc_provision_required(int64_t open_minor, int32_t bps, int64_t *out);

/* A specific provision of an invoice: a fixed amount (`amount_minor` >= 0, `bps` < 0) or a percentage (`bps` in
 * 0..10000, `amount_minor` ignored) of its open amount. What it requires of `open_minor`: the amount capped at the
 * open amount, or the percentage as dtc_provision_required. 0 or -1 (bad input). */
int dtc_provision_specific(int64_t open_minor, int64_t amount_minor, int32_t bps, int64_t *out);

/* Checks a policy of n bucket percentages (0..10000 each), n = bounds + 2 (not yet due, then one per past-due bucket
 * of aging_engine.h's bounds, then beyond the last bound) and non-decreasing (an older debt never needs a smaller
 * share). 0 or -1. */
int dtc_provision_policy_check(const int32_t *bps, int n);

/* The split of a write-off of `amount_minor` of an invoice that holds `allowance_minor` of allowance: what the
 * allowance covers (min of the two) and the rest, bad-debt expense. 0, or -1 on a negative amount. */
int dtc_writeoff_split(int64_t amount_minor, int64_t allowance_minor, int64_t *from_allowance, int64_t *to_expense);

/* The entry that moves the allowance from `current_minor` to `required_minor`: *increase (Dr expense / Cr
 * allowance) or *decrease (Dr allowance / Cr expense), the other 0; both 0 when equal (nothing posts). 0 or -1. */
int dtc_provision_adjustment(int64_t current_minor, int64_t required_minor, int64_t *increase, int64_t *decrease);

#endif
