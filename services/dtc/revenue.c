/* services/dtc/revenue.c - revenue recognition (IFRS 15, docs/finance.md "Revenue recognition"): the obligations
 * AcceptOrderPlaced stored (intake.c) are recognised by RunRevenueRecognition(period) up to the period's end, point
 * in time by the accepted share of the order, over time straight-line from the order's full acceptance, with the
 * pure rules of revrec_engine.c; one REVENUE entry per order and run (plus a CONTRACT_NETTING one when an invoice has
 * since covered a contract asset). GetRevenueSchedule and GetRevenueSummary read what was recognised and deferred. */
#include <stdio.h>
#include <string.h>

#include "dtc.h"
#include "ledger.h"
#include "revrec_engine.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

static const char SQL_PERIOD_END[] =
    "SELECT to_char(((($1 || '-01')::date + interval '1 month') - interval '1 day')::date, 'YYYY-MM-DD'), "
    "(($1 || '-01')::date + interval '1 month')::date <= current_date";
static const char SQL_RUN_MARK[] = "INSERT INTO revenue_runs (period, run_by) VALUES ($1, $2) "
                                   "ON CONFLICT (period) DO UPDATE SET last_run_time = now()";
/* every obligation with something left, with what its order had by the period's end ($1): fully accepted by then,
 * accepted value by then, months of service by then (the full acceptance's month counting as the first) */
static const char SQL_DUE[] =
    "SELECT o.account_id::text, o.line_no, o.revenue_type, o.service_months, o.allocated_minor, o.recognised_minor, "
    "a.order_total_minor, a.currency::text, coalesce(a.customer_id::text, ''), "
    "coalesce(a.fully_accepted AND a.fully_accepted_date <= $1::date, false), "
    "coalesce((SELECT sum(d.accepted_minor) FROM deliveries d WHERE d.account_id = a.id AND d.accept_date <= $1::date), "
    "0)::bigint, CASE WHEN a.fully_accepted AND a.fully_accepted_date <= $1::date THEN "
    "(extract(year FROM $1::date) * 12 + extract(month FROM $1::date) - extract(year FROM a.fully_accepted_date) * 12 "
    "- extract(month FROM a.fully_accepted_date) + 1)::integer ELSE 0 END "
    "FROM revenue_obligations o JOIN order_accounts a ON a.id = o.account_id "
    "WHERE o.recognised_minor < o.allocated_minor ORDER BY o.account_id, o.line_no FOR UPDATE OF o";
/* the order's contract liability (credit) and contract asset (debit) balances in the journal: the entries of the
 * order, its invoices and its credit notes, found by source through journal_entries_source_idx (the sources as one
 * array: an OR of IN-subqueries cannot use the index, and was a scan of the whole journal for every order a
 * recognition run posts) */
static const char SQL_CONTRACT[] =
    "SELECT coalesce(sum(l.credit_minor - l.debit_minor) FILTER (WHERE l.account_role = 'CONTRACT_LIABILITY'), 0)::bigint, "
    "coalesce(sum(l.debit_minor - l.credit_minor) FILTER (WHERE l.account_role = 'CONTRACT_ASSET'), 0)::bigint "
    "FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id WHERE e.source = ANY (ARRAY['orders/' || $1::text] "
    "|| ARRAY(SELECT 'invoices/' || id FROM invoices WHERE account_id = ($1::text)::uuid) "
    "|| ARRAY(SELECT 'creditNotes/' || id FROM credit_notes WHERE account_id = ($1::text)::uuid))";
static const char SQL_RECOGNISE[] =
    "UPDATE revenue_obligations SET recognised_minor = recognised_minor + $3::bigint WHERE account_id = $1 "
    "AND line_no = $2::integer";
static const char SQL_POSTING[] =
    "INSERT INTO revenue_postings (account_id, line_no, period, amount_minor) VALUES ($1, $2::integer, $3, $4::bigint)";

/* --- RunRevenueRecognition ---------------------------------------------------------------------------------------- */

#define MAX_CURRENCIES 16

typedef struct run_totals {
    int n, entries;
    char cur[MAX_CURRENCIES][4];
    int64_t sum[MAX_CURRENCIES];
} run_totals;

/* Posts the order's revenue `r` (> 0) dated the period's end: netting, then REVENUE. */
static int post_order(ltc_call *c, ltc_status *st, const char *order, const char *customer, const char *cur, int64_t r,
                      const char *end, run_totals *t) {
    PGresult *b = ltc_call_query(c, st, SQL_CONTRACT, 1, (const char *[]){order});
    if (!b) return -1;
    int64_t l0 = ltc_pg_i64(b, 0, 0), a0 = ltc_pg_i64(b, 0, 1), from_l, to_a, net;
    if (dtc_revrec_contract(r, l0 > 0 ? l0 : 0, a0 > 0 ? a0 : 0, &from_l, &to_a, &net) != 0)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "revenue of order %s: bad amounts", order);
    const char *src = ltc_call_printf(c, "orders/%s", order);
    if (net > 0) {
        dtc_posting p = {.event = DTC_EV_CONTRACT_NETTING,
                         .a = net,
                         .source = src,
                         .customer = customer,
                         .currency = cur,
                         .date = end};
        if (dtc_ledger_post(c, st, &p) != 0) return -1;
        t->entries++;
    }
    dtc_posting p = {.event = DTC_EV_REVENUE,
                     .a = from_l,
                     .b = to_a,
                     .source = src,
                     .customer = customer,
                     .currency = cur,
                     .date = end};
    if (dtc_ledger_post(c, st, &p) != 0) return -1;
    t->entries++;
    int k = 0;
    while (k < t->n && strcmp(t->cur[k], cur) != 0) k++;
    if (k == t->n) {
        if (t->n == MAX_CURRENCIES) return ltc_status_set(st, LTC_INTERNAL, NULL, "more than 16 currencies");
        snprintf(t->cur[t->n++], 4, "%s", cur);
        t->sum[k] = 0;
    }
    t->sum[k] += r;
    return 0;
}

/* FinanceService/RunRevenueRecognition: see the proto. */
int dtc_run_revenue_recognition(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RunRevenueRecognitionRequest *req = (const void *)m;
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    dtc_period_parse(req->period, "period", 1, st);
    if (st->code != LTC_OK) return -1;
    PGresult *e = ltc_call_query(c, st, SQL_PERIOD_END, 1, (const char *[]){req->period});
    if (!e) return -1;
    if (!ltc_pg_bool(e, 0, 1))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "PERIOD_NOT_ENDED",
                              "period %s has not ended yet: its revenue is recognised from its next month on",
                              req->period);
    const char *end = ltc_call_strdup(c, ltc_pg_str(e, 0, 0));
    if (!ltc_call_query(c, st, SQL_RUN_MARK, 2, (const char *[]){req->period, dtc_principal(c)})) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_DUE, 1, (const char *[]){end});
    if (!r) return -1;
    run_totals t = {0};
    int n = PQntuples(r);
    int64_t order_sum = 0;
    for (int i = 0; i < n; i++) {
        const char *order = ltc_pg_str(r, i, 0);
        int64_t alloc = ltc_pg_i64(r, i, 4), done = ltc_pg_i64(r, i, 5), due;
        if (strcmp(ltc_pg_str(r, i, 2), "OVER_TIME") == 0)
            due = dtc_revrec_recognised(alloc, (int)ltc_pg_i64(r, i, 3), (int)ltc_pg_i64(r, i, 11));
        else
            due = dtc_revrec_point_in_time(alloc, ltc_pg_i64(r, i, 10), ltc_pg_i64(r, i, 6), ltc_pg_bool(r, i, 9));
        if (due < 0) return ltc_status_set(st, LTC_INTERNAL, NULL, "obligation of order %s: bad amounts", order);
        if (due > done) {
            const char *delta = ltc_sql_i64(c, due - done), *line = ltc_pg_str(r, i, 1);
            if (!ltc_call_query(c, st, SQL_RECOGNISE, 3, (const char *[]){order, line, delta})) return -1;
            if (!ltc_call_query(c, st, SQL_POSTING, 4, (const char *[]){order, line, req->period, delta})) return -1;
            order_sum += due - done;
        }
        /* the order's last obligation: one entry for the order */
        if ((i + 1 == n || strcmp(order, ltc_pg_str(r, i + 1, 0)) != 0) && order_sum > 0) {
            if (post_order(c, st, order, ltc_pg_str(r, i, 8), ltc_pg_str(r, i, 7), order_sum, end, &t) != 0) return -1;
            order_sum = 0;
        }
    }
    Ltc__Dtc__V1__RunRevenueRecognitionResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RunRevenueRecognitionResponse, LTC__DTC__V1__RUN_REVENUE_RECOGNITION_RESPONSE__INIT);
    resp->period = ltc_call_strdup(c, req->period);
    resp->entry_count = t.entries;
    resp->recognised = ltc_call_alloc(c, sizeof(Ltc__Type__V1__Money *) * MAX_CURRENCIES);
    for (int k = 0; k < t.n; k++) resp->recognised[resp->n_recognised++] = ltc_money_msg(c, t.cur[k], t.sum[k]);
    *out = &resp->base;
    return 0;
}

/* --- GetRevenueSchedule ------------------------------------------------------------------------------------------- */

static const char SQL_ORDER[] = "SELECT currency::text, order_total_minor, CASE WHEN fully_accepted THEN " LTC_SQL_DATE(
    "fully_accepted_date") " END FROM order_accounts WHERE id = $1";
static const char SQL_OBLIGATIONS[] =
    "SELECT line_no, product, sku, revenue_type, service_months, ssp_minor, allocated_minor, recognised_minor "
    "FROM revenue_obligations WHERE account_id = $1 ORDER BY line_no";

/* FinanceService/GetRevenueSchedule: see the proto. */
int dtc_get_revenue_schedule(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetRevenueScheduleRequest *req = (const void *)m;
    char order[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->order, "orders", "order", order, st) != 0) return -1;
    PGresult *a = ltc_call_query(c, st, SQL_ORDER, 1, (const char *[]){order});
    if (!a) return -1;
    if (PQntuples(a) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_ACCOUNT_NOT_FOUND", "order account %s not found", order);
    PGresult *r = ltc_call_query(c, st, SQL_OBLIGATIONS, 1, (const char *[]){order});
    if (!r) return -1;
    const char *cur = ltc_call_strdup(c, ltc_pg_str(a, 0, 0));
    int started = !ltc_pg_isnull(a, 0, 2), y = 0, mo = 0;
    if (started) sscanf(ltc_pg_str(a, 0, 2), "%d-%d", &y, &mo);
    Ltc__Dtc__V1__GetRevenueScheduleResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetRevenueScheduleResponse, LTC__DTC__V1__GET_REVENUE_SCHEDULE_RESPONSE__INIT);
    resp->order = ltc_call_printf(c, "orders/%s", order);
    resp->transaction_price = ltc_money_msg(c, cur, ltc_pg_i64(a, 0, 1));
    int n = PQntuples(r);
    int64_t rec = 0, def = 0;
    resp->obligations = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__PerformanceObligation *) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        Ltc__Dtc__V1__PerformanceObligation *o =
            LTC_NEW(c, Ltc__Dtc__V1__PerformanceObligation, LTC__DTC__V1__PERFORMANCE_OBLIGATION__INIT);
        int ot = strcmp(ltc_pg_str(r, i, 3), "OVER_TIME") == 0, months = (int)ltc_pg_i64(r, i, 4);
        int64_t alloc = ltc_pg_i64(r, i, 6), done = ltc_pg_i64(r, i, 7);
        o->line = (int32_t)ltc_pg_i64(r, i, 0);
        o->product = ltc_call_strdup(c, ltc_pg_str(r, i, 1));
        o->sku = ltc_call_strdup(c, ltc_pg_str(r, i, 2));
        o->revenue_type = ot ? LTC__TYPE__V1__REVENUE_TYPE__REVENUE_TYPE_OVER_TIME
                             : LTC__TYPE__V1__REVENUE_TYPE__REVENUE_TYPE_POINT_IN_TIME;
        o->service_months = months;
        o->standalone_price = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 5));
        o->allocated = ltc_money_msg(c, cur, alloc);
        o->recognised = ltc_money_msg(c, cur, done);
        o->deferred = ltc_money_msg(c, cur, alloc - done);
        rec += done, def += alloc - done;
        if (ot && started) {
            o->start_date = ltc_date_from_pg(c, a, 0, 2);
            int64_t *parts = ltc_call_alloc(c, sizeof(int64_t) * (size_t)months);
            if (dtc_revrec_schedule(alloc, months, parts) != 0)
                return ltc_status_set(st, LTC_INTERNAL, NULL, "obligation %d of order %s: bad amounts", o->line, order);
            o->schedule = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__ScheduledRevenue *) * (size_t)months);
            for (int k = 0; k < months; k++) {
                int idx = y * 12 + (mo - 1) + k;
                Ltc__Dtc__V1__ScheduledRevenue *s =
                    LTC_NEW(c, Ltc__Dtc__V1__ScheduledRevenue, LTC__DTC__V1__SCHEDULED_REVENUE__INIT);
                s->period = ltc_call_printf(c, "%04d-%02d", idx / 12, idx % 12 + 1);
                s->amount = ltc_money_msg(c, cur, parts[k]);
                o->schedule[o->n_schedule++] = s;
            }
        }
        resp->obligations[resp->n_obligations++] = o;
    }
    resp->recognised = ltc_money_msg(c, cur, rec);
    resp->deferred = ltc_money_msg(c, cur, def);
    *out = &resp->base;
    return 0;
}

/* --- GetRevenueSummary -------------------------------------------------------------------------------------------- */

/* per currency: recognised by the period's runs, by its and earlier runs, and allocated to orders placed by its end
 * ($1 period, $2 customer or NULL) */
static const char SQL_SUMMARY[] =
    "SELECT cur, sum(in_period)::bigint, sum(to_date)::bigint, sum(alloc)::bigint FROM ("
    "SELECT o.currency::text AS cur, 0::bigint AS in_period, 0::bigint AS to_date, o.allocated_minor AS alloc "
    "FROM revenue_obligations o JOIN order_accounts a ON a.id = o.account_id WHERE ($2::uuid IS NULL OR "
    "a.customer_id = $2::uuid) AND coalesce(a.place_time, a.create_time) < ($1::text || '-01')::date + interval '1 month' "
    "UNION ALL SELECT o.currency::text, CASE WHEN p.period = $1::text THEN p.amount_minor ELSE 0 END, p.amount_minor, 0 "
    "FROM revenue_postings p JOIN revenue_obligations o USING (account_id, line_no) JOIN order_accounts a ON "
    "a.id = p.account_id WHERE ($2::uuid IS NULL OR a.customer_id = $2::uuid) AND p.period <= $1::text) x "
    "GROUP BY cur ORDER BY cur";
static const char SQL_RUN_EXISTS[] = "SELECT EXISTS (SELECT FROM revenue_runs WHERE period = $1)";

/* FinanceService/GetRevenueSummary: see the proto. */
int dtc_get_revenue_summary(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetRevenueSummaryRequest *req = (const void *)m;
    char customer[LTC_UUID_LEN + 1] = "";
    dtc_period_parse(req->period, "period", 1, st);
    if (req->customer[0]) ltc_name_parse(req->customer, "customers", "customer", customer, st);
    if (st->code != LTC_OK) return -1;
    PGresult *x = ltc_call_query(c, st, SQL_RUN_EXISTS, 1, (const char *[]){req->period});
    if (!x) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_SUMMARY, 2, (const char *[]){req->period, customer[0] ? customer : NULL});
    if (!r) return -1;
    Ltc__Dtc__V1__GetRevenueSummaryResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetRevenueSummaryResponse, LTC__DTC__V1__GET_REVENUE_SUMMARY_RESPONSE__INIT);
    resp->period = ltc_call_strdup(c, req->period);
    resp->recognition_run = ltc_pg_bool(x, 0, 0);
    int n = PQntuples(r);
    resp->rows = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__RevenueSummaryRow *) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        const char *cur = ltc_pg_str(r, i, 0);
        Ltc__Dtc__V1__RevenueSummaryRow *w =
            LTC_NEW(c, Ltc__Dtc__V1__RevenueSummaryRow, LTC__DTC__V1__REVENUE_SUMMARY_ROW__INIT);
        w->recognised_in_period = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 1));
        w->recognised_to_date = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 2));
        w->deferred = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 3) - ltc_pg_i64(r, i, 2));
        resp->rows[resp->n_rows++] = w;
    }
    *out = &resp->base;
    return 0;
}
