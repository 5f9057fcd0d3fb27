/* services/dtc/billing.c - invoices raised by each payment term's own event (docs/receivables.md): after an event
 * changed an order account's progress (placed, shipped, accepted), dtc_bill_account raises what each term has now
 * earned (dtc_bill_terms, split.c), reports each invoice to LTB (INVOICED milestone) and applies the order's advance
 * receipts to the new invoices (receipts.c). Called by the intake handlers inside their transaction, with the
 * customer's credit account and the order account already locked. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dtc.h"
#include "ltc/audit.h"
#include "ledger.h"
#include "ltc/fieldmask.h"
#include "ltc/milestone.h"
#include "ltc/type/v1/milestone.pb-c.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

static const char SQL_PROGRESS[] =
    "SELECT deal_id::text, currency, order_total_minor, placed_handoff_id IS NOT NULL, shipped_minor, "
    "fully_shipped, accepted_minor, fully_accepted, coalesce(customer_id::text, ''), signed_handoff_id IS NOT NULL "
    "FROM order_accounts WHERE id = $1";
/* with the billing policy: whether a RETENTION term is held on date $2 (AT_PERIOD_END, not released, its period
 * after final acceptance not over), and the due days of its invoice (AT_PERIOD_END: due at once) */
static const char SQL_TERMS[] =
    "SELECT t.position, t.kind, t.share_bps, CASE WHEN t.kind = 'RETENTION' AND p.retention_billing = 'AT_PERIOD_END' "
    "THEN 0 ELSE t.due_days END, t.invoiced_minor, (t.kind = 'RETENTION' AND p.retention_billing = 'AT_PERIOD_END' "
    "AND a.retention_release_date IS NULL AND (a.fully_accepted_date IS NULL "
    "OR coalesce($2::date, current_date) < a.fully_accepted_date + t.due_days)), "
    "EXISTS (SELECT FROM billing_milestones b WHERE b.account_id = t.account_id AND b.name = t.milestone) "
    "FROM account_terms t JOIN order_accounts a ON a.id = t.account_id CROSS JOIN billing_policy p "
    "WHERE t.account_id = $1 ORDER BY t.position";
/* $9: the business date (NULL: today) */
static const char SQL_INVOICE_INSERT[] =
    "INSERT INTO invoices (id, account_id, shipment_id, term_position, term_kind, currency, amount_minor, "
    "invoice_date, due_date, billing_event) VALUES ($1, $2, $3::uuid, $4::integer, $5, $6, $7::bigint, "
    "coalesce($9::date, current_date), coalesce($9::date, current_date) + $8::integer, $10) "
    "RETURNING " LTC_SQL_DATE("due_date");
static const char SQL_TERM_BILL[] =
    "UPDATE account_terms SET invoiced_minor = invoiced_minor + $3::bigint, update_time = now() "
    "WHERE account_id = $1 AND position = $2::integer";
static const char SQL_ACCOUNT_BILL[] =
    "UPDATE order_accounts SET invoiced_minor = invoiced_minor + $2::bigint, update_time = now() WHERE id = $1";

/* --- business dates ----------------------------------------------------------------------------------------------- */

const char *dtc_date_of(ltc_call *c, const Google__Protobuf__Timestamp *t) {
    if (!t) return NULL;
    time_t s = (time_t)t->seconds;
    struct tm tm;
    if (!gmtime_r(&s, &tm)) return NULL;
    return ltc_call_printf(c, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* --- billing ------------------------------------------------------------------------------------------------------ */

int dtc_bill_account(ltc_call *c, ltc_status *st, const char *account, const char *event, const char *shipment,
                     const char *date, dtc_invoice_list *out) {
    const char *p[] = {account};
    PGresult *a = ltc_call_query(c, st, SQL_PROGRESS, 1, p);
    if (!a) return -1;
    if (PQntuples(a) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_ACCOUNT_NOT_FOUND", "order account %s not found", account);
    PGresult *t = ltc_call_query(c, st, SQL_TERMS, 2, (const char *[]){account, date});
    if (!t) return -1;
    int n = PQntuples(t);
    if (n < 1 || n > DTC_MAX_TERMS)
        return ltc_status_set(st, LTC_INTERNAL, "ORDER_ACCOUNT_CORRUPT", "order account %s has %d terms", account, n);
    int32_t bps[DTC_MAX_TERMS];
    int kinds[DTC_MAX_TERMS];
    int64_t invoiced[DTC_MAX_TERMS], amounts[DTC_MAX_TERMS];
    for (int i = 0; i < n; i++) {
        kinds[i] = (int)ltc_term_kind_from_db(ltc_pg_str(t, i, 1));
        bps[i] = (int32_t)ltc_pg_i64(t, i, 2);
        invoiced[i] = ltc_pg_i64(t, i, 4);
    }
    uint32_t held = 0, reached = 0;
    for (int i = 0; i < n; i++) {
        if (ltc_pg_bool(t, i, 5)) held |= 1u << i;
        if (ltc_pg_bool(t, i, 6)) reached |= 1u << i;
    }
    const char *deal = ltc_pg_str(a, 0, 0), *currency = ltc_pg_str(a, 0, 1);
    int64_t total = ltc_pg_i64(a, 0, 2);
    dtc_bill_progress prog = {.placed = ltc_pg_bool(a, 0, 3),
                              .shipped = ltc_pg_i64(a, 0, 4),
                              .fully_shipped = ltc_pg_bool(a, 0, 5),
                              .accepted = ltc_pg_i64(a, 0, 6),
                              .fully_accepted = ltc_pg_bool(a, 0, 7),
                              .retention_held = held,
                              .contract_signed = ltc_pg_bool(a, 0, 9),
                              .milestones_reached = reached};
    if (dtc_bill_terms(total, bps, kinds, n, &prog, invoiced, amounts) != 0)
        return ltc_status_set(st, LTC_INTERNAL, "ORDER_ACCOUNT_CORRUPT", "invoice split failed for order %s", account);

    for (int i = 0; i < n; i++) {
        if (amounts[i] == 0) continue;
        char id[LTC_UUID_LEN + 1];
        ltc_uuid_new(id);
        const char *kind = ltc_pg_str(t, i, 1);
        const char *ip[] = {
            id,   account, shipment, ltc_sql_i64(c, i), kind, currency, ltc_sql_i64(c, amounts[i]), ltc_pg_str(t, i, 3),
            date, event};
        PGresult *r = ltc_call_query(c, st, SQL_INVOICE_INSERT, 10, ip);
        if (!r) return -1;
        const char *target = ltc_call_printf(c, "invoices/%s", id);
        ltc_audit_change_money(c, target, "amount", currency, 0, 0, amounts[i], 1);
        ltc_audit_change(c, target, "due_date", NULL, ltc_pg_str(r, 0, 0));
        const char *bp[] = {account, ltc_sql_i64(c, i), ltc_sql_i64(c, amounts[i])};
        if (!ltc_call_query(c, st, SQL_TERM_BILL, 3, bp)) return -1;
        /* the account's invoiced amount first: an advance applied below raises its paid amount (CHECK paid <= invoiced) */
        const char *up[] = {account, ltc_sql_i64(c, amounts[i])};
        if (!ltc_call_query(c, st, SQL_ACCOUNT_BILL, 2, up)) return -1;
        dtc_posting post = {.event = DTC_EV_INVOICE,
                            .a = amounts[i],
                            .source = ltc_call_printf(c, "invoices/%s", id),
                            .customer = ltc_pg_str(a, 0, 8),
                            .currency = currency,
                            .date = date};
        if (dtc_ledger_post(c, st, &post) != 0) return -1;
        ltc_money m;
        snprintf(m.currency, sizeof m.currency, "%s", currency);
        m.minor = amounts[i];
        ltc_milestone ms = {.deal_id = deal,
                            .stage = LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_DTC,
                            .kind = LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_INVOICED,
                            .record = ltc_call_printf(c, "invoices/%s", id),
                            .actor = "dtc",
                            .amount = &m,
                            .date = ltc_pg_str(r, 0, 0),
                            .detail = ltc_call_printf(c, "%s term, raised by %s", kind, event)};
        if (ltc_milestone_put(c, st, &ms) != 0) return -1;
        if (out && out->n < DTC_MAX_TERMS) snprintf(out->ids[out->n++], LTC_UUID_LEN + 1, "%s", id);
        if (dtc_apply_advances(c, st, id) != 0) return -1;
    }
    return 0;
}

/* --- RunBilling, ReleaseRetention, the billing policy -------------------------------------------------------------- */

/* OPEN, fully accepted accounts with a RETENTION term not billed in full, in customer order (a run locks the
 * customers one after another in id order, like a merge: no deadlock with another run or a merge) */
static const char SQL_RETENTION_OPEN[] =
    "SELECT a.id::text, coalesce(a.customer_id::text, '') FROM order_accounts a WHERE a.state = 'OPEN' "
    "AND a.fully_accepted AND EXISTS (SELECT FROM account_terms t WHERE t.account_id = a.id "
    "AND t.kind = 'RETENTION' AND t.invoiced_minor < t.total_minor) ORDER BY a.customer_id, a.id";
static const char SQL_ACCOUNT_LOCK[] =
    "SELECT state, fully_accepted, coalesce(customer_id::text, '') FROM order_accounts WHERE id = $1 FOR UPDATE";
static const char SQL_RELEASE[] =
    "UPDATE order_accounts SET retention_release_date = coalesce(retention_release_date, $2::date, current_date), "
    "retention_release_reason = coalesce(retention_release_reason, $3), update_time = now() WHERE id = $1";
static const char SQL_BILLING_POLICY[] = "SELECT retention_billing, update_by, " LTC_SQL_MICROS(
    "update_time") ", version, advance_billing FROM billing_policy";
static const char SQL_BILLING_POLICY_LOCK[] = "SELECT version FROM billing_policy FOR UPDATE";
static const char SQL_BILLING_POLICY_UPDATE[] =
    "UPDATE billing_policy SET retention_billing = $1, update_by = $2, advance_billing = $3, version = version + 1, "
    "update_time = now()";
static const char SQL_DATE_OF[] = "SELECT coalesce($1::date, current_date)::text";

/* Locks an order's account for a finance write: its customer's credit account first (following merges, the order
 * every writer of that customer takes), then the account row. Returns the SQL_ACCOUNT_LOCK row, or NULL with `st`
 * set (NOT_FOUND when the order has no account). */
static PGresult *lock_order_account(ltc_call *c, ltc_status *st, const char *order, dtc_credit_locked *locked) {
    PGresult *a = ltc_call_query(c, st, "SELECT coalesce(customer_id::text, '') FROM order_accounts WHERE id = $1", 1,
                                 (const char *[]){order});
    if (!a) return NULL;
    if (PQntuples(a) == 0) {
        ltc_status_set(st, LTC_NOT_FOUND, "ORDER_ACCOUNT_NOT_FOUND", "order %s has no account", order);
        return NULL;
    }
    if (ltc_pg_str(a, 0, 0)[0] &&
        dtc_credit_account_lock(c, st, ltc_pg_str(a, 0, 0), NULL, DTC_LOCK_FOLLOW_MERGES, locked) != 0)
        return NULL;
    return ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, (const char *[]){order});
}

/* Bills the locked account `account` for `event` on `date`, closes it if that settled it (an advance may have paid
 * the new invoices) and re-evaluates its customer's holds. */
static int bill_and_settle(ltc_call *c, ltc_status *st, const char *account, const char *customer, const char *event,
                           const char *date, dtc_invoice_list *out) {
    if (dtc_bill_account(c, st, account, event, NULL, date, out) != 0) return -1;
    int closed;
    if (dtc_close_account_if_settled(c, st, account, &closed) != 0) return -1;
    if (!customer[0]) return 0;
    dtc_credit_policy pol;
    if (dtc_credit_policy_load(c, st, &pol) != 0) return -1;
    return dtc_credit_evaluate_holds(c, st, customer, NULL, &pol, NULL);
}

/* DeliveryToCashService/RunBilling: see the proto. */
int dtc_run_billing(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RunBillingRequest *req = (const void *)m;
    char as_of[11] = "";
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required for a write that moves money");
    ltc_date_to_text(req->as_of_date, "as_of_date", 1, as_of, st);
    if (st->code != LTC_OK) return -1;
    PGresult *d = ltc_call_query(c, st, SQL_DATE_OF, 1, (const char *[]){as_of[0] ? as_of : NULL});
    if (!d) return -1;
    const char *date = ltc_call_strdup(c, ltc_pg_str(d, 0, 0));
    PGresult *r = ltc_call_query(c, st, SQL_RETENTION_OPEN, 0, NULL);
    if (!r) return -1;
    int n = PQntuples(r);
    Ltc__Dtc__V1__RunBillingResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RunBillingResponse, LTC__DTC__V1__RUN_BILLING_RESPONSE__INIT);
    resp->invoices = ltc_call_alloc(c, sizeof(char *) * (size_t)(n * DTC_MAX_TERMS + 1));
    for (int i = 0; i < n; i++) {
        const char *account = ltc_pg_str(r, i, 0), *cust = ltc_pg_str(r, i, 1);
        dtc_credit_locked locked = {.id = ""};
        if (cust[0] && dtc_credit_account_lock(c, st, cust, NULL, DTC_LOCK_FOLLOW_MERGES, &locked) != 0) return -1;
        PGresult *a = ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, (const char *[]){account});
        if (!a) return -1;
        if (PQntuples(a) == 0 || strcmp(ltc_pg_str(a, 0, 0), "OPEN") != 0) continue; /* changed meanwhile */
        dtc_invoice_list raised = {0};
        if (bill_and_settle(c, st, account, locked.id, "RETENTION_DUE", date, &raised) != 0) return -1;
        for (int k = 0; k < raised.n; k++)
            resp->invoices[resp->n_invoices++] = ltc_call_printf(c, "invoices/%s", raised.ids[k]);
    }
    resp->as_of_date = ltc_date_from_pg(c, d, 0, 0);
    *out = &resp->base;
    return 0;
}

/* DeliveryToCashService/ReleaseRetention: see the proto. */
int dtc_release_retention(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ReleaseRetentionRequest *req = (const void *)m;
    char order[LTC_UUID_LEN + 1], date[11] = "";
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required for a write that moves money");
    ltc_name_parse(req->order, "orders", "order", order, st);
    ltc_check_text(req->reason, "reason", 1, 500, st);
    ltc_date_to_text(req->release_date, "release_date", 1, date, st);
    if (st->code != LTC_OK) return -1;
    dtc_credit_locked locked = {.id = ""};
    PGresult *l = lock_order_account(c, st, order, &locked);
    if (!l) return -1;
    if (strcmp(ltc_pg_str(l, 0, 0), "OPEN") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_ACCOUNT_CLOSED", "order account %s is %s", order,
                              ltc_pg_str(l, 0, 0));
    if (!ltc_pg_bool(l, 0, 1))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_NOT_FULLY_ACCEPTED",
                              "order %s is not fully accepted: its retention period has not begun", order);
    const char *d = date[0] ? date : NULL;
    if (!ltc_call_query(c, st, SQL_RELEASE, 3, (const char *[]){order, d, req->reason})) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "orderAccounts/%s", order), "retention_release_reason", NULL, req->reason);
    dtc_invoice_list raised = {0};
    if (bill_and_settle(c, st, order, locked.id, "RETENTION_DUE", d, &raised) != 0) return -1;
    Ltc__Dtc__V1__ReleaseRetentionResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ReleaseRetentionResponse, LTC__DTC__V1__RELEASE_RETENTION_RESPONSE__INIT);
    resp->invoices = ltc_call_alloc(c, sizeof(char *) * DTC_MAX_TERMS);
    for (int k = 0; k < raised.n; k++)
        resp->invoices[resp->n_invoices++] = ltc_call_printf(c, "invoices/%s", raised.ids[k]);
    if (dtc_load_account(c, st, order, &resp->order_account) != 0) return -1;
    *out = &resp->base;
    return 0;
}

static int load_billing_policy(ltc_call *c, ltc_status *st, Ltc__Dtc__V1__BillingPolicy **out) {
    PGresult *r = ltc_call_query(c, st, SQL_BILLING_POLICY, 0, NULL);
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_INTERNAL, NULL, "the billing policy row is missing");
    Ltc__Dtc__V1__BillingPolicy *p = LTC_NEW(c, Ltc__Dtc__V1__BillingPolicy, LTC__DTC__V1__BILLING_POLICY__INIT);
    p->name = "billingPolicy";
    p->retention_billing = (Ltc__Dtc__V1__RetentionBilling)ltc_enum_from_db(
        &ltc__dtc__v1__retention_billing__descriptor, "RETENTION_BILLING_", ltc_pg_str(r, 0, 0));
    p->update_by = ltc_call_strdup(c, ltc_pg_str(r, 0, 1));
    p->update_time = ltc_ts_from_pg(c, r, 0, 2);
    p->etag = ltc_call_printf(c, "v%s", ltc_pg_str(r, 0, 3));
    p->advance_billing = (Ltc__Dtc__V1__AdvanceBilling)ltc_enum_from_db(&ltc__dtc__v1__advance_billing__descriptor,
                                                                        "ADVANCE_BILLING_", ltc_pg_str(r, 0, 4));
    *out = p;
    return 0;
}

/* DeliveryToCashService/GetBillingPolicy. */
int dtc_get_billing_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetBillingPolicyRequest *req = (const void *)m;
    if (req->name[0] && strcmp(req->name, "billingPolicy") != 0)
        return ltc_status_bad_field(st, "name", "must be \"billingPolicy\"");
    Ltc__Dtc__V1__GetBillingPolicyResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetBillingPolicyResponse, LTC__DTC__V1__GET_BILLING_POLICY_RESPONSE__INIT);
    if (load_billing_policy(c, st, &resp->billing_policy) != 0) return -1;
    *out = &resp->base;
    return 0;
}

static const char *const BILLING_UPDATABLE[] = {"retention_billing", "advance_billing"};

/* DeliveryToCashService/UpdateBillingPolicy (AIP-134). */
int dtc_update_billing_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__UpdateBillingPolicyRequest *req = (const void *)m;
    const Ltc__Dtc__V1__BillingPolicy *p = req->billing_policy;
    if (!p) return ltc_status_bad_field(st, "billing_policy", "required");
    if (p->name[0] && strcmp(p->name, "billingPolicy") != 0)
        ltc_status_bad_field(st, "billing_policy.name", "must be \"billingPolicy\"");
    unsigned bits =
        ltc_update_mask_bits(req->update_mask, &ltc__dtc__v1__billing_policy__descriptor, BILLING_UPDATABLE, 2, st);
    const char *mode =
        ltc_enum_to_db(&ltc__dtc__v1__retention_billing__descriptor, "RETENTION_BILLING_", (int)p->retention_billing);
    if ((bits & 1u) &&
        (!mode || p->retention_billing == LTC__DTC__V1__RETENTION_BILLING__RETENTION_BILLING_UNSPECIFIED))
        ltc_status_bad_field(st, "billing_policy.retention_billing", "AT_FINAL_ACCEPTANCE or AT_PERIOD_END");
    const char *advance =
        ltc_enum_to_db(&ltc__dtc__v1__advance_billing__descriptor, "ADVANCE_BILLING_", (int)p->advance_billing);
    if ((bits & 2u) && (!advance || p->advance_billing == LTC__DTC__V1__ADVANCE_BILLING__ADVANCE_BILLING_UNSPECIFIED))
        ltc_status_bad_field(st, "billing_policy.advance_billing", "AT_ORDER_PLACEMENT or AT_CONTRACT_SIGNATURE");
    if (st->code != LTC_OK) return -1;
    PGresult *l = ltc_call_query(c, st, SQL_BILLING_POLICY_LOCK, 0, NULL);
    if (!l) return -1;
    if (p->etag[0] && strcmp(p->etag, ltc_call_printf(c, "v%s", ltc_pg_str(l, 0, 0))) != 0)
        return ltc_status_set(st, LTC_ABORTED, "ETAG_MISMATCH", "the billing policy changed since etag %.40s", p->etag);
    Ltc__Dtc__V1__BillingPolicy *cur;
    if (load_billing_policy(c, st, &cur) != 0) return -1;
    if (!(bits & 1u))
        mode = ltc_enum_to_db(&ltc__dtc__v1__retention_billing__descriptor, "RETENTION_BILLING_",
                              (int)cur->retention_billing);
    if (!(bits & 2u))
        advance =
            ltc_enum_to_db(&ltc__dtc__v1__advance_billing__descriptor, "ADVANCE_BILLING_", (int)cur->advance_billing);
    if (!ltc_call_query(c, st, SQL_BILLING_POLICY_UPDATE, 3, (const char *[]){mode, dtc_principal(c), advance}))
        return -1;
    ltc_audit_change(
        c, "billingPolicy", "retention_billing",
        ltc_enum_to_db(&ltc__dtc__v1__retention_billing__descriptor, "RETENTION_BILLING_", (int)cur->retention_billing),
        mode);
    ltc_audit_change(
        c, "billingPolicy", "advance_billing",
        ltc_enum_to_db(&ltc__dtc__v1__advance_billing__descriptor, "ADVANCE_BILLING_", (int)cur->advance_billing),
        advance);
    Ltc__Dtc__V1__UpdateBillingPolicyResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__UpdateBillingPolicyResponse, LTC__DTC__V1__UPDATE_BILLING_POLICY_RESPONSE__INIT);
    if (load_billing_policy(c, st, &resp->billing_policy) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- ReportBillingMilestone ---------------------------------------------------------------------------------------- */

static const char SQL_MILESTONE_TERM[] =
    "SELECT position FROM account_terms WHERE account_id = $1 AND kind = 'MILESTONE' AND milestone = $2";
static const char SQL_MILESTONE_NAMES[] =
    "SELECT coalesce(string_agg('\"' || milestone || '\"', ', ' ORDER BY position), '') FROM account_terms "
    "WHERE account_id = $1 AND kind = 'MILESTONE'";
static const char SQL_MILESTONE_FIND[] =
    "SELECT coalesce(invoice_id::text, '') FROM billing_milestones WHERE account_id = $1 AND name = $2";
static const char SQL_MILESTONE_INSERT[] =
    "INSERT INTO billing_milestones (id, account_id, name, term_position, reached_date, reported_by, request_id) "
    "VALUES ($1, $2, $3, $4::integer, coalesce($5::date, current_date), $6, $7)";
static const char SQL_MILESTONE_INVOICE[] =
    "SELECT id::text FROM invoices WHERE account_id = $1 AND term_position = $2::integer "
    "AND billing_event = 'MILESTONE' ORDER BY seq DESC LIMIT 1";
static const char SQL_MILESTONE_SET_INVOICE[] = "UPDATE billing_milestones SET invoice_id = $2::uuid WHERE id = $1";

/* DeliveryToCashService/ReportBillingMilestone: see the proto. Lock order: the customer's credit account, then the
 * order account (as every intake handler); the milestone row is unique per order and name, so a concurrent second
 * report waits on the account lock and then finds the first one. */
int dtc_report_billing_milestone(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ReportBillingMilestoneRequest *req = (const void *)m;
    char order[LTC_UUID_LEN + 1], date[11] = "";
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required for a write that moves money");
    ltc_name_parse(req->order, "orders", "order", order, st);
    ltc_check_text(req->milestone, "milestone", 1, LTC_TERM_MAX_MILESTONE, st);
    ltc_date_to_text(req->reached_date, "reached_date", 1, date, st);
    if (st->code != LTC_OK) return -1;
    dtc_credit_locked locked = {.id = ""};
    PGresult *l = lock_order_account(c, st, order, &locked);
    if (!l) return -1;
    const char *tp[] = {order, req->milestone};
    PGresult *t = ltc_call_query(c, st, SQL_MILESTONE_TERM, 2, tp);
    if (!t) return -1;
    if (PQntuples(t) == 0) {
        PGresult *names = ltc_call_query(c, st, SQL_MILESTONE_NAMES, 1, (const char *[]){order});
        if (!names) return -1;
        const char *list = ltc_pg_str(names, 0, 0);
        return ltc_status_set(st, LTC_NOT_FOUND, "MILESTONE_NOT_FOUND",
                              "order %s has no MILESTONE payment term named \"%s\" (%s%s)", order, req->milestone,
                              list[0] ? "its milestones: " : "it has no MILESTONE terms", list);
    }
    const char *position = ltc_pg_str(t, 0, 0);
    Ltc__Dtc__V1__ReportBillingMilestoneResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ReportBillingMilestoneResponse, LTC__DTC__V1__REPORT_BILLING_MILESTONE_RESPONSE__INIT);
    PGresult *f = ltc_call_query(c, st, SQL_MILESTONE_FIND, 2, tp);
    if (!f) return -1;
    if (PQntuples(f) > 0) { /* reported before: the first report's invoice, nothing new */
        resp->already_reported = 1;
        resp->invoice = ltc_pg_str(f, 0, 0)[0] ? ltc_call_printf(c, "invoices/%s", ltc_pg_str(f, 0, 0)) : "";
    } else {
        if (strcmp(ltc_pg_str(l, 0, 0), "OPEN") != 0)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_ACCOUNT_CLOSED", "order account %s is %s", order,
                                  ltc_pg_str(l, 0, 0));
        char id[LTC_UUID_LEN + 1];
        ltc_uuid_new(id);
        const char *d = date[0] ? date : NULL;
        const char *ip[] = {id, order, req->milestone, position, d, dtc_principal(c), req->request_id};
        if (!ltc_call_query(c, st, SQL_MILESTONE_INSERT, 7, ip)) return -1;
        if (bill_and_settle(c, st, order, locked.id, "MILESTONE", d, NULL) != 0) return -1;
        PGresult *inv = ltc_call_query(c, st, SQL_MILESTONE_INVOICE, 2, (const char *[]){order, position});
        if (!inv) return -1;
        if (PQntuples(inv) > 0) { /* none only for a zero-value term */
            resp->invoice = ltc_call_printf(c, "invoices/%s", ltc_pg_str(inv, 0, 0));
            if (!ltc_call_query(c, st, SQL_MILESTONE_SET_INVOICE, 2, (const char *[]){id, ltc_pg_str(inv, 0, 0)}))
                return -1;
        }
    }
    if (dtc_load_account(c, st, order, &resp->order_account) != 0) return -1;
    *out = &resp->base;
    return 0;
}

const char *dtc_advance_billing(ltc_call *c, ltc_status *st) {
    PGresult *r = ltc_call_query(c, st, "SELECT advance_billing FROM billing_policy", 0, NULL);
    if (!r) return NULL;
    if (PQntuples(r) != 1) {
        ltc_status_set(st, LTC_INTERNAL, NULL, "the billing policy row is missing");
        return NULL;
    }
    return ltc_call_strdup(c, ltc_pg_str(r, 0, 0));
}
