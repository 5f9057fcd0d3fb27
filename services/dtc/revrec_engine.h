/* services/dtc/revrec_engine.h - the pure arithmetic of revenue recognition (IFRS 15, docs/finance.md, "Revenue
 * recognition: the arithmetic"): a transaction price allocated to performance obligations by relative standalone
 * selling price, and an over-time obligation's straight-line schedule. No database; unit-tested in
 * tests/unit/dtc/test_revrec_engine.c. revenue.c stores the obligations and runs the recognition with these rules. */
#ifndef LTC_DTC_REVREC_ENGINE_H
#define LTC_DTC_REVREC_ENGINE_H

#include <stdint.h>

#define DTC_REVREC_MAX_LINES 1000
#define DTC_REVREC_MAX_MONTHS 1200

/* Allocates `price` (>= 0, minor units) to n obligations (1..DTC_REVREC_MAX_LINES) in proportion to their standalone
 * selling prices ssp[i] (>= 0, their sum > 0): each gets floor(price * ssp[i] / sum), then the units left go one each
 * to the largest fractional remainders (ties: the earlier obligation) - the largest-remainder method, so the parts
 * add up to `price` exactly. 0, or -1 on bad input (out untouched then). */
int dtc_revrec_allocate(int64_t price, const int64_t *ssp, int n, int64_t *out);

/* Recognised by straight line of `amount` (>= 0) over `months` (1..DTC_REVREC_MAX_MONTHS) once `elapsed` whole months
 * (clamped to 0..months) of the service have passed: floor(amount * elapsed / months), so each month's part is the
 * difference of two of these and all of them add up to `amount` exactly. -1 on bad input. */
int64_t dtc_revrec_recognised(int64_t amount, int months, int elapsed);

/* The monthly parts of that schedule: out[k] = recognised(k + 1) - recognised(k), k < months. 0 or -1. */
int dtc_revrec_schedule(int64_t amount, int months, int64_t *out);

/* Recognised of a point-in-time obligation of amount `amount` once `accepted` of the order's `total` is accepted:
 * all of it when `fully` (the order is fully accepted), else floor(amount * accepted / total) (accepted clamped to
 * 0..total; 0 when total is 0). -1 on bad input. */
int64_t dtc_revrec_point_in_time(int64_t amount, int64_t accepted, int64_t total, int fully);

/* The entries of recognising `revenue` (>= 0) for an order whose contract liability balance is `liability` (credit,
 * >= 0) and contract asset balance `asset` (debit, >= 0): afterwards the order has only one of the two, the net
 * (liability - asset - revenue) on its side. *from_liability and *to_asset are the REVENUE entry's Dr 2200 and
 * Dr 1150 (they add up to `revenue`); *netting is a CONTRACT_NETTING Dr 2200 / Cr 1150 before it (an asset that a
 * later invoice covered). 0 or -1 on bad input. */
int dtc_revrec_contract(int64_t revenue, int64_t liability, int64_t asset, int64_t *from_liability, int64_t *to_asset,
                        int64_t *netting);

#endif
