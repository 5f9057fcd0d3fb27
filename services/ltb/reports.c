/* reports.c - the CRM hub's reports over many deals (issue #18):
 * - GetFunnelReport: the opportunities created in a period (UTC days), how many reached each stage (from the stage
 *   history: QUALIFIED, BIDDING, WON, CASH_COLLECTED) and how many ended LOST or NOT_PURSUED, with amounts,
 *   conversions, the win rate and the lost reasons: plain SQL aggregates.
 * - GetVelocityReport: per group (customer, owner, month), each flow stage's cycle time and lead to cash (median
 *   and p90, nearest rank), delivery against the customer's date and cash against due dates, from the deals' stage
 *   history and milestones: one row per deal from SQL, the statistics in C (hub_rules.c). */
#include <stdlib.h>
#include <string.h>

#include "hub_rules.h"
#include "ltb.h"
#include "ltc/ltb/v1/reports.pb-c.h"
#include "ltc/proto.h"

/* --- SQL ----------------------------------------------------------------------------------------------------- */

/* The opportunities of the period: $1 first day, $2 last day (inclusive), $3 owner (NULL: all), $4 customer
 * (NULL: all; a tombstone resolves to its survivor), $5 currency (NULL: all), $6 the caller's deal scope. */
#define FUNNEL_DEALS                                                                                                   \
    "WITH d AS (SELECT o.stage, o.expected_minor, o.currency, o.lost_reason,"                                          \
    " EXISTS (SELECT 1 FROM stage_changes s WHERE s.opportunity_id = o.id AND s.stage IN ('BIDDING', 'WON',"           \
    "         'CASH_COLLECTED')) AS bidding,"                                                                          \
    " EXISTS (SELECT 1 FROM stage_changes s WHERE s.opportunity_id = o.id AND s.stage IN ('WON', 'CASH_COLLECTED'))"   \
    "   OR o.stage IN ('WON', 'CASH_COLLECTED') AS won,"                                                               \
    " o.stage = 'CASH_COLLECTED' AS cash"                                                                              \
    " FROM opportunities o"                                                                                            \
    " WHERE o.create_time >= ($1::date::timestamp AT TIME ZONE 'UTC')"                                                 \
    " AND o.create_time < (($2::date + 1)::timestamp AT TIME ZONE 'UTC')"                                              \
    " AND ($3::text IS NULL OR $3 IN (o.account_owner, o.solution_owner, o.fulfilment_owner))"                         \
    " AND ($4::uuid IS NULL OR o.customer_id = (SELECT COALESCE(merged_into, id) FROM customers WHERE id = $4))"       \
    " AND ($5::text IS NULL OR o.currency = $5)"                                                                       \
    " AND ($6::text IS NULL OR $6 IN (o.account_owner, o.solution_owner, o.fulfilment_owner))),"                       \
    " cur AS (SELECT COALESCE($5, (SELECT currency FROM d GROUP BY currency ORDER BY count(*) DESC, currency"          \
    "         LIMIT 1), '') AS c) "
static const char SQL_FUNNEL[] =
    FUNNEL_DEALS "SELECT cur.c, count(d.*), count(d.*) FILTER (WHERE d.bidding), count(d.*) FILTER (WHERE d.won),"
                 " count(d.*) FILTER (WHERE d.cash), count(d.*) FILTER (WHERE d.stage = 'LOST'),"
                 " count(d.*) FILTER (WHERE d.stage = 'NOT_PURSUED'),"
                 " count(d.*) FILTER (WHERE d.stage IN ('QUALIFIED', 'BIDDING')),"
                 " COALESCE(sum(d.expected_minor) FILTER (WHERE d.currency = cur.c), 0),"
                 " COALESCE(sum(d.expected_minor) FILTER (WHERE d.currency = cur.c AND d.bidding), 0),"
                 " COALESCE(sum(d.expected_minor) FILTER (WHERE d.currency = cur.c AND d.won), 0),"
                 " COALESCE(sum(d.expected_minor) FILTER (WHERE d.currency = cur.c AND d.cash), 0),"
                 " COALESCE(sum(d.expected_minor) FILTER (WHERE d.currency = cur.c AND d.stage = 'LOST'), 0),"
                 " COALESCE(sum(d.expected_minor) FILTER (WHERE d.currency = cur.c AND d.stage = 'NOT_PURSUED'), 0)"
                 " FROM cur LEFT JOIN d ON true GROUP BY cur.c";
static const char SQL_LOST_REASONS[] = FUNNEL_DEALS
    "SELECT d.lost_reason, count(*) FROM d WHERE d.stage IN ('LOST', 'NOT_PURSUED') AND d.lost_reason <> ''"
    " GROUP BY d.lost_reason ORDER BY 2 DESC, 1 LIMIT 50";

/* One row per deal of the period ($1, $2 as above; $3 the group: 'CUSTOMER', 'OWNER', 'MONTH', 'PRODUCT'; $4 deal scope),
 * ordered by group key: key, lead created, won, first ORDER_PLACED, first ACCEPTED, cash collected (micros, NULL when
 * not reached), the customer's date (day number: ORDER_PLACED's date, else the first promise's), the last
 * acceptance's day, invoiced and paid sums, first invoice and last payment (micros), the latest due day, the amount
 * paid against invoices LTB saw and its sum of amount x seconds (numeric text). Group PRODUCT ('PRODUCT'): a row per
 * SKU of the deal's ORDER_PLACED milestones. */
#define DAYNO(expr) "((" expr ") - DATE '1970-01-01')"
#define VC_SQL_KEY                                                                                                     \
    "CASE $3::text WHEN 'CUSTOMER' THEN COALESCE('customers/' || o.customer_id::text, '')"                             \
    " WHEN 'OWNER' THEN o.account_owner WHEN 'PRODUCT' THEN COALESCE(ps.sku, '')"                                      \
    " ELSE to_char(o.create_time AT TIME ZONE 'UTC', 'YYYY-MM') END"
/* A deal's stage changes and milestones, each read once (one index range per deal) and folded into what the report
 * needs: one pass instead of a subquery per figure (a busy week holds hundreds of thousands of deals). The customer's
 * date is the first ORDER_PLACED milestone's date, else the first ORDER_PROMISED one's (by time, then seq). */
#define VC_SQL_STAGES                                                                                                  \
    " CROSS JOIN LATERAL (SELECT min(s.create_time) FILTER (WHERE s.stage = 'WON') AS won,"                            \
    " min(s.create_time) FILTER (WHERE s.stage = 'CASH_COLLECTED') AS cash"                                            \
    " FROM stage_changes s WHERE s.opportunity_id = o.id) sc"
#define VC_SQL_MILESTONES                                                                                              \
    " CROSS JOIN LATERAL (SELECT min(m.occur_time) FILTER (WHERE m.kind = 'ORDER_PLACED') AS placed,"                  \
    " min(m.occur_time) FILTER (WHERE m.kind = 'ACCEPTED') AS accepted,"                                               \
    " max(m.occur_time) FILTER (WHERE m.kind = 'ACCEPTED') AS last_accepted,"                                          \
    " sum(m.amount_minor) FILTER (WHERE m.kind = 'INVOICED') AS invoiced,"                                             \
    " sum(m.amount_minor) FILTER (WHERE m.kind = 'PAID') AS paid,"                                                     \
    " min(m.occur_time) FILTER (WHERE m.kind = 'INVOICED') AS first_invoice,"                                          \
    " max(m.occur_time) FILTER (WHERE m.kind = 'PAID') AS last_paid,"                                                  \
    " max(m.on_date) FILTER (WHERE m.kind = 'INVOICED') AS last_due,"                                                  \
    " (array_agg(m.on_date ORDER BY m.occur_time, m.seq) FILTER (WHERE m.kind = 'ORDER_PLACED'"                        \
    "  AND m.on_date IS NOT NULL))[1] AS placed_on,"                                                                   \
    " (array_agg(m.on_date ORDER BY m.occur_time, m.seq) FILTER (WHERE m.kind = 'ORDER_PROMISED'"                      \
    "  AND m.on_date IS NOT NULL))[1] AS promised_on"                                                                  \
    " FROM deal_milestones m WHERE m.deal_id = o.id) ms"
/* group PRODUCT: one row per SKU of the deal's ORDER_PLACED milestones (one NULL row without any, or another group) */
#define VC_SQL_PRODUCTS                                                                                                \
    " LEFT JOIN LATERAL (SELECT DISTINCT x.sku FROM deal_milestones m CROSS JOIN unnest(m.product_skus) AS x(sku)"     \
    " WHERE m.deal_id = o.id AND m.kind = 'ORDER_PLACED') ps ON $3::text = 'PRODUCT'"
/* revenue-weighted DSO: each payment with its invoice's first INVOICED time (the same record): the amounts paid, and
 * the sum of amount x whole seconds (numeric: it can pass 2^63). Two index scans per deal (its PAID and its INVOICED
 * milestones), not one per payment. */
#define VC_SQL_WEIGHTS                                                                                                 \
    " CROSS JOIN LATERAL (SELECT sum(pm.amount_minor) AS weight,"                                                      \
    " sum(pm.amount_minor::numeric * greatest(0, floor(extract(epoch FROM pm.occur_time - inv.t)))::bigint)"           \
    " AS weighted FROM deal_milestones pm JOIN (SELECT im.record, min(im.occur_time) AS t FROM deal_milestones im"     \
    " WHERE im.deal_id = o.id AND im.kind = 'INVOICED' GROUP BY im.record) inv ON inv.record = pm.record"              \
    " WHERE pm.deal_id = o.id AND pm.kind = 'PAID' AND pm.amount_minor IS NOT NULL) w"
static const char SQL_VELOCITY[] =
    "SELECT " VC_SQL_KEY
    " AS key, " LTC_SQL_MICROS("l.create_time") ", " LTC_SQL_MICROS("sc.won") ", " LTC_SQL_MICROS("ms.placed") ", " LTC_SQL_MICROS("ms.accepted") ", " LTC_SQL_MICROS("sc.cash") ", " DAYNO("COALESCE(ms.placed_on, ms.promised_on)") ", " DAYNO("(ms.last_accepted AT TIME ZONE 'UTC')::date") ", ms.invoiced, ms.paid, " LTC_SQL_MICROS(
        "ms.first_invoice") ", " LTC_SQL_MICROS("ms.last_paid") ", " DAYNO("ms.last_due") ", w.weight, w.weighted::text"
                                                                                          " FROM opportunities o JOIN leads l ON l.id = o.lead_id" VC_SQL_STAGES
                                                                                              VC_SQL_MILESTONES
                                                                                                  VC_SQL_PRODUCTS
                                                                                                      VC_SQL_WEIGHTS
                                                                                          " WHERE o.create_time >= ($1::date::timestamp AT TIME ZONE 'UTC')"
                                                                                          " AND o.create_time < (($2::date + 1)::timestamp AT TIME ZONE 'UTC')"
                                                                                          " AND ($4::text IS NULL OR $4 IN (o.account_owner, o.solution_owner, o.fulfilment_owner))"
                                                                                          " ORDER BY 1, o.seq";
enum {
    VC_KEY,
    VC_LEAD,
    VC_WON,
    VC_PLACED,
    VC_ACCEPTED,
    VC_CASH,
    VC_DUE_DAY,
    VC_DONE_DAY,
    VC_INVOICED,
    VC_PAID,
    VC_FIRST_INVOICE,
    VC_LAST_PAID,
    VC_LAST_DUE_DAY,
    VC_PAID_WEIGHT,
    VC_WEIGHTED
};

/* --- GetFunnelReport ----------------------------------------------------------------------------------------- */

/* Period validation shared by both reports: both dates required, end not before start. */
static void check_period(const Ltc__Type__V1__Date *start, const Ltc__Type__V1__Date *end, char a[11], char b[11],
                         ltc_status *st) {
    int ok = ltc_date_to_text(start, "start_date", 0, a, st) == 0;
    ok &= ltc_date_to_text(end, "end_date", 0, b, st) == 0;
    if (ok && strcmp(b, a) < 0) ltc_status_bad_field(st, "end_date", "must not be before start_date");
}

static int32_t ratio_bps(int64_t num, int64_t den) { return den > 0 ? (int32_t)(num * 10000 / den) : 0; }

/* GetFunnelReport. INVALID_ARGUMENT (start_date, end_date, owner, customer, currency_code). */
int ltb_get_funnel_report(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__GetFunnelReportRequest *req = (const void *)m;
    char a[11] = "", b[11] = "", cust[LTC_UUID_LEN + 1] = "";
    check_period(req->start_date, req->end_date, a, b, st);
    ltc_check_text(req->owner, "owner", 0, 128, st);
    if (req->customer && req->customer[0]) ltc_name_parse(req->customer, "customers", "customer", cust, st);
    const char *cur = req->currency_code && req->currency_code[0] ? req->currency_code : NULL;
    if (cur && !(strlen(cur) == 3 && cur[0] >= 'A' && cur[0] <= 'Z' && cur[1] >= 'A' && cur[1] <= 'Z' &&
                 cur[2] >= 'A' && cur[2] <= 'Z'))
        ltc_status_bad_field(st, "currency_code", "must be an ISO 4217 code such as CNY");
    if (st->code != LTC_OK) return -1;

    const char *p[] = {
        a, b, req->owner && req->owner[0] ? req->owner : NULL, cust[0] ? cust : NULL, cur, ltc_call_deal_scope(c)};
    PGresult *r = ltc_call_query(c, st, SQL_FUNNEL, 6, p);
    if (!r) return -1;
    PGresult *rl = ltc_call_query(c, st, SQL_LOST_REASONS, 6, p);
    if (!rl) return -1;

    Ltc__Ltb__V1__FunnelReport *f = LTC_NEW(c, Ltc__Ltb__V1__FunnelReport, LTC__LTB__V1__FUNNEL_REPORT__INIT);
    f->start_date = req->start_date;
    f->end_date = req->end_date;
    const char *currency = PQntuples(r) ? ltc_pg_str(r, 0, 0) : "";
    f->currency_code = ltc_call_strdup(c, currency);
    int64_t v[14] = {0};
    for (int k = 1; k < 14 && PQntuples(r); k++) v[k] = ltc_pg_i64(r, 0, k);
    /* columns: 1 all, 2 bidding, 3 won, 4 cash, 5 lost, 6 not pursued, 7 open, 8..13 the amounts in that order */
    static const Ltc__Ltb__V1__OpportunityStage order[] = {LTB_STAGE(QUALIFIED), LTB_STAGE(BIDDING),
                                                           LTB_STAGE(WON),       LTB_STAGE(CASH_COLLECTED),
                                                           LTB_STAGE(LOST),      LTB_STAGE(NOT_PURSUED)};
    f->stages = ltc_call_alloc(c, sizeof *f->stages * 6);
    for (int k = 0; k < 6; k++) {
        Ltc__Ltb__V1__FunnelStage *s = LTC_NEW(c, Ltc__Ltb__V1__FunnelStage, LTC__LTB__V1__FUNNEL_STAGE__INIT);
        s->stage = order[k];
        s->count = v[1 + k];
        s->amount = ltc_money_msg(c, currency[0] ? currency : "XXX", v[8 + k]);
        /* the funnel converts step by step; LOST and NOT_PURSUED as shares of all */
        s->conversion_bps = k == 0 ? 0 : k < 4 ? ratio_bps(v[1 + k], v[k]) : ratio_bps(v[1 + k], v[1]);
        f->stages[f->n_stages++] = s;
    }
    f->opportunity_count = v[1];
    f->open_count = v[7];
    f->win_rate_bps = ratio_bps(v[3], v[3] + v[5] + v[6]);
    int nl = PQntuples(rl);
    f->lost_reasons = ltc_call_alloc(c, sizeof *f->lost_reasons * (size_t)(nl ? nl : 1));
    for (int i = 0; i < nl; i++) {
        Ltc__Ltb__V1__LostReasonCount *x =
            LTC_NEW(c, Ltc__Ltb__V1__LostReasonCount, LTC__LTB__V1__LOST_REASON_COUNT__INIT);
        x->reason = ltc_call_strdup(c, ltc_pg_str(rl, i, 0));
        x->count = ltc_pg_i64(rl, i, 1);
        f->lost_reasons[f->n_lost_reasons++] = x;
    }
    Ltc__Ltb__V1__GetFunnelReportResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__GetFunnelReportResponse, LTC__LTB__V1__GET_FUNNEL_REPORT_RESPONSE__INIT);
    resp->report = f;
    *out = &resp->base;
    return 0;
}

/* --- GetVelocityReport --------------------------------------------------------------------------------------- */

static int64_t col_or_zero(const PGresult *r, int i, int col) {
    return ltc_pg_isnull(r, i, col) ? 0 : ltc_pg_i64(r, i, col);
}

static Ltc__Ltb__V1__DurationStats *stats(ltc_call *c, int64_t *v, size_t n) {
    Ltc__Ltb__V1__DurationStats *d = LTC_NEW(c, Ltc__Ltb__V1__DurationStats, LTC__LTB__V1__DURATION_STATS__INIT);
    d->count = (int64_t)n;
    d->median_seconds = ltb_percentile(v, n, 50);
    d->p90_seconds = ltb_percentile(v, n, 90);
    return d;
}

/* The group of rows [from, to) of r. */
static Ltc__Ltb__V1__VelocityGroup *velocity_group(ltc_call *c, const PGresult *r, int from, int to) {
    size_t n = (size_t)(to - from);
    Ltc__Ltb__V1__VelocityGroup *g = LTC_NEW(c, Ltc__Ltb__V1__VelocityGroup, LTC__LTB__V1__VELOCITY_GROUP__INIT);
    g->key = ltc_call_strdup(c, ltc_pg_str(r, from, VC_KEY));
    g->deal_count = (int64_t)n;
    int64_t *per[4], *l2c = ltc_call_alloc(c, sizeof *l2c * n);
    size_t nper[4] = {0}, nl2c = 0;
    for (int s = 0; s < 4; s++) per[s] = ltc_call_alloc(c, sizeof *per[s] * n);
    Ltc__Ltb__V1__DeliveryPerformance *dv =
        LTC_NEW(c, Ltc__Ltb__V1__DeliveryPerformance, LTC__LTB__V1__DELIVERY_PERFORMANCE__INIT);
    Ltc__Ltb__V1__CashPerformance *cp = LTC_NEW(c, Ltc__Ltb__V1__CashPerformance, LTC__LTB__V1__CASH_PERFORMANCE__INIT);
    int64_t pay_seconds_total = 0, paid_deals = 0;
    ltb_weighted dso = {0, 0};
    for (int i = from; i < to; i++) {
        if (ltb_weighted_add(&dso, col_or_zero(r, i, VC_PAID_WEIGHT), ltc_pg_str(r, i, VC_WEIGHTED)) != 0) return NULL;
        ltb_flow_times t = {col_or_zero(r, i, VC_LEAD), col_or_zero(r, i, VC_WON), col_or_zero(r, i, VC_PLACED),
                            col_or_zero(r, i, VC_ACCEPTED), col_or_zero(r, i, VC_CASH)};
        ltb_stage_span sp[4];
        size_t ns = ltb_flow_spans(&t, 0, sp);
        for (size_t k = 0; k < ns; k++)
            if (!sp[k].open) per[sp[k].stage - 1][nper[sp[k].stage - 1]++] = sp[k].seconds;
        if (t.cash_collected && t.lead_created) l2c[nl2c++] = (t.cash_collected - t.lead_created) / 1000000;
        if (!ltc_pg_isnull(r, i, VC_DUE_DAY) && !ltc_pg_isnull(r, i, VC_DONE_DAY)) {
            int64_t late = ltb_days_late(ltc_pg_i64(r, i, VC_DUE_DAY), ltc_pg_i64(r, i, VC_DONE_DAY));
            dv->judged++;
            if (late > 0) {
                dv->late++;
                dv->late_days_total += late;
                if (late > dv->max_late_days) dv->max_late_days = late;
            } else {
                dv->on_time++;
            }
        }
        int64_t invoiced = col_or_zero(r, i, VC_INVOICED), paid = col_or_zero(r, i, VC_PAID);
        if (invoiced > 0) {
            cp->invoiced_deals++;
            if (paid >= invoiced && !ltc_pg_isnull(r, i, VC_LAST_PAID) && !ltc_pg_isnull(r, i, VC_FIRST_INVOICE)) {
                int64_t paid_at = ltc_pg_i64(r, i, VC_LAST_PAID), first = ltc_pg_i64(r, i, VC_FIRST_INVOICE);
                int64_t pay_day = paid_at >= 0 ? paid_at / 86400000000LL : 0;
                paid_deals++;
                pay_seconds_total += paid_at > first ? (paid_at - first) / 1000000 : 0;
                if (!ltc_pg_isnull(r, i, VC_LAST_DUE_DAY) && pay_day > ltc_pg_i64(r, i, VC_LAST_DUE_DAY))
                    cp->paid_late++;
                else
                    cp->paid_on_time++;
            }
        }
    }
    cp->average_seconds_to_pay = paid_deals ? pay_seconds_total / paid_deals : 0;
    cp->revenue_weighted_seconds_to_pay = ltb_weighted_seconds(&dso);
    g->stages = ltc_call_alloc(c, sizeof *g->stages * 4);
    for (int s = 0; s < 4; s++) {
        Ltc__Ltb__V1__StageCycle *x = LTC_NEW(c, Ltc__Ltb__V1__StageCycle, LTC__LTB__V1__STAGE_CYCLE__INIT);
        x->stage = (Ltc__Type__V1__MilestoneStage)(s + 1);
        x->duration = stats(c, per[s], nper[s]);
        g->stages[g->n_stages++] = x;
    }
    g->lead_to_cash = stats(c, l2c, nl2c);
    g->delivery = dv;
    g->cash = cp;
    return g;
}

/* GetVelocityReport. INVALID_ARGUMENT (start_date, end_date, group_by). */
int ltb_get_velocity_report(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__GetVelocityReportRequest *req = (const void *)m;
    char a[11] = "", b[11] = "";
    check_period(req->start_date, req->end_date, a, b, st);
    const char *group =
        ltc_enum_to_db(&ltc__ltb__v1__velocity_group_by__descriptor, "VELOCITY_GROUP_BY_", (int)req->group_by);
    if (!group || req->group_by == 0) ltc_status_bad_field(st, "group_by", "must be CUSTOMER, OWNER, MONTH or PRODUCT");
    if (st->code != LTC_OK) return -1;

    const char *p[] = {a, b, group, ltc_call_deal_scope(c)};
    PGresult *r = ltc_call_query(c, st, SQL_VELOCITY, 4, p);
    if (!r) return -1;
    Ltc__Ltb__V1__VelocityReport *v = LTC_NEW(c, Ltc__Ltb__V1__VelocityReport, LTC__LTB__V1__VELOCITY_REPORT__INIT);
    v->start_date = req->start_date;
    v->end_date = req->end_date;
    v->group_by = req->group_by;
    int n = PQntuples(r);
    v->groups = ltc_call_alloc(c, sizeof *v->groups * (size_t)(n ? n : 1));
    for (int i = 0; i < n;) {
        int j = i + 1;
        while (j < n && strcmp(ltc_pg_str(r, j, VC_KEY), ltc_pg_str(r, i, VC_KEY)) == 0) j++;
        if (!(v->groups[v->n_groups++] = velocity_group(c, r, i, j)))
            return ltc_status_set(st, LTC_INTERNAL, NULL, "velocity group %s: the weighted DSO overflows",
                                  ltc_pg_str(r, i, VC_KEY));
        i = j;
    }
    Ltc__Ltb__V1__GetVelocityReportResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__GetVelocityReportResponse, LTC__LTB__V1__GET_VELOCITY_REPORT_RESPONSE__INIT);
    resp->report = v;
    *out = &resp->base;
    return 0;
}
