/* opportunities.c - opportunities (商机): read and list, plus the helpers the state-changing handlers of leads.c,
 * bids.c and intake.c share (lock, enter a stage, read back the whole resource).
 * Funnel: QUALIFIED -> BIDDING -> WON | LOST; WON -> CASH_COLLECTED (from DTC). Every stage entered is kept in
 * stage_changes with its time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltb.h"
#include "ltc/audit.h"
#include "ltc/filter.h"
#include "ltc/proto.h"

/* --- SQL ----------------------------------------------------------------------------------------------------- */

#define OPP_COLUMNS LTB_OPP_COLS " FROM opportunities o"
enum {
    OC_ID,
    OC_LEAD,
    OC_CUSTOMER,
    OC_TITLE,
    OC_AR,
    OC_SR,
    OC_FR,
    OC_EXPECTED,
    OC_CURRENCY,
    OC_CLOSE,
    OC_WIN,
    OC_STAGE,
    OC_WON_BID,
    OC_COLLECTED,
    OC_CTIME,
    OC_UTIME,
    OC_VERSION,
    OC_SEQ,
    OC_CUSTOMER_ID,
    OC_STAGE_BPS,
    OC_OVR_BPS,
    OC_OVR_REASON,
    OC_OVR_BY,
    OC_OVR_TIME,
    OC_OVR_STAGE,
    OC_COMP_NAMES,
    OC_COMP_NOTES,
    OC_LOST_REASON,
    OC_LOST_COMPETITOR,
    OC_ACTIVITY,
    OC_BID_DECISION
};

static const char SQL_OPP_GET[] = "SELECT " OPP_COLUMNS " WHERE o.id = $1";
/* A filter's range slots: expr = $a, < $b, <= $c, > $d, >= $e, each skipped when NULL. */
#define RANGE5(expr, cast, a, b, c, d, e)                                                                              \
    " AND ($" a "::" cast " IS NULL OR " expr " = $" a ") AND ($" b "::" cast " IS NULL OR " expr " < $" b ")"         \
    " AND ($" c "::" cast " IS NULL OR " expr " <= $" c ") AND ($" d "::" cast " IS NULL OR " expr " > $" d ")"        \
    " AND ($" e "::" cast " IS NULL OR " expr " >= $" e ")"
#define OPP_UNITS "(o.expected_minor / (10::bigint ^ currency_digits(o.currency))::bigint)"
#define OPP_VALUE "(o.expected_minor::numeric / (10::numeric ^ currency_digits(o.currency)))"
#define OPP_DAY "((o.create_time AT TIME ZONE 'UTC')::date)"
/* $1 the seq to continue after (default order) or the offset (with $30), $2 limit, $3 deal scope, $4 customer; the
 * filter's slots (ListOpportunities' OPP_FILTER fields): $5 stage =, $6 stage !=, $7 owner, $8 account_owner,
 * $9 customer, $10..$14 create_time, $15..$19 expected_close_date, $20..$24 expected_amount.units, $25..$29
 * win_probability_bps; $30 the order_by field (NULL: newest first), $31 descending. */
static const char SQL_OPP_LIST[] =
    "SELECT " OPP_COLUMNS " WHERE ($30::text IS NOT NULL OR $1::bigint = 0 OR o.seq < $1)"
    " AND ($3::text IS NULL OR $3 IN (o.account_owner, o.solution_owner, o.fulfilment_owner))" /* deal scope */
    " AND ($4::uuid IS NULL OR o.customer_id = (SELECT COALESCE(merged_into, id) FROM customers WHERE id = $4))"
    " AND ($5::text IS NULL OR o.stage = $5) AND ($6::text IS NULL OR o.stage <> $6)"
    " AND ($7::text IS NULL OR $7 IN (o.account_owner, o.solution_owner, o.fulfilment_owner))"
    " AND ($8::text IS NULL OR o.account_owner = $8)"
    " AND ($9::uuid IS NULL OR o.customer_id = (SELECT COALESCE(merged_into, id) FROM customers WHERE id = $9))" RANGE5(
        OPP_DAY, "date", "10", "11", "12", "13", "14")
        RANGE5("o.expected_close_date", "date", "15", "16", "17", "18", "19")
            RANGE5(OPP_UNITS, "bigint", "20", "21", "22", "23", "24")
                RANGE5("(" LTB_OPP_WIN_BPS ")", "integer", "25", "26", "27", "28",
                       "29") " ORDER BY CASE WHEN $30 = 'create_time' AND NOT $31::boolean THEN o.seq END ASC,"
                             " CASE WHEN $30 = 'expected_close_date' AND NOT $31 THEN o.expected_close_date END ASC,"
                             " CASE WHEN $30 = 'expected_close_date' AND $31 THEN o.expected_close_date END DESC,"
                             " CASE WHEN $30 = 'expected_amount' AND NOT $31 THEN " OPP_VALUE " END ASC,"
                             " CASE WHEN $30 = 'expected_amount' AND $31 THEN " OPP_VALUE " END DESC,"
                             " CASE WHEN $30 = 'win_probability_bps' AND NOT $31 THEN " LTB_OPP_WIN_BPS " END ASC,"
                             " CASE WHEN $30 = 'win_probability_bps' AND $31 THEN " LTB_OPP_WIN_BPS " END DESC,"
                             " o.seq DESC LIMIT $2 OFFSET CASE WHEN $30 IS NULL THEN 0 ELSE $1 END";
static const char SQL_OPP_LOCK[] =
    "SELECT id::text, stage, currency, collected_minor FROM opportunities WHERE id = $1 FOR UPDATE";
static const char SQL_OPP_SET_STAGE[] =
    "UPDATE opportunities SET stage = $2, won_bid_id = COALESCE($3::uuid, won_bid_id), version = version + 1,"
    " update_time = now() WHERE id = $1";
static const char SQL_STAGE_INSERT[] =
    "INSERT INTO stage_changes (id, opportunity_id, stage, actor, reason) VALUES ($1, $2, $3, $4, $5)";
/* Details of several opportunities at once; `ord` is the 1-based position of the opportunity in $1. */
static const char SQL_REQS_OF[] =
    "SELECT p.ord, r.code, r.description, r.quantity"
    " FROM unnest($1::uuid[]) WITH ORDINALITY AS p(id, ord) JOIN requirements r ON r.opportunity_id = p.id"
    " ORDER BY p.ord, r.position";
static const char SQL_HISTORY_OF[] = "SELECT p.ord, s.stage, " LTC_SQL_MICROS(
    "s.create_time") ", s.actor, s.reason FROM unnest($1::uuid[]) WITH ORDINALITY AS p(id, ord) JOIN stage_changes s ON s.opportunity_id = p.id"
                     " ORDER BY p.ord, s.create_time, s.seq";
/* Details of one opportunity in one round trip: requirements (kind 0, by position), then the stage history (kind 1,
 * by time and seq; k1 is the time in microseconds, a monotonic image of create_time, so the order is the same). */
static const char SQL_DETAILS_OF_ONE[] =
    "SELECT 0 AS kind, r.position::bigint AS k1, 0::bigint AS k2, r.code AS a, r.description AS b, r.quantity AS q,"
    " NULL AS actor FROM requirements r WHERE r.opportunity_id = $1"
    " UNION ALL SELECT 1, " LTC_SQL_MICROS("s.create_time") ", s.seq, s.stage, s.reason, NULL, s.actor"
                                                            " FROM stage_changes s WHERE s.opportunity_id = $1"
                                                            " ORDER BY 1, 2, 3";

/* --- small shared helpers ------------------------------------------------------------------------------------ */

#define STAGE_PREFIX "OPPORTUNITY_STAGE_"

const char *ltb_stage_text(Ltc__Ltb__V1__OpportunityStage s) {
    const char *text = ltc_enum_to_db(&ltc__ltb__v1__opportunity_stage__descriptor, STAGE_PREFIX, (int)s);
    return text ? text : "UNSPECIFIED";
}

Ltc__Ltb__V1__OpportunityStage ltb_stage_parse(const char *s) {
    return (Ltc__Ltb__V1__OpportunityStage)ltc_enum_from_db(&ltc__ltb__v1__opportunity_stage__descriptor, STAGE_PREFIX,
                                                            s);
}

char *ltb_etag(ltc_call *c, int64_t version) { return ltc_call_printf(c, "%llx", (unsigned long long)version); }

/* --- reading ------------------------------------------------------------------------------------------------- */

void ltb_audit_stage(ltc_call *c, const char *id, Ltc__Ltb__V1__OpportunityStage from,
                     Ltc__Ltb__V1__OpportunityStage to) {
    ltc_audit_change(c, ltc_call_printf(c, "opportunities/%s", id), "stage", ltb_stage_text(from), ltb_stage_text(to));
}

const char *ltb_actor(ltc_call *c) {
    const char *p = ltc_call_principal(c);
    return p ? p : "";
}

int ltb_text_plain(const char *s) {
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

/* Splits `text` (in the arena: modified) at `sep` into *items (in the arena); "" gives no item. The count. */
static size_t split_items(ltc_call *c, char *text, char sep, char ***items) {
    size_t n = text[0] ? 1 : 0;
    for (const char *p = text; *p; p++) n += *p == sep;
    *items = n ? ltc_call_alloc(c, sizeof **items * n) : NULL;
    size_t k = 0;
    char *p = text;
    while (k < n) {
        char *e = strchr(p, sep);
        if (e) *e = '\0';
        (*items)[k++] = p;
        p = e ? e + 1 : p + strlen(p);
    }
    return n;
}

/* The bid decision packed by LTB_OPP_COLS: id, outcome, decided_by, micros, reasons (items). NULL when none. */
static Ltc__Ltb__V1__BidDecision *bid_decision_from_text(ltc_call *c, const char *opp_id, const char *packed) {
    if (!packed || !packed[0]) return NULL;
    char **f;
    size_t nf = split_items(c, ltc_call_strdup(c, packed), LTB_SEP_FIELD, &f);
    if (nf < 5) return NULL;
    Ltc__Ltb__V1__BidDecision *d = LTC_NEW(c, Ltc__Ltb__V1__BidDecision, LTC__LTB__V1__BID_DECISION__INIT);
    d->name = ltc_call_printf(c, "opportunities/%s/bidDecisions/%s", opp_id, f[0]);
    d->outcome = (Ltc__Ltb__V1__BidDecisionOutcome)ltc_enum_from_db(&ltc__ltb__v1__bid_decision_outcome__descriptor,
                                                                    "BID_DECISION_OUTCOME_", f[1]);
    d->decided_by = f[2];
    d->decide_time = ltc_ts_from_micros(c, strtoll(f[3], NULL, 10), 0);
    d->n_reasons = split_items(c, f[4], LTB_SEP_ITEM, &d->reasons);
    return d;
}

/* An Opportunity from row `i` of an OPP_COLUMNS result, without requirements and stage history. */
Ltc__Ltb__V1__Opportunity *ltb_opp_from_row(ltc_call *c, const PGresult *r, int i) {
    Ltc__Ltb__V1__Opportunity *o = LTC_NEW(c, Ltc__Ltb__V1__Opportunity, LTC__LTB__V1__OPPORTUNITY__INIT);
    const char *id = ltc_pg_str(r, i, OC_ID), *currency = ltc_pg_str(r, i, OC_CURRENCY);
    o->name = ltc_call_printf(c, "opportunities/%s", id);
    o->lead = ltc_call_printf(c, "leads/%s", ltc_pg_str(r, i, OC_LEAD));
    o->customer_name = ltc_call_strdup(c, ltc_pg_str(r, i, OC_CUSTOMER));
    o->title = ltc_call_strdup(c, ltc_pg_str(r, i, OC_TITLE));
    o->iron_triangle = ltc_triangle_from_pg(c, r, i, OC_AR);
    o->expected_amount = ltc_money_msg(c, currency, ltc_pg_i64(r, i, OC_EXPECTED));
    o->expected_close_date = ltc_date_from_pg(c, r, i, OC_CLOSE);
    o->win_probability_bps = (int32_t)ltc_pg_i64(r, i, OC_WIN);
    o->stage = ltb_stage_parse(ltc_pg_str(r, i, OC_STAGE));
    if (!ltc_pg_isnull(r, i, OC_WON_BID)) o->won_bid = ltc_call_printf(c, "bids/%s", ltc_pg_str(r, i, OC_WON_BID));
    if (o->stage == LTB_STAGE(CASH_COLLECTED))
        o->collected_amount = ltc_money_msg(c, currency, ltc_pg_i64(r, i, OC_COLLECTED));
    o->deal = ltc_call_printf(c, "deals/%s", id);
    o->create_time = ltc_ts_from_pg(c, r, i, OC_CTIME);
    o->update_time = ltc_ts_from_pg(c, r, i, OC_UTIME);
    o->etag = ltb_etag(c, ltc_pg_i64(r, i, OC_VERSION));
    if (!ltc_pg_isnull(r, i, OC_CUSTOMER_ID))
        o->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, i, OC_CUSTOMER_ID));
    o->stage_probability_bps = (int32_t)ltc_pg_i64(r, i, OC_STAGE_BPS);
    if (!ltc_pg_isnull(r, i, OC_OVR_BPS)) {
        Ltc__Ltb__V1__ProbabilityOverride *v =
            LTC_NEW(c, Ltc__Ltb__V1__ProbabilityOverride, LTC__LTB__V1__PROBABILITY_OVERRIDE__INIT);
        v->win_probability_bps = (int32_t)ltc_pg_i64(r, i, OC_OVR_BPS);
        v->reason = ltc_call_strdup(c, ltc_pg_str(r, i, OC_OVR_REASON));
        v->override_by = ltc_call_strdup(c, ltc_pg_str(r, i, OC_OVR_BY));
        v->override_time = ltc_ts_from_pg(c, r, i, OC_OVR_TIME);
        v->stage = ltb_stage_parse(ltc_pg_str(r, i, OC_OVR_STAGE));
        if (v->stage == o->stage) o->probability_override = v; /* only the current stage's override applies */
    }
    char **names, **notes;
    size_t nn = split_items(c, ltc_call_strdup(c, ltc_pg_str(r, i, OC_COMP_NAMES)), LTB_SEP_ITEM, &names);
    size_t nt = split_items(c, ltc_call_strdup(c, ltc_pg_str(r, i, OC_COMP_NOTES)), LTB_SEP_ITEM, &notes);
    if (nn) {
        o->competitors = ltc_call_alloc(c, sizeof *o->competitors * nn);
        for (size_t k = 0; k < nn; k++) {
            Ltc__Ltb__V1__Competitor *x = LTC_NEW(c, Ltc__Ltb__V1__Competitor, LTC__LTB__V1__COMPETITOR__INIT);
            x->name = names[k];
            x->note = k < nt ? notes[k] : "";
            o->competitors[k] = x;
        }
        o->n_competitors = nn;
    }
    o->lost_reason = ltc_call_strdup(c, ltc_pg_str(r, i, OC_LOST_REASON));
    o->lost_competitor = ltc_call_strdup(c, ltc_pg_str(r, i, OC_LOST_COMPETITOR));
    o->last_activity_time = ltc_ts_from_pg(c, r, i, OC_ACTIVITY);
    o->bid_decision =
        bid_decision_from_text(c, id, ltc_pg_isnull(r, i, OC_BID_DECISION) ? NULL : ltc_pg_str(r, i, OC_BID_DECISION));
    return o;
}

/* Position (0-based) of the opportunity a details row belongs to, from its `ord` column; -1 if out of range. */
static int row_owner(const PGresult *r, int row, size_t n) {
    int64_t ord = ltc_pg_i64(r, row, 0);
    return ord >= 1 && (uint64_t)ord <= n ? (int)(ord - 1) : -1;
}

static int load_requirements(ltc_call *c, ltc_status *st, const char *ids, Ltc__Ltb__V1__Opportunity **opps, size_t n) {
    const char *p[] = {ids};
    PGresult *r = ltc_call_query(c, st, SQL_REQS_OF, 1, p);
    if (!r) return -1;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        int k = row_owner(r, i, n);
        if (k >= 0) opps[k]->n_requirements++;
    }
    for (size_t k = 0; k < n; k++) {
        if (opps[k]->n_requirements)
            opps[k]->requirements = ltc_call_alloc(c, sizeof *opps[k]->requirements * opps[k]->n_requirements);
        opps[k]->n_requirements = 0;
    }
    for (int i = 0; i < rows; i++) {
        int k = row_owner(r, i, n);
        if (k < 0) continue;
        Ltc__Ltb__V1__Requirement *q = LTC_NEW(c, Ltc__Ltb__V1__Requirement, LTC__LTB__V1__REQUIREMENT__INIT);
        q->code = ltc_call_strdup(c, ltc_pg_str(r, i, 1));
        q->description = ltc_call_strdup(c, ltc_pg_str(r, i, 2));
        q->quantity = ltc_pg_i64(r, i, 3);
        opps[k]->requirements[opps[k]->n_requirements++] = q;
    }
    return 0;
}

static int load_history(ltc_call *c, ltc_status *st, const char *ids, Ltc__Ltb__V1__Opportunity **opps, size_t n) {
    const char *p[] = {ids};
    PGresult *r = ltc_call_query(c, st, SQL_HISTORY_OF, 1, p);
    if (!r) return -1;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        int k = row_owner(r, i, n);
        if (k >= 0) opps[k]->n_stage_history++;
    }
    for (size_t k = 0; k < n; k++) {
        if (opps[k]->n_stage_history)
            opps[k]->stage_history = ltc_call_alloc(c, sizeof *opps[k]->stage_history * opps[k]->n_stage_history);
        opps[k]->n_stage_history = 0;
    }
    for (int i = 0; i < rows; i++) {
        int k = row_owner(r, i, n);
        if (k < 0) continue;
        Ltc__Ltb__V1__StageChange *s = LTC_NEW(c, Ltc__Ltb__V1__StageChange, LTC__LTB__V1__STAGE_CHANGE__INIT);
        s->stage = ltb_stage_parse(ltc_pg_str(r, i, 1));
        s->time = ltc_ts_from_pg(c, r, i, 2);
        s->actor = ltc_call_strdup(c, ltc_pg_str(r, i, 3));
        s->reason = ltc_call_strdup(c, ltc_pg_str(r, i, 4));
        opps[k]->stage_history[opps[k]->n_stage_history++] = s;
    }
    return 0;
}

/* Fills requirements and stage history of one opportunity with one query. */
static int load_details_one(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__Opportunity *o) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_DETAILS_OF_ONE, 1, p);
    if (!r) return -1;
    int rows = PQntuples(r);
    size_t nreq = 0, nhist = 0;
    for (int i = 0; i < rows; i++) *(ltc_pg_i64(r, i, 0) == 0 ? &nreq : &nhist) += 1;
    o->n_requirements = o->n_stage_history = 0;
    if (nreq) o->requirements = ltc_call_alloc(c, sizeof *o->requirements * nreq);
    if (nhist) o->stage_history = ltc_call_alloc(c, sizeof *o->stage_history * nhist);
    for (int i = 0; i < rows; i++) {
        if (ltc_pg_i64(r, i, 0) == 0) {
            Ltc__Ltb__V1__Requirement *q = LTC_NEW(c, Ltc__Ltb__V1__Requirement, LTC__LTB__V1__REQUIREMENT__INIT);
            q->code = ltc_call_strdup(c, ltc_pg_str(r, i, 3));
            q->description = ltc_call_strdup(c, ltc_pg_str(r, i, 4));
            q->quantity = ltc_pg_i64(r, i, 5);
            o->requirements[o->n_requirements++] = q;
        } else {
            Ltc__Ltb__V1__StageChange *h = LTC_NEW(c, Ltc__Ltb__V1__StageChange, LTC__LTB__V1__STAGE_CHANGE__INIT);
            h->stage = ltb_stage_parse(ltc_pg_str(r, i, 3));
            h->time = ltc_ts_from_pg(c, r, i, 1);
            h->reason = ltc_call_strdup(c, ltc_pg_str(r, i, 4));
            h->actor = ltc_call_strdup(c, ltc_pg_str(r, i, 6));
            o->stage_history[o->n_stage_history++] = h;
        }
    }
    return 0;
}

/* Fills requirements and stage history of opps[0..n) (rows 0..n) of the OPP_COLUMNS result r) with two queries,
 * whatever n. */
static int load_details(ltc_call *c, ltc_status *st, const PGresult *r, Ltc__Ltb__V1__Opportunity **opps, size_t n) {
    if (n == 0) return 0;
    /* a uuid[] literal "{id,id,...}": uuids need no quoting */
    char *ids = ltc_call_alloc(c, n * (LTC_UUID_LEN + 1) + 2), *w = ids;
    *w++ = '{';
    for (size_t k = 0; k < n; k++) {
        if (k) *w++ = ',';
        memcpy(w, ltc_pg_str(r, (int)k, OC_ID), LTC_UUID_LEN);
        w += LTC_UUID_LEN;
    }
    *w++ = '}';
    *w = '\0';
    return load_requirements(c, st, ids, opps, n) != 0 || load_history(c, st, ids, opps, n) != 0 ? -1 : 0;
}

int ltb_opp_details(ltc_call *c, ltc_status *st, const PGresult *r, Ltc__Ltb__V1__Opportunity **opps, size_t n) {
    if (load_details(c, st, r, opps, n) != 0) return -1;
    return ltb_admission_attach(c, st, opps, n);
}

/* The opportunity's row (OPP_COLUMNS), or NULL with st set (NOT_FOUND OPPORTUNITY_NOT_FOUND, or the database's). */
static PGresult *opp_row(ltc_call *c, ltc_status *st, const char *id) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_OPP_GET, 1, p);
    if (r && PQntuples(r) == 0) {
        ltc_status_set(st, LTC_NOT_FOUND, "OPPORTUNITY_NOT_FOUND", "opportunity %s does not exist", id);
        return NULL;
    }
    return r;
}

int ltb_load_opportunity(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__Opportunity **out) {
    PGresult *r = opp_row(c, st, id);
    return r ? ltb_opp_from_result(c, st, r, out) : -1;
}

int ltb_opp_from_result(ltc_call *c, ltc_status *st, const PGresult *r, Ltc__Ltb__V1__Opportunity **out) {
    Ltc__Ltb__V1__Opportunity *o = ltb_opp_from_row(c, r, 0);
    if (load_details_one(c, st, ltc_pg_str(r, 0, OC_ID), o) != 0) return -1;
    if (ltb_admission_attach(c, st, &o, 1) != 0) return -1;
    *out = o;
    return 0;
}

/* --- changing ------------------------------------------------------------------------------------------------ */

int ltb_opp_lock(ltc_call *c, ltc_status *st, const char *id, ltb_opp_locked *out) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_OPP_LOCK, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "OPPORTUNITY_NOT_FOUND", "opportunity %s does not exist", id);
    snprintf(out->id, sizeof out->id, "%s", ltc_pg_str(r, 0, 0));
    out->stage = ltb_stage_parse(ltc_pg_str(r, 0, 1));
    snprintf(out->currency, sizeof out->currency, "%s", ltc_pg_str(r, 0, 2));
    out->collected_minor = ltc_pg_i64(r, 0, 3);
    return 0;
}

int ltb_stage_record_why(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__OpportunityStage stage,
                         const char *reason) {
    char sid[LTC_UUID_LEN + 1];
    ltc_uuid_new(sid);
    const char *p[] = {sid, id, ltb_stage_text(stage), ltb_actor(c), reason ? reason : ""};
    return ltc_call_query(c, st, SQL_STAGE_INSERT, 5, p) ? 0 : -1;
}

int ltb_stage_record(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__OpportunityStage stage) {
    return ltb_stage_record_why(c, st, id, stage, NULL);
}

int ltb_opp_enter_stage(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__OpportunityStage stage,
                        const char *won_bid) {
    const char *p[] = {id, ltb_stage_text(stage), won_bid};
    if (!ltc_call_query(c, st, SQL_OPP_SET_STAGE, 3, p)) return -1;
    return ltb_stage_record(c, st, id, stage);
}

/* --- handlers ------------------------------------------------------------------------------------------------ */

/* GetOpportunity: the whole opportunity, with requirements and stage history (oldest first). Its owners are
 * checked on the row read (the method's lookup is by_handler, services/ltb/service.c): one statement fewer a read.
 * INVALID_ARGUMENT for a malformed name, NOT_FOUND (OPPORTUNITY_NOT_FOUND), PERMISSION_DENIED NOT_IN_IRON_TRIANGLE. */
int ltb_get_opportunity(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__GetOpportunityRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "opportunities", "name", id, st) != 0) return -1;
    Ltc__Ltb__V1__GetOpportunityResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__GetOpportunityResponse, LTC__LTB__V1__GET_OPPORTUNITY_RESPONSE__INIT);
    PGresult *r = opp_row(c, st, id);
    if (!r) return -1;
    if (ltc_call_check_owners(c, ltc_pg_str(r, 0, OC_AR), ltc_pg_str(r, 0, OC_SR), ltc_pg_str(r, 0, OC_FR), req->name,
                              st) != 0)
        return -1;
    if (ltb_opp_from_result(c, st, r, &resp->opportunity) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ListOpportunities' filter fields (docs/api.md#list-filters), in the order of SQL_OPP_LIST's slots. */
static const char *const OPP_STAGES[] = {"QUALIFIED", "BIDDING", "WON", "LOST", "CASH_COLLECTED", "NOT_PURSUED", NULL};
enum {
    OF_STAGE,
    OF_OWNER,
    OF_AR,
    OF_CUSTOMER,
    OF_CREATE,
    OF_CLOSE,
    OF_UNITS,
    OF_WIN,
    OF_N
};
static const ltc_filter_field OPP_FILTER[OF_N] = {
    {"stage", LTC_FILTER_ENUM, LTC_FILTER_EQ | LTC_FILTER_NE, OPP_STAGES, "OPPORTUNITY_STAGE_"},
    {"owner", LTC_FILTER_STRING, LTC_FILTER_EQ, NULL, NULL},
    {"account_owner", LTC_FILTER_STRING, LTC_FILTER_EQ, NULL, NULL},
    {"customer", LTC_FILTER_STRING, LTC_FILTER_EQ, NULL, NULL},
    {"create_time", LTC_FILTER_DATE, LTC_FILTER_RANGE, NULL, NULL},
    {"expected_close_date", LTC_FILTER_DATE, LTC_FILTER_RANGE, NULL, NULL},
    {"expected_amount.units", LTC_FILTER_INT, LTC_FILTER_RANGE, NULL, NULL},
    {"win_probability_bps", LTC_FILTER_INT, LTC_FILTER_RANGE, NULL, NULL},
};
static const char *const OPP_ORDER[] = {"create_time", "expected_close_date", "expected_amount", "win_probability_bps"};
static const unsigned RANGE_OPS[5] = {LTC_FILTER_EQ, LTC_FILTER_LT, LTC_FILTER_LE, LTC_FILTER_GT, LTC_FILTER_GE};

/* ListOpportunities: newest first (or by order_by), paginated, filtered (AIP-160). Unlike what the brief allowed, a
 * listed opportunity is complete: its requirements and stage history come too, fetched for the whole page with two
 * extra queries (not one per row), so a client never sees a partial resource. INVALID_ARGUMENT for a bad
 * page_size, page_token, customer, filter or order_by. */
int ltb_list_opportunities(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__ListOpportunitiesRequest *req = (const void *)m;
    int limit = 0, order = -1, desc = 0;
    int64_t after = 0;
    ltc_filter f;
    char cust[LTC_UUID_LEN + 1] = "", fcust[LTC_UUID_LEN + 1] = "";
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (req->customer && req->customer[0]) ltc_name_parse(req->customer, "customers", "customer", cust, st);
    if (ltc_filter_parse(req->filter, OPP_FILTER, OF_N, &f, st) == 0) {
        const char *fc = ltc_filter_value(&f, OF_CUSTOMER, LTC_FILTER_EQ);
        if (fc) ltc_name_parse(fc, "customers", "filter", fcust, st);
    }
    ltc_order_by_parse(req->order_by, OPP_ORDER, 4, &order, &desc, st);
    if (st->code != LTC_OK) return -1;

    const char *p[31] = {ltc_sql_i64(c, after), ltc_sql_i64(c, limit), ltc_call_deal_scope(c), cust[0] ? cust : NULL};
    p[4] = ltc_filter_value(&f, OF_STAGE, LTC_FILTER_EQ);
    p[5] = ltc_filter_value(&f, OF_STAGE, LTC_FILTER_NE);
    p[6] = ltc_filter_value(&f, OF_OWNER, LTC_FILTER_EQ);
    p[7] = ltc_filter_value(&f, OF_AR, LTC_FILTER_EQ);
    p[8] = fcust[0] ? fcust : NULL;
    for (int k = 0; k < 5; k++) {
        p[9 + k] = ltc_filter_value(&f, OF_CREATE, RANGE_OPS[k]);
        p[14 + k] = ltc_filter_value(&f, OF_CLOSE, RANGE_OPS[k]);
        p[19 + k] = ltc_filter_value(&f, OF_UNITS, RANGE_OPS[k]);
        p[24 + k] = ltc_filter_value(&f, OF_WIN, RANGE_OPS[k]);
    }
    p[29] = order >= 0 ? OPP_ORDER[order] : NULL;
    p[30] = desc ? "true" : "false";
    PGresult *r = ltc_call_query(c, st, SQL_OPP_LIST, 31, p);
    if (!r) return -1;

    Ltc__Ltb__V1__ListOpportunitiesResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__ListOpportunitiesResponse, LTC__LTB__V1__LIST_OPPORTUNITIES_RESPONSE__INIT);
    int n = PQntuples(r), more = n >= limit;
    if (more) n = limit - 1;
    resp->opportunities = ltc_call_alloc(c, sizeof *resp->opportunities * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) resp->opportunities[i] = ltb_opp_from_row(c, r, i);
    resp->n_opportunities = (size_t)n;
    if (load_details(c, st, r, resp->opportunities, resp->n_opportunities) != 0) return -1;
    if (ltb_admission_attach(c, st, resp->opportunities, resp->n_opportunities) != 0) return -1;
    if (more && n > 0) /* the default order continues after a seq; an order_by by offset */
        resp->next_page_token = ltc_page_token(c, order >= 0 ? after + n : ltc_pg_i64(r, n - 1, OC_SEQ));
    *out = &resp->base;
    return 0;
}
