/* pricing.c - BTO's pricing engine (see pricing.h and docs/cpq.md): tiers, line and order discounts, tax and margin
 * in integer minor units, every line rounded once, half away from zero. Pure: no I/O, no allocation. Intermediate
 * products are 128-bit; every result is checked to fit int64. */
#include "pricing.h"

#include <string.h>

#define BPS 10000

__int128 bto_round_div(__int128 num, __int128 den) {
    __int128 a = num < 0 ? -num : num;
    __int128 q = (2 * a + den) / (2 * den); /* floor(|num| / den + 1/2): halves go up, away from zero */
    return num < 0 ? -q : q;
}

static int fits(__int128 v) { return v >= INT64_MIN && v <= INT64_MAX; }

int bto_tier_amount(int64_t quantity, int64_t unit_list_minor, bto_tier_mode mode, const bto_tier *tiers,
                    size_t n_tiers, int64_t *amount) {
    if (quantity < 0 || unit_list_minor < 0) return -1;
    __int128 sum = 0;
    if (mode == BTO_TIERS_NONE) {
        sum = (__int128)quantity * unit_list_minor;
    } else {
        if (!tiers || n_tiers == 0 || n_tiers > BTO_MAX_TIERS || tiers[0].min_quantity != 1) return -1;
        for (size_t k = 0; k < n_tiers; k++) {
            if (tiers[k].unit_minor < 0) return -1;
            if (k > 0 && tiers[k].min_quantity <= tiers[k - 1].min_quantity) return -1;
        }
        if (mode == BTO_TIERS_RANGE) {
            size_t k = 0;
            while (k + 1 < n_tiers && tiers[k + 1].min_quantity <= quantity) k++;
            sum = (__int128)quantity * tiers[k].unit_minor;
        } else if (mode == BTO_TIERS_SLAB) {
            for (size_t k = 0; k < n_tiers && tiers[k].min_quantity <= quantity; k++) {
                int64_t last = k + 1 < n_tiers ? tiers[k + 1].min_quantity - 1 : quantity;
                if (last > quantity) last = quantity;
                sum += (__int128)(last - tiers[k].min_quantity + 1) * tiers[k].unit_minor;
            }
        } else {
            return -1;
        }
    }
    if (!fits(sum)) return -1;
    *amount = (int64_t)sum;
    return 0;
}

static int fail(bto_price_error *err, long line, const char *field, const char *message) {
    if (err) {
        err->line = line;
        err->field = field;
        err->message = message;
    }
    return -1;
}

int32_t bto_margin_bps(int64_t margin, int64_t net, int64_t cost) {
    if (net == 0) return cost > 0 ? -BPS : 0;
    __int128 q = bto_round_div((__int128)margin * BPS, net < 0 ? -(__int128)net : net);
    if (net < 0) q = -q;
    if (q > INT32_MAX) return INT32_MAX;
    if (q < INT32_MIN) return INT32_MIN;
    return (int32_t)q;
}

int32_t bto_effective_discount_bps(int64_t book, int64_t net) {
    if (book <= 0) return 0;
    __int128 d = (__int128)book - net;
    if (d <= 0) return 0;
    __int128 q = (d * BPS + book - 1) / book;
    return q > INT32_MAX ? INT32_MAX : (int32_t)q;
}

int bto_price_quote(const bto_price_line_in *in, size_t n, int32_t order_discount_bps, bto_price_line_out *out,
                    bto_price_totals *tot, bto_price_error *err) {
    if (n == 0) return fail(err, -1, "", "at least one line is required");
    if (order_discount_bps < 0 || order_discount_bps > BPS)
        return fail(err, -1, "order_discount_bps", "must be 0 to 10000");
    __int128 t_list = 0, t_book = 0, t_ld = 0, t_od = 0, t_net = 0, t_tax = 0, t_cost = 0;
    for (size_t i = 0; i < n; i++) {
        const bto_price_line_in *l = &in[i];
        bto_price_line_out *o = &out[i];
        long li = (long)i;
        if (l->quantity < 1 || l->quantity > BTO_MAX_QUANTITY) return fail(err, li, "quantity", "must be 1 to 1000000");
        if (l->discount_bps < 0 || l->discount_bps > BPS) return fail(err, li, "discount_bps", "must be 0 to 10000");
        if (l->tax_bps < 0 || l->tax_bps > BTO_MAX_TAX_BPS) return fail(err, li, "tax_bps", "must be 0 to 10000");
        if (l->unit_cost_minor < 0) return fail(err, li, "unit_cost", "must not be negative");
        if (l->unit_list_minor < 0) return fail(err, li, "unit_list_price", "must not be negative");
        __int128 list = (__int128)l->quantity * l->unit_list_minor;
        if (!fits(list)) return fail(err, li, "quantity", "the amount overflows");
        int64_t book;
        if (bto_tier_amount(l->quantity, l->unit_list_minor, l->tier_mode, l->tiers, l->n_tiers, &book) != 0)
            return fail(err, li, "tiers", "malformed volume tiers, or the amount overflows");
        /* exact: book x (1 - line) x (1 - order), denominators 10^4 and 10^8, each rounded once */
        __int128 after_line = bto_round_div((__int128)book * (BPS - l->discount_bps), BPS);
        __int128 net =
            bto_round_div((__int128)book * (BPS - l->discount_bps) * (BPS - order_discount_bps), (__int128)BPS * BPS);
        __int128 tax = bto_round_div(net * l->tax_bps, BPS);
        __int128 cost = (__int128)l->quantity * l->unit_cost_minor;
        if (!fits(net + tax) || !fits(cost) || !fits(net - cost))
            return fail(err, li, "quantity", "the amount overflows");
        o->list_amount = (int64_t)list;
        o->book_amount = book;
        o->line_discount = (int64_t)(book - after_line);
        o->order_discount = (int64_t)(after_line - net);
        o->net = (int64_t)net;
        o->unit_net = (int64_t)bto_round_div(net, l->quantity);
        o->tax = (int64_t)tax;
        o->gross = (int64_t)(net + tax);
        o->cost = (int64_t)cost;
        o->margin = (int64_t)(net - cost);
        o->margin_bps = bto_margin_bps(o->margin, o->net, o->cost);
        o->effective_discount_bps = bto_effective_discount_bps(book, o->net);
        t_list += list;
        t_book += book;
        t_ld += o->line_discount;
        t_od += o->order_discount;
        t_net += net;
        t_tax += tax;
        t_cost += cost;
    }
    if (!fits(t_list) || !fits(t_book) || !fits(t_net + t_tax) || !fits(t_cost) || !fits(t_net - t_cost) ||
        !fits(t_ld) || !fits(t_od))
        return fail(err, -1, "", "the quote's total overflows");
    tot->list_amount = (int64_t)t_list;
    tot->book_amount = (int64_t)t_book;
    tot->line_discount = (int64_t)t_ld;
    tot->order_discount = (int64_t)t_od;
    tot->net = (int64_t)t_net;
    tot->tax = (int64_t)t_tax;
    tot->gross = (int64_t)(t_net + t_tax);
    tot->cost = (int64_t)t_cost;
    tot->margin = (int64_t)(t_net - t_cost);
    tot->margin_bps = bto_margin_bps(tot->margin, tot->net, tot->cost);
    tot->effective_discount_bps = bto_effective_discount_bps(tot->book_amount, tot->net);
    return 0;
}

int bto_discount_exceeds(int64_t book, int64_t net, int32_t threshold_bps) {
    if (book <= 0) return net < book; /* nothing to discount: only a negative price would be one */
    return ((__int128)book - net) * BPS > (__int128)threshold_bps * book;
}

static int str_eq(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

long bto_price_book_pick(const bto_book_ref *books, size_t n, const char *currency, const char *group,
                         const char *date) {
    long best = -1;
    int best_group = 0;
    const char *best_from = "";
    for (size_t i = 0; i < n; i++) {
        const bto_book_ref *b = &books[i];
        if (!str_eq(b->currency, currency)) continue;
        int own = group && *group && str_eq(b->customer_group, group);
        if (!own && b->customer_group && *b->customer_group) continue;
        const char *from = b->valid_from ? b->valid_from : "";
        if (strcmp(from, date) > 0) continue;
        if (b->valid_until && *b->valid_until && strcmp(b->valid_until, date) < 0) continue;
        if (best < 0 || own > best_group || (own == best_group && strcmp(from, best_from) >= 0)) {
            best = (long)i;
            best_group = own;
            best_from = from;
        }
    }
    return best;
}

int32_t bto_tax_rate_pick(const bto_tax_ref *rates, size_t n, const char *tax_class, const char *country) {
    int32_t fallback = -1;
    for (size_t i = 0; i < n; i++) {
        if (!str_eq(rates[i].tax_class, tax_class)) continue;
        if (country && *country && str_eq(rates[i].country, country)) return rates[i].rate_bps;
        if (!rates[i].country || !*rates[i].country) fallback = rates[i].rate_bps;
    }
    return fallback;
}

int bto_approval_level(const bto_price_line_out *line, const bto_discount_policy *p) {
    if (bto_discount_exceeds(line->book_amount, line->net, p->manager_max_bps)) return 2;
    if (bto_discount_exceeds(line->book_amount, line->net, p->sales_max_bps)) return 1;
    if (line->net == 0 || line->margin_bps < p->minimum_margin_bps) return 1;
    return 0;
}

int bto_escalated_level(int level, int64_t waited_minutes, int32_t escalation_minutes) {
    if (level <= 0) return 0;
    if (escalation_minutes > 0 && waited_minutes > 0) {
        int64_t steps = waited_minutes / escalation_minutes;
        if (steps > 2) steps = 2;
        level += (int)steps;
    }
    return level > 2 ? 2 : level;
}
