/* suggest.h - cost-down configuration search (SuggestConfigurations, docs/cpq.md "Cost-down"): pure, no database,
 * no allocation beyond the caller's buffers. */
#ifndef LTC_BTO_SUGGEST_H
#define LTC_BTO_SUGGEST_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

#define BTO_SUGGEST_MAX_REQS 20        /* requirements considered */
#define BTO_SUGGEST_OPTIONS 5          /* cheapest covering products kept per requirement */
#define BTO_SUGGEST_MAX_RESULTS 10     /* suggestions returned at most */
#define BTO_SUGGEST_NODE_BUDGET 200000 /* search nodes at most (bounds the work whatever the catalogue) */

typedef struct bto_capability {
    const char *code;
    int64_t per_unit; /* > 0 */
} bto_capability;

typedef struct bto_candidate {
    const char *product; /* id */
    int64_t unit_price;  /* minor units, >= 0 */
    int64_t unit_cost;   /* minor units, >= 0 */
    const bto_capability *caps;
    size_t n_caps;
} bto_candidate;

typedef struct bto_requirement {
    const char *code;
    int64_t needed; /* 0: any covering unit */
} bto_requirement;

/* One suggested configuration: up to BTO_SUGGEST_MAX_REQS products (candidate index, quantity). */
typedef struct bto_suggestion {
    size_t n;
    size_t product[BTO_SUGGEST_MAX_REQS];
    int64_t quantity[BTO_SUGGEST_MAX_REQS];
    int64_t total, cost;
} bto_suggestion;

/* Finds up to max_out (<= BTO_SUGGEST_MAX_RESULTS) distinct configurations that meet every requirement (at most
 * BTO_SUGGEST_MAX_REQS) and break none of `rules`, cheapest first (ties: lower cost first). Per requirement only the
 * BTO_SUGGEST_OPTIONS cheapest covering candidates are considered (quantity = ceil(needed / per_unit)); a product
 * chosen for several requirements takes the largest quantity any of them needs; a depth-first search over one option
 * per requirement, pruned by price against the worst kept result, visits at most BTO_SUGGEST_NODE_BUDGET nodes.
 * Returns the number written; *nodes (when not NULL) the nodes visited. */
size_t bto_suggest(const bto_requirement *reqs, size_t n_reqs, const bto_candidate *cands, size_t n_cands,
                   const bto_rule *rules, size_t n_rules, bto_suggestion *out, size_t max_out, long *nodes);

#endif
