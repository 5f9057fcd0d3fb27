/* hub_rules.h - the pure rules of the CRM hub (issue #18): lead scoring by a rule set (source, completeness, company
 * data, engagement) with its explanation and route, and the statistics of the velocity report (nearest-rank median
 * and p90, stage durations of a deal from its events). No database, no call: pipeline.c, timeline.c and reports.c
 * gather the inputs; tests/unit/ltb/test_hub_rules.c tests these. */
#ifndef LTB_HUB_RULES_H
#define LTB_HUB_RULES_H

#include <stddef.h>
#include <stdint.h>

/* --- lead scoring -------------------------------------------------------------------------------------------- */

/* What a rule looks at (the numbers of ltc.ltb.v1.LeadScoreFactor). */
enum {
    LTB_FACTOR_SOURCE = 1,
    LTB_FACTOR_COMPLETENESS = 2,
    LTB_FACTOR_COMPANY_DATA = 3,
    LTB_FACTOR_ENGAGEMENT = 4
};

/* One rule: points when (factor, key) matches the lead; for ENGAGEMENT, points per event up to max_points (0: no
 * cap; a negative rule's cap bounds its absolute value). */
typedef struct ltb_score_rule {
    int factor;
    const char *key;
    int points;
    int max_points;
} ltb_score_rule;

/* The facts of a lead the rules read. Keys are the short names the rules use: source "REFERRAL"; completeness
 * "CONTACT_NAME", "CONTACT_EMAIL", "CONTACT_PHONE"; company data "CUSTOMER_KNOWN", "TAX_ID"; engagement kinds with
 * their counts. */
typedef struct ltb_lead_facts {
    const char *source;
    int has_contact_name, has_contact_email, has_contact_phone;
    int customer_known, has_tax_id;
    const char *const *engagement_kinds;
    const int64_t *engagement_counts;
    size_t n_engagement;
} ltb_lead_facts;

/* One matched rule: its index in the rule set, the points it gave (after the cap) and, for ENGAGEMENT, the number of
 * events (else 1). */
typedef struct ltb_score_item {
    size_t rule;
    int points;
    int64_t count;
    int capped;
} ltb_score_item;

/* Scores facts `f` by rules[0..n): items[] receives every matched rule in rule order (room for n); *n_items their
 * count. Returns the score: the sum of the items clamped to 0..100. */
int ltb_lead_score(const ltb_score_rule *rules, size_t n, const ltb_lead_facts *f, ltb_score_item *items,
                   size_t *n_items);

/* A route: leads scoring at least min_score go to queue. */
typedef struct ltb_route {
    int min_score;
    const char *queue;
} ltb_route;

/* The queue of `score`: the route with the highest min_score not above it; NULL when none applies. */
const char *ltb_lead_route(const ltb_route *routes, size_t n, int score);

/* --- statistics ---------------------------------------------------------------------------------------------- */

/* Nearest-rank percentile `pct` (1..100) of v[0..n) (sorted in place, ascending): the ceil(pct/100 * n)-th smallest.
 * 0 when n is 0. */
int64_t ltb_percentile(int64_t *v, size_t n, int pct);

/* The four stages of the flow, in order (the numbers of ltc.type.v1.MilestoneStage). */
enum {
    LTB_FLOW_LTB = 1,
    LTB_FLOW_BTO = 2,
    LTB_FLOW_OTD = 3,
    LTB_FLOW_DTC = 4
};

/* When a deal entered each stage of the flow (microseconds since the epoch, 0: not reached) and when it ended
 * (cash collected, 0: not yet). */
typedef struct ltb_flow_times {
    int64_t lead_created;   /* LTB starts */
    int64_t won;            /* BTO starts (the bid won) */
    int64_t order_placed;   /* OTD starts (first ORDER_PLACED) */
    int64_t first_accepted; /* DTC starts (first ACCEPTED) */
    int64_t cash_collected; /* the end */
} ltb_flow_times;

/* One stage's span: start and end in microseconds (end 0 while open), duration in seconds up to `now` while open. */
typedef struct ltb_stage_span {
    int stage;
    int64_t start, end;
    int64_t seconds;
    int open;
} ltb_stage_span;

/* The spans of the stages a deal reached, in flow order, into out[0..4): a stage ends when the next reached one
 * starts (a start earlier than the previous stage's start counts as that start, so spans never go negative), the
 * last reached stage ends at cash_collected, else is open up to now. Returns how many. */
size_t ltb_flow_spans(const ltb_flow_times *t, int64_t now, ltb_stage_span out[4]);

/* Whole days from date a to date b (days since the epoch each): b - a. Lateness of an acceptance day against a
 * promised or requested day: max(0, accepted - due). */
int64_t ltb_days_late(int64_t due_day, int64_t done_day);

/* Revenue-weighted DSO: payments' (amount x seconds from their invoice) summed into a weighted sum and their amounts
 * into a weight, across deals; the DSO is sum / weight, rounded down (0 without weight; capped at INT64_MAX). */
__extension__ typedef __int128 ltb_i128;
typedef struct ltb_weighted {
    ltb_i128 sum; /* sum of amount x seconds */
    int64_t weight;
} ltb_weighted;

/* Adds one deal's figures: `weight` its paid amount and `sum_text` its sum of amount x seconds, as the decimal
 * integer text PostgreSQL gives for a numeric ("" or NULL: nothing). -1 (nothing added) on text that is not a
 * non-negative integer, a negative weight, or an overflow. */
int ltb_weighted_add(ltb_weighted *w, int64_t weight, const char *sum_text);
/* The weighted mean in seconds. */
int64_t ltb_weighted_seconds(const ltb_weighted *w);

#endif
