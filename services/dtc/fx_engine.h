/* services/dtc/fx_engine.h - the pure foreign-exchange arithmetic of DTC (docs/finance.md, "Foreign exchange"): exchange
 * rates as exact decimals (a scaled integer, never a float), conversion of minor units from a transaction currency to
 * the functional currency with one rounding rule, the slice of a document converted at its own rate when it is
 * settled in parts, and the functional balancing of an entry whose lines were converted at different rates (the
 * difference is the realised gain or loss). No database: ledger.c and fx.c apply it; tests/unit/dtc/test_fx_engine.c
 * checks it, with property tests. */
#ifndef LTC_DTC_FX_ENGINE_H
#define LTC_DTC_FX_ENGINE_H

#include <stdint.h>

/* A rate is "functional-currency major units per one major unit of the transaction currency" as an integer scaled by
 * 10^10 (DTC_FX_SCALE): "0.0482" is 482000000. The identity rate is DTC_FX_SCALE. */
#define DTC_FX_SCALE 10000000000LL
#define DTC_FX_DECIMALS 10

/* Parses a rate "123.4567" (digits, at most one '.', at most 10 decimals, at most 8 integer digits, > 0; no sign,
 * no exponent). 0 and *out, or -1. */
int dtc_fx_rate_parse(const char *s, int64_t *out);
/* Writes the rate in its shortest exact decimal form ("0.0482", "7", "1.5") into out (32 bytes). */
void dtc_fx_rate_format(int64_t rate, char out[32]);

/* Converts `minor` units of a currency with `from_digits` minor digits to the functional currency (`to_digits`) at
 * `rate`: exact product, then rounded to the functional minor unit half away from zero. 0 and *out, or -1 on a bad
 * rate/digits or an overflow. */
int dtc_fx_convert(int64_t minor, int from_digits, int to_digits, int64_t rate, int64_t *out);
/* The functional amount of `amount` more units of a document of which `before` units were already converted at the
 * same rate: convert(before + amount) - convert(before). Parts converted this way add up to the conversion of the
 * whole, so a document settled in parts leaves no rounding residue. 0 or -1 as dtc_fx_convert. */
int dtc_fx_slice(int64_t before, int64_t amount, int from_digits, int to_digits, int64_t rate, int64_t *out);
/* Closes an entry's functional amounts: given each line's functional debit and credit (converted, possibly at
 * different rates), the difference sum(debits) - sum(credits) is put on the FX line: *fx_credit = the surplus of debits
 * (a gain), *fx_debit = the surplus of credits (a loss); at most one is positive. 0, or -1 on overflow/negative. */
int dtc_fx_close(const int64_t *fdebit, const int64_t *fcredit, int n, int64_t *fx_debit, int64_t *fx_credit);
/* The unrealised gain (> 0) or loss (< 0) of an open amount carried at `carried` functional units, valued at `rate`:
 * convert(open at rate) - carried. 0 or -1. */
int dtc_fx_unrealised(int64_t open, int64_t carried, int from_digits, int to_digits, int64_t rate, int64_t *out);

#endif
