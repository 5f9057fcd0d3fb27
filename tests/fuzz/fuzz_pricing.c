/* fuzz_pricing.c - libFuzzer target for BTO's pricing engine (services/bto/pricing.c, pure). Input: byte 0 the order
 * discount selector, then up to 16 lines of 40 bytes each (quantity, unit list price, unit cost: int64; line discount,
 * tax rate: int32 taken modulo a little over their range so both valid and invalid values occur; a tier mode byte;
 * and tier data derived from the unit price). Properties, besides no crash / UB (UBSan traps signed overflow):
 *   a priced quote's lines sum exactly to every total (net, tax, gross, cost, margin, discounts);
 *   per line: book - line discount - order discount = net; gross = net + tax; 0 <= net <= book when the book is
 *     not negative; |net - book x (1-l)(1-o)| <= 1/2 (rounded once, half away from zero);
 *   a refused input names a line in range (or -1) and a field;
 *   bto_discount_exceeds agrees with the effective discount (exceeds(threshold) iff the exact discount > it);
 * and, with byte 0's top bit set, the configuration rules engine (fuzz_rules below). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "pricing.h"
#include "rules.h"

#define LINE_BYTES 40
#define MAX_LINES 16

static int64_t rd64(const uint8_t *d) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | d[i];
    return (int64_t)v;
}

static int32_t rd32(const uint8_t *d) { return (int32_t)((uint32_t)d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3]); }

/* The rules engine (services/bto/rules.c), when byte 0 has its top bit set: lines and rules over 8 products from
 * the bytes. Properties: every violation names a rule and a line in range whose product is the rule's subject; a
 * rule whose subject is not configured is never reported; the count does not depend on max_out; describe never
 * overflows its buffer. */
static const char *const PRODUCTS[8] = {"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"};

static void fuzz_rules(const uint8_t *d, size_t n) {
    bto_config_line lines[8];
    size_t nl = n > 0 ? d[0] % 9 : 0;
    for (size_t i = 0; i < nl; i++)
        lines[i] = (bto_config_line){PRODUCTS[(i * 3 + (1 + i < n ? d[1 + i] : 0)) % 8], 1 + (i < n ? d[i] : 0)};
    bto_rule rules[16];
    const char *others[16][3];
    size_t nr = 0;
    for (size_t at = 9; at + 6 <= n && nr < 16; at += 6, nr++) {
        bto_rule *r = &rules[nr];
        r->name = "r";
        r->kind = (bto_rule_kind)(d[at] % 7);
        r->product = PRODUCTS[d[at + 1] % 8];
        r->n_others = d[at + 2] % 4;
        for (size_t k = 0; k < r->n_others; k++) others[nr][k] = PRODUCTS[d[at + 3 + k] % 8];
        r->others = others[nr];
        r->quantity = d[at + 5];
    }
    bto_rule_violation v[64], v1[1];
    size_t count = bto_rules_check(lines, nl, rules, nr, v, 64);
    FUZZ_REQUIRE(count == bto_rules_check(lines, nl, rules, nr, v1, 1), "count depends on max_out");
    for (size_t i = 0; i < count && i < 64; i++) {
        FUZZ_REQUIRE(v[i].rule < nr && v[i].line < nl, "violation %zu out of range", i);
        FUZZ_REQUIRE(strcmp(lines[v[i].line].product, rules[v[i].rule].product) == 0, "violation of another subject");
        char buf[48];
        bto_rule_describe(rules, lines, &v[i], buf, sizeof buf);
        FUZZ_REQUIRE(memchr(buf, 0, sizeof buf) != NULL, "description not terminated");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] & 0x80) {
        fuzz_rules(data + 1, size - 1);
        return 0;
    }
    int32_t order_bps = (int32_t)(data[0] % 2) ? (int32_t)(data[0] * 41 % 10500) : 0;
    size_t n = (size - 1) / LINE_BYTES;
    if (n > MAX_LINES) n = MAX_LINES;
    bto_price_line_in in[MAX_LINES];
    bto_tier tiers[MAX_LINES][BTO_MAX_TIERS];
    for (size_t i = 0; i < n; i++) {
        const uint8_t *d = data + 1 + i * LINE_BYTES;
        bto_price_line_in *l = &in[i];
        memset(l, 0, sizeof *l);
        int small = d[39] & 1; /* mostly plausible amounts, sometimes anything */
        l->quantity = small ? rd64(d) % 1100000 : rd64(d);
        l->unit_list_minor = small ? rd64(d + 8) % 100000000000LL : rd64(d + 8);
        l->unit_cost_minor = small ? rd64(d + 16) % 100000000000LL : rd64(d + 16);
        l->discount_bps = rd32(d + 24) % 10100;
        l->tax_bps = rd32(d + 28) % 10100;
        l->tier_mode = (bto_tier_mode)(d[32] % 4);
        size_t nt = d[33] % (BTO_MAX_TIERS + 2);
        if (nt > BTO_MAX_TIERS) nt = BTO_MAX_TIERS;
        int64_t q = 1, price = l->unit_list_minor;
        for (size_t k = 0; k < nt; k++) {
            tiers[i][k].min_quantity = q;
            tiers[i][k].unit_minor = price;
            q += 1 + d[34 + k % 5] % 50;
            price = price / 2 + d[35 + k % 4];
        }
        if (d[38] & 1 && nt > 1) tiers[i][1].min_quantity = 1; /* malformed on purpose */
        l->tiers = tiers[i];
        l->n_tiers = nt;
    }
    bto_price_line_out out[MAX_LINES];
    bto_price_totals t;
    bto_price_error e = {0};
    if (bto_price_quote(in, n, order_bps, out, &t, &e) != 0) {
        FUZZ_REQUIRE(e.line >= -1 && e.line < (long)n, "error names line %ld of %zu", e.line, n);
        FUZZ_REQUIRE(e.field && e.message && e.message[0], "error without field or message");
        return 0;
    }
    __int128 net = 0, tax = 0, gross = 0, cost = 0, margin = 0, ld = 0, od = 0, book = 0;
    for (size_t i = 0; i < n; i++) {
        const bto_price_line_out *o = &out[i];
        FUZZ_REQUIRE(o->book_amount - o->line_discount - o->order_discount == o->net, "line %zu parts", i);
        FUZZ_REQUIRE(o->gross == o->net + o->tax, "line %zu gross", i);
        FUZZ_REQUIRE(o->margin == o->net - o->cost, "line %zu margin", i);
        FUZZ_REQUIRE(o->net >= 0 && o->net <= o->book_amount, "line %zu net %lld outside 0..book %lld", i,
                     (long long)o->net, (long long)o->book_amount);
        __int128 num = (__int128)o->book_amount * (10000 - in[i].discount_bps) * (10000 - order_bps);
        __int128 lo = (__int128)o->net * 100000000 - 50000000, hi = (__int128)o->net * 100000000 + 50000000;
        FUZZ_REQUIRE(num >= lo && num <= hi, "line %zu not rounded to the nearest minor unit", i);
        net += o->net, tax += o->tax, gross += o->gross, cost += o->cost, margin += o->margin;
        ld += o->line_discount, od += o->order_discount, book += o->book_amount;
        if (o->book_amount > 0) {
            int32_t eff = o->effective_discount_bps;
            FUZZ_REQUIRE(eff == 0 || bto_discount_exceeds(o->book_amount, o->net, eff - 1),
                         "line %zu effective discount %d overstated", i, eff);
            FUZZ_REQUIRE(!bto_discount_exceeds(o->book_amount, o->net, eff),
                         "line %zu effective discount %d understated", i, eff);
        }
    }
    FUZZ_REQUIRE(net == t.net && tax == t.tax && gross == t.gross && cost == t.cost && margin == t.margin,
                 "lines do not sum to the totals");
    FUZZ_REQUIRE(ld == t.line_discount && od == t.order_discount && book == t.book_amount, "discounts do not sum");
    return 0;
}
