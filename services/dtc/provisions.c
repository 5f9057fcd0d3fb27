/* services/dtc/provisions.c - doubtful and bad debt (坏账/呆账, docs/finance.md "Doubtful debt"): the provision
 * policy (a percentage per aging bucket), specific provisions per invoice, RunProvision (the allowance set to what the
 * period end requires, only the difference posted), write-offs (requested by finance, approved or rejected by a
 * manager or an admin who is not the requester) and recoveries of written-off debt from a receipt's unapplied cash.
 * The arithmetic is provision_engine.c; the buckets aging_engine.c's. Each invoice holds the allowance its last run
 * gave it (invoices.allowance_minor, less what write-offs used): the allowance account is their sum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aging_engine.h"
#include "dtc.h"
#include "ledger.h"
#include "ltc/audit.h"
#include "ltc/fieldmask.h"
#include "provision_engine.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

static const char SQL_POLICY[] = "SELECT array_to_string(bucket_bounds, ','), array_to_string(bucket_bps, ','), "
                                 "update_by, version FROM provision_policy";
static const char SQL_POLICY_LOCK[] = "SELECT version FROM provision_policy FOR UPDATE";
static const char SQL_POLICY_UPDATE[] = "UPDATE provision_policy SET bucket_bounds = $1::integer[], bucket_bps = "
                                        "$2::integer[], update_by = $3, version = version + 1, update_time = now()";

/* the invoice: currency, customer, amount, paid, credited, written off, recovered, allowance */
static const char SQL_INVOICE[] =
    "SELECT i.currency::text, coalesce(a.customer_id::text, ''), i.amount_minor, i.paid_minor, i.credited_minor, "
    "i.written_off_minor, i.recovered_minor, i.allowance_minor, i.state FROM invoices i "
    "JOIN order_accounts a ON a.id = i.account_id WHERE i.id = $1";
static const char SQL_INVOICE_LOCK[] = "SELECT 1 FROM invoices WHERE id = $1 FOR UPDATE";

static const char SQL_SPECIFIC_UPSERT[] =
    "INSERT INTO specific_provisions (invoice_id, amount_minor, bps, reason, set_by) VALUES ($1, $2::bigint, "
    "$3::integer, $4, $5) ON CONFLICT (invoice_id) DO UPDATE SET amount_minor = EXCLUDED.amount_minor, bps = "
    "EXCLUDED.bps, reason = EXCLUDED.reason, set_by = EXCLUDED.set_by, set_time = now()";
static const char SQL_SPECIFIC_DELETE[] = "DELETE FROM specific_provisions WHERE invoice_id = $1";

static const char SQL_PERIOD_END[] =
    "SELECT (($1 || '-01')::date + interval '1 month')::date <= current_date, "
    "to_char((($1 || '-01')::date + interval '1 month' - interval '1 day')::date, 'YYYY-MM-DD')";
/* Every invoice open at $1 (as GetAgingReport reads it, less the write-offs dated by then) or holding an allowance:
 * id, currency, days past due at $1, open at $1, allowance, specific amount, specific bps. Locked, oldest first. */
static const char SQL_RUN_INVOICES[] =
    "SELECT i.id::text, i.currency::text, ($1::date - i.due_date)::bigint, greatest(0, i.amount_minor"
    "  - coalesce((SELECT sum(l.amount_minor) FROM allocations l WHERE l.invoice_id = i.id AND l.apply_date <= $1::date"
    "     AND (l.state = 'ACTIVE' OR l.reverse_date > $1::date)), 0)"
    "  - coalesce((SELECT sum(p.amount_minor) FROM payments p WHERE p.invoice_id = i.id"
    "     AND p.create_time::date <= $1::date AND NOT EXISTS (SELECT FROM receipts r WHERE r.id = p.id)), 0)"
    "  - coalesce((SELECT sum(cl.amount_minor) FROM credit_note_lines cl JOIN credit_notes n ON n.id = cl.credit_note_id"
    "     WHERE cl.invoice_id = i.id AND n.issue_date <= $1::date), 0)"
    "  - coalesce((SELECT sum(w.amount_minor) FROM write_offs w WHERE w.invoice_id = i.id AND w.state = 'APPROVED'"
    "     AND w.write_off_date <= $1::date), 0))::bigint, i.allowance_minor, s.amount_minor, s.bps "
    "FROM invoices i LEFT JOIN specific_provisions s ON s.invoice_id = i.id "
    "WHERE (i.invoice_date <= $1::date AND i.state <> 'CREDITED') OR i.allowance_minor > 0 ORDER BY i.seq FOR UPDATE OF i";
static const char SQL_ALLOWANCE_SET[] =
    "UPDATE invoices i SET allowance_minor = t.v FROM unnest($1::uuid[], $2::bigint[]) AS t(id, v) WHERE i.id = t.id";
static const char SQL_RUN_RECORD[] = "INSERT INTO provision_runs (period, run_by) VALUES ($1, $2) "
                                     "ON CONFLICT (period) DO UPDATE SET last_run_time = now()";

#define WO_COLS                                                                                                        \
    "w.id::text, w.invoice_id::text, w.currency::text, w.amount_minor, w.reason, " LTC_SQL_DATE(                       \
        "w.write_off_date") ", w.state, w.requested_by, coalesce(w.decided_by, ''), w.decision_note, "                 \
                            "w.from_allowance_minor, w.expense_minor"
static const char SQL_WO_GET[] = "SELECT " WO_COLS " FROM write_offs w WHERE w.id = $1";
static const char SQL_WO_LOCK[] = "SELECT " WO_COLS " FROM write_offs w WHERE w.id = $1 FOR UPDATE";
static const char SQL_WO_PENDING[] = "SELECT id::text FROM write_offs WHERE invoice_id = $1 AND state = 'REQUESTED'";
static const char SQL_WO_INSERT[] =
    "INSERT INTO write_offs (id, invoice_id, currency, amount_minor, reason, write_off_date, requested_by) "
    "VALUES ($1, $2, $3, $4::bigint, $5, coalesce($6::date, current_date), $7)";
static const char SQL_WO_APPROVE[] =
    "UPDATE write_offs SET state = 'APPROVED', decided_by = $2, decision_note = $3, decide_time = now(), "
    "from_allowance_minor = $4::bigint, expense_minor = $5::bigint WHERE id = $1";
static const char SQL_WO_REJECT[] = "UPDATE write_offs SET state = 'REJECTED', decided_by = $2, decision_note = $3, "
                                    "decide_time = now() WHERE id = $1";
static const char SQL_INVOICE_WRITE_OFF[] =
    "UPDATE invoices SET written_off_minor = written_off_minor + $2::bigint, allowance_minor = allowance_minor - "
    "$3::bigint, state = CASE WHEN paid_minor + credited_minor + written_off_minor + $2::bigint = amount_minor "
    "THEN 'WRITTEN_OFF' ELSE state END, update_time = now() WHERE id = $1 RETURNING written_off_minor, state";

static const char SQL_RECEIPT_LOCK[] = "SELECT coalesce(customer_id::text, ''), currency::text, unapplied_minor, state "
                                       "FROM receipts WHERE id = $1 FOR UPDATE";
static const char SQL_RECOVERY_INSERT[] =
    "INSERT INTO bad_debt_recoveries (id, invoice_id, receipt_id, currency, amount_minor, recovery_date, recorded_by) "
    "VALUES ($1, $2, $3, $4, $5::bigint, coalesce($6::date, current_date), $7)";
static const char SQL_RECEIPT_TAKE[] =
    "UPDATE receipts SET applied_minor = applied_minor + $2::bigint, unapplied_minor = unapplied_minor - $2::bigint, "
    "update_time = now() WHERE id = $1";
static const char SQL_INVOICE_RECOVER[] =
    "UPDATE invoices SET recovered_minor = recovered_minor + $2::bigint, update_time = now() WHERE id = $1 "
    "RETURNING written_off_minor, recovered_minor";

/* --- the policy --------------------------------------------------------------------------------------------------- */

typedef struct {
    int32_t bounds[DTC_AGING_MAX_BOUNDS], bps[DTC_AGING_MAX_BOUNDS + 2];
    int nb, nbps;
} policy_t;

/* "30,60,90" into out (at most max). The count, or -1. */
static int parse_ints(const char *s, int32_t *out, int max) {
    int n = 0;
    while (*s) {
        if (n == max) return -1;
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s) return -1;
        out[n++] = (int32_t)v;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

static int load_policy(ltc_call *c, ltc_status *st, policy_t *p, Ltc__Dtc__V1__ProvisionPolicy **out) {
    PGresult *r = ltc_call_query(c, st, SQL_POLICY, 0, NULL);
    if (!r) return -1;
    p->nb = parse_ints(ltc_pg_str(r, 0, 0), p->bounds, DTC_AGING_MAX_BOUNDS);
    p->nbps = parse_ints(ltc_pg_str(r, 0, 1), p->bps, DTC_AGING_MAX_BOUNDS + 2);
    if (p->nb < 1 || p->nbps != p->nb + 2 || dtc_aging_bounds_check(p->bounds, p->nb) != 0 ||
        dtc_provision_policy_check(p->bps, p->nbps) != 0)
        return ltc_status_set(st, LTC_INTERNAL, "PROVISION_POLICY_CORRUPT", "the provision policy cannot be read");
    if (out) {
        Ltc__Dtc__V1__ProvisionPolicy *x =
            LTC_NEW(c, Ltc__Dtc__V1__ProvisionPolicy, LTC__DTC__V1__PROVISION_POLICY__INIT);
        x->name = "provisionPolicy";
        x->bucket_bounds = ltc_call_alloc(c, sizeof(int32_t) * (size_t)p->nb);
        x->percentages_bps = ltc_call_alloc(c, sizeof(int32_t) * (size_t)p->nbps);
        memcpy(x->bucket_bounds, p->bounds, sizeof(int32_t) * (size_t)p->nb);
        memcpy(x->percentages_bps, p->bps, sizeof(int32_t) * (size_t)p->nbps);
        x->n_bucket_bounds = (size_t)p->nb, x->n_percentages_bps = (size_t)p->nbps;
        x->update_by = ltc_call_strdup(c, ltc_pg_str(r, 0, 2));
        x->etag = ltc_call_printf(c, "v%s", ltc_pg_str(r, 0, 3));
        *out = x;
    }
    return 0;
}

/* FinanceService/GetProvisionPolicy. */
int dtc_get_provision_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetProvisionPolicyRequest *req = (const void *)m;
    if (req->name[0] && strcmp(req->name, "provisionPolicy") != 0)
        return ltc_status_bad_field(st, "name", "must be \"provisionPolicy\"");
    Ltc__Dtc__V1__GetProvisionPolicyResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetProvisionPolicyResponse, LTC__DTC__V1__GET_PROVISION_POLICY_RESPONSE__INIT);
    policy_t p;
    if (load_policy(c, st, &p, &resp->provision_policy) != 0) return -1;
    *out = &resp->base;
    return 0;
}

static const char *const UPDATABLE[] = {"bucket_bounds", "percentages_bps"};

/* FinanceService/UpdateProvisionPolicy (AIP-134): the bounds and/or the percentages. */
int dtc_update_provision_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__UpdateProvisionPolicyRequest *req = (const void *)m;
    const Ltc__Dtc__V1__ProvisionPolicy *x = req->provision_policy;
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    if (!x) return ltc_status_bad_field(st, "provision_policy", "required");
    if (x->name[0] && strcmp(x->name, "provisionPolicy") != 0)
        ltc_status_bad_field(st, "provision_policy.name", "must be \"provisionPolicy\"");
    unsigned bits =
        ltc_update_mask_bits(req->update_mask, &ltc__dtc__v1__provision_policy__descriptor, UPDATABLE, 2, st);
    if (st->code != LTC_OK) return -1;
    PGresult *l = ltc_call_query(c, st, SQL_POLICY_LOCK, 0, NULL);
    if (!l) return -1;
    if (x->etag[0] && strcmp(x->etag, ltc_call_printf(c, "v%s", ltc_pg_str(l, 0, 0))) != 0)
        return ltc_status_set(st, LTC_ABORTED, "ETAG_MISMATCH",
                              "the provision policy changed since etag %.40s: read it again", x->etag);
    policy_t was;
    if (load_policy(c, st, &was, NULL) != 0) return -1;
    const int32_t *nbounds = (bits & 1u) ? x->bucket_bounds : was.bounds;
    const int32_t *nbps_v = (bits & 2u) ? x->percentages_bps : was.bps;
    int nb = (bits & 1u) ? (int)x->n_bucket_bounds : was.nb, nbps = (bits & 2u) ? (int)x->n_percentages_bps : was.nbps;
    if (nb < 1 || nb > DTC_AGING_MAX_BOUNDS || dtc_aging_bounds_check(nbounds, nb) != 0)
        ltc_status_bad_field(st, "provision_policy.bucket_bounds", "1 to %d increasing days, each 1 to 36500",
                             DTC_AGING_MAX_BOUNDS);
    else if (nbps != nb + 2 || dtc_provision_policy_check(nbps_v, nbps) != 0)
        ltc_status_bad_field(st, "provision_policy.percentages_bps",
                             "%d non-decreasing basis points 0 to 10000 (not due, each bucket, beyond the last)",
                             nb + 2);
    if (st->code != LTC_OK) return -1;
    int64_t b[DTC_AGING_MAX_BOUNDS], p[DTC_AGING_MAX_BOUNDS + 2];
    for (int i = 0; i < nb; i++) b[i] = nbounds[i];
    for (int i = 0; i < nbps; i++) p[i] = nbps_v[i];
    const char *bounds = ltc_sql_i64_array(c, b, (size_t)nb), *bps = ltc_sql_i64_array(c, p, (size_t)nbps);
    if (!ltc_call_query(c, st, SQL_POLICY_UPDATE, 3, (const char *[]){bounds, bps, dtc_principal(c)})) return -1;
    int64_t wb[DTC_AGING_MAX_BOUNDS], wp[DTC_AGING_MAX_BOUNDS + 2];
    for (int i = 0; i < was.nb; i++) wb[i] = was.bounds[i];
    for (int i = 0; i < was.nbps; i++) wp[i] = was.bps[i];
    ltc_audit_change(c, "provisionPolicy", "bucket_bounds", ltc_sql_i64_array(c, wb, (size_t)was.nb), bounds);
    ltc_audit_change(c, "provisionPolicy", "percentages_bps", ltc_sql_i64_array(c, wp, (size_t)was.nbps), bps);
    Ltc__Dtc__V1__UpdateProvisionPolicyResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__UpdateProvisionPolicyResponse, LTC__DTC__V1__UPDATE_PROVISION_POLICY_RESPONSE__INIT);
    policy_t now;
    if (load_policy(c, st, &now, &resp->provision_policy) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- specific provisions ------------------------------------------------------------------------------------------ */

/* FinanceService/SetSpecificProvision. */
int dtc_set_specific_provision(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__SetSpecificProvisionRequest *req = (const void *)m;
    char invoice[LTC_UUID_LEN + 1];
    ltc_money amount = {{0}, 0};
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    ltc_name_parse(req->invoice, "invoices", "invoice", invoice, st);
    if (!req->clear) {
        if (req->amount) {
            if (ltc_money_from_proto(req->amount, "amount", 0, &amount, st) == 0 && amount.minor < 0)
                ltc_status_bad_field(st, "amount", "must not be negative");
        } else if (req->percentage_bps < 0 || req->percentage_bps > DTC_BPS_MAX)
            ltc_status_bad_field(st, "percentage_bps", "0 to 10000 basis points when amount is absent");
        ltc_check_text(req->reason, "reason", 1, 500, st);
    }
    if (st->code != LTC_OK) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_INVOICE, 1, (const char *[]){invoice});
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "INVOICE_NOT_FOUND", "invoice %s not found", invoice);
    const char *cur = ltc_call_strdup(c, ltc_pg_str(r, 0, 0));
    Ltc__Dtc__V1__SetSpecificProvisionResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__SetSpecificProvisionResponse, LTC__DTC__V1__SET_SPECIFIC_PROVISION_RESPONSE__INIT);
    const char *target = ltc_call_printf(c, "invoices/%s", invoice);
    if (req->clear) {
        if (!ltc_call_query(c, st, SQL_SPECIFIC_DELETE, 1, (const char *[]){invoice})) return -1;
        ltc_audit_change(c, target, "specific_provision", NULL, "cleared");
        *out = &resp->base;
        return 0;
    }
    if (req->amount && strcmp(amount.currency, cur) != 0)
        return ltc_status_bad_field(st, "amount", "currency %s differs from the invoice's %s", amount.currency, cur);
    const char *p[] = {invoice, req->amount ? ltc_sql_i64(c, amount.minor) : NULL,
                       req->amount ? NULL : ltc_sql_i64(c, req->percentage_bps), req->reason, dtc_principal(c)};
    if (!ltc_call_query(c, st, SQL_SPECIFIC_UPSERT, 5, p)) return -1;
    ltc_audit_change(c, target, "specific_provision", NULL,
                     req->amount ? ltc_call_printf(c, "%s %s", cur, p[1]) : ltc_call_printf(c, "%s bps", p[2]));
    Ltc__Dtc__V1__SpecificProvision *x =
        LTC_NEW(c, Ltc__Dtc__V1__SpecificProvision, LTC__DTC__V1__SPECIFIC_PROVISION__INIT);
    x->invoice = ltc_call_strdup(c, target);
    if (req->amount) x->amount = ltc_money_msg(c, cur, amount.minor);
    x->percentage_bps = req->amount ? 0 : req->percentage_bps;
    x->reason = ltc_call_strdup(c, req->reason);
    x->set_by = ltc_call_strdup(c, dtc_principal(c));
    resp->specific_provision = x;
    *out = &resp->base;
    return 0;
}

/* --- the run ------------------------------------------------------------------------------------------------------ */

/* One currency of a run: per bucket (0 not due, 1..nb the bounds, nb + 1 beyond, nb + 2 specific) open, required and
 * count, and the allowance before. */
typedef struct {
    const char *currency;
    int64_t open[DTC_AGING_MAX_BOUNDS + 3], required[DTC_AGING_MAX_BOUNDS + 3], previous;
    int32_t count[DTC_AGING_MAX_BOUNDS + 3];
} run_cur;

static const char *bucket_label(ltc_call *c, const policy_t *p, int k) {
    if (k == 0) return "NOT_DUE";
    if (k == p->nb + 2) return "SPECIFIC";
    if (k == p->nb + 1) return ltc_call_printf(c, "%d+", p->bounds[p->nb - 1] + 1);
    return ltc_call_printf(c, "%d-%d", k == 1 ? 1 : p->bounds[k - 2] + 1, p->bounds[k - 1]);
}

/* FinanceService/RunProvision: see the proto and docs/finance.md, "Doubtful debt". */
int dtc_run_provision(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RunProvisionRequest *req = (const void *)m;
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    dtc_period_parse(req->period, "period", 1, st);
    if (st->code != LTC_OK) return -1;
    PGresult *e = ltc_call_query(c, st, SQL_PERIOD_END, 1, (const char *[]){req->period});
    if (!e) return -1;
    if (!ltc_pg_bool(e, 0, 0))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "PERIOD_NOT_ENDED",
                              "period %s has not ended yet: provisions are set at a period's end", req->period);
    const char *end = ltc_call_strdup(c, ltc_pg_str(e, 0, 1));
    /* the policy's row serialises the runs */
    if (!ltc_call_query(c, st, SQL_POLICY_LOCK, 0, NULL)) return -1;
    policy_t pol;
    if (load_policy(c, st, &pol, NULL) != 0) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_RUN_INVOICES, 1, (const char *[]){end});
    if (!r) return -1;
    int n = PQntuples(r), ncur = 0, nchanged = 0;
    run_cur *cur = ltc_call_alloc(c, sizeof(run_cur) * (size_t)(n ? n : 1));
    const char **ids = ltc_call_alloc(c, sizeof(char *) * (size_t)(n ? n : 1));
    int64_t *vals = ltc_call_alloc(c, sizeof(int64_t) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        const char *cc = ltc_pg_str(r, i, 1);
        int k = 0;
        while (k < ncur && strcmp(cur[k].currency, cc) != 0) k++;
        if (k == ncur) memset(&cur[ncur], 0, sizeof cur[ncur]), cur[ncur++].currency = cc;
        run_cur *x = &cur[k];
        int64_t open = ltc_pg_i64(r, i, 3), had = ltc_pg_i64(r, i, 4), need = 0;
        int specific = !ltc_pg_isnull(r, i, 5) || !ltc_pg_isnull(r, i, 6);
        int b = specific ? pol.nb + 2 : dtc_aging_bucket(ltc_pg_i64(r, i, 2), pol.bounds, pol.nb);
        int rc = specific ? dtc_provision_specific(open, ltc_pg_isnull(r, i, 5) ? 0 : ltc_pg_i64(r, i, 5),
                                                   ltc_pg_isnull(r, i, 6) ? -1 : (int32_t)ltc_pg_i64(r, i, 6), &need)
                 : b >= 0 ? dtc_provision_required(open, pol.bps[b], &need)
                          : -1;
        if (b < 0 || rc != 0)
            return ltc_status_set(st, LTC_INTERNAL, "PROVISION_FAILED", "invoice %s: open %lld", ltc_pg_str(r, i, 0),
                                  (long long)open);
        x->previous += had;
        if (open > 0) x->open[b] += open, x->required[b] += need, x->count[b]++;
        if (need != had) ids[nchanged] = ltc_pg_str(r, i, 0), vals[nchanged++] = need;
    }
    if (nchanged > 0 && !ltc_call_query(c, st, SQL_ALLOWANCE_SET, 2,
                                        (const char *[]){ltc_sql_text_array(c, ids, (size_t)nchanged),
                                                         ltc_sql_i64_array(c, vals, (size_t)nchanged)}))
        return -1;
    Ltc__Dtc__V1__RunProvisionResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RunProvisionResponse, LTC__DTC__V1__RUN_PROVISION_RESPONSE__INIT);
    resp->period = ltc_call_strdup(c, req->period);
    resp->currencies = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__ProvisionCurrency *) * (size_t)(ncur ? ncur : 1));
    for (int k = 0; k < ncur; k++) {
        run_cur *x = &cur[k];
        int64_t required = 0, up = 0, down = 0;
        for (int b = 0; b <= pol.nb + 2; b++) required += x->required[b];
        if (dtc_provision_adjustment(x->previous, required, &up, &down) != 0)
            return ltc_status_set(st, LTC_INTERNAL, "PROVISION_FAILED", "allowance of %s", x->currency);
        dtc_posting post = {.event = DTC_EV_PROVISION,
                            .a = up,
                            .b = down,
                            .source = ltc_call_printf(c, "provisionRuns/%s", req->period),
                            .currency = x->currency,
                            .date = end};
        if (up + down > 0) {
            if (dtc_ledger_post(c, st, &post) != 0) return -1;
            resp->entry_count++;
        }
        Ltc__Dtc__V1__ProvisionCurrency *pc =
            LTC_NEW(c, Ltc__Dtc__V1__ProvisionCurrency, LTC__DTC__V1__PROVISION_CURRENCY__INIT);
        pc->previous = ltc_money_msg(c, x->currency, x->previous);
        pc->required = ltc_money_msg(c, x->currency, required);
        pc->raised = ltc_money_msg(c, x->currency, up);
        pc->released = ltc_money_msg(c, x->currency, down);
        pc->buckets = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__ProvisionBucket *) * (size_t)(pol.nb + 3));
        for (int b = 0; b <= pol.nb + 2; b++) {
            if (b == pol.nb + 2 && x->count[b] == 0) continue; /* SPECIFIC only when there are some */
            Ltc__Dtc__V1__ProvisionBucket *pb =
                LTC_NEW(c, Ltc__Dtc__V1__ProvisionBucket, LTC__DTC__V1__PROVISION_BUCKET__INIT);
            pb->bucket = (char *)bucket_label(c, &pol, b);
            pb->percentage_bps = b == pol.nb + 2 ? 0 : pol.bps[b];
            pb->open_amount = ltc_money_msg(c, x->currency, x->open[b]);
            pb->required = ltc_money_msg(c, x->currency, x->required[b]);
            pb->invoice_count = x->count[b];
            pc->buckets[pc->n_buckets++] = pb;
        }
        resp->currencies[resp->n_currencies++] = pc;
    }
    if (!ltc_call_query(c, st, SQL_RUN_RECORD, 2, (const char *[]){req->period, dtc_principal(c)})) return -1;
    *out = &resp->base;
    return 0;
}

/* --- write-offs --------------------------------------------------------------------------------------------------- */

static Ltc__Dtc__V1__WriteOff *wo_from_row(ltc_call *c, const PGresult *r, int i) {
    Ltc__Dtc__V1__WriteOff *w = LTC_NEW(c, Ltc__Dtc__V1__WriteOff, LTC__DTC__V1__WRITE_OFF__INIT);
    const char *cur = ltc_pg_str(r, i, 2);
    w->name = ltc_call_printf(c, "writeOffs/%s", ltc_pg_str(r, i, 0));
    w->invoice = ltc_call_printf(c, "invoices/%s", ltc_pg_str(r, i, 1));
    w->amount = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 3));
    w->reason = ltc_call_strdup(c, ltc_pg_str(r, i, 4));
    w->write_off_date = ltc_date_from_pg(c, r, i, 5);
    w->state = ltc_call_strdup(c, ltc_pg_str(r, i, 6));
    w->requested_by = ltc_call_strdup(c, ltc_pg_str(r, i, 7));
    w->decided_by = ltc_call_strdup(c, ltc_pg_str(r, i, 8));
    w->decision_note = ltc_call_strdup(c, ltc_pg_str(r, i, 9));
    if (!ltc_pg_isnull(r, i, 10)) {
        w->from_allowance = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 10));
        w->expense = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 11));
    }
    return w;
}

static int64_t open_of(const PGresult *inv) {
    return ltc_pg_i64(inv, 0, 2) - ltc_pg_i64(inv, 0, 3) - ltc_pg_i64(inv, 0, 4) - ltc_pg_i64(inv, 0, 5);
}

/* The invoice's customer's credit account, then the invoice, locked (the order of the receipt flows); the invoice's
 * row (SQL_INVOICE) read under the lock into *inv. 0 or -1. */
static int lock_invoice(ltc_call *c, ltc_status *st, const char *invoice, dtc_credit_locked *cust, PGresult **inv) {
    PGresult *r = ltc_call_query(c, st, SQL_INVOICE, 1, (const char *[]){invoice});
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "INVOICE_NOT_FOUND", "invoice %s not found", invoice);
    cust->id[0] = '\0';
    if (ltc_pg_str(r, 0, 1)[0] &&
        dtc_credit_account_lock(c, st, ltc_pg_str(r, 0, 1), NULL, DTC_LOCK_FOLLOW_MERGES, cust) != 0)
        return -1;
    if (!ltc_call_query(c, st, SQL_INVOICE_LOCK, 1, (const char *[]){invoice})) return -1;
    *inv = ltc_call_query(c, st, SQL_INVOICE, 1, (const char *[]){invoice});
    return *inv ? 0 : -1;
}

/* FinanceService/RequestWriteOff. */
int dtc_request_write_off(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RequestWriteOffRequest *req = (const void *)m;
    char invoice[LTC_UUID_LEN + 1], date[11] = "";
    ltc_money amount = {{0}, 0};
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required for a write that moves money");
    ltc_name_parse(req->invoice, "invoices", "invoice", invoice, st);
    if (ltc_money_from_proto(req->amount, "amount", 0, &amount, st) == 0 && amount.minor <= 0)
        ltc_status_bad_field(st, "amount", "must be positive");
    ltc_check_text(req->reason, "reason", 1, 500, st);
    ltc_date_to_text(req->write_off_date, "write_off_date", 1, date, st);
    if (st->code != LTC_OK) return -1;
    dtc_credit_locked cust;
    PGresult *inv;
    if (lock_invoice(c, st, invoice, &cust, &inv) != 0) return -1;
    if (strcmp(ltc_pg_str(inv, 0, 0), amount.currency) != 0)
        return ltc_status_bad_field(st, "amount", "currency %s differs from the invoice's %s", amount.currency,
                                    ltc_pg_str(inv, 0, 0));
    PGresult *p = ltc_call_query(c, st, SQL_WO_PENDING, 1, (const char *[]){invoice});
    if (!p) return -1;
    if (PQntuples(p) > 0)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "WRITE_OFF_PENDING",
                              "write-off writeOffs/%s of invoice %s awaits a decision", ltc_pg_str(p, 0, 0), invoice);
    if (amount.minor > open_of(inv))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "WRITE_OFF_EXCEEDS_OPEN",
                              "a write-off of %lld exceeds the open %lld of invoice %s", (long long)amount.minor,
                              (long long)open_of(inv), invoice);
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *ip[] = {id,
                        invoice,
                        amount.currency,
                        ltc_sql_i64(c, amount.minor),
                        req->reason,
                        date[0] ? date : NULL,
                        dtc_principal(c)};
    if (!ltc_call_query(c, st, SQL_WO_INSERT, 7, ip)) return -1;
    ltc_audit_change_money(c, ltc_call_printf(c, "writeOffs/%s", id), "amount", amount.currency, 0, 0, amount.minor, 1);
    PGresult *w = ltc_call_query(c, st, SQL_WO_GET, 1, (const char *[]){id});
    if (!w) return -1;
    Ltc__Dtc__V1__RequestWriteOffResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RequestWriteOffResponse, LTC__DTC__V1__REQUEST_WRITE_OFF_RESPONSE__INIT);
    resp->write_off = wo_from_row(c, w, 0);
    *out = &resp->base;
    return 0;
}

/* Approve (approve = 1) or reject a REQUESTED write-off: locks and checks shared by both. */
static int decide(ltc_call *c, ltc_status *st, const char *name, const char *note, const char *request_id, int approve,
                  Ltc__Dtc__V1__WriteOff **out) {
    char id[LTC_UUID_LEN + 1];
    if (!request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    ltc_name_parse(name, "writeOffs", "name", id, st);
    ltc_check_text(note, "note", 0, 500, st);
    if (st->code != LTC_OK) return -1;
    PGresult *w = ltc_call_query(c, st, SQL_WO_GET, 1, (const char *[]){id});
    if (!w) return -1;
    if (PQntuples(w) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "WRITE_OFF_NOT_FOUND", "write-off %s not found", id);
    const char *invoice = ltc_call_strdup(c, ltc_pg_str(w, 0, 1));
    dtc_credit_locked cust;
    PGresult *inv;
    if (lock_invoice(c, st, invoice, &cust, &inv) != 0) return -1;
    w = ltc_call_query(c, st, SQL_WO_LOCK, 1, (const char *[]){id});
    if (!w) return -1;
    if (strcmp(ltc_pg_str(w, 0, 6), "REQUESTED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "WRITE_OFF_DECIDED", "write-off %s is %s already", id,
                              ltc_pg_str(w, 0, 6));
    if (strcmp(ltc_pg_str(w, 0, 7), dtc_principal(c)) == 0)
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "APPROVER_IS_REQUESTER",
                              "%s asked for write-off %s: someone else must decide it", ltc_pg_str(w, 0, 7), id);
    const char *target = ltc_call_printf(c, "writeOffs/%s", id);
    if (!approve) {
        if (!ltc_call_query(c, st, SQL_WO_REJECT, 3, (const char *[]){id, dtc_principal(c), note})) return -1;
        ltc_audit_change(c, target, "state", "REQUESTED", "REJECTED");
    } else {
        int64_t amount = ltc_pg_i64(w, 0, 3), from = 0, expense = 0;
        const char *cur = ltc_pg_str(w, 0, 2);
        if (amount > open_of(inv))
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "WRITE_OFF_EXCEEDS_OPEN",
                                  "write-off %s of %lld exceeds the open %lld of invoice %s now", id, (long long)amount,
                                  (long long)open_of(inv), invoice);
        if (dtc_writeoff_split(amount, ltc_pg_i64(inv, 0, 7), &from, &expense) != 0)
            return ltc_status_set(st, LTC_INTERNAL, "WRITE_OFF_FAILED", "write-off %s", id);
        const char *ap[] = {id, dtc_principal(c), note, ltc_sql_i64(c, from), ltc_sql_i64(c, expense)};
        if (!ltc_call_query(c, st, SQL_WO_APPROVE, 5, ap)) return -1;
        PGresult *u = ltc_call_query(c, st, SQL_INVOICE_WRITE_OFF, 3,
                                     (const char *[]){invoice, ltc_sql_i64(c, amount), ltc_sql_i64(c, from)});
        if (!u) return -1;
        const char *itarget = ltc_call_printf(c, "invoices/%s", invoice);
        ltc_audit_change(c, target, "state", "REQUESTED", "APPROVED");
        ltc_audit_change_money(c, itarget, "written_off_amount", cur, ltc_pg_i64(u, 0, 0) - amount, 1,
                               ltc_pg_i64(u, 0, 0), 1);
        ltc_audit_change(c, itarget, "state", ltc_pg_str(inv, 0, 8), ltc_pg_str(u, 0, 1));
        dtc_posting post = {.event = DTC_EV_WRITE_OFF,
                            .a = from,
                            .b = expense,
                            .source = target,
                            .customer = ltc_pg_str(inv, 0, 1),
                            .currency = cur,
                            .date = ltc_pg_str(w, 0, 5)};
        if (dtc_ledger_post(c, st, &post) != 0) return -1;
        if (cust.id[0]) { /* the invoice left the overdue ones: the credit holds again */
            dtc_credit_policy pol;
            if (dtc_credit_policy_load(c, st, &pol) != 0) return -1;
            if (dtc_credit_evaluate_holds(c, st, cust.id, NULL, &pol, target) != 0) return -1;
        }
    }
    w = ltc_call_query(c, st, SQL_WO_GET, 1, (const char *[]){id});
    if (!w) return -1;
    *out = wo_from_row(c, w, 0);
    return 0;
}

/* FinanceService/ApproveWriteOff. */
int dtc_approve_write_off(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ApproveWriteOffRequest *req = (const void *)m;
    Ltc__Dtc__V1__ApproveWriteOffResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ApproveWriteOffResponse, LTC__DTC__V1__APPROVE_WRITE_OFF_RESPONSE__INIT);
    if (decide(c, st, req->name, req->note, req->request_id, 1, &resp->write_off) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* FinanceService/RejectWriteOff. */
int dtc_reject_write_off(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RejectWriteOffRequest *req = (const void *)m;
    Ltc__Dtc__V1__RejectWriteOffResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RejectWriteOffResponse, LTC__DTC__V1__REJECT_WRITE_OFF_RESPONSE__INIT);
    if (decide(c, st, req->name, req->note, req->request_id, 0, &resp->write_off) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- recoveries --------------------------------------------------------------------------------------------------- */

/* FinanceService/RecordRecovery: see the proto. */
int dtc_record_recovery(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RecordRecoveryRequest *req = (const void *)m;
    char invoice[LTC_UUID_LEN + 1], receipt[LTC_UUID_LEN + 1], date[11] = "";
    ltc_money amount = {{0}, 0};
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required for a write that moves money");
    ltc_name_parse(req->invoice, "invoices", "invoice", invoice, st);
    ltc_name_parse(req->receipt, "receipts", "receipt", receipt, st);
    if (ltc_money_from_proto(req->amount, "amount", 0, &amount, st) == 0 && amount.minor <= 0)
        ltc_status_bad_field(st, "amount", "must be positive");
    ltc_date_to_text(req->recovery_date, "recovery_date", 1, date, st);
    if (st->code != LTC_OK) return -1;
    dtc_credit_locked cust;
    PGresult *inv;
    if (lock_invoice(c, st, invoice, &cust, &inv) != 0) return -1;
    const char *cur = ltc_call_strdup(c, ltc_pg_str(inv, 0, 0)), *customer = ltc_call_strdup(c, ltc_pg_str(inv, 0, 1));
    if (strcmp(cur, amount.currency) != 0)
        return ltc_status_bad_field(st, "amount", "currency %s differs from the invoice's %s", amount.currency, cur);
    PGresult *r = ltc_call_query(c, st, SQL_RECEIPT_LOCK, 1, (const char *[]){receipt});
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "RECEIPT_NOT_FOUND", "receipt %s not found", receipt);
    if (strcmp(ltc_pg_str(r, 0, 0), customer) != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "INVOICE_OF_ANOTHER_CUSTOMER",
                              "invoice %s is not a debt of receipt %s's customer", invoice, receipt);
    if (strcmp(ltc_pg_str(r, 0, 3), "BOUNCED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "RECEIPT_BOUNCED", "receipt %s bounced", receipt);
    if (strcmp(ltc_pg_str(r, 0, 1), cur) != 0)
        return ltc_status_bad_field(st, "receipt", "currency %s differs from the invoice's %s", ltc_pg_str(r, 0, 1),
                                    cur);
    int64_t room = ltc_pg_i64(inv, 0, 5) - ltc_pg_i64(inv, 0, 6);
    if (amount.minor > room)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "RECOVERY_EXCEEDS_WRITTEN_OFF",
                              "a recovery of %lld exceeds the %lld written off and not yet recovered of invoice %s",
                              (long long)amount.minor, (long long)room, invoice);
    if (amount.minor > ltc_pg_i64(r, 0, 2))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "INSUFFICIENT_UNAPPLIED_CASH",
                              "a recovery of %lld exceeds the unapplied %lld of receipt %s", (long long)amount.minor,
                              (long long)ltc_pg_i64(r, 0, 2), receipt);
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *amt = ltc_sql_i64(c, amount.minor);
    const char *ip[] = {id, invoice, receipt, cur, amt, date[0] ? date : NULL, dtc_principal(c)};
    if (!ltc_call_query(c, st, SQL_RECOVERY_INSERT, 7, ip)) return -1;
    if (!ltc_call_query(c, st, SQL_RECEIPT_TAKE, 2, (const char *[]){receipt, amt})) return -1;
    PGresult *u = ltc_call_query(c, st, SQL_INVOICE_RECOVER, 2, (const char *[]){invoice, amt});
    if (!u) return -1;
    ltc_audit_change_money(c, ltc_call_printf(c, "invoices/%s", invoice), "recovered_amount", cur,
                           ltc_pg_i64(u, 0, 1) - amount.minor, 1, ltc_pg_i64(u, 0, 1), 1);
    dtc_posting post = {.event = DTC_EV_RECOVERY,
                        .a = amount.minor,
                        .source = ltc_call_printf(c, "recoveries/%s", id),
                        .customer = customer,
                        .receipt = receipt,
                        .currency = cur,
                        .date = date[0] ? date : NULL};
    if (dtc_ledger_post(c, st, &post) != 0) return -1;
    Ltc__Dtc__V1__RecordRecoveryResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RecordRecoveryResponse, LTC__DTC__V1__RECORD_RECOVERY_RESPONSE__INIT);
    resp->name = ltc_call_printf(c, "recoveries/%s", id);
    resp->written_off = ltc_money_msg(c, cur, ltc_pg_i64(u, 0, 0));
    resp->recovered = ltc_money_msg(c, cur, ltc_pg_i64(u, 0, 1));
    *out = &resp->base;
    return 0;
}
