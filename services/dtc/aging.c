/* services/dtc/aging.c - aging and dunning (docs/receivables.md): the aging report of open receivables as of a
 * business date (GetAgingReport; buckets from aging_engine.c), the dunning policy (Get/UpdateDunningPolicy), dunning
 * runs that create a notice once per invoice and level (RunDunning), their list, and the dispute flag that takes an
 * invoice out of dunning (SetInvoiceDispute). OVERDUE is derived from the due date and the open amount as of a date,
 * never stored; the credit hold of docs/credit.md reads the same open invoices (credit.c). */
#include <stdio.h>
#include <string.h>

#include "aging_engine.h"
#include "dtc.h"
#include "ltc/audit.h"
#include "ledger.h"
#include "ltc/fieldmask.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

/* The open amount of every invoice as of $1 (dated on or before it, less what was applied and not yet reversed on
 * that date, the v1 payments of that date that have no receipt, the credit notes and the approved write-offs of that
 * date), of customer $2 and
 * currency $3 (NULL: all). Columns: customer, currency, days past due on $1, open amount. */
static const char SQL_AGING[] =
    "SELECT coalesce(a.customer_id::text, ''), i.currency::text, ($1::date - i.due_date)::bigint, "
    " (i.amount_minor"
    "  - coalesce((SELECT sum(l.amount_minor) FROM allocations l WHERE l.invoice_id = i.id AND l.apply_date <= $1::date"
    "     AND (l.state = 'ACTIVE' OR l.reverse_date > $1::date)), 0)"
    "  - coalesce((SELECT sum(p.amount_minor) FROM payments p WHERE p.invoice_id = i.id"
    "     AND p.create_time::date <= $1::date AND NOT EXISTS (SELECT FROM receipts r WHERE r.id = p.id)), 0)"
    "  - coalesce((SELECT sum(cl.amount_minor) FROM credit_note_lines cl JOIN credit_notes n ON n.id = cl.credit_note_id"
    "     WHERE cl.invoice_id = i.id AND n.issue_date <= $1::date), 0)"
    "  - coalesce((SELECT sum(w.amount_minor) FROM write_offs w WHERE w.invoice_id = i.id AND w.state = 'APPROVED'"
    "     AND w.write_off_date <= $1::date), 0))::bigint AS open_minor "
    "FROM invoices i JOIN order_accounts a ON a.id = i.account_id "
    "WHERE i.invoice_date <= $1::date AND ($2::uuid IS NULL OR a.customer_id = $2::uuid) "
    "AND ($3::text IS NULL OR i.currency = $3) ORDER BY 1, 2";
static const char SQL_TODAY[] = "SELECT " LTC_SQL_DATE("current_date");

static const char SQL_POLICY_GET[] =
    "SELECT reminder_days, second_days, final_days, fee_minor, interest_bps, day_count, update_by, " LTC_SQL_MICROS(
        "update_time") ", version FROM dunning_policy";
static const char SQL_POLICY_LOCK[] = "SELECT version FROM dunning_policy FOR UPDATE";
static const char SQL_POLICY_UPDATE[] =
    "UPDATE dunning_policy SET reminder_days = $1::integer, second_days = $2::integer, final_days = $3::integer, "
    "fee_minor = $4::bigint, interest_bps = $5::integer, day_count = $6, update_by = $7, version = version + 1, "
    "update_time = now()";
/* open, undisputed invoices past due as of $1 (current amounts: a notice asks for today's debt) */
static const char SQL_DUNNABLE[] =
    "SELECT i.id::text, a.customer_id::text, i.currency, ($1::date - i.due_date)::bigint, "
    "(i.amount_minor - i.paid_minor - i.credited_minor - i.written_off_minor)::bigint FROM invoices i "
    "JOIN order_accounts a ON a.id = i.account_id WHERE i.state IN ('UNPAID', 'PARTLY_PAID') AND NOT i.disputed "
    "AND i.due_date < $1::date AND i.invoice_date <= $1::date ORDER BY i.due_date, i.seq FOR UPDATE OF i";
#define NOTICE_COLS                                                                                                    \
    "id::text, invoice_id::text, coalesce(customer_id::text, ''), level, " LTC_SQL_DATE(                               \
        "as_of_date") ", days_overdue, currency, open_minor, fee_minor, interest_minor, " LTC_SQL_MICROS("create_time") ", seq"
static const char SQL_NOTICE_INSERT[] =
    "INSERT INTO dunning_notices (id, invoice_id, customer_id, level, as_of_date, days_overdue, currency, open_minor, "
    "fee_minor, interest_minor, request_id) VALUES ($1, $2, $3::uuid, $4, $5::date, $6::integer, $7, $8::bigint, "
    "$9::bigint, $10::bigint, $11) ON CONFLICT (invoice_id, level) DO NOTHING RETURNING " NOTICE_COLS;
static const char SQL_NOTICES_LIST[] =
    "SELECT " NOTICE_COLS
    " FROM dunning_notices WHERE seq > $1::bigint AND ($3::uuid IS NULL OR customer_id = $3::uuid) "
    "AND ($4::uuid IS NULL OR invoice_id = $4::uuid) ORDER BY seq LIMIT $2::integer";
static const char SQL_DISPUTE[] =
    "UPDATE invoices i SET disputed = $2::boolean, dispute_reason = $3, update_time = now() FROM (SELECT disputed, "
    "dispute_reason FROM invoices WHERE id = $1 FOR UPDATE) o WHERE i.id = $1 RETURNING i.id, o.disputed::text, "
    "o.dispute_reason";

static const char *const LEVELS[] = {NULL, "REMINDER", "SECOND", "FINAL"};

/* --- aging -------------------------------------------------------------------------------------------------------- */

/* One customer's (or a currency's) amounts per bucket, 0 = not due, 1..n+1 past due. */
typedef struct aging_acc {
    const char *customer, *currency;
    int64_t b[DTC_AGING_MAX_BOUNDS + 2];
    int64_t total;
    int count;
} aging_acc;

static Ltc__Dtc__V1__AgingRow *aging_row(ltc_call *c, const aging_acc *a, int n_bounds) {
    Ltc__Dtc__V1__AgingRow *r = LTC_NEW(c, Ltc__Dtc__V1__AgingRow, LTC__DTC__V1__AGING_ROW__INIT);
    r->customer = a->customer && a->customer[0] ? ltc_call_printf(c, "customers/%s", a->customer) : "";
    r->currency_code = ltc_call_strdup(c, a->currency);
    r->not_due = ltc_money_msg(c, a->currency, a->b[0]);
    r->past_due = ltc_call_alloc(c, sizeof(Ltc__Type__V1__Money *) * (size_t)(n_bounds + 1));
    for (int k = 1; k <= n_bounds + 1; k++) r->past_due[r->n_past_due++] = ltc_money_msg(c, a->currency, a->b[k]);
    r->total = ltc_money_msg(c, a->currency, a->total);
    r->open_invoices = a->count;
    return r;
}

/* The functional-currency rows of the report (docs/finance.md, "Foreign exchange"): per customer (rows come by
 * customer), each bucket of each currency converted at the as-of date's rate; currencies without one left out. */
static int functional_aging(ltc_call *c, ltc_status *st, Ltc__Dtc__V1__GetAgingReportResponse *resp,
                            const aging_acc *accs, int nacc, int nb, const char *as_of) {
    dtc_fx_report rep;
    if (dtc_fx_report_init(c, st, &rep, as_of) != 0) return -1;
    resp->functional_rows = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__AgingRow *) * (size_t)(nacc ? nacc : 1));
    aging_acc cust = {0}, all = {.customer = "", .currency = rep.functional};
    for (int i = 0; i <= nacc; i++) {
        if (cust.customer && (i == nacc || strcmp(accs[i].customer, cust.customer) != 0)) {
            if (cust.count > 0) resp->functional_rows[resp->n_functional_rows++] = aging_row(c, &cust, nb);
            memset(&cust, 0, sizeof cust);
        }
        if (i == nacc) break;
        if (!cust.customer) cust.customer = accs[i].customer, cust.currency = rep.functional;
        int64_t f[DTC_AGING_MAX_BOUNDS + 2];
        int k, missing = 0;
        for (k = 0; k <= nb + 1 && !missing; k++) {
            int r = dtc_fx_report_convert(c, st, &rep, accs[i].currency, accs[i].b[k], &f[k]);
            if (r < 0) return -1;
            missing = r;
        }
        if (missing) continue;
        for (k = 0; k <= nb + 1; k++)
            if (ltc_i64_add(cust.b[k], f[k], &cust.b[k]) != 0 || ltc_i64_add(cust.total, f[k], &cust.total) != 0 ||
                ltc_i64_add(all.b[k], f[k], &all.b[k]) != 0 || ltc_i64_add(all.total, f[k], &all.total) != 0)
                return ltc_status_set(st, LTC_INTERNAL, NULL, "aging sums overflow");
        cust.count += accs[i].count, all.count += accs[i].count;
    }
    resp->functional_total = aging_row(c, &all, nb);
    dtc_fx_report_rates(c, &rep, &resp->rates, &resp->n_rates, &resp->unconverted_currencies,
                        &resp->n_unconverted_currencies);
    return 0;
}

/* DeliveryToCashService/GetAgingReport: see the proto. Rows come sorted by customer and currency; the totals of each
 * currency are summed from the rows, and the open receivables independently invoice by invoice. */
int dtc_get_aging_report(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetAgingReportRequest *req = (const void *)m;
    char as_of[11] = "", customer[LTC_UUID_LEN + 1] = "";
    int32_t bounds[DTC_AGING_MAX_BOUNDS] = {30, 60, 90};
    int nb = 3;
    ltc_date_to_text(req->as_of_date, "as_of_date", 1, as_of, st);
    if (req->customer[0]) ltc_name_parse(req->customer, "customers", "customer", customer, st);
    if (req->currency_code[0] && ltc_currency_digits(req->currency_code) < 0)
        ltc_status_bad_field(st, "currency_code", "not an ISO 4217 currency");
    if (req->n_bucket_bounds > 0) {
        if (req->n_bucket_bounds > DTC_AGING_MAX_BOUNDS ||
            dtc_aging_bounds_check(req->bucket_bounds, (int)req->n_bucket_bounds) != 0)
            ltc_status_bad_field(st, "bucket_bounds", "1 to %d strictly increasing day counts of 1 to 36500",
                                 DTC_AGING_MAX_BOUNDS);
        else {
            nb = (int)req->n_bucket_bounds;
            memcpy(bounds, req->bucket_bounds, sizeof(int32_t) * (size_t)nb);
        }
    }
    if (st->code != LTC_OK) return -1;
    if (!as_of[0]) {
        PGresult *t = ltc_call_query(c, st, SQL_TODAY, 0, NULL);
        if (!t) return -1;
        snprintf(as_of, sizeof as_of, "%s", ltc_pg_str(t, 0, 0));
    }
    const char *p[] = {as_of, customer[0] ? customer : NULL, req->currency_code[0] ? req->currency_code : NULL};
    PGresult *r = ltc_call_query(c, st, SQL_AGING, 3, p);
    if (!r) return -1;
    int n = PQntuples(r);

    Ltc__Dtc__V1__GetAgingReportResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetAgingReportResponse, LTC__DTC__V1__GET_AGING_REPORT_RESPONSE__INIT);
    PGresult *d = ltc_call_query(c, st, "SELECT $1::date::text", 1, (const char *[]){as_of});
    if (!d) return -1;
    resp->as_of_date = ltc_date_from_pg(c, d, 0, 0);
    resp->bucket_bounds = ltc_call_alloc(c, sizeof(int32_t) * (size_t)nb);
    memcpy(resp->bucket_bounds, bounds, sizeof(int32_t) * (size_t)nb);
    resp->n_bucket_bounds = (size_t)nb;
    resp->rows = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__AgingRow *) * (size_t)(n ? n : 1));
    /* currencies: at most one totals row each; the report's rows are few per currency code */
    aging_acc *tot = ltc_call_alloc(c, sizeof(aging_acc) * (size_t)(n ? n : 1));
    int64_t *open = ltc_call_alloc(c, sizeof(int64_t) * (size_t)(n ? n : 1));
    int nt = 0;
    aging_acc cur = {0}, *accs = ltc_call_alloc(c, sizeof(aging_acc) * (size_t)(n ? n : 1));
    int nacc = 0;
    for (int i = 0; i <= n; i++) {
        const char *cu = i < n ? ltc_pg_str(r, i, 0) : NULL, *cc = i < n ? ltc_pg_str(r, i, 1) : NULL;
        int64_t amt = i < n ? ltc_pg_i64(r, i, 3) : 0;
        if (i < n && amt <= 0) continue; /* settled on that date */
        if (cur.currency && (i == n || strcmp(cu, cur.customer) != 0 || strcmp(cc, cur.currency) != 0)) {
            resp->rows[resp->n_rows++] = aging_row(c, &cur, nb);
            accs[nacc++] = cur;
            memset(&cur, 0, sizeof cur);
        }
        if (i == n) break;
        if (!cur.currency) cur.customer = cu, cur.currency = cc;
        int b = dtc_aging_bucket(ltc_pg_i64(r, i, 2), bounds, nb);
        if (b < 0) return ltc_status_set(st, LTC_INTERNAL, NULL, "aging bucket failed");
        int t = 0;
        while (t < nt && strcmp(tot[t].currency, cc) != 0) t++;
        if (t == nt) {
            memset(&tot[nt], 0, sizeof tot[nt]);
            tot[nt].currency = cc, open[nt] = 0, nt++;
        }
        /* amounts are bounded by invoice amounts (bigint) and their count: a sum past int64 is refused */
        if (ltc_i64_add(cur.b[b], amt, &cur.b[b]) != 0 || ltc_i64_add(cur.total, amt, &cur.total) != 0 ||
            ltc_i64_add(tot[t].b[b], amt, &tot[t].b[b]) != 0 || ltc_i64_add(tot[t].total, amt, &tot[t].total) != 0 ||
            ltc_i64_add(open[t], amt, &open[t]) != 0)
            return ltc_status_set(st, LTC_INTERNAL, NULL, "aging sums overflow");
        cur.count++, tot[t].count++;
    }
    resp->totals = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__AgingRow *) * (size_t)(nt ? nt : 1));
    resp->open_receivables = ltc_call_alloc(c, sizeof(Ltc__Type__V1__Money *) * (size_t)(nt ? nt : 1));
    for (int t = 0; t < nt; t++) {
        resp->totals[resp->n_totals++] = aging_row(c, &tot[t], nb);
        resp->open_receivables[resp->n_open_receivables++] = ltc_money_msg(c, tot[t].currency, open[t]);
    }
    if (functional_aging(c, st, resp, accs, nacc, nb, as_of) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- dunning policy ----------------------------------------------------------------------------------------------- */

typedef struct dunning_policy {
    int32_t reminder, second, final_, bps;
    int64_t fee;
    int basis;
} dunning_policy;

static int load_policy(ltc_call *c, ltc_status *st, dunning_policy *p, Ltc__Dtc__V1__DunningPolicy **msg) {
    PGresult *r = ltc_call_query(c, st, SQL_POLICY_GET, 0, NULL);
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_INTERNAL, NULL, "the dunning policy row is missing");
    p->reminder = (int32_t)ltc_pg_i64(r, 0, 0);
    p->second = (int32_t)ltc_pg_i64(r, 0, 1);
    p->final_ = (int32_t)ltc_pg_i64(r, 0, 2);
    p->fee = ltc_pg_i64(r, 0, 3);
    p->bps = (int32_t)ltc_pg_i64(r, 0, 4);
    p->basis = strcmp(ltc_pg_str(r, 0, 5), "ACT_360") == 0 ? 360 : 365;
    if (msg) {
        Ltc__Dtc__V1__DunningPolicy *d = LTC_NEW(c, Ltc__Dtc__V1__DunningPolicy, LTC__DTC__V1__DUNNING_POLICY__INIT);
        d->name = "dunningPolicy";
        d->reminder_days = p->reminder, d->second_days = p->second, d->final_days = p->final_;
        d->fee_minor = p->fee, d->interest_bps = p->bps;
        d->day_count =
            p->basis == 360 ? LTC__DTC__V1__DAY_COUNT__DAY_COUNT_ACT_360 : LTC__DTC__V1__DAY_COUNT__DAY_COUNT_ACT_365;
        d->update_by = ltc_call_strdup(c, ltc_pg_str(r, 0, 6));
        d->update_time = ltc_ts_from_pg(c, r, 0, 7);
        d->etag = ltc_call_printf(c, "v%s", ltc_pg_str(r, 0, 8));
        *msg = d;
    }
    return 0;
}

/* DeliveryToCashService/GetDunningPolicy. */
int dtc_get_dunning_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetDunningPolicyRequest *req = (const void *)m;
    if (req->name[0] && strcmp(req->name, "dunningPolicy") != 0)
        return ltc_status_bad_field(st, "name", "must be \"dunningPolicy\"");
    Ltc__Dtc__V1__GetDunningPolicyResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetDunningPolicyResponse, LTC__DTC__V1__GET_DUNNING_POLICY_RESPONSE__INIT);
    dunning_policy p;
    if (load_policy(c, st, &p, &resp->dunning_policy) != 0) return -1;
    *out = &resp->base;
    return 0;
}

static const char *const UPDATABLE[] = {"reminder_days", "second_days",  "final_days",
                                        "fee_minor",     "interest_bps", "day_count"};

/* DeliveryToCashService/UpdateDunningPolicy (AIP-134): the masked fields over the current policy, the result
 * validated as a whole; ABORTED ETAG_MISMATCH on a stale etag. */
int dtc_update_dunning_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__UpdateDunningPolicyRequest *req = (const void *)m;
    const Ltc__Dtc__V1__DunningPolicy *d = req->dunning_policy;
    if (!d) return ltc_status_bad_field(st, "dunning_policy", "required");
    if (d->name[0] && strcmp(d->name, "dunningPolicy") != 0)
        ltc_status_bad_field(st, "dunning_policy.name", "must be \"dunningPolicy\"");
    unsigned bits = ltc_update_mask_bits(req->update_mask, &ltc__dtc__v1__dunning_policy__descriptor, UPDATABLE, 6, st);
    if ((bits & (1u << 5)) && d->day_count != LTC__DTC__V1__DAY_COUNT__DAY_COUNT_ACT_365 &&
        d->day_count != LTC__DTC__V1__DAY_COUNT__DAY_COUNT_ACT_360)
        ltc_status_bad_field(st, "dunning_policy.day_count", "ACT_365 or ACT_360");
    if (st->code != LTC_OK) return -1;
    PGresult *l = ltc_call_query(c, st, SQL_POLICY_LOCK, 0, NULL);
    if (!l) return -1;
    if (d->etag[0] && strcmp(d->etag, ltc_call_printf(c, "v%s", ltc_pg_str(l, 0, 0))) != 0)
        return ltc_status_set(st, LTC_ABORTED, "ETAG_MISMATCH",
                              "the dunning policy changed since etag %.40s: read it "
                              "again",
                              d->etag);
    dunning_policy cur;
    if (load_policy(c, st, &cur, NULL) != 0) return -1;
    int32_t reminder = (bits & 1u) ? d->reminder_days : cur.reminder;
    int32_t second = (bits & 2u) ? d->second_days : cur.second;
    int32_t final_ = (bits & 4u) ? d->final_days : cur.final_;
    int64_t fee = (bits & 8u) ? d->fee_minor : cur.fee;
    int32_t bps = (bits & 16u) ? d->interest_bps : cur.bps;
    int act360 = (bits & 32u) ? d->day_count == LTC__DTC__V1__DAY_COUNT__DAY_COUNT_ACT_360 : cur.basis == 360;
    if (reminder < 1 || reminder > 3650) ltc_status_bad_field(st, "dunning_policy.reminder_days", "1 to 3650");
    if (second <= reminder || second > 3650)
        ltc_status_bad_field(st, "dunning_policy.second_days", "greater than reminder_days, at most 3650");
    if (final_ <= second || final_ > 3650)
        ltc_status_bad_field(st, "dunning_policy.final_days", "greater than second_days, at most 3650");
    if (fee < 0 || fee > 100000000) ltc_status_bad_field(st, "dunning_policy.fee_minor", "0 to 100000000");
    if (bps < 0 || bps > 10000) ltc_status_bad_field(st, "dunning_policy.interest_bps", "0 to 10000");
    if (st->code != LTC_OK) return -1;
    const char *p[] = {ltc_sql_i64(c, reminder), ltc_sql_i64(c, second), ltc_sql_i64(c, final_),
                       ltc_sql_i64(c, fee),      ltc_sql_i64(c, bps),    act360 ? "ACT_360" : "ACT_365",
                       dtc_principal(c)};
    if (!ltc_call_query(c, st, SQL_POLICY_UPDATE, 7, p)) return -1;
    const char *was[6] = {ltc_sql_i64(c, cur.reminder), ltc_sql_i64(c, cur.second),
                          ltc_sql_i64(c, cur.final_),   ltc_sql_i64(c, cur.fee),
                          ltc_sql_i64(c, cur.bps),      cur.basis == 360 ? "ACT_360" : "ACT_365"};
    for (int k = 0; k < 6; k++)
        if (bits & (1u << k)) ltc_audit_change(c, "dunningPolicy", UPDATABLE[k], was[k], p[k]);
    Ltc__Dtc__V1__UpdateDunningPolicyResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__UpdateDunningPolicyResponse, LTC__DTC__V1__UPDATE_DUNNING_POLICY_RESPONSE__INIT);
    dunning_policy pol;
    if (load_policy(c, st, &pol, &resp->dunning_policy) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- dunning runs ------------------------------------------------------------------------------------------------- */

static Ltc__Dtc__V1__DunningNotice *notice_from_row(ltc_call *c, const PGresult *r, int i) {
    Ltc__Dtc__V1__DunningNotice *n = LTC_NEW(c, Ltc__Dtc__V1__DunningNotice, LTC__DTC__V1__DUNNING_NOTICE__INIT);
    const char *cur = ltc_pg_str(r, i, 6);
    n->name = ltc_call_printf(c, "dunningNotices/%s", ltc_pg_str(r, i, 0));
    n->invoice = ltc_call_printf(c, "invoices/%s", ltc_pg_str(r, i, 1));
    if (ltc_pg_str(r, i, 2)[0]) n->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, i, 2));
    n->level = (Ltc__Dtc__V1__DunningLevel)ltc_enum_from_db(&ltc__dtc__v1__dunning_level__descriptor, "DUNNING_LEVEL_",
                                                            ltc_pg_str(r, i, 3));
    n->as_of_date = ltc_date_from_pg(c, r, i, 4);
    n->days_overdue = (int32_t)ltc_pg_i64(r, i, 5);
    n->open_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 7));
    n->fee = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 8));
    n->interest = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 9));
    n->create_time = ltc_ts_from_pg(c, r, i, 10);
    return n;
}

/* DeliveryToCashService/RunDunning: see the proto. Each open, undisputed invoice past due gets a notice of the highest
 * level reached, unless one of that level exists (ON CONFLICT DO NOTHING: a rerun creates nothing); lower levels
 * skipped by a late first run are not created afterwards. */
int dtc_run_dunning(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RunDunningRequest *req = (const void *)m;
    char as_of[11] = "";
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    ltc_date_to_text(req->as_of_date, "as_of_date", 1, as_of, st);
    if (st->code != LTC_OK) return -1;
    if (!as_of[0]) {
        PGresult *t = ltc_call_query(c, st, SQL_TODAY, 0, NULL);
        if (!t) return -1;
        snprintf(as_of, sizeof as_of, "%s", ltc_pg_str(t, 0, 0));
    }
    dunning_policy pol;
    if (load_policy(c, st, &pol, NULL) != 0) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_DUNNABLE, 1, (const char *[]){as_of});
    if (!r) return -1;
    int n = PQntuples(r);
    Ltc__Dtc__V1__RunDunningResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RunDunningResponse, LTC__DTC__V1__RUN_DUNNING_RESPONSE__INIT);
    resp->notices = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__DunningNotice *) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        int64_t days = ltc_pg_i64(r, i, 3), open = ltc_pg_i64(r, i, 4), interest;
        int level = dtc_dunning_level(days, pol.reminder, pol.second, pol.final_);
        if (level < 0) return ltc_status_set(st, LTC_INTERNAL, NULL, "the dunning policy's thresholds are invalid");
        if (level == DTC_DUNNING_NONE || open <= 0) continue;
        if (dtc_dunning_interest(open, pol.bps, days, pol.basis, &interest) != 0)
            return ltc_status_set(st, LTC_INTERNAL, NULL, "dunning interest out of range");
        char id[LTC_UUID_LEN + 1];
        ltc_uuid_new(id);
        const char *p[] = {id,
                           ltc_pg_str(r, i, 0),
                           ltc_pg_isnull(r, i, 1) ? NULL : ltc_pg_str(r, i, 1),
                           LEVELS[level],
                           as_of,
                           ltc_sql_i64(c, days),
                           ltc_pg_str(r, i, 2),
                           ltc_sql_i64(c, open),
                           ltc_sql_i64(c, pol.fee),
                           ltc_sql_i64(c, interest),
                           req->request_id};
        PGresult *ins = ltc_call_query(c, st, SQL_NOTICE_INSERT, 11, p);
        if (!ins) return -1;
        if (PQntuples(ins) == 1) {
            resp->notices[resp->n_notices++] = notice_from_row(c, ins, 0);
            ltc_audit_change(c, ltc_call_printf(c, "dunningNotices/%s", id), "level", NULL, LEVELS[level]);
            dtc_posting post = {.event = DTC_EV_DUNNING_CHARGE,
                                .a = pol.fee,
                                .b = interest,
                                .source = ltc_call_printf(c, "dunningNotices/%s", id),
                                .customer = p[2],
                                .currency = ltc_pg_str(r, i, 2),
                                .date = as_of};
            if (dtc_ledger_post(c, st, &post) != 0) return -1;
        }
    }
    PGresult *d = ltc_call_query(c, st, "SELECT $1::date::text", 1, (const char *[]){as_of});
    if (!d) return -1;
    resp->as_of_date = ltc_date_from_pg(c, d, 0, 0);
    *out = &resp->base;
    return 0;
}

/* DeliveryToCashService/ListDunningNotices. */
int dtc_list_dunning_notices(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ListDunningNoticesRequest *req = (const void *)m;
    char customer[LTC_UUID_LEN + 1] = "", invoice[LTC_UUID_LEN + 1] = "";
    if (req->customer[0]) ltc_name_parse(req->customer, "customers", "customer", customer, st);
    if (req->invoice[0]) ltc_name_parse(req->invoice, "invoices", "invoice", invoice, st);
    int limit = 0;
    int64_t after = 0;
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (st->code != LTC_OK) return -1;
    const char *p[] = {ltc_sql_i64(c, after), ltc_sql_i64(c, limit), customer[0] ? customer : NULL,
                       invoice[0] ? invoice : NULL};
    PGresult *r = ltc_call_query(c, st, SQL_NOTICES_LIST, 4, p);
    if (!r) return -1;
    Ltc__Dtc__V1__ListDunningNoticesResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ListDunningNoticesResponse, LTC__DTC__V1__LIST_DUNNING_NOTICES_RESPONSE__INIT);
    int n = PQntuples(r);
    int shown = n < limit ? n : limit - 1;
    resp->notices = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__DunningNotice *) * (size_t)(shown > 0 ? shown : 1));
    for (int i = 0; i < shown; i++) resp->notices[resp->n_notices++] = notice_from_row(c, r, i);
    if (n >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, 11));
    *out = &resp->base;
    return 0;
}

/* --- disputes ----------------------------------------------------------------------------------------------------- */

/* DeliveryToCashService/SetInvoiceDispute: see the proto. */
int dtc_set_invoice_dispute(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__SetInvoiceDisputeRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    ltc_name_parse(req->name, "invoices", "name", id, st);
    ltc_check_text(req->reason, "reason", req->disputed ? 1 : 0, 500, st);
    if (st->code != LTC_OK) return -1;
    PGresult *r =
        ltc_call_query(c, st, SQL_DISPUTE, 3, (const char *[]){id, req->disputed ? "true" : "false", req->reason});
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "INVOICE_NOT_FOUND", "invoice %s not found", id);
    const char *target = ltc_call_printf(c, "invoices/%s", id);
    ltc_audit_change(c, target, "disputed", ltc_pg_str(r, 0, 1), req->disputed ? "true" : "false");
    ltc_audit_change(c, target, "dispute_reason", ltc_pg_str(r, 0, 2), req->reason);
    Ltc__Dtc__V1__SetInvoiceDisputeResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__SetInvoiceDisputeResponse, LTC__DTC__V1__SET_INVOICE_DISPUTE_RESPONSE__INIT);
    if (dtc_load_invoice(c, st, id, &resp->invoice) != 0) return -1;
    *out = &resp->base;
    return 0;
}
