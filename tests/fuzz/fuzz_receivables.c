/* fuzz_receivables.c - libFuzzer target for DTC's pure receivables arithmetic (services/dtc/split.c,
 * services/dtc/aging_engine.c): invoices raised by each term's own event, aging buckets, dunning levels and
 * interest. Input: an order total, up to DTC_MAX_TERMS terms (kind, share), then a sequence of events (shipped or
 * accepted increments, full flags, retention holds). Properties, besides no crash / UB:
 *   every event bills amounts >= 0 and never more than a term's share; once the order is fully accepted and no
 *     retention is held, the invoices of each term add up to its share exactly and all of them to the order total;
 *   a bucket never decreases as days past due grow, 0 exactly when not yet due;
 *   the dunning level never decreases as days overdue grow;
 *   interest never decreases with days and stays within a rounding of open * bps * days / (10000 * basis). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aging_engine.h"
#include "fuzz_check.h"
#include "split.h"

static uint64_t take(const uint8_t **d, size_t *n, size_t k) {
    uint64_t v = 0;
    for (size_t i = 0; i < k; i++) {
        v = v << 8 | (*n ? **d : 0);
        if (*n) (*d)++, (*n)--;
    }
    return v;
}

static void billing(const uint8_t *d, size_t n) {
    int64_t total = (int64_t)(take(&d, &n, 5) % 100000000000ULL); /* up to 1e9.00 */
    int nt = 1 + (int)(take(&d, &n, 1) % DTC_MAX_TERMS);
    int32_t bps[DTC_MAX_TERMS];
    int kinds[DTC_MAX_TERMS];
    int32_t left = 10000;
    for (int i = 0; i < nt; i++) {
        kinds[i] = 1 + (int)(take(&d, &n, 1) % 5); /* ADVANCE .. MILESTONE */
        int32_t room = left - (nt - 1 - i);        /* every later term keeps at least 1 bp */
        bps[i] = i == nt - 1 ? left : 1 + (int32_t)(take(&d, &n, 2) % (uint64_t)room);
        left -= bps[i];
    }
    int64_t totals[DTC_MAX_TERMS], inv[DTC_MAX_TERMS] = {0}, a[DTC_MAX_TERMS];
    FUZZ_REQUIRE(dtc_term_totals(total, bps, nt, totals) == 0, "split of %lld", (long long)total);
    uint64_t start = take(&d, &n, 1);
    dtc_bill_progress p = {.placed = (int)(start & 1), .contract_signed = (int)((start >> 1) & 1)};
    for (int step = 0; step < 12 && n > 0; step++) {
        uint64_t op = take(&d, &n, 1);
        int64_t inc = total ? (int64_t)(take(&d, &n, 4) % (uint64_t)(total + 1)) : 0;
        if (op & 1) p.shipped = p.shipped + inc > total ? total : p.shipped + inc;
        if (op & 2) p.accepted = p.accepted + inc > total ? total : p.accepted + inc;
        if (op & 4) p.fully_shipped = 1;
        if (op & 8) p.fully_accepted = 1;
        p.retention_held = (op & 16) ? (uint32_t)take(&d, &n, 2) : 0;
        if (op & 32) p.milestones_reached |= (uint32_t)take(&d, &n, 2); /* reported milestones stay reported */
        FUZZ_REQUIRE(dtc_bill_terms(total, bps, kinds, nt, &p, inv, a) == 0, "bill step %d", step);
        for (int i = 0; i < nt; i++) {
            FUZZ_REQUIRE(a[i] >= 0 && inv[i] + a[i] <= totals[i], "term %d billed %lld + %lld of %lld", i,
                         (long long)inv[i], (long long)a[i], (long long)totals[i]);
            inv[i] += a[i];
        }
    }
    p.accepted = total, p.fully_accepted = 1, p.retention_held = 0, p.milestones_reached = ~0u; /* all reported */
    FUZZ_REQUIRE(dtc_bill_terms(total, bps, kinds, nt, &p, inv, a) == 0, "final bill");
    int64_t sum = 0;
    for (int i = 0; i < nt; i++) {
        FUZZ_REQUIRE(inv[i] + a[i] == totals[i], "term %d ends at %lld of %lld", i, (long long)(inv[i] + a[i]),
                     (long long)totals[i]);
        sum += inv[i] + a[i];
    }
    FUZZ_REQUIRE(sum == total, "invoices %lld of order %lld", (long long)sum, (long long)total);
}

static void aging(const uint8_t *d, size_t n) {
    int nb = 1 + (int)(take(&d, &n, 1) % DTC_AGING_MAX_BOUNDS);
    int32_t b[DTC_AGING_MAX_BOUNDS];
    int32_t at = 0;
    for (int i = 0; i < nb; i++) b[i] = at += 1 + (int32_t)(take(&d, &n, 1) % 120);
    int64_t x = (int64_t)(take(&d, &n, 4) % 40000) - 1000, y = x + (int64_t)(take(&d, &n, 2) % 1000);
    int bx = dtc_aging_bucket(x, b, nb), by = dtc_aging_bucket(y, b, nb);
    FUZZ_REQUIRE(bx >= 0 && by >= bx && by <= nb + 1, "buckets %d, %d", bx, by);
    FUZZ_REQUIRE((bx == 0) == (x < 0), "bucket %d for %lld days", bx, (long long)x);
    int32_t r = 1 + (int32_t)(take(&d, &n, 1) % 50), s = r + 1 + (int32_t)(take(&d, &n, 1) % 50);
    int32_t f = s + 1 + (int32_t)(take(&d, &n, 1) % 50);
    int lx = dtc_dunning_level(x, r, s, f), ly = dtc_dunning_level(y, r, s, f);
    FUZZ_REQUIRE(lx >= 0 && ly >= lx && ly <= DTC_DUNNING_FINAL, "levels %d, %d", lx, ly);
    int64_t open = (int64_t)(take(&d, &n, 6) >> 1), ix, iy;
    int32_t bps = (int32_t)(take(&d, &n, 2) % 10001);
    int32_t basis = take(&d, &n, 1) & 1 ? 360 : 365;
    int64_t dx = x < 0 ? 0 : x % 36500, dy = y < 0 ? 0 : y % 36500;
    if (dy < dx) dy = dx;
    if (dtc_dunning_interest(open, bps, dx, basis, &ix) == 0 && dtc_dunning_interest(open, bps, dy, basis, &iy) == 0) {
        FUZZ_REQUIRE(iy >= ix, "interest %lld then %lld", (long long)ix, (long long)iy);
        __int128 exact = (__int128)open * bps * dx;
        __int128 den = (__int128)10000 * basis;
        FUZZ_REQUIRE((__int128)ix * den >= exact - den / 2 && (__int128)ix * den <= exact + den / 2, "interest %lld",
                     (long long)ix);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (n == 0) return 0;
    if (d[0] & 1)
        billing(d + 1, n - 1);
    else
        aging(d + 1, n - 1);
    return 0;
}
