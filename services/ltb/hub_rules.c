/* hub_rules.c - the CRM hub's pure rules: lead scoring, routes, percentiles, stage spans (hub_rules.h). */
#include "hub_rules.h"

#include <stdlib.h>
#include <string.h>

/* The fact a non-ENGAGEMENT rule's key names: 1 matched, 0 not. */
static int fact_matches(const ltb_score_rule *r, const ltb_lead_facts *f) {
    switch (r->factor) {
        case LTB_FACTOR_SOURCE: return f->source && strcmp(f->source, r->key) == 0;
        case LTB_FACTOR_COMPLETENESS:
            if (strcmp(r->key, "CONTACT_NAME") == 0) return f->has_contact_name;
            if (strcmp(r->key, "CONTACT_EMAIL") == 0) return f->has_contact_email;
            if (strcmp(r->key, "CONTACT_PHONE") == 0) return f->has_contact_phone;
            return 0;
        case LTB_FACTOR_COMPANY_DATA:
            if (strcmp(r->key, "CUSTOMER_KNOWN") == 0) return f->customer_known;
            if (strcmp(r->key, "TAX_ID") == 0) return f->has_tax_id;
            return 0;
        default: return 0;
    }
}

int ltb_lead_score(const ltb_score_rule *rules, size_t n, const ltb_lead_facts *f, ltb_score_item *items,
                   size_t *n_items) {
    int64_t sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const ltb_score_rule *r = &rules[i];
        if (!r->key) continue;
        int64_t count = 0, points = 0;
        int capped = 0;
        if (r->factor == LTB_FACTOR_ENGAGEMENT) {
            for (size_t j = 0; j < f->n_engagement; j++)
                if (f->engagement_kinds[j] && strcmp(f->engagement_kinds[j], r->key) == 0)
                    count += f->engagement_counts[j];
            if (count <= 0) continue;
            points = count * r->points;
            if (r->max_points > 0 && points > r->max_points) points = r->max_points, capped = 1;
            if (r->max_points > 0 && points < -r->max_points) points = -r->max_points, capped = 1;
        } else {
            if (!fact_matches(r, f)) continue;
            count = 1;
            points = r->points;
        }
        items[k].rule = i;
        items[k].points = (int)points;
        items[k].count = count;
        items[k].capped = capped;
        k++;
        sum += points;
    }
    *n_items = k;
    return sum < 0 ? 0 : sum > 100 ? 100 : (int)sum;
}

const char *ltb_lead_route(const ltb_route *routes, size_t n, int score) {
    const ltb_route *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (routes[i].min_score <= score && (!best || routes[i].min_score > best->min_score)) best = &routes[i];
    return best ? best->queue : NULL;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t ltb_percentile(int64_t *v, size_t n, int pct) {
    if (n == 0) return 0;
    if (pct < 1) pct = 1;
    if (pct > 100) pct = 100;
    qsort(v, n, sizeof *v, cmp_i64);
    size_t rank = ((size_t)pct * n + 99) / 100; /* ceil(pct * n / 100), 1-based */
    if (rank < 1) rank = 1;
    return v[rank - 1];
}

size_t ltb_flow_spans(const ltb_flow_times *t, int64_t now, ltb_stage_span out[4]) {
    const int64_t starts[4] = {t->lead_created, t->won, t->order_placed, t->first_accepted};
    int idx[4];
    size_t n = 0;
    for (int s = 0; s < 4; s++)
        if (starts[s] > 0) idx[n++] = s;
    int64_t prev = 0;
    for (size_t k = 0; k < n; k++) {
        int64_t start = starts[idx[k]];
        if (start < prev) start = prev; /* a clock skew between stages never gives a negative span */
        out[k].stage = idx[k] + 1;
        out[k].start = start;
        prev = start;
    }
    for (size_t k = 0; k < n; k++) {
        int64_t end = 0;
        if (k + 1 < n)
            end = out[k + 1].start;
        else if (t->cash_collected > 0)
            end = t->cash_collected < out[k].start ? out[k].start : t->cash_collected;
        out[k].end = end;
        out[k].open = end == 0;
        int64_t stop = end ? end : now;
        out[k].seconds = stop > out[k].start ? (stop - out[k].start) / 1000000 : 0;
    }
    return n;
}

int64_t ltb_days_late(int64_t due_day, int64_t done_day) { return done_day > due_day ? done_day - due_day : 0; }

int ltb_weighted_add(ltb_weighted *w, int64_t weight, const char *sum_text) {
    if (weight < 0) return -1;
    if (!sum_text || !sum_text[0]) return weight == 0 ? 0 : -1;
    ltb_i128 v = 0;
    const ltb_i128 cap = (ltb_i128)1 << 120; /* far above any sum of int64 amounts times seconds in int64 */
    for (const char *p = sum_text; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
        if (v > cap) return -1;
    }
    if (w->weight > INT64_MAX - weight || w->sum > cap - v) return -1;
    w->sum += v;
    w->weight += weight;
    return 0;
}

int64_t ltb_weighted_seconds(const ltb_weighted *w) {
    if (w->weight <= 0) return 0;
    ltb_i128 q = w->sum / w->weight;
    return q > INT64_MAX ? INT64_MAX : (int64_t)q;
}
