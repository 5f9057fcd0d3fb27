/* suggest.c - cost-down configuration search (see suggest.h). */
#include "suggest.h"

#include <string.h>
#include <strings.h>

typedef struct option {
    size_t cand;
    int64_t qty;
    __int128 price;
} option;

typedef struct search {
    const bto_requirement *reqs;
    size_t n_reqs;
    const bto_candidate *cands;
    const bto_rule *rules;
    size_t n_rules;
    option opts[BTO_SUGGEST_MAX_REQS][BTO_SUGGEST_OPTIONS];
    size_t n_opts[BTO_SUGGEST_MAX_REQS];
    size_t chosen[BTO_SUGGEST_MAX_REQS]; /* option index per requirement */
    bto_suggestion *out;
    size_t n_out, max_out;
    long nodes;
} search;

static int64_t per_unit(const bto_candidate *c, const char *code) {
    for (size_t k = 0; k < c->n_caps; k++)
        if (strcasecmp(c->caps[k].code, code) == 0) return c->caps[k].per_unit;
    return 0;
}

/* The merged configuration of the current choice: distinct products, each at the largest quantity chosen. */
static void merge(const search *s, bto_suggestion *g) {
    memset(g, 0, sizeof *g);
    for (size_t r = 0; r < s->n_reqs; r++) {
        const option *o = &s->opts[r][s->chosen[r]];
        size_t k = 0;
        while (k < g->n && g->product[k] != o->cand) k++;
        if (k == g->n)
            g->product[g->n] = o->cand, g->quantity[g->n++] = o->qty;
        else if (o->qty > g->quantity[k])
            g->quantity[k] = o->qty;
    }
    /* canonical order (by candidate index) so equal configurations compare equal */
    for (size_t i = 1; i < g->n; i++)
        for (size_t j = i; j > 0 && g->product[j - 1] > g->product[j]; j--) {
            size_t tp = g->product[j];
            int64_t tq = g->quantity[j];
            g->product[j] = g->product[j - 1], g->quantity[j] = g->quantity[j - 1];
            g->product[j - 1] = tp, g->quantity[j - 1] = tq;
        }
}

static int valid(const search *s, bto_suggestion *g) {
    __int128 total = 0, cost = 0;
    bto_config_line lines[BTO_SUGGEST_MAX_REQS];
    for (size_t i = 0; i < g->n; i++) {
        const bto_candidate *c = &s->cands[g->product[i]];
        total += (__int128)g->quantity[i] * c->unit_price;
        cost += (__int128)g->quantity[i] * c->unit_cost;
        lines[i] = (bto_config_line){c->product, g->quantity[i]};
    }
    if (total > INT64_MAX || cost > INT64_MAX) return 0;
    g->total = (int64_t)total, g->cost = (int64_t)cost;
    bto_rule_violation v[1];
    return bto_rules_check(lines, g->n, s->rules, s->n_rules, v, 1) == 0;
}

static int same(const bto_suggestion *a, const bto_suggestion *b) {
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->product[i] != b->product[i] || a->quantity[i] != b->quantity[i]) return 0;
    return 1;
}

static void keep(search *s, const bto_suggestion *g) {
    for (size_t i = 0; i < s->n_out; i++)
        if (same(&s->out[i], g)) return;
    size_t at = s->n_out;
    while (at > 0 &&
           (s->out[at - 1].total > g->total || (s->out[at - 1].total == g->total && s->out[at - 1].cost > g->cost)))
        at--;
    if (at >= s->max_out) return;
    size_t last = s->n_out < s->max_out ? s->n_out : s->max_out - 1;
    memmove(&s->out[at + 1], &s->out[at], (last - at) * sizeof *s->out);
    s->out[at] = *g;
    if (s->n_out < s->max_out) s->n_out++;
}

static void dfs(search *s, size_t r, __int128 partial) {
    if (++s->nodes > BTO_SUGGEST_NODE_BUDGET) return;
    if (s->n_out == s->max_out && partial > s->out[s->n_out - 1].total) return; /* cannot beat the worst kept */
    if (r == s->n_reqs) {
        bto_suggestion g;
        merge(s, &g);
        if (valid(s, &g)) keep(s, &g);
        return;
    }
    for (size_t k = 0; k < s->n_opts[r]; k++) {
        s->chosen[r] = k;
        /* every chosen product stays in the merged configuration with at least the chosen quantity, so the most
         * expensive chosen option is a lower bound of the merged price */
        dfs(s, r + 1, s->opts[r][k].price > partial ? s->opts[r][k].price : partial);
        if (s->nodes > BTO_SUGGEST_NODE_BUDGET) return;
    }
}

size_t bto_suggest(const bto_requirement *reqs, size_t n_reqs, const bto_candidate *cands, size_t n_cands,
                   const bto_rule *rules, size_t n_rules, bto_suggestion *out, size_t max_out, long *nodes) {
    static __thread search s;
    memset(&s, 0, sizeof s);
    if (n_reqs == 0 || n_reqs > BTO_SUGGEST_MAX_REQS || max_out == 0) return 0;
    if (max_out > BTO_SUGGEST_MAX_RESULTS) max_out = BTO_SUGGEST_MAX_RESULTS;
    s.reqs = reqs, s.n_reqs = n_reqs, s.cands = cands, s.rules = rules, s.n_rules = n_rules;
    s.out = out, s.max_out = max_out;
    for (size_t r = 0; r < n_reqs; r++) {
        for (size_t c = 0; c < n_cands; c++) {
            int64_t pu = per_unit(&cands[c], reqs[r].code);
            if (pu <= 0 || cands[c].unit_price < 0 || cands[c].unit_cost < 0) continue;
            int64_t need = reqs[r].needed > 0 ? reqs[r].needed : 1;
            option o = {c, (need + pu - 1) / pu, 0};
            o.price = (__int128)o.qty * cands[c].unit_price;
            /* insert into the cheapest BTO_SUGGEST_OPTIONS */
            size_t n = s.n_opts[r], at = n;
            while (at > 0 && s.opts[r][at - 1].price > o.price) at--;
            if (at >= BTO_SUGGEST_OPTIONS) continue;
            size_t last = n < BTO_SUGGEST_OPTIONS ? n : BTO_SUGGEST_OPTIONS - 1;
            memmove(&s.opts[r][at + 1], &s.opts[r][at], (last - at) * sizeof s.opts[r][0]);
            s.opts[r][at] = o;
            if (n < BTO_SUGGEST_OPTIONS) s.n_opts[r]++;
        }
        if (s.n_opts[r] == 0) return 0; /* nothing covers this requirement */
    }
    dfs(&s, 0, 0);
    if (nodes) *nodes = s.nodes;
    return s.n_out;
}
