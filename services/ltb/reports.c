/* reports.c - the CRM hub's reports over many deals (issue #18):
 * - GetFunnelReport: the opportunities created in a period (UTC days), how many reached each stage (from the stage
 *   history: QUALIFIED, BIDDING, WON, CASH_COLLECTED) and how many ended LOST or NOT_PURSUED, with amounts,
 *   conversions, the win rate and the lost reasons: plain SQL aggregates.
 * - GetVelocityReport: per group (customer, owner, month), each flow stage's cycle time and lead to cash (median
 *   and p90, nearest rank), delivery against the customer's date and cash against due dates, from the deals' stage
 *   history and milestones: one row per deal from SQL, read through a cursor in batches and folded group by group
 *   (memory bounded by a batch and the current group, not the period), the statistics in C (hub_rules.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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
/* the row's columns, in the order of the enum below. The lead's creation is looked up by key for each deal (a
 * subquery, not a join): joined, the planner hashed the whole of `leads` (a sequential scan) as soon as the period held
 * a few percent of the opportunities, though one index probe a deal costs less even at half the table (the deal's
 * stage changes and milestones are read by index for each deal anyway). */
#define VC_SQL_TIMES                                                                                                   \
    LTC_SQL_MICROS("(SELECT l.create_time FROM leads l WHERE l.id = o.lead_id)")                                       \
    ", " LTC_SQL_MICROS("sc.won") ", " LTC_SQL_MICROS("ms.placed") ", " LTC_SQL_MICROS(                                \
        "ms.accepted") ", " LTC_SQL_MICROS("sc.cash")
#define VC_SQL_DAYS                                                                                                    \
    DAYNO("COALESCE(ms.placed_on, ms.promised_on)") ", " DAYNO("(ms.last_accepted AT TIME ZONE 'UTC')::date")
#define VC_SQL_CASH                                                                                                    \
    "ms.invoiced, ms.paid, " LTC_SQL_MICROS("ms.first_invoice") ", " LTC_SQL_MICROS("ms.last_paid") ", " DAYNO(        \
        "ms.last_due") ", w.weight, w.weighted::text"
#define SQL_VELOCITY_SELECT                                                                                            \
    "SELECT " VC_SQL_KEY " AS key, " VC_SQL_TIMES ", " VC_SQL_DAYS ", " VC_SQL_CASH                                    \
    " FROM opportunities o" VC_SQL_STAGES VC_SQL_MILESTONES VC_SQL_PRODUCTS VC_SQL_WEIGHTS                             \
    " WHERE o.create_time >= ($1::date::timestamp AT TIME ZONE 'UTC')"                                                 \
    " AND o.create_time < (($2::date + 1)::timestamp AT TIME ZONE 'UTC')"                                              \
    " AND ($4::text IS NULL OR $4 IN (o.account_owner, o.solution_owner, o.fulfilment_owner))"                         \
    " ORDER BY 1, o.seq"
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

/* The report reads its rows through a cursor, VC_BATCH at a time, and folds each group as its rows arrive (they come
 * ordered by group key): what it holds is one batch of rows and the current group's per-deal durations, never the
 * period's whole result (a busy week's 100k rows added some 30 MiB to ltb, its peak at 100k stored deals). The
 * statistics are exact nearest-rank percentiles, so the group's durations are kept (5 x 8 bytes a deal of the largest
 * group, in buffers reused from group to group); everything else is running sums. */
#define VC_BATCH "1000"
static const char SQL_VELOCITY_DECLARE[] = "DECLARE ltb_velocity_rows NO SCROLL CURSOR FOR " SQL_VELOCITY_SELECT;
/* The cursor's plan is made for reading every row (a cursor's default makes its first tenth fast: index-ordered nested
 * loops that took 3.7 s for a busy week's rows where the plan for all of them took 2.1 s). */
static const char SQL_VELOCITY_ALL_ROWS[] = "SET LOCAL cursor_tuple_fraction = 1";
static const char SQL_VELOCITY_FETCH[] = "FETCH FORWARD " VC_BATCH " FROM ltb_velocity_rows";
static const char SQL_VELOCITY_CLOSE[] = "CLOSE ltb_velocity_rows";

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

/* One group being folded: its key, the per-deal durations (per stage, lead to cash: five arrays of room for cap
 * deals in one mapping of their own, kept for the next group), the delivery and cash figures and the weighted DSO so
 * far. The durations live in pages mapped for the call and unmapped at its end, not in malloc's heap: a group of
 * 100k deals takes 5 MiB, and from malloc those pages would stay with the worker thread's arena after the call. */
typedef struct vc_group {
    const char *key; /* in the call's arena */
    int64_t deals;
    int64_t *per[4], *l2c;
    size_t nper[4], nl2c, cap;
    Ltc__Ltb__V1__DeliveryPerformance *dv;
    Ltc__Ltb__V1__CashPerformance *cp;
    int64_t pay_seconds_total, paid_deals;
    ltb_weighted dso;
} vc_group;

static void vc_group_free(vc_group *g) {
    if (g->cap) munmap(g->per[0], sizeof(int64_t) * 5 * g->cap);
}

/* Starts the group `key` (the buffers stay). */
static void vc_group_start(ltc_call *c, vc_group *g, const char *key) {
    g->key = ltc_call_strdup(c, key);
    g->deals = 0;
    memset(g->nper, 0, sizeof g->nper);
    g->nl2c = 0;
    g->dv = LTC_NEW(c, Ltc__Ltb__V1__DeliveryPerformance, LTC__LTB__V1__DELIVERY_PERFORMANCE__INIT);
    g->cp = LTC_NEW(c, Ltc__Ltb__V1__CashPerformance, LTC__LTB__V1__CASH_PERFORMANCE__INIT);
    g->pay_seconds_total = g->paid_deals = 0;
    g->dso = (ltb_weighted){0, 0};
}

/* Room for one more deal in every buffer (doubling; 1024 deals, 40 KiB, at first). 0, or -1 out of memory. */
static int vc_group_reserve(vc_group *g) {
    if ((size_t)g->deals < g->cap) return 0;
    size_t cap = g->cap ? g->cap * 2 : 1024;
    if (cap > SIZE_MAX / (5 * sizeof(int64_t))) return -1;
    int64_t *b = mmap(NULL, sizeof *b * 5 * cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) return -1;
    int64_t *old = g->per[0];
    size_t old_cap = g->cap;
    for (int s = 0; s < 4; s++) {
        if (g->nper[s]) memcpy(b + (size_t)s * cap, g->per[s], sizeof *b * g->nper[s]);
        g->per[s] = b + (size_t)s * cap;
    }
    if (g->nl2c) memcpy(b + 4 * cap, g->l2c, sizeof *b * g->nl2c);
    g->l2c = b + 4 * cap;
    if (old_cap) munmap(old, sizeof *b * 5 * old_cap);
    g->cap = cap;
    return 0;
}

/* Folds row i of r (one deal) into g. 0; 1 when the weighted DSO overflows; -1 out of memory. */
static int vc_group_add(vc_group *g, const PGresult *r, int i) {
    if (vc_group_reserve(g) != 0) return -1;
    g->deals++;
    if (ltb_weighted_add(&g->dso, col_or_zero(r, i, VC_PAID_WEIGHT), ltc_pg_str(r, i, VC_WEIGHTED)) != 0) return 1;
    ltb_flow_times t = {col_or_zero(r, i, VC_LEAD), col_or_zero(r, i, VC_WON), col_or_zero(r, i, VC_PLACED),
                        col_or_zero(r, i, VC_ACCEPTED), col_or_zero(r, i, VC_CASH)};
    ltb_stage_span sp[4];
    size_t ns = ltb_flow_spans(&t, 0, sp);
    for (size_t k = 0; k < ns; k++)
        if (!sp[k].open) g->per[sp[k].stage - 1][g->nper[sp[k].stage - 1]++] = sp[k].seconds;
    if (t.cash_collected && t.lead_created) g->l2c[g->nl2c++] = (t.cash_collected - t.lead_created) / 1000000;
    Ltc__Ltb__V1__DeliveryPerformance *dv = g->dv;
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
    Ltc__Ltb__V1__CashPerformance *cp = g->cp;
    int64_t invoiced = col_or_zero(r, i, VC_INVOICED), paid = col_or_zero(r, i, VC_PAID);
    if (invoiced > 0) {
        cp->invoiced_deals++;
        if (paid >= invoiced && !ltc_pg_isnull(r, i, VC_LAST_PAID) && !ltc_pg_isnull(r, i, VC_FIRST_INVOICE)) {
            int64_t paid_at = ltc_pg_i64(r, i, VC_LAST_PAID), first = ltc_pg_i64(r, i, VC_FIRST_INVOICE);
            int64_t pay_day = paid_at >= 0 ? paid_at / 86400000000LL : 0;
            g->paid_deals++;
            g->pay_seconds_total += paid_at > first ? (paid_at - first) / 1000000 : 0;
            if (!ltc_pg_isnull(r, i, VC_LAST_DUE_DAY) && pay_day > ltc_pg_i64(r, i, VC_LAST_DUE_DAY))
                cp->paid_late++;
            else
                cp->paid_on_time++;
        }
    }
    return 0;
}

/* The finished group's message (in the call's arena). */
static Ltc__Ltb__V1__VelocityGroup *vc_group_end(ltc_call *c, vc_group *g) {
    Ltc__Ltb__V1__VelocityGroup *m = LTC_NEW(c, Ltc__Ltb__V1__VelocityGroup, LTC__LTB__V1__VELOCITY_GROUP__INIT);
    m->key = (char *)g->key;
    m->deal_count = g->deals;
    g->cp->average_seconds_to_pay = g->paid_deals ? g->pay_seconds_total / g->paid_deals : 0;
    g->cp->revenue_weighted_seconds_to_pay = ltb_weighted_seconds(&g->dso);
    m->stages = ltc_call_alloc(c, sizeof *m->stages * 4);
    for (int s = 0; s < 4; s++) {
        Ltc__Ltb__V1__StageCycle *x = LTC_NEW(c, Ltc__Ltb__V1__StageCycle, LTC__LTB__V1__STAGE_CYCLE__INIT);
        x->stage = (Ltc__Type__V1__MilestoneStage)(s + 1);
        x->duration = stats(c, g->per[s], g->nper[s]);
        m->stages[m->n_stages++] = x;
    }
    m->lead_to_cash = stats(c, g->l2c, g->nl2c);
    m->delivery = g->dv;
    m->cash = g->cp;
    return m;
}

/* The groups read so far: their array (grown in the arena, doubling) and their encoded size in the response. */
typedef struct vc_out {
    size_t cap, bytes, max_bytes;
} vc_out;

/* Appends the finished group to v. 0, or -1 with st set when the response would pass the largest message the process
 * sends: a report grouped by customer or product has a group per customer or SKU of the period, and stopping here
 * bounds what it holds (the send would fail anyway). */
static int vc_append(ltc_call *c, Ltc__Ltb__V1__VelocityReport *v, vc_out *o, vc_group *g, ltc_status *st) {
    Ltc__Ltb__V1__VelocityGroup *x = vc_group_end(c, g);
    o->bytes += protobuf_c_message_get_packed_size(&x->base) + 6; /* its tag and length prefix: at most 6 bytes */
    if (o->bytes > o->max_bytes)
        return ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "REPORT_TOO_LARGE",
                              "the report passes the largest response (%zu bytes) at %zu groups: narrow the period "
                              "or group by MONTH or OWNER",
                              o->max_bytes, v->n_groups + 1);
    if (v->n_groups == o->cap) {
        size_t n = o->cap ? o->cap * 2 : 16;
        Ltc__Ltb__V1__VelocityGroup **a = ltc_call_alloc(c, sizeof *a * n);
        if (v->n_groups) memcpy(a, v->groups, sizeof *a * v->n_groups);
        v->groups = a;
        o->cap = n;
    }
    v->groups[v->n_groups++] = x;
    return 0;
}

/* Reads the cursor's rows batch by batch into v's groups. 0, or -1 with st set. */
static int vc_read(ltc_call *c, ltc_db *db, Ltc__Ltb__V1__VelocityReport *v, ltc_status *st) {
    vc_group g = {0};
    vc_out o = {0, 64, ltc_call_max_message_bytes(c)}; /* 64: the report's dates and grouping, with room */
    int open = 0, rc = 0;
    for (;;) {
        PGresult *r = ltc_db_query(db, st, SQL_VELOCITY_FETCH, 0, NULL);
        if (!r) {
            rc = -1;
            break;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n && rc == 0; i++) {
            const char *key = ltc_pg_str(r, i, VC_KEY);
            if (!key) key = "";
            if (open && strcmp(key, g.key) != 0) {
                open = 0;
                if ((rc = vc_append(c, v, &o, &g, st)) != 0) break;
            }
            if (!open) {
                vc_group_start(c, &g, key);
                open = 1;
            }
            int added = vc_group_add(&g, r, i);
            if (added < 0) rc = ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
            if (added > 0)
                rc = ltc_status_set(st, LTC_INTERNAL, NULL, "velocity group %s: the weighted DSO overflows", g.key);
        }
        PQclear(r);
        if (rc != 0 || n == 0) break;
    }
    if (rc == 0 && open) rc = vc_append(c, v, &o, &g, st);
    vc_group_free(&g);
    return rc;
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

    Ltc__Ltb__V1__VelocityReport *v = LTC_NEW(c, Ltc__Ltb__V1__VelocityReport, LTC__LTB__V1__VELOCITY_REPORT__INIT);
    v->start_date = req->start_date;
    v->end_date = req->end_date;
    v->group_by = req->group_by;
    /* A cursor lives in a transaction: a read opens its own (a detached caller's, when it runs one, serves). */
    ltc_db *db = ltc_call_db(c);
    int own_tx = !ltc_db_in_transaction(db);
    if (own_tx && ltc_db_begin(db, st) != 0) return -1;
    const char *p[] = {a, b, group, ltc_call_deal_scope(c)};
    int rc = ltc_db_exec(db, st, SQL_VELOCITY_ALL_ROWS, 0, NULL);
    if (rc == 0) rc = ltc_db_exec(db, st, SQL_VELOCITY_DECLARE, 4, p);
    if (rc == 0) rc = vc_read(c, db, v, st);
    if (rc == 0 && !own_tx) rc = ltc_db_exec(db, st, SQL_VELOCITY_CLOSE, 0, NULL);
    if (rc == 0 && own_tx) rc = ltc_db_commit(db, st);
    if (rc != 0) {
        if (own_tx) ltc_db_rollback(db);
        return -1;
    }
    Ltc__Ltb__V1__GetVelocityReportResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__GetVelocityReportResponse, LTC__LTB__V1__GET_VELOCITY_REPORT_RESPONSE__INIT);
    resp->report = v;
    *out = &resp->base;
    return 0;
}
