/* pricing.h - BTO's pricing engine (CPQ): pure functions, no database, no allocation. The handlers of quotes.c read
 * the price book, the tax rates and the catalogue, call bto_price_quote and store what it computed.
 *
 * The arithmetic (docs/cpq.md, docs/api.md "Rounding"): every amount is an integer number of the currency's minor
 * units (fen, yen, fils: JPY has 0 decimals, BHD 3). A line's price-book amount is exact (quantity x tier prices);
 * its net amount is book x (1 - line discount) x (1 - order discount), computed exactly in 128 bits and rounded ONCE,
 * half away from zero, to the minor unit. The quote's net total is the sum of the rounded lines (so the lines always
 * sum exactly to the total), its tax the sum of the per-line taxes (each round(net x rate) once), its gross total
 * net + tax. The order-level discount is therefore spread across the lines in proportion to their amounts after the
 * line discount, and a line's share of it is shown beside its own discount. */
#ifndef LTC_BTO_PRICING_H
#define LTC_BTO_PRICING_H

#include <stddef.h>
#include <stdint.h>

#define BTO_MAX_TIERS 10
#define BTO_MAX_QUANTITY 1000000
#define BTO_MAX_TAX_BPS 10000

/* Volume tiers of a price-book entry. RANGE: all units at the price of the highest tier the quantity reaches.
 * SLAB: each band of units at its own tier's price (units min_quantity[k]..min_quantity[k+1]-1 at unit[k]). */
typedef enum bto_tier_mode {
    BTO_TIERS_NONE = 0,
    BTO_TIERS_RANGE = 1,
    BTO_TIERS_SLAB = 2,
} bto_tier_mode;

/* One tier: from min_quantity units (the first tier starts at 1; strictly increasing) at unit_minor per unit. */
typedef struct bto_tier {
    int64_t min_quantity;
    int64_t unit_minor;
} bto_tier;

/* One line to price. */
typedef struct bto_price_line_in {
    int64_t quantity;        /* 1 .. BTO_MAX_QUANTITY */
    int64_t unit_list_minor; /* the price book's (or catalogue's) unit price without tiers, >= 0 */
    bto_tier_mode tier_mode; /* NONE: every unit at unit_list_minor */
    const bto_tier *tiers;   /* n_tiers (1 .. BTO_MAX_TIERS) when tier_mode is not NONE */
    size_t n_tiers;
    int32_t discount_bps;    /* line discount, 0 .. 10000 */
    int32_t tax_bps;         /* tax rate of the line's tax class in the customer's country, 0 .. BTO_MAX_TAX_BPS */
    int64_t unit_cost_minor; /* >= 0 */
} bto_price_line_in;

/* One priced line. Amounts in minor units. */
typedef struct bto_price_line_out {
    int64_t list_amount;            /* quantity x unit_list_minor: the standalone selling price */
    int64_t book_amount;            /* after volume tiers: what the discounts are measured against */
    int64_t line_discount;          /* book_amount - round(book_amount x (1 - line discount)) */
    int64_t order_discount;         /* the line's share of the order-level discount */
    int64_t net;                    /* book_amount - line_discount - order_discount: rounded once */
    int64_t unit_net;               /* net / quantity, rounded half away from zero (display only) */
    int64_t tax;                    /* round(net x tax_bps / 10000) */
    int64_t gross;                  /* net + tax */
    int64_t cost;                   /* quantity x unit_cost_minor */
    int64_t margin;                 /* net - cost */
    int32_t margin_bps;             /* margin / net (rounded); -10000 when net is 0 and cost is not, 0 when both are */
    int32_t effective_discount_bps; /* (book - net) / book, rounded up (0 when book is 0) */
} bto_price_line_out;

/* The quote's totals: each the exact sum of the lines' (the same meaning as in bto_price_line_out). */
typedef struct bto_price_totals {
    int64_t list_amount, book_amount, line_discount, order_discount, net, tax, gross, cost, margin;
    int32_t margin_bps, effective_discount_bps;
} bto_price_totals;

/* Why pricing failed: the line (or -1 for the order) and a static message. */
typedef struct bto_price_error {
    long line;
    const char *field; /* "quantity", "discount_bps", "tax_bps", "tiers", "unit_cost", "order_discount_bps", "" */
    const char *message;
} bto_price_error;

/* Round half away from zero of num / den for den > 0 (any sign of num). */
__int128 bto_round_div(__int128 num, __int128 den);

/* The price-book amount of `quantity` units under tiers (see bto_tier_mode); -1 when the tiers are malformed
 * (empty, more than BTO_MAX_TIERS, the first not at 1, not strictly increasing, a negative price) or the amount
 * overflows int64. */
int bto_tier_amount(int64_t quantity, int64_t unit_list_minor, bto_tier_mode mode, const bto_tier *tiers,
                    size_t n_tiers, int64_t *amount);

/* Prices n lines (1 .. 200) with an order-level discount (0 .. 10000 bps): fills out[0..n) and *tot. 0, or -1 with
 * *err set (the first bad input in line order, or an overflow of int64 anywhere) and out/tot unspecified. */
int bto_price_quote(const bto_price_line_in *in, size_t n, int32_t order_discount_bps, bto_price_line_out *out,
                    bto_price_totals *tot, bto_price_error *err);

/* margin / net in bps, rounded half away from zero, clamped to int32; -10000 when net is 0 and cost is not, 0 when
 * both are. */
int32_t bto_margin_bps(int64_t margin, int64_t net, int64_t cost);
/* (book - net) / book in bps, rounded up (any discount shows); 0 when book is not positive or net >= book. */
int32_t bto_effective_discount_bps(int64_t book, int64_t net);

/* 1 when a discount from `book` down to `net` is more than `threshold_bps` (exact: (book - net) x 10000 >
 * threshold x book). A zero book with a zero net is no discount. */
int bto_discount_exceeds(int64_t book, int64_t net, int32_t threshold_bps);

/* The discount policy (docs/cpq.md): levels 0 (the seller's authority), 1 (a manager), 2 (a director). */
typedef struct bto_discount_policy {
    int32_t sales_max_bps;      /* effective discount a seller may give */
    int32_t manager_max_bps;    /* a manager may approve up to this; above: a director */
    int32_t minimum_margin_bps; /* a margin below this needs at least a manager */
    int32_t escalation_minutes; /* a pending approval waiting longer needs the next level */
} bto_discount_policy;

/* The level a priced line needs: 2 when its effective discount (book -> net, exact) exceeds manager_max, 1 when it
 * exceeds sales_max, or its margin is below the minimum, or it is zero-valued (net 0: a 100% discount or a free
 * product needs approval like any other); else 0. */
int bto_approval_level(const bto_price_line_out *line, const bto_discount_policy *p);
/* The level after escalation: one more per full escalation period waited, at most 2 (0 stays 0). */
int bto_escalated_level(int level, int64_t waited_minutes, int32_t escalation_minutes);

/* A price book's header as the picker sees it: dates "YYYY-MM-DD" (valid_until "" when open-ended), group "" for
 * the default book of the currency. */
typedef struct bto_book_ref {
    const char *currency;
    const char *customer_group;
    const char *valid_from;
    const char *valid_until;
} bto_book_ref;

/* The index of the book for `currency`, customer `group` and `date` ("YYYY-MM-DD"): among the books valid on that
 * date in that currency, one of the customer's group wins over a default one (group ""), then the latest
 * valid_from, then the highest index (books are given oldest first: a newer book supersedes). -1 when none
 * applies. */
long bto_price_book_pick(const bto_book_ref *books, size_t n, const char *currency, const char *group,
                         const char *date);

/* A tax rate row: tax class, country ("" for the class's rate in every other country) and rate. */
typedef struct bto_tax_ref {
    const char *tax_class;
    const char *country;
    int32_t rate_bps;
} bto_tax_ref;

/* The rate of `tax_class` in `country`: the country's row, else the class's default row (country ""); -1 when
 * the class has neither (the caller refuses to price: an unknown tax is not a zero tax). */
int32_t bto_tax_rate_pick(const bto_tax_ref *rates, size_t n, const char *tax_class, const char *country);

#endif
