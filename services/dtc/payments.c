/* services/dtc/payments.c - payments applied to invoices, and the closure of an order account once it is fully
 * accepted, invoiced and paid, with its hand-offs back to BTO (order and contract closure) and LTB (cash
 * collected). */
#include <string.h>

#include "dtc.h"
#include "ltc/bto/v1/intake_service.pb-c.h"
#include "ltc/ids.h"
#include "ltc/ltb/v1/intake_service.pb-c.h"
#include "ltc/money.h"
#include "ltc/outbox.h"
#include "ltc/proto.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

static const char SQL_INVOICE_ACCOUNT[] = "SELECT account_id::text FROM invoices WHERE id = $1";
static const char SQL_ACCOUNT_LOCK[] = "SELECT state FROM order_accounts WHERE id = $1 FOR UPDATE";
static const char SQL_INVOICE_LOCK[] =
    "SELECT currency, amount_minor, paid_minor, state FROM invoices WHERE id = $1 FOR UPDATE";
static const char SQL_PAYMENT_INSERT[] =
    "INSERT INTO payments (id, invoice_id, account_id, currency, amount_minor, reference) "
    "VALUES ($1, $2, $3, $4, $5::bigint, $6) RETURNING " LTC_SQL_MICROS("create_time");
static const char SQL_INVOICE_PAY[] =
    "UPDATE invoices SET paid_minor = paid_minor + $2::bigint, "
    "state = CASE WHEN paid_minor + $2::bigint = amount_minor THEN 'PAID' ELSE 'PARTLY_PAID' END, "
    "update_time = now() WHERE id = $1";
static const char SQL_ACCOUNT_PAY[] =
    "UPDATE order_accounts SET paid_minor = paid_minor + $2::bigint, update_time = now() WHERE id = $1";

static const char SQL_ACCOUNT_CLOSE[] =
    "UPDATE order_accounts a SET state = 'CLOSED', close_time = now(), update_time = now() "
    "WHERE a.id = $1 AND a.state = 'OPEN' AND a.fully_accepted AND a.invoiced_minor = a.order_total_minor "
    "AND a.paid_minor = a.invoiced_minor "
    "AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.account_id = a.id AND i.state <> 'PAID') "
    "RETURNING contract_id::text, deal_id::text, currency, paid_minor, "
    LTC_SQL_MICROS("close_time");
static const char SQL_CLOSURE_ORDER[] =
    "INSERT INTO closures (id, kind, account_id, contract_id, deal_id, currency, collected_minor, close_time) "
    "SELECT $1, 'ORDER', id, contract_id, deal_id, currency, paid_minor, close_time FROM order_accounts "
    "WHERE id = $2";
/* Serialises the contract check of orders of one contract closing at the same time. */
static const char SQL_CONTRACT_LOCK[] = "SELECT pg_advisory_xact_lock(hashtextextended('dtc.contract:' || $1, 0))";
static const char SQL_CLOSURE_CONTRACT[] =
    "INSERT INTO closures (id, kind, account_id, contract_id, deal_id, currency, collected_minor, close_time) "
    "SELECT $1, 'CONTRACT', a.id, a.contract_id, a.deal_id, a.currency, "
    "(SELECT coalesce(sum(o.paid_minor), 0)::bigint FROM order_accounts o "
    " WHERE o.contract_id = a.contract_id AND o.currency = a.currency), a.close_time "
    "FROM order_accounts a WHERE a.id = $2 "
    "AND NOT EXISTS (SELECT 1 FROM order_accounts o WHERE o.contract_id = a.contract_id AND o.state <> 'CLOSED') "
    "ON CONFLICT (contract_id) WHERE kind = 'CONTRACT' DO UPDATE SET account_id = EXCLUDED.account_id, "
    "deal_id = EXCLUDED.deal_id, currency = EXCLUDED.currency, collected_minor = EXCLUDED.collected_minor, "
    "close_time = EXCLUDED.close_time, update_time = now()";

/* --- closure ------------------------------------------------------------------------------------------------------ */

static int put_order_closure(ltc_call *c, ltc_status *st, const char *order, const char *contract, const char *deal,
                             const char *currency, int64_t paid, int64_t close_micros) {
    char hid[LTC_UUID_LEN + 1];
    ltc_uuid_new(hid);
    Ltc__Bto__V1__AcceptOrderClosureRequest *msg =
        LTC_NEW(c, Ltc__Bto__V1__AcceptOrderClosureRequest, LTC__BTO__V1__ACCEPT_ORDER_CLOSURE_REQUEST__INIT);
    msg->handoff_id = ltc_call_strdup(c, hid);
    msg->order = ltc_call_printf(c, "orders/%s", order);
    msg->contract = ltc_call_printf(c, "contracts/%s", contract);
    msg->collected_amount = ltc_money_msg(c, currency, paid);
    msg->close_time = ltc_ts_from_micros(c, close_micros, 0);
    return ltc_outbox_put(c, st, "bto", "/ltc.bto.v1.IntakeService/AcceptOrderClosure", deal, hid, &msg->base);
}

static int put_cash_collected(ltc_call *c, ltc_status *st, const char *order, const char *deal, const char *currency,
                              int64_t paid) {
    char hid[LTC_UUID_LEN + 1];
    ltc_uuid_new(hid);
    Ltc__Ltb__V1__AcceptCashCollectedRequest *msg =
        LTC_NEW(c, Ltc__Ltb__V1__AcceptCashCollectedRequest, LTC__LTB__V1__ACCEPT_CASH_COLLECTED_REQUEST__INIT);
    msg->handoff_id = ltc_call_strdup(c, hid);
    msg->deal = ltc_call_printf(c, "deals/%s", deal);
    msg->order = ltc_call_printf(c, "orders/%s", order);
    msg->collected_amount = ltc_money_msg(c, currency, paid);
    return ltc_outbox_put(c, st, "ltb", "/ltc.ltb.v1.IntakeService/AcceptCashCollected", deal, hid, &msg->base);
}

int dtc_maybe_close(ltc_call *c, ltc_status *st, const char *account_id, int *closed) {
    *closed = 0;
    const char *p[] = {account_id};
    PGresult *r = ltc_call_query(c, st, SQL_ACCOUNT_CLOSE, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return 0;  /* something is still outstanding */

    /* The result lives until the call ends. */
    const char *contract = ltc_pg_str(r, 0, 0);
    const char *deal = ltc_pg_str(r, 0, 1);
    const char *currency = ltc_pg_str(r, 0, 2);
    int64_t paid = ltc_pg_i64(r, 0, 3);
    int64_t close_micros = ltc_pg_i64(r, 0, 4);

    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *op[] = {id, account_id};
    if (!ltc_call_query(c, st, SQL_CLOSURE_ORDER, 2, op)) return -1;
    const char *lp[] = {contract};
    if (!ltc_call_query(c, st, SQL_CONTRACT_LOCK, 1, lp)) return -1;
    ltc_uuid_new(id);
    if (!ltc_call_query(c, st, SQL_CLOSURE_CONTRACT, 2, op)) return -1;

    if (put_order_closure(c, st, account_id, contract, deal, currency, paid, close_micros) != 0) return -1;
    if (put_cash_collected(c, st, account_id, deal, currency, paid) != 0) return -1;
    *closed = 1;
    return 0;
}

/* --- RecordPayment ------------------------------------------------------------------------------------------------ */

/* Validates the payment's fields, naming each bad one. 0 or -1 (INVALID_ARGUMENT). */
static int validate_payment(const Ltc__Dtc__V1__RecordPaymentRequest *req, char invoice[LTC_UUID_LEN + 1],
                            ltc_money *amount, ltc_status *st) {
    const Ltc__Dtc__V1__Payment *p = req->payment;
    if (!p) return ltc_status_bad_field(st, "payment", "required");
    ltc_name_parse(p->invoice, "invoices", "payment.invoice", invoice, st);
    if (ltc_money_from_proto(p->amount, "payment.amount", 0, amount, st) == 0 && amount->minor <= 0)
        ltc_status_bad_field(st, "payment.amount", "must be positive");
    ltc_check_text(p->reference, "payment.reference", 0, 100, st);
    return st->code == LTC_OK ? 0 : -1;
}

/* DeliveryToCashService/RecordPayment: applies a payment to an open invoice (UNPAID -> PARTLY_PAID -> PAID), adds it
 * to the order account, and closes the account (with its hand-offs to BTO and LTB) when that payment settles the last
 * invoice of a fully accepted and fully invoiced order. Locks the account, then the invoice.
 * Errors: INVALID_ARGUMENT (bad fields named; "payment.amount" also for a currency other than the invoice's),
 * NOT_FOUND INVOICE_NOT_FOUND, FAILED_PRECONDITION INVOICE_ALREADY_PAID, OVERPAYMENT (more than the open amount). */
int dtc_record_payment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RecordPaymentRequest *req = (const void *)m;
    char invoice[LTC_UUID_LEN + 1];
    ltc_money amount = {{0}, 0};
    if (validate_payment(req, invoice, &amount, st) != 0) return -1;

    const char *ip[] = {invoice};
    PGresult *r = ltc_call_query(c, st, SQL_INVOICE_ACCOUNT, 1, ip);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "INVOICE_NOT_FOUND", "invoice %s not found", invoice);
    const char *account = ltc_call_strdup(c, ltc_pg_str(r, 0, 0));
    const char *ap[] = {account};
    if (!ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, ap)) return -1;
    PGresult *inv = ltc_call_query(c, st, SQL_INVOICE_LOCK, 1, ip);
    if (!inv) return -1;

    const char *currency = ltc_pg_str(inv, 0, 0);
    int64_t open_amount = ltc_pg_i64(inv, 0, 1) - ltc_pg_i64(inv, 0, 2);
    if (strcmp(currency, amount.currency) != 0)
        return ltc_status_bad_field(st, "payment.amount", "currency %s differs from the invoice's %s", amount.currency,
                                    currency);
    if (strcmp(ltc_pg_str(inv, 0, 3), "PAID") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "INVOICE_ALREADY_PAID", "invoice %s is already paid",
                              invoice);
    if (amount.minor > open_amount)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OVERPAYMENT",
                              "payment of %lld exceeds the open amount %lld of invoice %s", (long long)amount.minor,
                              (long long)open_amount, invoice);

    char pid[LTC_UUID_LEN + 1];
    ltc_uuid_new(pid);
    const char *amt = ltc_sql_i64(c, amount.minor);
    const char *pp[] = {pid, invoice, account, amount.currency, amt, req->payment->reference};
    PGresult *pr = ltc_call_query(c, st, SQL_PAYMENT_INSERT, 6, pp);
    if (!pr) return -1;
    const char *up[] = {invoice, amt};
    if (!ltc_call_query(c, st, SQL_INVOICE_PAY, 2, up)) return -1;
    const char *acp[] = {account, amt};
    if (!ltc_call_query(c, st, SQL_ACCOUNT_PAY, 2, acp)) return -1;
    int closed;
    if (dtc_maybe_close(c, st, account, &closed) != 0) return -1;

    Ltc__Dtc__V1__RecordPaymentResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RecordPaymentResponse, LTC__DTC__V1__RECORD_PAYMENT_RESPONSE__INIT);
    Ltc__Dtc__V1__Payment *pay = LTC_NEW(c, Ltc__Dtc__V1__Payment, LTC__DTC__V1__PAYMENT__INIT);
    pay->name = ltc_call_printf(c, "payments/%s", pid);
    pay->invoice = ltc_call_printf(c, "invoices/%s", invoice);
    pay->amount = ltc_money_msg(c, amount.currency, amount.minor);
    pay->reference = ltc_call_strdup(c, req->payment->reference);
    pay->create_time = ltc_ts_from_pg(c, pr, 0, 0);
    resp->payment = pay;
    if (dtc_load_invoice(c, st, invoice, &resp->invoice) != 0) return -1;
    if (dtc_load_account(c, st, account, &resp->order_account) != 0) return -1;
    *out = &resp->base;
    return 0;
}
