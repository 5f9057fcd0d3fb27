/* services/dtc/receipts.c - receipts and cash application (docs/receivables.md): money received from a customer
 * (RecordReceipt; its bank reference unique per bank account), applied to invoices by allocations (ApplyReceipt:
 * explicit or oldest due first; an order's advance receipts automatically, dtc_apply_advances), reversed with a
 * reason (ReverseAllocation, BounceReceipt), refunded when unapplied (RefundReceipt), and read back (GetReceipt,
 * ListReceipts). v1's RecordPayment (payments.c) is a receipt applied to one invoice.
 * Every amount conserves: receipt = applied + refunded + unapplied; invoice paid = its ACTIVE allocations (and v1
 * payments from before #16). Lock order (credit.c): the customer's credit account, the receipt, then each order
 * account and its invoice. A change of paid amounts re-evaluates the customer's automatic credit holds. */
#include <stdio.h>
#include <string.h>

#include "dtc.h"
#include "ltc/audit.h"
#include "ledger.h"
#include "ltc/milestone.h"
#include "ltc/type/v1/milestone.pb-c.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

#define RECEIPT_COLS                                                                                                   \
    "id::text, coalesce(customer_id::text, ''), currency, amount_minor, applied_minor, refunded_minor, "               \
    "unapplied_minor, " LTC_SQL_DATE("value_date") ", bank_account, bank_reference, coalesce(account_id::text, ''), "  \
                                                   "state, note, recorded_by, " LTC_SQL_MICROS("create_time") ", seq"
enum {
    R_ID,
    R_CUSTOMER,
    R_CURRENCY,
    R_AMOUNT,
    R_APPLIED,
    R_REFUNDED,
    R_UNAPPLIED,
    R_VALUE_DATE,
    R_BANK_ACCOUNT,
    R_BANK_REF,
    R_ACCOUNT,
    R_STATE,
    R_NOTE,
    R_BY,
    R_CREATE,
    R_SEQ
};
static const char SQL_RECEIPT_GET[] = "SELECT " RECEIPT_COLS " FROM receipts WHERE id = $1";
static const char SQL_RECEIPT_LOCK[] = "SELECT " RECEIPT_COLS " FROM receipts WHERE id = $1 FOR UPDATE";
static const char SQL_RECEIPT_BY_REF[] =
    "SELECT " RECEIPT_COLS " FROM receipts WHERE bank_account = $1 AND bank_reference = $2 AND $2 <> ''";
static const char SQL_RECEIPTS_LIST[] =
    "SELECT " RECEIPT_COLS " FROM receipts WHERE seq > $1::bigint AND ($3::uuid IS NULL OR customer_id = $3::uuid) "
    "AND ($4::uuid IS NULL OR EXISTS (SELECT FROM allocations l WHERE l.receipt_id = receipts.id "
    "AND l.invoice_id = $4::uuid)) ORDER BY seq LIMIT $2::integer";
/* $8: origin, $9: request id */
static const char SQL_RECEIPT_INSERT[] =
    "INSERT INTO receipts (id, customer_id, account_id, currency, amount_minor, unapplied_minor, value_date, "
    "bank_account, bank_reference, note, recorded_by, origin, request_id) VALUES ($1, $2::uuid, $3::uuid, $4, "
    "$5::bigint, $5::bigint, coalesce($6::date, current_date), $7, $10, $11, $12, $8, $9)";
static const char SQL_RECEIPT_APPLY[] =
    "UPDATE receipts SET applied_minor = applied_minor + $2::bigint, unapplied_minor = unapplied_minor - $2::bigint, "
    "update_time = now() WHERE id = $1 RETURNING currency, applied_minor";
static const char SQL_RECEIPT_REFUND[] =
    "UPDATE receipts SET refunded_minor = refunded_minor + $2::bigint, unapplied_minor = unapplied_minor - $2::bigint, "
    "update_time = now() WHERE id = $1 RETURNING currency, refunded_minor";
static const char SQL_RECEIPT_BOUNCE[] =
    "UPDATE receipts SET state = 'BOUNCED', unapplied_minor = 0, bounce_reason = $2, bounce_time = now(), "
    "update_time = now() WHERE id = $1";
static const char SQL_REFUND_INSERT[] =
    "INSERT INTO refunds (id, receipt_id, currency, amount_minor, refund_date, reason, refunded_by) "
    "VALUES ($1, $2, $3, $4::bigint, coalesce($5::date, current_date), $6, $7)";

#define ALLOC_COLS                                                                                                                                                                                             \
    "id::text, receipt_id::text, invoice_id::text, currency, amount_minor, method, " LTC_SQL_DATE("apply_date") ", applied_by, state, coalesce(reverse_reason, ''), coalesce(reversed_by, ''), " LTC_SQL_DATE( \
        "reverse_date") ", " LTC_SQL_MICROS("create_time") ", account_id::text"
static const char SQL_REFUNDS_OF_RECEIPT[] =
    "SELECT id::text, currency, amount_minor, " LTC_SQL_DATE("refund_date") ", reason, refunded_by, " LTC_SQL_MICROS(
        "create_time") " FROM refunds WHERE receipt_id = $1 ORDER BY seq";
static const char SQL_ALLOCS_OF_RECEIPT[] = "SELECT " ALLOC_COLS " FROM allocations WHERE receipt_id = $1 ORDER BY seq";
static const char SQL_ALLOC_GET[] = "SELECT " ALLOC_COLS " FROM allocations WHERE id = $1";
static const char SQL_ALLOC_LOCK[] = "SELECT state, amount_minor FROM allocations WHERE id = $1 FOR UPDATE";
static const char SQL_ALLOC_ACTIVE_OF_RECEIPT[] =
    "SELECT id::text FROM allocations WHERE receipt_id = $1 AND state = 'ACTIVE' ORDER BY seq";
static const char SQL_ALLOC_INSERT[] =
    "INSERT INTO allocations (id, receipt_id, invoice_id, account_id, currency, amount_minor, method, apply_date, "
    "applied_by) VALUES ($1, $2, $3, $4, $5, $6::bigint, $7, coalesce($8::date, current_date), $9)";
static const char SQL_ALLOC_REVERSE[] =
    "UPDATE allocations SET state = 'REVERSED', reverse_reason = $2, reversed_by = $3, "
    "reverse_date = coalesce($4::date, current_date), reverse_time = now() WHERE id = $1";

/* the invoice with its order account and customer (not locked) */
static const char SQL_INVOICE_INFO[] =
    "SELECT i.account_id::text, coalesce(a.customer_id::text, ''), i.currency, a.deal_id::text FROM invoices i "
    "JOIN order_accounts a ON a.id = i.account_id WHERE i.id = $1";
static const char SQL_ACCOUNT_LOCK[] = "SELECT state FROM order_accounts WHERE id = $1 FOR UPDATE";
static const char SQL_RECEIPT_RECOVERED[] = "SELECT 1 FROM bad_debt_recoveries WHERE receipt_id = $1 LIMIT 1";
static const char SQL_INVOICE_LOCK[] =
    "SELECT currency, amount_minor - credited_minor - written_off_minor, paid_minor, state FROM invoices WHERE id = $1 "
    "FOR UPDATE";
static const char SQL_INVOICE_PAY[] =
    "UPDATE invoices SET paid_minor = paid_minor + $2::bigint, state = CASE WHEN paid_minor + $2::bigint = 0 THEN "
    "CASE WHEN credited_minor = amount_minor THEN 'CREDITED' WHEN credited_minor + written_off_minor = amount_minor "
    "THEN 'WRITTEN_OFF' ELSE 'UNPAID' END WHEN paid_minor + $2::bigint + credited_minor + written_off_minor = "
    "amount_minor THEN CASE WHEN written_off_minor > 0 THEN 'WRITTEN_OFF' ELSE 'PAID' END ELSE 'PARTLY_PAID' END, "
    "update_time = now() FROM (SELECT state AS old_state FROM invoices WHERE id = $1) o WHERE id = $1 "
    "RETURNING o.old_state, state, paid_minor, currency";
static const char SQL_ACCOUNT_PAY[] =
    "UPDATE order_accounts SET paid_minor = paid_minor + $2::bigint, update_time = now() WHERE id = $1";
/* open invoices of a customer (or of one order account) in a currency, oldest due date first */
static const char SQL_OPEN_INVOICES[] =
    "SELECT i.id::text, i.account_id::text FROM invoices i JOIN order_accounts a ON a.id = i.account_id "
    "WHERE a.customer_id = $1::uuid AND i.currency = $2 AND i.state IN ('UNPAID', 'PARTLY_PAID') AND a.state = 'OPEN' "
    "AND ($3::uuid IS NULL OR i.account_id = $3::uuid) ORDER BY i.due_date, i.seq";
/* advance receipts of an order with cash left, oldest first */
/* $3: the invoice's date; an advance is applied on the later of it and the receipt's value date */
static const char SQL_ADVANCES[] =
    "SELECT id::text, unapplied_minor, to_char(greatest(value_date, $3::date), 'YYYY-MM-DD') FROM receipts WHERE account_id = $1 AND currency = $2 AND state = 'RECEIVED' "
    "AND unapplied_minor > 0 ORDER BY seq FOR UPDATE";
static const char SQL_ACCOUNT_OF_CUSTOMER[] =
    "SELECT coalesce(customer_id::text, ''), currency, state FROM order_accounts WHERE id = $1 FOR UPDATE";

/* --- rows --------------------------------------------------------------------------------------------------------- */

static Ltc__Dtc__V1__Allocation *alloc_from_row(ltc_call *c, const PGresult *r, int i) {
    Ltc__Dtc__V1__Allocation *a = LTC_NEW(c, Ltc__Dtc__V1__Allocation, LTC__DTC__V1__ALLOCATION__INIT);
    a->name = ltc_call_printf(c, "allocations/%s", ltc_pg_str(r, i, 0));
    a->receipt = ltc_call_printf(c, "receipts/%s", ltc_pg_str(r, i, 1));
    a->invoice = ltc_call_printf(c, "invoices/%s", ltc_pg_str(r, i, 2));
    a->amount = ltc_money_msg(c, ltc_pg_str(r, i, 3), ltc_pg_i64(r, i, 4));
    a->method = (Ltc__Dtc__V1__AllocationMethod)ltc_enum_from_db(&ltc__dtc__v1__allocation_method__descriptor,
                                                                 "ALLOCATION_METHOD_", ltc_pg_str(r, i, 5));
    a->apply_date = ltc_date_from_pg(c, r, i, 6);
    a->applied_by = ltc_call_strdup(c, ltc_pg_str(r, i, 7));
    a->state = (Ltc__Dtc__V1__AllocationState)ltc_enum_from_db(&ltc__dtc__v1__allocation_state__descriptor,
                                                               "ALLOCATION_STATE_", ltc_pg_str(r, i, 8));
    a->reverse_reason = ltc_call_strdup(c, ltc_pg_str(r, i, 9));
    a->reversed_by = ltc_call_strdup(c, ltc_pg_str(r, i, 10));
    a->reverse_date = ltc_date_from_pg(c, r, i, 11);
    a->create_time = ltc_ts_from_pg(c, r, i, 12);
    return a;
}

static int receipt_from_row(ltc_call *c, ltc_status *st, const PGresult *r, int i, Ltc__Dtc__V1__Receipt **out) {
    Ltc__Dtc__V1__Receipt *x = LTC_NEW(c, Ltc__Dtc__V1__Receipt, LTC__DTC__V1__RECEIPT__INIT);
    const char *cur = ltc_pg_str(r, i, R_CURRENCY);
    x->name = ltc_call_printf(c, "receipts/%s", ltc_pg_str(r, i, R_ID));
    if (ltc_pg_str(r, i, R_CUSTOMER)[0]) x->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, i, R_CUSTOMER));
    x->amount = ltc_money_msg(c, cur, ltc_pg_i64(r, i, R_AMOUNT));
    x->applied_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, i, R_APPLIED));
    x->refunded_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, i, R_REFUNDED));
    x->unapplied_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, i, R_UNAPPLIED));
    x->value_date = ltc_date_from_pg(c, r, i, R_VALUE_DATE);
    x->bank_account = ltc_call_strdup(c, ltc_pg_str(r, i, R_BANK_ACCOUNT));
    x->bank_reference = ltc_call_strdup(c, ltc_pg_str(r, i, R_BANK_REF));
    if (ltc_pg_str(r, i, R_ACCOUNT)[0]) x->order = ltc_call_printf(c, "orders/%s", ltc_pg_str(r, i, R_ACCOUNT));
    x->state = (Ltc__Dtc__V1__ReceiptState)ltc_enum_from_db(&ltc__dtc__v1__receipt_state__descriptor, "RECEIPT_STATE_",
                                                            ltc_pg_str(r, i, R_STATE));
    x->note = ltc_call_strdup(c, ltc_pg_str(r, i, R_NOTE));
    x->recorded_by = ltc_call_strdup(c, ltc_pg_str(r, i, R_BY));
    x->create_time = ltc_ts_from_pg(c, r, i, R_CREATE);
    const char *p[] = {ltc_pg_str(r, i, R_ID)};
    PGresult *a = ltc_call_query(c, st, SQL_ALLOCS_OF_RECEIPT, 1, p);
    if (!a) return -1;
    int n = PQntuples(a);
    x->allocations = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__Allocation *) * (size_t)(n > 0 ? n : 1));
    for (int k = 0; k < n; k++) x->allocations[x->n_allocations++] = alloc_from_row(c, a, k);
    PGresult *f = ltc_call_query(c, st, SQL_REFUNDS_OF_RECEIPT, 1, p);
    if (!f) return -1;
    n = PQntuples(f);
    x->refunds = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__Refund *) * (size_t)(n > 0 ? n : 1));
    for (int k = 0; k < n; k++) {
        Ltc__Dtc__V1__Refund *rf = LTC_NEW(c, Ltc__Dtc__V1__Refund, LTC__DTC__V1__REFUND__INIT);
        rf->name = ltc_call_printf(c, "refunds/%s", ltc_pg_str(f, k, 0));
        rf->amount = ltc_money_msg(c, ltc_pg_str(f, k, 1), ltc_pg_i64(f, k, 2));
        rf->refund_date = ltc_date_from_pg(c, f, k, 3);
        rf->reason = ltc_call_strdup(c, ltc_pg_str(f, k, 4));
        rf->refunded_by = ltc_call_strdup(c, ltc_pg_str(f, k, 5));
        rf->create_time = ltc_ts_from_pg(c, f, k, 6);
        x->refunds[x->n_refunds++] = rf;
    }
    *out = x;
    return 0;
}

static int load_receipt(ltc_call *c, ltc_status *st, const char *id, Ltc__Dtc__V1__Receipt **out) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_RECEIPT_GET, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "RECEIPT_NOT_FOUND", "receipt %s not found", id);
    return receipt_from_row(c, st, r, 0, out);
}

/* --- the cash movements (locks held by the caller) ----------------------------------------------------------------- */

/* Applies `amount` of receipt `receipt` to invoice `invoice` of order account `account` (customer, receipt, account
 * and invoice locked; amount checked against the open amount and the unapplied cash): an ACTIVE allocation, the
 * invoice's and the account's paid amounts, the receipt's applied cash, and a PAID milestone to LTB. */
/* The audit trail's changes (ltc/audit.h) of an invoice's paid amount and state, and a receipt's applied amount, by
 * `delta` minor units: runs SQL_INVOICE_PAY / SQL_RECEIPT_APPLY and records old and new values. */
static int pay_invoice(ltc_call *c, ltc_status *st, const char *invoice, int64_t delta) {
    PGresult *r = ltc_call_query(c, st, SQL_INVOICE_PAY, 2, (const char *[]){invoice, ltc_sql_i64(c, delta)});
    if (!r) return -1;
    const char *target = ltc_call_printf(c, "invoices/%s", invoice);
    int64_t paid = ltc_pg_i64(r, 0, 2);
    ltc_audit_change_money(c, target, "paid_amount", ltc_pg_str(r, 0, 3), paid - delta, 1, paid, 1);
    ltc_audit_change(c, target, "state", ltc_pg_str(r, 0, 0), ltc_pg_str(r, 0, 1));
    return 0;
}

static int apply_receipt_cash(ltc_call *c, ltc_status *st, const char *receipt, int64_t delta) {
    PGresult *r = ltc_call_query(c, st, SQL_RECEIPT_APPLY, 2, (const char *[]){receipt, ltc_sql_i64(c, delta)});
    if (!r) return -1;
    int64_t applied = ltc_pg_i64(r, 0, 1);
    ltc_audit_change_money(c, ltc_call_printf(c, "receipts/%s", receipt), "applied_amount", ltc_pg_str(r, 0, 0),
                           applied - delta, 1, applied, 1);
    return 0;
}

static int allocate(ltc_call *c, ltc_status *st, const char *receipt, const char *invoice, const char *account,
                    const char *deal, const char *currency, int64_t amount, const char *method, const char *date,
                    const char *by, char id_out[LTC_UUID_LEN + 1]) {
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *amt = ltc_sql_i64(c, amount);
    const char *ap[] = {id, receipt, invoice, account, currency, amt, method, date, by};
    if (!ltc_call_query(c, st, SQL_ALLOC_INSERT, 9, ap)) return -1;
    if (pay_invoice(c, st, invoice, amount) != 0) return -1;
    if (!ltc_call_query(c, st, SQL_ACCOUNT_PAY, 2, (const char *[]){account, amt})) return -1;
    if (apply_receipt_cash(c, st, receipt, amount) != 0) return -1;
    dtc_posting post = {.event = DTC_EV_ALLOCATION,
                        .a = amount,
                        .source = ltc_call_printf(c, "allocations/%s", id),
                        .receipt = receipt,
                        .currency = currency,
                        .date = date,
                        .invoice = invoice};
    if (dtc_ledger_post(c, st, &post) != 0) return -1;
    ltc_money m;
    snprintf(m.currency, sizeof m.currency, "%s", currency);
    m.minor = amount;
    ltc_milestone ms = {.deal_id = deal,
                        .stage = LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_DTC,
                        .kind = LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_PAID,
                        .record = ltc_call_printf(c, "invoices/%s", invoice),
                        .amount = &m,
                        .date = date ? date : "",
                        .detail = ltc_call_printf(c, "receipts/%s, allocations/%s", receipt, id)};
    if (ltc_milestone_put(c, st, &ms) != 0) return -1;
    if (id_out) snprintf(id_out, LTC_UUID_LEN + 1, "%s", id);
    return 0;
}

/* Reverses the ACTIVE allocation `alloc` (see dtc.h). */
int dtc_reverse_locked(ltc_call *c, ltc_status *st, const char *alloc, const char *reason, const char *date,
                       const char *by) {
    const char *p[] = {alloc};
    PGresult *a = ltc_call_query(c, st, SQL_ALLOC_GET, 1, p);
    if (!a) return -1;
    if (PQntuples(a) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "ALLOCATION_NOT_FOUND", "allocation %s not found", alloc);
    const char *account = ltc_call_strdup(c, ltc_pg_str(a, 0, 13)), *invoice = ltc_call_strdup(c, ltc_pg_str(a, 0, 2));
    const char *receipt = ltc_call_strdup(c, ltc_pg_str(a, 0, 1));
    PGresult *acc = ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, (const char *[]){account});
    if (!acc) return -1;
    if (!ltc_call_query(c, st, SQL_INVOICE_LOCK, 1, (const char *[]){invoice})) return -1;
    PGresult *l = ltc_call_query(c, st, SQL_ALLOC_LOCK, 1, p);
    if (!l) return -1;
    if (strcmp(ltc_pg_str(l, 0, 0), "ACTIVE") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ALLOCATION_ALREADY_REVERSED",
                              "allocation %s is already reversed", alloc);
    if (strcmp(ltc_pg_str(acc, 0, 0), "OPEN") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_ACCOUNT_CLOSED",
                              "order account %s is closed: its payments are final", account);
    int64_t amount = ltc_pg_i64(l, 0, 1);
    const char *neg = ltc_sql_i64(c, -amount);
    if (!ltc_call_query(c, st, SQL_ALLOC_REVERSE, 4, (const char *[]){alloc, reason, by, date})) return -1;
    const char *at = ltc_call_printf(c, "allocations/%s", alloc);
    ltc_audit_change(c, at, "state", "ACTIVE", "REVERSED");
    ltc_audit_change(c, at, "reverse_reason", NULL, reason);
    if (pay_invoice(c, st, invoice, -amount) != 0) return -1;
    if (!ltc_call_query(c, st, SQL_ACCOUNT_PAY, 2, (const char *[]){account, neg})) return -1;
    if (apply_receipt_cash(c, st, receipt, -amount) != 0) return -1;
    dtc_posting post = {.event = DTC_EV_ALLOCATION_REVERSAL,
                        .a = amount,
                        .source = ltc_call_printf(c, "allocations/%s", alloc),
                        .receipt = receipt,
                        .currency = ltc_pg_str(a, 0, 3),
                        .date = date};
    return dtc_ledger_post(c, st, &post);
}

/* Applies up to `cash` of the receipt to the customer's open invoices of `currency` (of `account` only when not
 * NULL), oldest due date first, each order account and invoice locked in turn. Adds the allocations' ids to
 * `made` (may be NULL) and what was applied to *applied. */
typedef struct made_list {
    int n, cap;
    char (*ids)[LTC_UUID_LEN + 1];
    const char **invoices;
} made_list;

static int made_push(ltc_call *c, made_list *m, const char *alloc, const char *invoice) {
    if (!m) return 0;
    if (m->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 8;
        char(*ids)[LTC_UUID_LEN + 1] = ltc_call_alloc(c, sizeof *ids * (size_t)cap);
        const char **inv = ltc_call_alloc(c, sizeof *inv * (size_t)cap);
        if (m->n) memcpy(ids, m->ids, sizeof *ids * (size_t)m->n), memcpy(inv, m->invoices, sizeof *inv * (size_t)m->n);
        m->ids = ids, m->invoices = inv, m->cap = cap;
    }
    snprintf(m->ids[m->n], LTC_UUID_LEN + 1, "%s", alloc);
    m->invoices[m->n++] = ltc_call_strdup(c, invoice);
    return 0;
}

static int apply_oldest_due(ltc_call *c, ltc_status *st, const char *receipt, const char *customer,
                            const char *currency, const char *account, int64_t cash, const char *method,
                            const char *date, const char *by, made_list *made, int64_t *applied) {
    *applied = 0;
    PGresult *r = ltc_call_query(c, st, SQL_OPEN_INVOICES, 3, (const char *[]){customer, currency, account});
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r) && cash > 0; i++) {
        const char *inv = ltc_pg_str(r, i, 0), *acc = ltc_pg_str(r, i, 1);
        PGresult *info = ltc_call_query(c, st, SQL_INVOICE_INFO, 1, (const char *[]){inv});
        if (!info) return -1;
        const char *deal = ltc_call_strdup(c, ltc_pg_str(info, 0, 3));
        PGresult *al = ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, (const char *[]){acc});
        if (!al) return -1;
        PGresult *il = ltc_call_query(c, st, SQL_INVOICE_LOCK, 1, (const char *[]){inv});
        if (!il) return -1;
        if (strcmp(ltc_pg_str(al, 0, 0), "OPEN") != 0 || strcmp(ltc_pg_str(il, 0, 3), "PAID") == 0) continue;
        int64_t open = ltc_pg_i64(il, 0, 1) - ltc_pg_i64(il, 0, 2);
        int64_t amt = open < cash ? open : cash;
        if (amt <= 0) continue;
        char id[LTC_UUID_LEN + 1];
        if (allocate(c, st, receipt, inv, acc, deal, currency, amt, method, date, by, id) != 0) return -1;
        made_push(c, made, id, inv);
        cash -= amt, *applied += amt;
    }
    return 0;
}

/* Closes every order account the allocations made settled, then re-evaluates the customer's holds. */
static int settle(ltc_call *c, ltc_status *st, const char *customer, const made_list *made, const char *cause) {
    for (int i = 0; made && i < made->n; i++) {
        PGresult *info = ltc_call_query(c, st, SQL_INVOICE_INFO, 1, (const char *[]){made->invoices[i]});
        if (!info) return -1;
        int closed;
        if (dtc_close_account_if_settled(c, st, ltc_pg_str(info, 0, 0), &closed) != 0) return -1;
    }
    if (!customer || !customer[0]) return 0;
    dtc_credit_policy pol;
    if (dtc_credit_policy_load(c, st, &pol) != 0) return -1;
    return dtc_credit_evaluate_holds(c, st, customer, NULL, &pol, cause);
}

int dtc_apply_advances(ltc_call *c, ltc_status *st, const char *invoice) {
    PGresult *info = ltc_call_query(c, st, SQL_INVOICE_INFO, 1, (const char *[]){invoice});
    if (!info) return -1;
    if (PQntuples(info) == 0) return 0;
    const char *account = ltc_call_strdup(c, ltc_pg_str(info, 0, 0)), *currency = ltc_pg_str(info, 0, 2);
    const char *deal = ltc_call_strdup(c, ltc_pg_str(info, 0, 3));
    const char *cur = ltc_call_strdup(c, currency);
    PGresult *d =
        ltc_call_query(c, st, "SELECT invoice_date::text FROM invoices WHERE id = $1", 1, (const char *[]){invoice});
    if (!d) return -1;
    PGresult *rs = ltc_call_query(c, st, SQL_ADVANCES, 3, (const char *[]){account, cur, ltc_pg_str(d, 0, 0)});
    if (!rs) return -1;
    for (int i = 0; i < PQntuples(rs); i++) {
        PGresult *il = ltc_call_query(c, st, SQL_INVOICE_LOCK, 1, (const char *[]){invoice});
        if (!il) return -1;
        int64_t open = ltc_pg_i64(il, 0, 1) - ltc_pg_i64(il, 0, 2), cash = ltc_pg_i64(rs, i, 1);
        if (open <= 0) break;
        int64_t amt = open < cash ? open : cash;
        if (allocate(c, st, ltc_pg_str(rs, i, 0), invoice, account, deal, cur, amt, "ADVANCE", ltc_pg_str(rs, i, 2),
                     "dtc", NULL) != 0)
            return -1;
    }
    return 0;
}

/* --- validation helpers ----------------------------------------------------------------------------------------- */

/* Money writes need their idempotency key: without it a retry after a lost answer could move money twice. */
static void require_request_id(const char *request_id, ltc_status *st) {
    if (!request_id || !request_id[0])
        ltc_status_bad_field(st, "request_id", "required for a write that moves money");
    else
        ltc_check_text(request_id, "request_id", 1, 128, st);
}

/* Locks the receipt's customer, then the receipt. */
static int lock_receipt(ltc_call *c, ltc_status *st, const char *id, dtc_credit_locked *cust, PGresult **out) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_RECEIPT_GET, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "RECEIPT_NOT_FOUND", "receipt %s not found", id);
    cust->id[0] = '\0';
    if (ltc_pg_str(r, 0, R_CUSTOMER)[0] &&
        dtc_credit_account_lock(c, st, ltc_pg_str(r, 0, R_CUSTOMER), NULL, DTC_LOCK_FOLLOW_MERGES, cust) != 0)
        return -1;
    *out = ltc_call_query(c, st, SQL_RECEIPT_LOCK, 1, p);
    return *out ? 0 : -1;
}

/* --- RecordReceipt ------------------------------------------------------------------------------------------------ */

/* DeliveryToCashService/RecordReceipt: see the proto. A repeated bank reference with the same facts returns the
 * first receipt (already_recorded); with other facts ALREADY_EXISTS DUPLICATE_BANK_REFERENCE. */
int dtc_record_receipt(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RecordReceiptRequest *req = (const void *)m;
    const Ltc__Dtc__V1__Receipt *x = req->receipt;
    char customer[LTC_UUID_LEN + 1] = "", order[LTC_UUID_LEN + 1] = "", value_date[11] = "";
    ltc_money amount = {{0}, 0};
    require_request_id(req->request_id, st);
    if (!x) {
        ltc_status_bad_field(st, "receipt", "required");
        return -1;
    }
    ltc_name_parse(x->customer, "customers", "receipt.customer", customer, st);
    if (ltc_money_from_proto(x->amount, "receipt.amount", 0, &amount, st) == 0 && amount.minor <= 0)
        ltc_status_bad_field(st, "receipt.amount", "must be positive");
    ltc_date_to_text(x->value_date, "receipt.value_date", 1, value_date, st);
    ltc_check_text(x->bank_account, "receipt.bank_account", 1, 64, st);
    ltc_check_text(x->bank_reference, "receipt.bank_reference", 1, 100, st);
    if (x->order[0]) ltc_name_parse(x->order, "orders", "receipt.order", order, st);
    ltc_check_text(x->note, "receipt.note", 0, 500, st);
    if (st->code != LTC_OK) return -1;

    dtc_credit_locked cust;
    if (dtc_credit_account_lock(c, st, customer, NULL, DTC_LOCK_FOLLOW_MERGES, &cust) != 0) return -1;
    Ltc__Dtc__V1__RecordReceiptResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RecordReceiptResponse, LTC__DTC__V1__RECORD_RECEIPT_RESPONSE__INIT);
    PGresult *dup = ltc_call_query(c, st, SQL_RECEIPT_BY_REF, 2, (const char *[]){x->bank_account, x->bank_reference});
    if (!dup) return -1;
    if (PQntuples(dup) > 0) {
        int same = strcmp(ltc_pg_str(dup, 0, R_CUSTOMER), cust.id) == 0 &&
                   strcmp(ltc_pg_str(dup, 0, R_CURRENCY), amount.currency) == 0 &&
                   ltc_pg_i64(dup, 0, R_AMOUNT) == amount.minor && strcmp(ltc_pg_str(dup, 0, R_ACCOUNT), order) == 0;
        if (!same)
            return ltc_status_set(st, LTC_ALREADY_EXISTS, "DUPLICATE_BANK_REFERENCE",
                                  "bank reference %s on bank account %s was recorded as receipts/%s", x->bank_reference,
                                  x->bank_account, ltc_pg_str(dup, 0, R_ID));
        resp->already_recorded = 1;
        if (receipt_from_row(c, st, dup, 0, &resp->receipt) != 0) return -1;
        *out = &resp->base;
        return 0;
    }
    if (order[0]) {
        PGresult *a = ltc_call_query(c, st, SQL_ACCOUNT_OF_CUSTOMER, 1, (const char *[]){order});
        if (!a) return -1;
        if (PQntuples(a) == 0)
            return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_ACCOUNT_NOT_FOUND", "order %s has no account", order);
        if (strcmp(ltc_pg_str(a, 0, 0), cust.id) != 0)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_OF_ANOTHER_CUSTOMER",
                                  "order %s is not an order of customer %s", order, cust.id);
        if (strcmp(ltc_pg_str(a, 0, 1), amount.currency) != 0)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CURRENCY_MISMATCH",
                                  "order %s is in %s, the receipt in %s", order, ltc_pg_str(a, 0, 1), amount.currency);
    }
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *ip[] = {id,
                        cust.id,
                        order[0] ? order : NULL,
                        amount.currency,
                        ltc_sql_i64(c, amount.minor),
                        value_date[0] ? value_date : NULL,
                        x->bank_account,
                        "RECEIPT",
                        req->request_id,
                        x->bank_reference,
                        x->note,
                        dtc_principal(c)};
    if (!ltc_call_query(c, st, SQL_RECEIPT_INSERT, 12, ip)) {
        if (st->code == LTC_ALREADY_EXISTS) /* the same reference raced in */
            ltc_status_set(st, LTC_ALREADY_EXISTS, "DUPLICATE_BANK_REFERENCE",
                           "bank reference %s on bank account %s was recorded already", x->bank_reference,
                           x->bank_account);
        return -1;
    }
    ltc_audit_change_money(c, ltc_call_printf(c, "receipts/%s", id), "amount", amount.currency, 0, 0, amount.minor, 1);
    dtc_posting post = {.event = DTC_EV_RECEIPT,
                        .a = amount.minor,
                        .source = ltc_call_printf(c, "receipts/%s", id),
                        .customer = cust.id,
                        .currency = amount.currency,
                        .date = value_date[0] ? value_date : NULL};
    if (dtc_ledger_post(c, st, &post) != 0) return -1;
    made_list made = {0};
    if (order[0]) { /* an advance: the order's open invoices now, its next ones as they are raised */
        int64_t applied;
        if (apply_oldest_due(c, st, id, cust.id, amount.currency, order, amount.minor, "ADVANCE",
                             value_date[0] ? value_date : NULL, dtc_principal(c), &made, &applied) != 0)
            return -1;
        if (settle(c, st, cust.id, &made, ltc_call_printf(c, "receipts/%s", id)) != 0) return -1;
    }
    if (load_receipt(c, st, id, &resp->receipt) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- ApplyReceipt ------------------------------------------------------------------------------------------------- */

/* DeliveryToCashService/ApplyReceipt: see the proto. */
int dtc_apply_receipt(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ApplyReceiptRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1], date[11] = "";
    require_request_id(req->request_id, st);
    ltc_name_parse(req->name, "receipts", "name", id, st);
    ltc_date_to_text(req->apply_date, "apply_date", 1, date, st);
    size_t n = req->n_allocations;
    char(*inv)[LTC_UUID_LEN + 1] = ltc_call_alloc(c, sizeof *inv * (n ? n : 1));
    ltc_money *amt = ltc_call_alloc(c, sizeof *amt * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        const Ltc__Dtc__V1__AllocationRequest *a = req->allocations[i];
        const char *f_inv = ltc_call_printf(c, "allocations[%zu].invoice", i);
        const char *f_amt = ltc_call_printf(c, "allocations[%zu].amount", i);
        ltc_name_parse(a ? a->invoice : "", "invoices", f_inv, inv[i], st);
        if (ltc_money_from_proto(a ? a->amount : NULL, f_amt, 0, &amt[i], st) == 0 && amt[i].minor <= 0)
            ltc_status_bad_field(st, f_amt, "must be positive");
        for (size_t k = 0; k < i && st->code == LTC_OK; k++)
            if (strcmp(inv[k], inv[i]) == 0) ltc_status_bad_field(st, f_inv, "names the same invoice twice");
    }
    if (st->code != LTC_OK) return -1;

    dtc_credit_locked cust;
    PGresult *r;
    if (lock_receipt(c, st, id, &cust, &r) != 0) return -1;
    const char *currency = ltc_call_strdup(c, ltc_pg_str(r, 0, R_CURRENCY));
    const char *rcust = ltc_call_strdup(c, ltc_pg_str(r, 0, R_CUSTOMER));
    if (strcmp(ltc_pg_str(r, 0, R_STATE), "BOUNCED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "RECEIPT_BOUNCED", "receipt %s bounced", id);
    int64_t cash = ltc_pg_i64(r, 0, R_UNAPPLIED);
    const char *by = dtc_principal(c), *d = date[0] ? date : NULL;
    made_list made = {0};
    if (n == 0) {
        int64_t applied = 0;
        if (cash > 0 &&
            apply_oldest_due(c, st, id, rcust, currency, NULL, cash, "OLDEST_DUE", d, by, &made, &applied) != 0)
            return -1;
        if (applied == 0)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "NOTHING_TO_APPLY",
                                  "receipt %s has %lld unapplied and its customer no open invoice in %s", id,
                                  (long long)cash, currency);
    } else {
        int64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            PGresult *info = ltc_call_query(c, st, SQL_INVOICE_INFO, 1, (const char *[]){inv[i]});
            if (!info) return -1;
            if (PQntuples(info) == 0)
                return ltc_status_set(st, LTC_NOT_FOUND, "INVOICE_NOT_FOUND", "invoice %s not found", inv[i]);
            const char *acc = ltc_call_strdup(c, ltc_pg_str(info, 0, 0));
            const char *deal = ltc_call_strdup(c, ltc_pg_str(info, 0, 3));
            if (strcmp(ltc_pg_str(info, 0, 1), rcust) != 0)
                return ltc_status_set(st, LTC_FAILED_PRECONDITION, "INVOICE_OF_ANOTHER_CUSTOMER",
                                      "invoice %s is not billed to the payer of receipt %s", inv[i], id);
            if (strcmp(ltc_pg_str(info, 0, 2), currency) != 0 || strcmp(amt[i].currency, currency) != 0)
                return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CURRENCY_MISMATCH",
                                      "invoice %s (%s), allocation (%s) and receipt (%s) currencies differ", inv[i],
                                      ltc_pg_str(info, 0, 2), amt[i].currency, currency);
            PGresult *al = ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, (const char *[]){acc});
            if (!al) return -1;
            PGresult *il = ltc_call_query(c, st, SQL_INVOICE_LOCK, 1, (const char *[]){inv[i]});
            if (!il) return -1;
            if (strcmp(ltc_pg_str(il, 0, 3), "PAID") == 0)
                return ltc_status_set(st, LTC_FAILED_PRECONDITION, "INVOICE_ALREADY_PAID", "invoice %s is paid",
                                      inv[i]);
            if (strcmp(ltc_pg_str(il, 0, 3), "WRITTEN_OFF") == 0)
                return ltc_status_set(st, LTC_FAILED_PRECONDITION, "INVOICE_WRITTEN_OFF",
                                      "invoice %s is written off: cash for it is a recovery (RecordRecovery)", inv[i]);
            int64_t open = ltc_pg_i64(il, 0, 1) - ltc_pg_i64(il, 0, 2);
            if (amt[i].minor > open)
                return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OVERPAYMENT",
                                      "allocation of %lld exceeds the open amount %lld of invoice %s",
                                      (long long)amt[i].minor, (long long)open, inv[i]);
            sum += amt[i].minor; /* each at most an invoice's open amount: no overflow for any sane count */
            if (sum > cash)
                return ltc_status_set(st, LTC_FAILED_PRECONDITION, "INSUFFICIENT_UNAPPLIED_CASH",
                                      "allocations of %lld exceed the unapplied %lld of receipt %s", (long long)sum,
                                      (long long)cash, id);
            char aid[LTC_UUID_LEN + 1];
            if (allocate(c, st, id, inv[i], acc, deal, currency, amt[i].minor, "EXPLICIT", d, by, aid) != 0) return -1;
            made_push(c, &made, aid, inv[i]);
        }
    }
    if (settle(c, st, cust.id, &made, ltc_call_printf(c, "receipts/%s applied", id)) != 0) return -1;

    Ltc__Dtc__V1__ApplyReceiptResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ApplyReceiptResponse, LTC__DTC__V1__APPLY_RECEIPT_RESPONSE__INIT);
    if (load_receipt(c, st, id, &resp->receipt) != 0) return -1;
    resp->allocations = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__Allocation *) * (size_t)(made.n ? made.n : 1));
    resp->invoices = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__Invoice *) * (size_t)(made.n ? made.n : 1));
    for (int i = 0; i < made.n; i++) {
        PGresult *a = ltc_call_query(c, st, SQL_ALLOC_GET, 1, (const char *[]){made.ids[i]});
        if (!a) return -1;
        resp->allocations[resp->n_allocations++] = alloc_from_row(c, a, 0);
        if (dtc_load_invoice(c, st, made.invoices[i], &resp->invoices[resp->n_invoices++]) != 0) return -1;
    }
    *out = &resp->base;
    return 0;
}

/* --- ReverseAllocation, BounceReceipt, RefundReceipt --------------------------------------------------------------- */

/* DeliveryToCashService/ReverseAllocation: see the proto. */
int dtc_reverse_allocation(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ReverseAllocationRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1], date[11] = "";
    require_request_id(req->request_id, st);
    ltc_name_parse(req->name, "allocations", "name", id, st);
    ltc_check_text(req->reason, "reason", 1, 500, st);
    ltc_date_to_text(req->reverse_date, "reverse_date", 1, date, st);
    if (st->code != LTC_OK) return -1;
    PGresult *a = ltc_call_query(c, st, SQL_ALLOC_GET, 1, (const char *[]){id});
    if (!a) return -1;
    if (PQntuples(a) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "ALLOCATION_NOT_FOUND", "allocation %s not found", id);
    const char *receipt = ltc_call_strdup(c, ltc_pg_str(a, 0, 1)), *invoice = ltc_call_strdup(c, ltc_pg_str(a, 0, 2));
    dtc_credit_locked cust;
    PGresult *r;
    if (lock_receipt(c, st, receipt, &cust, &r) != 0) return -1;
    if (dtc_reverse_locked(c, st, id, req->reason, date[0] ? date : NULL, dtc_principal(c)) != 0) return -1;
    if (settle(c, st, cust.id, NULL, NULL) != 0) return -1;

    Ltc__Dtc__V1__ReverseAllocationResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ReverseAllocationResponse, LTC__DTC__V1__REVERSE_ALLOCATION_RESPONSE__INIT);
    PGresult *after = ltc_call_query(c, st, SQL_ALLOC_GET, 1, (const char *[]){id});
    if (!after) return -1;
    resp->allocation = alloc_from_row(c, after, 0);
    if (load_receipt(c, st, receipt, &resp->receipt) != 0) return -1;
    if (dtc_load_invoice(c, st, invoice, &resp->invoice) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* DeliveryToCashService/BounceReceipt: see the proto. */
int dtc_bounce_receipt(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__BounceReceiptRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1], date[11] = "";
    require_request_id(req->request_id, st);
    ltc_name_parse(req->name, "receipts", "name", id, st);
    ltc_check_text(req->reason, "reason", 1, 500, st);
    ltc_date_to_text(req->bounce_date, "bounce_date", 1, date, st);
    if (st->code != LTC_OK) return -1;
    dtc_credit_locked cust;
    PGresult *r;
    if (lock_receipt(c, st, id, &cust, &r) != 0) return -1;
    if (strcmp(ltc_pg_str(r, 0, R_STATE), "BOUNCED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "RECEIPT_BOUNCED", "receipt %s bounced already", id);
    if (ltc_pg_i64(r, 0, R_REFUNDED) > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "RECEIPT_REFUNDED",
                              "receipt %s was partly refunded: a bounce cannot undo a refund", id);
    PGresult *rv = ltc_call_query(c, st, SQL_RECEIPT_RECOVERED, 1, (const char *[]){id});
    if (!rv) return -1;
    if (PQntuples(rv) > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "RECEIPT_HAS_RECOVERY",
                              "receipt %s paid a recovery of written-off debt (recoveries are not reversed)", id);
    PGresult *al = ltc_call_query(c, st, SQL_ALLOC_ACTIVE_OF_RECEIPT, 1, (const char *[]){id});
    if (!al) return -1;
    const char *why = ltc_call_printf(c, "receipt bounced: %s", req->reason);
    if (strlen(why) > 500) why = "receipt bounced";
    for (int i = 0; i < PQntuples(al); i++)
        if (dtc_reverse_locked(c, st, ltc_pg_str(al, i, 0), why, date[0] ? date : NULL, dtc_principal(c)) != 0)
            return -1;
    if (!ltc_call_query(c, st, SQL_RECEIPT_BOUNCE, 2, (const char *[]){id, req->reason})) return -1;
    const char *target = ltc_call_printf(c, "receipts/%s", id);
    ltc_audit_change(c, target, "state", ltc_pg_str(r, 0, R_STATE), "BOUNCED");
    ltc_audit_change(c, target, "bounce_reason", NULL, req->reason);
    /* its allocations reversed above, nothing refunded: the whole amount was unapplied cash */
    dtc_posting post = {.event = DTC_EV_BOUNCE,
                        .a = ltc_pg_i64(r, 0, R_AMOUNT),
                        .source = ltc_call_printf(c, "receipts/%s", id),
                        .receipt = id,
                        .currency = ltc_pg_str(r, 0, R_CURRENCY),
                        .date = date[0] ? date : NULL};
    if (dtc_ledger_post(c, st, &post) != 0) return -1;
    if (settle(c, st, cust.id, NULL, NULL) != 0) return -1;
    Ltc__Dtc__V1__BounceReceiptResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__BounceReceiptResponse, LTC__DTC__V1__BOUNCE_RECEIPT_RESPONSE__INIT);
    if (load_receipt(c, st, id, &resp->receipt) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* DeliveryToCashService/RefundReceipt: see the proto. */
int dtc_refund_receipt(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RefundReceiptRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1], date[11] = "";
    ltc_money amount = {{0}, 0};
    require_request_id(req->request_id, st);
    ltc_name_parse(req->name, "receipts", "name", id, st);
    if (ltc_money_from_proto(req->amount, "amount", 0, &amount, st) == 0 && amount.minor <= 0)
        ltc_status_bad_field(st, "amount", "must be positive");
    ltc_check_text(req->reason, "reason", 1, 500, st);
    ltc_date_to_text(req->refund_date, "refund_date", 1, date, st);
    if (st->code != LTC_OK) return -1;
    dtc_credit_locked cust;
    PGresult *r;
    if (lock_receipt(c, st, id, &cust, &r) != 0) return -1;
    if (strcmp(ltc_pg_str(r, 0, R_STATE), "BOUNCED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "RECEIPT_BOUNCED", "receipt %s bounced", id);
    if (strcmp(ltc_pg_str(r, 0, R_CURRENCY), amount.currency) != 0)
        return ltc_status_bad_field(st, "amount", "currency %s differs from the receipt's %s", amount.currency,
                                    ltc_pg_str(r, 0, R_CURRENCY));
    if (amount.minor > ltc_pg_i64(r, 0, R_UNAPPLIED))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "INSUFFICIENT_UNAPPLIED_CASH",
                              "refund of %lld exceeds the unapplied %lld of receipt %s", (long long)amount.minor,
                              (long long)ltc_pg_i64(r, 0, R_UNAPPLIED), id);
    char fid[LTC_UUID_LEN + 1];
    ltc_uuid_new(fid);
    const char *amt = ltc_sql_i64(c, amount.minor);
    const char *fp[] = {fid, id, amount.currency, amt, date[0] ? date : NULL, req->reason, dtc_principal(c)};
    if (!ltc_call_query(c, st, SQL_REFUND_INSERT, 7, fp)) return -1;
    PGresult *rf = ltc_call_query(c, st, SQL_RECEIPT_REFUND, 2, (const char *[]){id, amt});
    if (!rf) return -1;
    ltc_audit_change_money(c, ltc_call_printf(c, "receipts/%s", id), "refunded_amount", amount.currency,
                           ltc_pg_i64(rf, 0, 1) - amount.minor, 1, ltc_pg_i64(rf, 0, 1), 1);
    ltc_audit_change_money(c, ltc_call_printf(c, "receipts/%s/refunds/%s", id, fid), "amount", amount.currency, 0, 0,
                           amount.minor, 1);
    dtc_posting post = {.event = DTC_EV_REFUND,
                        .a = amount.minor,
                        .source = ltc_call_printf(c, "refunds/%s", fid),
                        .receipt = id,
                        .currency = amount.currency,
                        .date = date[0] ? date : NULL};
    if (dtc_ledger_post(c, st, &post) != 0) return -1;
    Ltc__Dtc__V1__RefundReceiptResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RefundReceiptResponse, LTC__DTC__V1__REFUND_RECEIPT_RESPONSE__INIT);
    if (load_receipt(c, st, id, &resp->receipt) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- reads -------------------------------------------------------------------------------------------------------- */

/* DeliveryToCashService/GetReceipt: one receipt with its allocations. */
int dtc_get_receipt(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetReceiptRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "receipts", "name", id, st) != 0) return -1;
    Ltc__Dtc__V1__GetReceiptResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetReceiptResponse, LTC__DTC__V1__GET_RECEIPT_RESPONSE__INIT);
    if (load_receipt(c, st, id, &resp->receipt) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* DeliveryToCashService/ListReceipts: receipts oldest first, of a customer or allocated to an invoice. */
int dtc_list_receipts(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ListReceiptsRequest *req = (const void *)m;
    char customer[LTC_UUID_LEN + 1] = "", invoice[LTC_UUID_LEN + 1] = "";
    if (req->customer[0]) ltc_name_parse(req->customer, "customers", "customer", customer, st);
    if (req->invoice[0]) ltc_name_parse(req->invoice, "invoices", "invoice", invoice, st);
    int limit = 0;
    int64_t after = 0;
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (st->code != LTC_OK) return -1;
    const char *p[] = {ltc_sql_i64(c, after), ltc_sql_i64(c, limit), customer[0] ? customer : NULL,
                       invoice[0] ? invoice : NULL};
    PGresult *r = ltc_call_query(c, st, SQL_RECEIPTS_LIST, 4, p);
    if (!r) return -1;
    Ltc__Dtc__V1__ListReceiptsResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ListReceiptsResponse, LTC__DTC__V1__LIST_RECEIPTS_RESPONSE__INIT);
    int n = PQntuples(r);
    int shown = n < limit ? n : limit - 1;
    resp->receipts = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__Receipt *) * (size_t)(shown > 0 ? shown : 1));
    for (int i = 0; i < shown; i++)
        if (receipt_from_row(c, st, r, i, &resp->receipts[resp->n_receipts++]) != 0) return -1;
    if (n >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, R_SEQ));
    *out = &resp->base;
    return 0;
}

/* --- v1 RecordPayment (payments.c) --------------------------------------------------------------------------------- */

int dtc_payment_replay(ltc_call *c, ltc_status *st, const dtc_payment_in *p, char receipt_out[LTC_UUID_LEN + 1],
                       int *found) {
    *found = 0;
    if (!p->reference[0]) return 0;
    PGresult *dup = ltc_call_query(c, st, SQL_RECEIPT_BY_REF, 2, (const char *[]){p->bank_account, p->reference});
    if (!dup) return -1;
    if (PQntuples(dup) == 0) return 0;
    const char *rid = ltc_pg_str(dup, 0, R_ID);
    PGresult *al = ltc_call_query(c, st, SQL_ALLOCS_OF_RECEIPT, 1, (const char *[]){rid});
    if (!al) return -1;
    int same = strcmp(ltc_pg_str(dup, 0, R_CUSTOMER), p->customer) == 0 &&
               strcmp(ltc_pg_str(dup, 0, R_CURRENCY), p->currency) == 0 && ltc_pg_i64(dup, 0, R_AMOUNT) == p->amount &&
               PQntuples(al) == 1 && strcmp(ltc_pg_str(al, 0, 2), p->invoice) == 0 &&
               strcmp(ltc_pg_str(al, 0, 8), "ACTIVE") == 0;
    if (!same)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "DUPLICATE_BANK_REFERENCE",
                              "bank reference %s on bank account %s was recorded as receipts/%s", p->reference,
                              p->bank_account, rid);
    snprintf(receipt_out, LTC_UUID_LEN + 1, "%s", rid);
    *found = 1;
    return 0;
}

int dtc_payment_record(ltc_call *c, ltc_status *st, const dtc_payment_in *p, char receipt_out[LTC_UUID_LEN + 1]) {
    ltc_uuid_new(receipt_out);
    const char *ip[] = {receipt_out,
                        p->customer[0] ? p->customer : NULL,
                        NULL,
                        p->currency,
                        ltc_sql_i64(c, p->amount),
                        NULL,
                        p->bank_account,
                        "PAYMENT",
                        p->request_id,
                        p->reference,
                        "",
                        dtc_principal(c)};
    if (!ltc_call_query(c, st, SQL_RECEIPT_INSERT, 12, ip)) {
        if (st->code == LTC_ALREADY_EXISTS)
            ltc_status_set(st, LTC_ALREADY_EXISTS, "DUPLICATE_BANK_REFERENCE",
                           "bank reference %s on bank account %s was recorded already", p->reference, p->bank_account);
        return -1;
    }
    dtc_posting post = {.event = DTC_EV_RECEIPT,
                        .a = p->amount,
                        .source = ltc_call_printf(c, "receipts/%s", receipt_out),
                        .customer = p->customer,
                        .currency = p->currency};
    if (dtc_ledger_post(c, st, &post) != 0) return -1;
    PGresult *info = ltc_call_query(c, st, SQL_INVOICE_INFO, 1, (const char *[]){p->invoice});
    if (!info) return -1;
    /* the audit row's targets: the invoice paid, then the receipt recorded (not the idempotency key) */
    ltc_audit_target(c, ltc_call_printf(c, "invoices/%s", p->invoice));
    ltc_audit_change_money(c, ltc_call_printf(c, "receipts/%s", receipt_out), "amount", p->currency, 0, 0, p->amount,
                           1);
    return allocate(c, st, receipt_out, p->invoice, p->account, ltc_pg_str(info, 0, 3), p->currency, p->amount,
                    "PAYMENT", NULL, dtc_principal(c), NULL);
}
