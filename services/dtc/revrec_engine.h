/* services/dtc/revrec_engine.h - the pure arithmetic of revenue recognition (IFRS 15, docs/finance.md, "Revenue
 * recognition: the arithmetic"): a transaction price allocated to performance obligations by relative standalone
 * selling price, and an over-time obligation's straight-line schedule. No database; unit-tested in
 * tests/unit/dtc/test_revrec_engine.c. Recognition itself (obligations per order line, RunRevenueRecognition) is not
 * built yet: these are its rules. */
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

#endif
