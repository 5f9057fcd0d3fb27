/* pipeline.c - the opportunity's whole life beyond its bids (issue #18), and the pipeline policy that drives it:
 * - win probability: each stage has a default (PipelinePolicy.stage_probabilities); SetWinProbability records a
 *   manual override with a reason, kept apart (it applies only while the opportunity stays in the stage it was set
 *   in; closed stages always show their default);
 * - bid/no-bid (DecideBid): NO_BID closes a QUALIFIED opportunity as NOT_PURSUED;
 * - LoseOpportunity at any open stage, refused while a bid is SUBMITTED (BID_UNDECIDED: WithdrawBid in bids.c, or
 *   MarkBidWon/MarkBidLost, first); ReopenOpportunity of a LOST or NOT_PURSUED one, back to QUALIFIED;
 * - ListStaleOpportunities: open ones with no activity for the policy's period before a business date;
 * - lead scoring: RecordLeadEngagement, GetLeadScore by the policy's rules and routes (the pure rules in
 *   hub_rules.c).
 * Stages: QUALIFIED -> BIDDING -> WON | LOST; QUALIFIED -> NOT_PURSUED | LOST; BIDDING -> QUALIFIED (a bid
 * withdrawn); LOST | NOT_PURSUED -> QUALIFIED (reopened). Every stage entered is a stage_changes row with the actor
 * and the reason. Lock order: the opportunity first (then its bids, the policy never with them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "hub_rules.h"
#include "ltb.h"
#include "ltc/audit.h"
#include "ltc/fieldmask.h"
#include "ltc/proto.h"

/* --- SQL ----------------------------------------------------------------------------------------------------- */

static const char SQL_POLICY_GET[] =
    "SELECT stale_after_days, update_by, " LTC_SQL_MICROS("update_time") ", version FROM pipeline_policy";
static const char SQL_POLICY_LOCK[] =
    "SELECT stale_after_days, update_by, " LTC_SQL_MICROS("update_time") ", version FROM pipeline_policy FOR UPDATE";
static const char SQL_STAGE_BPS[] = "SELECT stage, bps FROM stage_probabilities"
                                    " ORDER BY array_position(ARRAY['QUALIFIED', 'BIDDING', 'WON', 'LOST',"
                                    " 'CASH_COLLECTED', 'NOT_PURSUED'], stage)";
static const char SQL_RULES[] = "SELECT factor, key, points, max_points FROM lead_score_rules ORDER BY position";
static const char SQL_ROUTES[] = "SELECT min_score, queue FROM lead_routes ORDER BY min_score";
static const char SQL_POLICY_SET[] =
    "UPDATE pipeline_policy SET stale_after_days = CASE WHEN $1::boolean THEN $2::integer ELSE stale_after_days END,"
    " update_by = $3, version = version + 1, update_time = now()";
static const char SQL_STAGE_BPS_SET[] =
    "UPDATE stage_probabilities s SET bps = v.bps FROM unnest($1::text[], $2::integer[]) AS v(stage, bps)"
    " WHERE s.stage = v.stage";
static const char SQL_RULES_CLEAR[] = "DELETE FROM lead_score_rules";
static const char SQL_RULES_SET[] =
    "INSERT INTO lead_score_rules (position, factor, key, points, max_points)"
    " SELECT ord - 1, f, k, p, m FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[])"
    " WITH ORDINALITY AS v(f, k, p, m, ord)";
static const char SQL_ROUTES_CLEAR[] = "DELETE FROM lead_routes";
static const char SQL_ROUTES_SET[] =
    "INSERT INTO lead_routes (min_score, queue) SELECT s, q FROM unnest($1::integer[], $2::text[]) AS v(s, q)";

static const char SQL_LEAD_LOCK[] = "SELECT id FROM leads WHERE id = $1 FOR UPDATE";
static const char SQL_LEAD_FACTS[] =
    "SELECT l.source, l.contact_name <> '', l.contact_email <> '', l.contact_phone <> '', l.customer_id IS NOT NULL,"
    " COALESCE(c.tax_id, '') <> '' FROM leads l LEFT JOIN customers c ON c.id = l.customer_id WHERE l.id = $1";
static const char SQL_LEAD_ENGAGEMENTS[] =
    "SELECT kind, count(*) FROM lead_engagements WHERE lead_id = $1 GROUP BY kind ORDER BY kind";
static const char SQL_ENGAGEMENT_INSERT[] =
    "INSERT INTO lead_engagements (id, lead_id, kind, occur_time, note, recorded_by)"
    " VALUES ($1, $2, $3, " LTC_SQL_TS_PARAM("$4") ", $5, $6)";

static const char SQL_OPP_OVERRIDE[] =
    "UPDATE opportunities SET probability_override_bps = $2::integer,"
    " probability_override_reason = $3, probability_override_by = $4,"
    " probability_override_time = CASE WHEN $2::integer IS NULL THEN NULL ELSE now() END,"
    " probability_override_stage = CASE WHEN $2::integer IS NULL THEN NULL ELSE stage END,"
    " version = version + 1, update_time = now() WHERE id = $1";
static const char SQL_OVERRIDE_LOG[] =
    "INSERT INTO probability_overrides (id, opportunity_id, stage, bps, reason, set_by)"
    " SELECT $1, id, stage, $3::integer, $4, $5 FROM opportunities WHERE id = $2";
static const char SQL_DECISION_INSERT[] =
    "INSERT INTO bid_decisions (id, opportunity_id, outcome, reasons, decided_by) VALUES ($1, $2, $3, $4::text[], $5)";
static const char SQL_OPP_TOUCH[] = "UPDATE opportunities SET version = version + 1, update_time = now() WHERE id = $1";
/* $2 the new stage, $3 lost_reason, $4 lost_competitor ('' for QUALIFIED). */
static const char SQL_OPP_CLOSE[] =
    "UPDATE opportunities SET stage = $2, lost_reason = $3, lost_competitor = $4, version = version + 1,"
    " update_time = now() WHERE id = $1";
static const char SQL_BID_OUT[] = "SELECT id::text FROM bids WHERE opportunity_id = $1 AND state = 'SUBMITTED'";
static const char SQL_OPP_CUSTOMER[] = "SELECT customer_id::text FROM opportunities WHERE id = $1";
static const char SQL_ADMISSION_SUPERSEDE[] = "UPDATE admission_decisions SET superseded_time = now()"
                                              " WHERE opportunity_id = $1 AND superseded_time IS NULL";
/* Open opportunities with no activity since the start of day $1 - $4 + 1 (UTC): their latest change, or their bids'. */
static const char SQL_STALE[] =
    "SELECT " LTB_OPP_COLS " FROM opportunities o WHERE o.stage IN ('QUALIFIED', 'BIDDING')"
    " AND o.update_time < (($1::date - $4::integer + 1)::timestamp AT TIME ZONE 'UTC')"
    " AND NOT EXISTS (SELECT 1 FROM bids b WHERE b.opportunity_id = o.id"
    "                 AND b.update_time >= (($1::date - $4::integer + 1)::timestamp AT TIME ZONE 'UTC'))"
    " AND ($2::bigint = 0 OR o.seq > $2)"
    " AND ($5::text IS NULL OR $5 IN (o.account_owner, o.solution_owner, o.fulfilment_owner))"
    " ORDER BY o.seq LIMIT $3";

/* --- the policy ---------------------------------------------------------------------------------------------- */

#define POLICY_NAME "pipelinePolicy"

static const char *const STAGES[] = {"QUALIFIED", "BIDDING", "WON", "LOST", "CASH_COLLECTED", "NOT_PURSUED"};
#define N_STAGES (sizeof STAGES / sizeof STAGES[0])

static const char *factor_text(int f) {
    return ltc_enum_to_db(&ltc__ltb__v1__lead_score_factor__descriptor, "LEAD_SCORE_FACTOR_", f);
}
static int factor_parse(const char *s) {
    return ltc_enum_from_db(&ltc__ltb__v1__lead_score_factor__descriptor, "LEAD_SCORE_FACTOR_", s);
}

/* The whole policy (with the version read, for the etag) from SQL_POLICY_GET or SQL_POLICY_LOCK. */
static int policy_load(ltc_call *c, ltc_status *st, const char *sql, Ltc__Ltb__V1__PipelinePolicy **out,
                       int64_t *version) {
    PGresult *r = ltc_call_query(c, st, sql, 0, NULL);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_INTERNAL, "PIPELINE_POLICY_MISSING", "the pipeline policy row is missing");
    Ltc__Ltb__V1__PipelinePolicy *p = LTC_NEW(c, Ltc__Ltb__V1__PipelinePolicy, LTC__LTB__V1__PIPELINE_POLICY__INIT);
    p->name = POLICY_NAME;
    p->stale_after_days = (int32_t)ltc_pg_i64(r, 0, 0);
    p->update_by = ltc_call_strdup(c, ltc_pg_str(r, 0, 1));
    p->update_time = ltc_ts_from_pg(c, r, 0, 2);
    if (version) *version = ltc_pg_i64(r, 0, 3);
    p->etag = ltb_etag(c, ltc_pg_i64(r, 0, 3));

    PGresult *rs = ltc_call_query(c, st, SQL_STAGE_BPS, 0, NULL);
    if (!rs) return -1;
    int n = PQntuples(rs);
    p->stage_probabilities = ltc_call_alloc(c, sizeof *p->stage_probabilities * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        Ltc__Ltb__V1__StageProbability *x =
            LTC_NEW(c, Ltc__Ltb__V1__StageProbability, LTC__LTB__V1__STAGE_PROBABILITY__INIT);
        x->stage = ltb_stage_parse(ltc_pg_str(rs, i, 0));
        x->win_probability_bps = (int32_t)ltc_pg_i64(rs, i, 1);
        p->stage_probabilities[p->n_stage_probabilities++] = x;
    }
    PGresult *rr = ltc_call_query(c, st, SQL_RULES, 0, NULL);
    if (!rr) return -1;
    n = PQntuples(rr);
    p->lead_score_rules = ltc_call_alloc(c, sizeof *p->lead_score_rules * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        Ltc__Ltb__V1__LeadScoreRule *x = LTC_NEW(c, Ltc__Ltb__V1__LeadScoreRule, LTC__LTB__V1__LEAD_SCORE_RULE__INIT);
        x->factor = (Ltc__Ltb__V1__LeadScoreFactor)factor_parse(ltc_pg_str(rr, i, 0));
        x->key = ltc_call_strdup(c, ltc_pg_str(rr, i, 1));
        x->points = (int32_t)ltc_pg_i64(rr, i, 2);
        x->max_points = (int32_t)ltc_pg_i64(rr, i, 3);
        p->lead_score_rules[p->n_lead_score_rules++] = x;
    }
    PGresult *ro = ltc_call_query(c, st, SQL_ROUTES, 0, NULL);
    if (!ro) return -1;
    n = PQntuples(ro);
    p->lead_routes = ltc_call_alloc(c, sizeof *p->lead_routes * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        Ltc__Ltb__V1__LeadRoute *x = LTC_NEW(c, Ltc__Ltb__V1__LeadRoute, LTC__LTB__V1__LEAD_ROUTE__INIT);
        x->min_score = (int32_t)ltc_pg_i64(ro, i, 0);
        x->queue = ltc_call_strdup(c, ltc_pg_str(ro, i, 1));
        p->lead_routes[p->n_lead_routes++] = x;
    }
    *out = p;
    return 0;
}

/* GetPipelinePolicy: the policy. INVALID_ARGUMENT (name, when set and not "pipelinePolicy"). */
int ltb_get_pipeline_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__GetPipelinePolicyRequest *req = (const void *)m;
    if (req->name && req->name[0] && strcmp(req->name, POLICY_NAME) != 0)
        return ltc_status_bad_field(st, "name", "must be \"pipelinePolicy\"");
    Ltc__Ltb__V1__GetPipelinePolicyResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__GetPipelinePolicyResponse, LTC__LTB__V1__GET_PIPELINE_POLICY_RESPONSE__INIT);
    if (policy_load(c, st, SQL_POLICY_GET, &resp->pipeline_policy, NULL) != 0) return -1;
    *out = &resp->base;
    return 0;
}

enum {
    PU_STAGES,
    PU_STALE,
    PU_RULES,
    PU_ROUTES,
    PU_N
};
static const char *const POLICY_UPDATABLE[PU_N] = {"stage_probabilities", "stale_after_days", "lead_score_rules",
                                                   "lead_routes"};

/* A rule key: 1 to 64 of [A-Z_]. */
static int key_ok(const char *k) {
    size_t n = k ? strlen(k) : 0;
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'A' && k[i] <= 'Z') || k[i] == '_')) return 0;
    return 1;
}

static void check_policy(ltc_call *c, const Ltc__Ltb__V1__PipelinePolicy *p, unsigned bits, ltc_status *st) {
    if (bits & (1u << PU_STAGES)) {
        int seen[N_STAGES] = {0};
        for (size_t i = 0; i < p->n_stage_probabilities; i++) {
            const Ltc__Ltb__V1__StageProbability *x = p->stage_probabilities[i];
            const char *f = ltc_call_printf(c, "pipeline_policy.stage_probabilities[%zu]", i);
            const char *s =
                ltc_enum_to_db(&ltc__ltb__v1__opportunity_stage__descriptor, "OPPORTUNITY_STAGE_", (int)x->stage);
            size_t k = 0;
            while (s && k < N_STAGES && strcmp(STAGES[k], s) != 0) k++;
            if (!s || k == N_STAGES)
                ltc_status_bad_field(st, ltc_call_printf(c, "%s.stage", f), "must be a stage");
            else if (seen[k]++)
                ltc_status_bad_field(st, ltc_call_printf(c, "%s.stage", f), "names %s twice", s);
            if (x->win_probability_bps < 0 || x->win_probability_bps > 10000)
                ltc_status_bad_field(st, ltc_call_printf(c, "%s.win_probability_bps", f), "must be 0 to 10000");
        }
        for (size_t k = 0; k < N_STAGES; k++)
            if (!seen[k]) {
                ltc_status_bad_field(st, "pipeline_policy.stage_probabilities", "must give every stage: %s missing",
                                     STAGES[k]);
                break;
            }
    }
    if ((bits & (1u << PU_STALE)) && (p->stale_after_days < 1 || p->stale_after_days > 3650))
        ltc_status_bad_field(st, "pipeline_policy.stale_after_days", "must be 1 to 3650, got %d",
                             (int)p->stale_after_days);
    if (bits & (1u << PU_RULES)) {
        if (p->n_lead_score_rules > 100) ltc_status_bad_field(st, "pipeline_policy.lead_score_rules", "at most 100");
        for (size_t i = 0; i < p->n_lead_score_rules && i < 100; i++) {
            const Ltc__Ltb__V1__LeadScoreRule *x = p->lead_score_rules[i];
            const char *f = ltc_call_printf(c, "pipeline_policy.lead_score_rules[%zu]", i);
            const char *ft = factor_text((int)x->factor);
            if (!ft || x->factor == 0) ltc_status_bad_field(st, ltc_call_printf(c, "%s.factor", f), "required");
            if (!key_ok(x->key)) ltc_status_bad_field(st, ltc_call_printf(c, "%s.key", f), "1 to 64 of [A-Z_]");
            if (x->points < -100 || x->points > 100)
                ltc_status_bad_field(st, ltc_call_printf(c, "%s.points", f), "must be -100 to 100");
            if (x->max_points < 0 || x->max_points > 100)
                ltc_status_bad_field(st, ltc_call_printf(c, "%s.max_points", f), "must be 0 to 100");
            for (size_t j = 0; j < i; j++)
                if (p->lead_score_rules[j]->factor == x->factor && x->key && p->lead_score_rules[j]->key &&
                    strcmp(p->lead_score_rules[j]->key, x->key) == 0) {
                    ltc_status_bad_field(st, ltc_call_printf(c, "%s.key", f), "the same factor and key twice");
                    break;
                }
        }
    }
    if (bits & (1u << PU_ROUTES)) {
        int zero = 0;
        if (p->n_lead_routes > 10) ltc_status_bad_field(st, "pipeline_policy.lead_routes", "at most 10");
        for (size_t i = 0; i < p->n_lead_routes && i < 10; i++) {
            const Ltc__Ltb__V1__LeadRoute *x = p->lead_routes[i];
            const char *f = ltc_call_printf(c, "pipeline_policy.lead_routes[%zu]", i);
            if (x->min_score < 0 || x->min_score > 100)
                ltc_status_bad_field(st, ltc_call_printf(c, "%s.min_score", f), "must be 0 to 100");
            zero |= x->min_score == 0;
            const char *fq = ltc_call_printf(c, "%s.queue", f);
            if (ltc_check_text(x->queue, fq, 1, 64, st) == 0 && !ltb_text_plain(x->queue))
                ltc_status_bad_field(st, fq, "must not contain control characters");
            for (size_t j = 0; j < i; j++)
                if (p->lead_routes[j]->min_score == x->min_score) {
                    ltc_status_bad_field(st, ltc_call_printf(c, "%s.min_score", f), "twice");
                    break;
                }
        }
        if (!zero) ltc_status_bad_field(st, "pipeline_policy.lead_routes", "one route must have min_score 0");
    }
}

/* UpdatePipelinePolicy: writes the masked parts (each list replaced whole). INVALID_ARGUMENT (pipeline_policy,
 * pipeline_policy.name, update_mask, each bad entry); ABORTED (ETAG_MISMATCH). */
int ltb_update_pipeline_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__UpdatePipelinePolicyRequest *req = (const void *)m;
    const Ltc__Ltb__V1__PipelinePolicy *p = req->pipeline_policy;
    if (!p) return ltc_status_bad_field(st, "pipeline_policy", "required");
    if (p->name && p->name[0] && strcmp(p->name, POLICY_NAME) != 0)
        ltc_status_bad_field(st, "pipeline_policy.name", "must be \"pipelinePolicy\"");
    unsigned bits =
        ltc_update_mask_bits(req->update_mask, &ltc__ltb__v1__pipeline_policy__descriptor, POLICY_UPDATABLE, PU_N, st);
    check_policy(c, p, bits, st);
    if (st->code != LTC_OK) return -1;

    Ltc__Ltb__V1__PipelinePolicy *old;
    int64_t version;
    if (policy_load(c, st, SQL_POLICY_LOCK, &old, &version) != 0) return -1;
    if (p->etag && p->etag[0] && strcmp(p->etag, old->etag) != 0)
        return ltc_status_set(st, LTC_ABORTED, "ETAG_MISMATCH", "the pipeline policy changed since etag %.40s (now %s)",
                              p->etag, old->etag);
    const char *by = ltb_actor(c)[0] ? ltb_actor(c) : "unknown";
    if (bits & (1u << PU_STALE))
        ltc_audit_change(c, POLICY_NAME, "stale_after_days", ltc_sql_i64(c, old->stale_after_days),
                         ltc_sql_i64(c, p->stale_after_days));
    for (int k = 0; k < PU_N; k++)
        if (k != PU_STALE && (bits & (1u << k)))
            ltc_audit_change(c, POLICY_NAME, POLICY_UPDATABLE[k], "(before)", "(replaced)");
    const char *pp[] = {ltc_mask_flag(bits, PU_STALE), ltc_sql_i64(c, p->stale_after_days), by};
    if (!ltc_call_query(c, st, SQL_POLICY_SET, 3, pp)) return -1;
    if (bits & (1u << PU_STAGES)) {
        size_t n = p->n_stage_probabilities;
        const char **stages = ltc_call_alloc(c, sizeof *stages * (n + 1));
        int64_t *bps = ltc_call_alloc(c, sizeof *bps * (n + 1));
        for (size_t i = 0; i < n; i++) {
            stages[i] = ltb_stage_text(p->stage_probabilities[i]->stage);
            bps[i] = p->stage_probabilities[i]->win_probability_bps;
        }
        const char *ps[] = {ltc_sql_text_array(c, stages, n), ltc_sql_i64_array(c, bps, n)};
        if (!ltc_call_query(c, st, SQL_STAGE_BPS_SET, 2, ps)) return -1;
    }
    if (bits & (1u << PU_RULES)) {
        size_t n = p->n_lead_score_rules;
        const char **f = ltc_call_alloc(c, sizeof *f * (n + 1)), **k = ltc_call_alloc(c, sizeof *k * (n + 1));
        int64_t *pts = ltc_call_alloc(c, sizeof *pts * (n + 1)), *mx = ltc_call_alloc(c, sizeof *mx * (n + 1));
        for (size_t i = 0; i < n; i++) {
            f[i] = factor_text((int)p->lead_score_rules[i]->factor);
            k[i] = p->lead_score_rules[i]->key;
            pts[i] = p->lead_score_rules[i]->points;
            mx[i] = p->lead_score_rules[i]->max_points;
        }
        const char *pr[] = {ltc_sql_text_array(c, f, n), ltc_sql_text_array(c, k, n), ltc_sql_i64_array(c, pts, n),
                            ltc_sql_i64_array(c, mx, n)};
        if (!ltc_call_query(c, st, SQL_RULES_CLEAR, 0, NULL) || !ltc_call_query(c, st, SQL_RULES_SET, 4, pr)) return -1;
    }
    if (bits & (1u << PU_ROUTES)) {
        size_t n = p->n_lead_routes;
        const char **q = ltc_call_alloc(c, sizeof *q * (n + 1));
        int64_t *ms = ltc_call_alloc(c, sizeof *ms * (n + 1));
        for (size_t i = 0; i < n; i++) {
            q[i] = p->lead_routes[i]->queue;
            ms[i] = p->lead_routes[i]->min_score;
        }
        const char *pr[] = {ltc_sql_i64_array(c, ms, n), ltc_sql_text_array(c, q, n)};
        if (!ltc_call_query(c, st, SQL_ROUTES_CLEAR, 0, NULL) || !ltc_call_query(c, st, SQL_ROUTES_SET, 2, pr))
            return -1;
    }
    Ltc__Ltb__V1__UpdatePipelinePolicyResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__UpdatePipelinePolicyResponse, LTC__LTB__V1__UPDATE_PIPELINE_POLICY_RESPONSE__INIT);
    if (policy_load(c, st, SQL_POLICY_GET, &resp->pipeline_policy, NULL) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- lead scoring -------------------------------------------------------------------------------------------- */

/* The score of lead `id` (known to exist) under the current policy. */
static int lead_score(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__LeadScore **out) {
    const char *p[] = {id};
    PGresult *rf = ltc_call_query(c, st, SQL_LEAD_FACTS, 1, p);
    if (!rf) return -1;
    if (PQntuples(rf) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "LEAD_NOT_FOUND", "lead %s does not exist", id);
    PGresult *re = ltc_call_query(c, st, SQL_LEAD_ENGAGEMENTS, 1, p);
    if (!re) return -1;
    PGresult *rr = ltc_call_query(c, st, SQL_RULES, 0, NULL);
    if (!rr) return -1;
    PGresult *ro = ltc_call_query(c, st, SQL_ROUTES, 0, NULL);
    if (!ro) return -1;

    size_t ne = (size_t)PQntuples(re), nr = (size_t)PQntuples(rr), no = (size_t)PQntuples(ro);
    const char **kinds = ltc_call_alloc(c, sizeof *kinds * (ne + 1));
    int64_t *counts = ltc_call_alloc(c, sizeof *counts * (ne + 1)), total = 0;
    for (size_t i = 0; i < ne; i++) {
        kinds[i] = ltc_pg_str(re, (int)i, 0);
        counts[i] = ltc_pg_i64(re, (int)i, 1);
        total += counts[i];
    }
    ltb_lead_facts f = {.source = ltc_pg_str(rf, 0, 0),
                        .has_contact_name = ltc_pg_str(rf, 0, 1)[0] == 't',
                        .has_contact_email = ltc_pg_str(rf, 0, 2)[0] == 't',
                        .has_contact_phone = ltc_pg_str(rf, 0, 3)[0] == 't',
                        .customer_known = ltc_pg_str(rf, 0, 4)[0] == 't',
                        .has_tax_id = ltc_pg_str(rf, 0, 5)[0] == 't',
                        .engagement_kinds = kinds,
                        .engagement_counts = counts,
                        .n_engagement = ne};
    ltb_score_rule *rules = ltc_call_alloc(c, sizeof *rules * (nr + 1));
    for (size_t i = 0; i < nr; i++) {
        rules[i].factor = factor_parse(ltc_pg_str(rr, (int)i, 0));
        rules[i].key = ltc_pg_str(rr, (int)i, 1);
        rules[i].points = (int)ltc_pg_i64(rr, (int)i, 2);
        rules[i].max_points = (int)ltc_pg_i64(rr, (int)i, 3);
    }
    ltb_route *routes = ltc_call_alloc(c, sizeof *routes * (no + 1));
    for (size_t i = 0; i < no; i++) {
        routes[i].min_score = (int)ltc_pg_i64(ro, (int)i, 0);
        routes[i].queue = ltc_pg_str(ro, (int)i, 1);
    }
    ltb_score_item *items = ltc_call_alloc(c, sizeof *items * (nr + 1));
    size_t ni = 0;
    int score = ltb_lead_score(rules, nr, &f, items, &ni);

    Ltc__Ltb__V1__LeadScore *s = LTC_NEW(c, Ltc__Ltb__V1__LeadScore, LTC__LTB__V1__LEAD_SCORE__INIT);
    s->lead = ltc_call_printf(c, "leads/%s", id);
    s->score = score;
    s->engagement_count = (int32_t)total;
    const char *q = ltb_lead_route(routes, no, score);
    s->queue = ltc_call_strdup(c, q ? q : "");
    s->items = ltc_call_alloc(c, sizeof *s->items * (ni + 1));
    for (size_t i = 0; i < ni; i++) {
        const ltb_score_rule *r = &rules[items[i].rule];
        Ltc__Ltb__V1__LeadScoreItem *x = LTC_NEW(c, Ltc__Ltb__V1__LeadScoreItem, LTC__LTB__V1__LEAD_SCORE_ITEM__INIT);
        x->factor = (Ltc__Ltb__V1__LeadScoreFactor)r->factor;
        x->key = ltc_call_strdup(c, r->key);
        x->points = items[i].points;
        if (r->factor == LTB_FACTOR_ENGAGEMENT)
            x->detail = ltc_call_printf(c, "%lld x %s at %d%s", (long long)items[i].count, r->key, r->points,
                                        items[i].capped ? ltc_call_printf(c, ", capped at %d", r->max_points) : "");
        else
            x->detail = ltc_call_printf(c, "%s %s: %d", factor_text(r->factor), r->key, r->points);
        s->items[s->n_items++] = x;
    }
    *out = s;
    return 0;
}

/* GetLeadScore: the lead's score, explanation and queue. INVALID_ARGUMENT (lead); NOT_FOUND (LEAD_NOT_FOUND). */
int ltb_get_lead_score(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__GetLeadScoreRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->lead, "leads", "lead", id, st) != 0) return -1;
    Ltc__Ltb__V1__GetLeadScoreResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__GetLeadScoreResponse, LTC__LTB__V1__GET_LEAD_SCORE_RESPONSE__INIT);
    if (lead_score(c, st, id, &resp->score) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* RecordLeadEngagement: one engagement event on a lead (any state). INVALID_ARGUMENT (lead, engagement,
 * engagement.kind, engagement.occur_time: required, not more than 5 minutes ahead, engagement.note); NOT_FOUND
 * (LEAD_NOT_FOUND). */
int ltb_record_lead_engagement(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__RecordLeadEngagementRequest *req = (const void *)m;
    const Ltc__Ltb__V1__LeadEngagement *e = req->engagement;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->lead, "leads", "lead", id, st);
    if (!e) return ltc_status_bad_field(st, "engagement", "required");
    const char *kind =
        ltc_enum_to_db(&ltc__ltb__v1__lead_engagement_kind__descriptor, "LEAD_ENGAGEMENT_KIND_", (int)e->kind);
    if (!kind || e->kind == 0) ltc_status_bad_field(st, "engagement.kind", "must be a LeadEngagementKind");
    const Google__Protobuf__Timestamp *t = e->occur_time;
    if (!t)
        ltc_status_bad_field(st, "engagement.occur_time", "required");
    else if (t->seconds < 0 || t->nanos < 0 || t->nanos > 999999999 || t->seconds > (int64_t)time(NULL) + 300)
        ltc_status_bad_field(st, "engagement.occur_time", "must be a time not in the future");
    ltc_check_text(e->note, "engagement.note", 0, 500, st);
    if (st->code != LTC_OK) return -1;

    const char *pl[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_LEAD_LOCK, 1, pl);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "LEAD_NOT_FOUND", "lead %s does not exist", id);
    char eid[LTC_UUID_LEN + 1];
    ltc_uuid_new(eid);
    const char *by = ltb_actor(c)[0] ? ltb_actor(c) : "unknown";
    const char *pi[] = {eid, id, kind, ltc_sql_i64(c, t->seconds * 1000000 + t->nanos / 1000), e->note ? e->note : "",
                        by};
    if (!ltc_call_query(c, st, SQL_ENGAGEMENT_INSERT, 6, pi)) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "leads/%s/engagements/%s", id, eid), "kind", NULL, kind);

    Ltc__Ltb__V1__RecordLeadEngagementResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__RecordLeadEngagementResponse, LTC__LTB__V1__RECORD_LEAD_ENGAGEMENT_RESPONSE__INIT);
    Ltc__Ltb__V1__LeadEngagement *g = LTC_NEW(c, Ltc__Ltb__V1__LeadEngagement, LTC__LTB__V1__LEAD_ENGAGEMENT__INIT);
    g->name = ltc_call_printf(c, "leads/%s/engagements/%s", id, eid);
    g->kind = e->kind;
    g->occur_time = LTC_NEW(c, Google__Protobuf__Timestamp, GOOGLE__PROTOBUF__TIMESTAMP__INIT);
    g->occur_time->seconds = t->seconds;
    g->occur_time->nanos = t->nanos / 1000 * 1000;
    g->note = ltc_call_strdup(c, e->note ? e->note : "");
    g->recorded_by = ltc_call_strdup(c, by);
    resp->engagement = g;
    if (lead_score(c, st, id, &resp->score) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- the opportunity's life ---------------------------------------------------------------------------------- */

static int is_open(Ltc__Ltb__V1__OpportunityStage s) { return s == LTB_STAGE(QUALIFIED) || s == LTB_STAGE(BIDDING); }

/* The opportunity `id` as it is now, into *out. */
static int respond_opp(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__Opportunity **out) {
    return ltb_load_opportunity(c, st, id, out);
}

/* SetWinProbability: a manual probability with a reason on an open opportunity, or clears it. INVALID_ARGUMENT
 * (name, win_probability_bps, reason); NOT_FOUND (OPPORTUNITY_NOT_FOUND); FAILED_PRECONDITION (OPPORTUNITY_CLOSED). */
int ltb_set_win_probability(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__SetWinProbabilityRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "opportunities", "name", id, st);
    if (!req->clear_override) {
        if (req->win_probability_bps < 0 || req->win_probability_bps > 10000)
            ltc_status_bad_field(st, "win_probability_bps", "must be between 0 and 10000, got %d",
                                 (int)req->win_probability_bps);
        ltc_check_text(req->reason, "reason", 1, 500, st);
    } else {
        ltc_check_text(req->reason, "reason", 0, 500, st);
    }
    if (st->code != LTC_OK) return -1;

    ltb_opp_locked opp;
    if (ltb_opp_lock(c, st, id, &opp) != 0) return -1;
    if (!is_open(opp.stage))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OPPORTUNITY_CLOSED",
                              "opportunity %s is %s: its probability is the stage's", id, ltb_stage_text(opp.stage));
    Ltc__Ltb__V1__Opportunity *before;
    if (ltb_load_opportunity(c, st, id, &before) != 0) return -1;
    const char *by = ltb_actor(c)[0] ? ltb_actor(c) : "unknown";
    const char *bps = req->clear_override ? NULL : ltc_sql_i64(c, req->win_probability_bps);
    const char *pu[] = {id, bps, req->clear_override ? NULL : req->reason, req->clear_override ? NULL : by};
    if (!ltc_call_query(c, st, SQL_OPP_OVERRIDE, 4, pu)) return -1;
    char lid[LTC_UUID_LEN + 1];
    ltc_uuid_new(lid);
    const char *pl[] = {lid, id, bps, req->reason ? req->reason : "", by};
    if (!ltc_call_query(c, st, SQL_OVERRIDE_LOG, 5, pl)) return -1;

    Ltc__Ltb__V1__SetWinProbabilityResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__SetWinProbabilityResponse, LTC__LTB__V1__SET_WIN_PROBABILITY_RESPONSE__INIT);
    if (respond_opp(c, st, id, &resp->opportunity) != 0) return -1;
    const char *target = ltc_call_printf(c, "opportunities/%s", id);
    ltc_audit_change(c, target, "win_probability_bps", ltc_sql_i64(c, before->win_probability_bps),
                     ltc_sql_i64(c, resp->opportunity->win_probability_bps));
    ltc_audit_change(c, target, "probability_override.reason",
                     before->probability_override ? before->probability_override->reason : NULL,
                     req->clear_override ? NULL : req->reason);
    *out = &resp->base;
    return 0;
}

/* Closes the locked open opportunity `id` as `stage` (LOST, NOT_PURSUED) with reason and competitor: the stage, its
 * history row, and DTC told to drop an admission reservation. */
static int close_lost(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__OpportunityStage stage,
                      const char *reason, const char *competitor) {
    const char *pc[] = {id, ltb_stage_text(stage), reason, competitor ? competitor : ""};
    if (!ltc_call_query(c, st, SQL_OPP_CLOSE, 4, pc)) return -1;
    const char *target = ltc_call_printf(c, "opportunities/%s", id);
    ltc_audit_change(c, target, "lost_reason", NULL, reason);
    if (competitor && competitor[0]) ltc_audit_change(c, target, "lost_competitor", NULL, competitor);
    if (ltb_stage_record_why(c, st, id, stage, reason) != 0) return -1;
    return ltb_handoff_opportunity_lost(c, st, id);
}

/* DecideBid: a bid/no-bid decision on a QUALIFIED opportunity; NO_BID closes it NOT_PURSUED (lost_reason: the
 * reasons joined with "; "). INVALID_ARGUMENT (name, decision, decision.outcome, decision.reasons[i]); NOT_FOUND
 * (OPPORTUNITY_NOT_FOUND); FAILED_PRECONDITION (OPPORTUNITY_NOT_QUALIFIED). */
int ltb_decide_bid(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__DecideBidRequest *req = (const void *)m;
    const Ltc__Ltb__V1__BidDecision *d = req->decision;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "opportunities", "name", id, st);
    if (!d) return ltc_status_bad_field(st, "decision", "required");
    const char *outcome =
        ltc_enum_to_db(&ltc__ltb__v1__bid_decision_outcome__descriptor, "BID_DECISION_OUTCOME_", (int)d->outcome);
    if (!outcome || d->outcome == 0) ltc_status_bad_field(st, "decision.outcome", "must be BID or NO_BID");
    if (d->n_reasons < 1 || d->n_reasons > 10)
        ltc_status_bad_field(st, "decision.reasons", "1 to 10 reasons, got %zu", d->n_reasons);
    size_t joined_len = 0;
    for (size_t i = 0; i < d->n_reasons && i < 10; i++) {
        const char *f = ltc_call_printf(c, "decision.reasons[%zu]", i);
        if (ltc_check_text(d->reasons[i], f, 1, 200, st) == 0 && !ltb_text_plain(d->reasons[i]))
            ltc_status_bad_field(st, f, "must not contain control characters");
        joined_len += (d->reasons[i] ? strlen(d->reasons[i]) : 0) + 2;
    }
    if (st->code != LTC_OK) return -1;

    ltb_opp_locked opp;
    if (ltb_opp_lock(c, st, id, &opp) != 0) return -1;
    if (opp.stage != LTB_STAGE(QUALIFIED))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OPPORTUNITY_NOT_QUALIFIED",
                              "opportunity %s is %s: a bid decision is taken while QUALIFIED", id,
                              ltb_stage_text(opp.stage));
    char did[LTC_UUID_LEN + 1];
    ltc_uuid_new(did);
    const char *by = ltb_actor(c)[0] ? ltb_actor(c) : "unknown";
    const char *pi[] = {did, id, outcome, ltc_sql_text_array(c, (const char *const *)d->reasons, d->n_reasons), by};
    if (!ltc_call_query(c, st, SQL_DECISION_INSERT, 5, pi)) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "opportunities/%s/bidDecisions/%s", id, did), "outcome", NULL, outcome);
    if (d->outcome == LTC__LTB__V1__BID_DECISION_OUTCOME__BID_DECISION_OUTCOME_NO_BID) {
        char *joined = ltc_call_alloc(c, joined_len + 1);
        joined[0] = '\0';
        for (size_t i = 0; i < d->n_reasons; i++) {
            if (i) strcat(joined, "; ");
            strcat(joined, d->reasons[i]);
        }
        if (close_lost(c, st, id, LTB_STAGE(NOT_PURSUED), joined, NULL) != 0) return -1;
        ltb_audit_stage(c, id, opp.stage, LTB_STAGE(NOT_PURSUED));
    } else {
        const char *pt[] = {id};
        if (!ltc_call_query(c, st, SQL_OPP_TOUCH, 1, pt)) return -1;
    }
    Ltc__Ltb__V1__DecideBidResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__DecideBidResponse, LTC__LTB__V1__DECIDE_BID_RESPONSE__INIT);
    if (respond_opp(c, st, id, &resp->opportunity) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* LoseOpportunity: an open opportunity LOST with a reason. INVALID_ARGUMENT (name, reason, competitor); NOT_FOUND
 * (OPPORTUNITY_NOT_FOUND); FAILED_PRECONDITION (OPPORTUNITY_CLOSED, BID_UNDECIDED). */
int ltb_lose_opportunity(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__LoseOpportunityRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "opportunities", "name", id, st);
    ltc_check_text(req->reason, "reason", 1, 500, st);
    ltc_check_text(req->competitor, "competitor", 0, 200, st);
    if (st->code != LTC_OK) return -1;

    ltb_opp_locked opp;
    if (ltb_opp_lock(c, st, id, &opp) != 0) return -1;
    if (!is_open(opp.stage))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OPPORTUNITY_CLOSED",
                              "opportunity %s is %s: only QUALIFIED or BIDDING opportunities are lost", id,
                              ltb_stage_text(opp.stage));
    const char *pb[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_BID_OUT, 1, pb);
    if (!r) return -1;
    if (PQntuples(r) > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "BID_UNDECIDED",
                              "bid %s of opportunity %s is SUBMITTED: withdraw it (WithdrawBid) or mark it won or "
                              "lost first",
                              ltc_pg_str(r, 0, 0), id);
    if (close_lost(c, st, id, LTB_STAGE(LOST), req->reason, req->competitor) != 0) return -1;
    ltb_audit_stage(c, id, opp.stage, LTB_STAGE(LOST));
    Ltc__Ltb__V1__LoseOpportunityResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__LoseOpportunityResponse, LTC__LTB__V1__LOSE_OPPORTUNITY_RESPONSE__INIT);
    if (respond_opp(c, st, id, &resp->opportunity) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ReopenOpportunity: LOST or NOT_PURSUED -> QUALIFIED with a reason; the current admission decision is superseded
 * (DTC dropped its reservation when it was lost). INVALID_ARGUMENT (name, reason); NOT_FOUND
 * (OPPORTUNITY_NOT_FOUND, CUSTOMER_NOT_FOUND); FAILED_PRECONDITION (OPPORTUNITY_NOT_LOST, CUSTOMER_BLOCKED,
 * CUSTOMER_MERGED: a BLOCKED customer gets no open opportunity). */
int ltb_reopen_opportunity(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__ReopenOpportunityRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "opportunities", "name", id, st);
    ltc_check_text(req->reason, "reason", 1, 500, st);
    if (st->code != LTC_OK) return -1;

    ltb_opp_locked opp;
    if (ltb_opp_lock(c, st, id, &opp) != 0) return -1;
    if (opp.stage != LTB_STAGE(LOST) && opp.stage != LTB_STAGE(NOT_PURSUED))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OPPORTUNITY_NOT_LOST",
                              "opportunity %s is %s: only LOST or NOT_PURSUED opportunities are reopened", id,
                              ltb_stage_text(opp.stage));
    const char *p1[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_OPP_CUSTOMER, 1, p1);
    if (!r) return -1;
    if (PQntuples(r) == 1 && !ltc_pg_isnull(r, 0, 0) &&
        ltb_customer_usable(c, st, ltc_call_strdup(c, ltc_pg_str(r, 0, 0)), 0) != 0)
        return -1;
    const char *pc[] = {id, "QUALIFIED", "", ""};
    if (!ltc_call_query(c, st, SQL_OPP_CLOSE, 4, pc)) return -1;
    if (ltb_stage_record_why(c, st, id, LTB_STAGE(QUALIFIED), ltc_call_printf(c, "reopened: %s", req->reason)) != 0)
        return -1;
    if (!ltc_call_query(c, st, SQL_ADMISSION_SUPERSEDE, 1, p1)) return -1;
    ltb_audit_stage(c, id, opp.stage, LTB_STAGE(QUALIFIED));
    ltc_audit_change(c, ltc_call_printf(c, "opportunities/%s", id), "reopen_reason", NULL, req->reason);
    Ltc__Ltb__V1__ReopenOpportunityResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__ReopenOpportunityResponse, LTC__LTB__V1__REOPEN_OPPORTUNITY_RESPONSE__INIT);
    if (respond_opp(c, st, id, &resp->opportunity) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ListStaleOpportunities: open opportunities with no activity for the policy's period before as_of_date, in
 * creation order. INVALID_ARGUMENT (as_of_date, page_size, page_token). */
int ltb_list_stale_opportunities(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__ListStaleOpportunitiesRequest *req = (const void *)m;
    char day[11] = "";
    int limit = 0;
    int64_t after = 0;
    ltc_date_to_text(req->as_of_date, "as_of_date", 0, day, st);
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (st->code != LTC_OK) return -1;
    PGresult *rp = ltc_call_query(c, st, SQL_POLICY_GET, 0, NULL);
    if (!rp) return -1;
    int64_t days = PQntuples(rp) == 1 ? ltc_pg_i64(rp, 0, 0) : 30;
    const char *p[] = {day, ltc_sql_i64(c, after), ltc_sql_i64(c, limit), ltc_sql_i64(c, days), ltc_call_deal_scope(c)};
    PGresult *r = ltc_call_query(c, st, SQL_STALE, 5, p);
    if (!r) return -1;
    Ltc__Ltb__V1__ListStaleOpportunitiesResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__ListStaleOpportunitiesResponse, LTC__LTB__V1__LIST_STALE_OPPORTUNITIES_RESPONSE__INIT);
    int n = PQntuples(r), more = n >= limit;
    if (more) n = limit - 1;
    resp->opportunities = ltc_call_alloc(c, sizeof *resp->opportunities * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) resp->opportunities[i] = ltb_opp_from_row(c, r, i);
    resp->n_opportunities = (size_t)n;
    if (ltb_opp_details(c, st, r, resp->opportunities, resp->n_opportunities) != 0) return -1;
    if (more && n > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, n - 1, 17 /* o.seq */));
    resp->stale_after_days = (int32_t)days;
    *out = &resp->base;
    return 0;
}
