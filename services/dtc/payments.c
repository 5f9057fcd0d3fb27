/* services/dtc/payments.c - v1's RecordPayment, redefined by issue #16 as a receipt (origin PAYMENT) applied to its one
 * invoice (receipts.c): the bank reference is unique per bank account (the same reference with the same facts
 * returns the first payment, other facts are refused: cash never doubles), the payer must be the invoice's customer,
 * and the request_id is required. A payment that settles the last invoice of a fully accepted and invoiced order
 * closes its account (dtc_close_account_if_settled, accounts.c). A payment lowers the customer's exposure and may
 * settle an overdue invoice: the automatic credit holds are re-evaluated in the same transaction (credit.c). Lock
 * order: the customer's credit account, the order account, then the invoice. */
#include <string.h>

#include "dtc.h"
#include "ltc/ids.h"
#include "ltc/money.h"
#include "ltc/proto.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

static const char SQL_INVOICE_ACCOUNT[] =
    "SELECT i.account_id::text, a.customer_id::text FROM invoices i JOIN order_accounts a ON a.id = i.account_id "
    "WHERE i.id = $1";
static const char SQL_ACCOUNT_LOCK[] = "SELECT state FROM order_accounts WHERE id = $1 FOR UPDATE";
static const char SQL_INVOICE_LOCK[] =
    "SELECT currency, amount_minor - credited_minor - written_off_minor, paid_minor, state FROM invoices WHERE id = $1 "
    "FOR UPDATE";
/* the v1 record of the payment, with the receipt's id */
static const char SQL_PAYMENT_INSERT[] =
    "INSERT INTO payments (id, invoice_id, account_id, currency, amount_minor, reference) "
    "VALUES ($1, $2, $3, $4, $5::bigint, $6)";
static const char SQL_RECEIPT_TIME[] = "SELECT " LTC_SQL_MICROS("create_time") " FROM receipts WHERE id = $1";

/* --- RecordPayment ------------------------------------------------------------------------------------------------ */

/* Validates the payment's fields, naming each bad one. 0 or -1 (INVALID_ARGUMENT). */
static int validate_payment(const Ltc__Dtc__V1__RecordPaymentRequest *req, char invoice[LTC_UUID_LEN + 1],
                            char payer[LTC_UUID_LEN + 1], ltc_money *amount, ltc_status *st) {
    const Ltc__Dtc__V1__Payment *p = req->payment;
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required for a write that moves money");
    if (!p) return ltc_status_bad_field(st, "payment", "required");
    ltc_name_parse(p->invoice, "invoices", "payment.invoice", invoice, st);
    if (ltc_money_from_proto(p->amount, "payment.amount", 0, amount, st) == 0 && amount->minor <= 0)
        ltc_status_bad_field(st, "payment.amount", "must be positive");
    ltc_check_text(p->reference, "payment.reference", 0, 100, st);
    payer[0] = '\0';
    if (p->payer[0]) ltc_name_parse(p->payer, "customers", "payment.payer", payer, st);
    ltc_check_text(p->bank_account, "payment.bank_account", 0, 64, st);
    return st->code == LTC_OK ? 0 : -1;
}

/* DeliveryToCashService/RecordPayment: applies a payment to an open invoice (UNPAID -> PARTLY_PAID -> PAID) as a
 * receipt with one allocation, adds it to the order account, and closes the account (with its hand-offs to BTO and
 * LTB) when that payment settles the last invoice of a fully accepted and fully invoiced order. Locks the customer,
 * the account, then the invoice.
 * Errors: INVALID_ARGUMENT (bad fields named; "payment.amount" also for a currency other than the invoice's;
 * "request_id" when missing), NOT_FOUND INVOICE_NOT_FOUND, FAILED_PRECONDITION PAYER_NOT_INVOICE_CUSTOMER,
 * INVOICE_ALREADY_PAID, OVERPAYMENT (more than the open amount), ALREADY_EXISTS DUPLICATE_BANK_REFERENCE. */
int dtc_record_payment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RecordPaymentRequest *req = (const void *)m;
    char invoice[LTC_UUID_LEN + 1], payer[LTC_UUID_LEN + 1];
    ltc_money amount = {{0}, 0};
    if (validate_payment(req, invoice, payer, &amount, st) != 0) return -1;

    const char *ip[] = {invoice};
    PGresult *r = ltc_call_query(c, st, SQL_INVOICE_ACCOUNT, 1, ip);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "INVOICE_NOT_FOUND", "invoice %s not found", invoice);
    const char *account = ltc_call_strdup(c, ltc_pg_str(r, 0, 0));
    dtc_credit_locked customer = {.id = ""};
    if (!ltc_pg_isnull(r, 0, 1) &&
        dtc_credit_account_lock(c, st, ltc_pg_str(r, 0, 1), NULL, DTC_LOCK_FOLLOW_MERGES, &customer) != 0)
        return -1;
    if (payer[0] && strcmp(payer, customer.id) != 0 && strcmp(payer, ltc_pg_isnull(r, 0, 1) ? "" : ltc_pg_str(r, 0, 1)))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "PAYER_NOT_INVOICE_CUSTOMER",
                              "customers/%s cannot pay invoice %s of customers/%s", payer, invoice,
                              customer.id[0] ? customer.id : "(none)");
    const char *ap[] = {account};
    if (!ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, ap)) return -1;
    PGresult *inv = ltc_call_query(c, st, SQL_INVOICE_LOCK, 1, ip);
    if (!inv) return -1;

    const char *currency = ltc_pg_str(inv, 0, 0);
    if (strcmp(currency, amount.currency) != 0)
        return ltc_status_bad_field(st, "payment.amount", "currency %s differs from the invoice's %s", amount.currency,
                                    currency);
    dtc_payment_in pin = {.invoice = invoice,
                          .account = account,
                          .customer = customer.id,
                          .currency = amount.currency,
                          .bank_account = req->payment->bank_account[0] ? req->payment->bank_account : "default",
                          .reference = req->payment->reference,
                          .request_id = req->request_id,
                          .amount = amount.minor};
    char rid[LTC_UUID_LEN + 1];
    int replayed;
    if (dtc_payment_replay(c, st, &pin, rid, &replayed) != 0) return -1;
    if (!replayed) {
        int64_t open_amount = ltc_pg_i64(inv, 0, 1) - ltc_pg_i64(inv, 0, 2);
        if (strcmp(ltc_pg_str(inv, 0, 3), "PAID") == 0)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "INVOICE_ALREADY_PAID", "invoice %s is already paid",
                                  invoice);
        if (amount.minor > open_amount)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OVERPAYMENT",
                                  "payment of %lld exceeds the open amount %lld of invoice %s", (long long)amount.minor,
                                  (long long)open_amount, invoice);
        if (dtc_payment_record(c, st, &pin, rid) != 0) return -1;
        const char *pp[] = {
            rid, invoice, account, amount.currency, ltc_sql_i64(c, amount.minor), req->payment->reference};
        if (!ltc_call_query(c, st, SQL_PAYMENT_INSERT, 6, pp)) return -1;
        int closed;
        if (dtc_close_account_if_settled(c, st, account, &closed) != 0) return -1;
        if (customer.id[0]) {
            dtc_credit_policy pol;
            if (dtc_credit_policy_load(c, st, &pol) != 0) return -1;
            const char *cause = ltc_call_printf(c, "payments/%s on invoices/%s", rid, invoice);
            if (dtc_credit_evaluate_holds(c, st, customer.id, NULL, &pol, cause) != 0) return -1;
        }
    }

    Ltc__Dtc__V1__RecordPaymentResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__RecordPaymentResponse, LTC__DTC__V1__RECORD_PAYMENT_RESPONSE__INIT);
    Ltc__Dtc__V1__Payment *pay = LTC_NEW(c, Ltc__Dtc__V1__Payment, LTC__DTC__V1__PAYMENT__INIT);
    pay->name = ltc_call_printf(c, "payments/%s", rid);
    pay->invoice = ltc_call_printf(c, "invoices/%s", invoice);
    pay->amount = ltc_money_msg(c, amount.currency, amount.minor);
    pay->reference = ltc_call_strdup(c, req->payment->reference);
    pay->payer = customer.id[0] ? ltc_call_printf(c, "customers/%s", customer.id) : "";
    pay->bank_account = ltc_call_strdup(c, pin.bank_account);
    pay->receipt = ltc_call_printf(c, "receipts/%s", rid);
    PGresult *t = ltc_call_query(c, st, SQL_RECEIPT_TIME, 1, (const char *[]){rid});
    if (!t) return -1;
    pay->create_time = ltc_ts_from_pg(c, t, 0, 0);
    resp->payment = pay;
    if (dtc_load_invoice(c, st, invoice, &resp->invoice) != 0) return -1;
    if (dtc_load_account(c, st, account, &resp->order_account) != 0) return -1;
    *out = &resp->base;
    return 0;
}
