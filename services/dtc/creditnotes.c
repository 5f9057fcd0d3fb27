/* services/dtc/creditnotes.c - credit notes (docs/receivables.md): what reduces a customer's debt on an order, from
 * returns (AcceptReturn), cancellations (AcceptOrderCancelled, intake.c) and price corrections (IssueCreditNote). A
 * credit note credits the open amounts of the order's invoices and never goes below what was paid: the rest becomes
 * customer credit, a receipt of origin CREDIT_NOTE that finance applies to other invoices or refunds (receipts.c).
 * Lock order (credit.c): the customer's credit account, the order account, then its invoices. */
#include <stdio.h>
#include <string.h>

#include "dtc.h"
#include "ltc/audit.h"
#include "ledger.h"
#include "ltc/milestone.h"
#include "ltc/type/v1/milestone.pb-c.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

static const char SQL_ACCOUNT[] =
    "SELECT deal_id::text, currency, coalesce(customer_id::text, ''), state FROM order_accounts WHERE id = $1";
/* the open invoices of an account, the named invoice (or the shipment's) first, then the newest */
static const char SQL_OPEN_INVOICES[] =
    "SELECT id::text, amount_minor - paid_minor - credited_minor - written_off_minor FROM invoices WHERE account_id = $1 "
    "AND state IN ('UNPAID', 'PARTLY_PAID') AND ($3::boolean = false OR id = $2::uuid) "
    "ORDER BY (coalesce(id = $2::uuid, false) OR coalesce(shipment_id = $4::uuid, false)) DESC, seq DESC FOR UPDATE";
static const char SQL_INVOICE_CREDIT[] =
    "UPDATE invoices SET credited_minor = credited_minor + $2::bigint, state = CASE WHEN paid_minor + credited_minor "
    "+ written_off_minor + $2::bigint = amount_minor THEN CASE WHEN written_off_minor > 0 THEN 'WRITTEN_OFF' "
    "WHEN paid_minor = 0 THEN 'CREDITED' ELSE 'PAID' END ELSE state END, "
    "update_time = now() WHERE id = $1";
static const char SQL_ACCOUNT_CREDIT[] =
    "UPDATE order_accounts SET credited_minor = credited_minor + $2::bigint, update_time = now() WHERE id = $1";
static const char SQL_CREDIT_RECEIPT[] =
    "INSERT INTO receipts (id, customer_id, currency, amount_minor, unapplied_minor, value_date, bank_account, "
    "bank_reference, note, recorded_by, origin) VALUES ($1, $2::uuid, $3, $4::bigint, $4::bigint, "
    "coalesce($5::date, current_date), 'credit-notes', $6, $7, $8, 'CREDIT_NOTE')";
static const char SQL_NOTE_INSERT[] =
    "INSERT INTO credit_notes (id, account_id, customer_id, kind, currency, amount_minor, credited_minor, "
    "customer_credit_minor, credit_receipt_id, issue_date, reason, source, handoff_id, issued_by) VALUES ($1, $2, "
    "$3::uuid, $4, $5, $6::bigint, $7::bigint, $8::bigint, $9::uuid, coalesce($10::date, current_date), $11, $12, "
    "$13::uuid, $14)";
static const char SQL_LINE_INSERT[] =
    "INSERT INTO credit_note_lines (id, credit_note_id, invoice_id, currency, amount_minor) "
    "VALUES ($1, $2, $3, $4, $5::bigint)";

#define NOTE_COLS                                                                                                      \
    "id::text, account_id::text, coalesce(customer_id::text, ''), kind, currency, amount_minor, credited_minor, "      \
    "customer_credit_minor, coalesce(credit_receipt_id::text, ''), " LTC_SQL_DATE(                                     \
        "issue_date") ", reason, source, issued_by, " LTC_SQL_MICROS("create_time") ", seq"
static const char SQL_NOTE_GET[] = "SELECT " NOTE_COLS " FROM credit_notes WHERE id = $1";
static const char SQL_NOTES_LIST[] =
    "SELECT " NOTE_COLS " FROM credit_notes WHERE seq > $1::bigint AND ($3::uuid IS NULL OR account_id = $3::uuid) "
    "AND ($4::uuid IS NULL OR customer_id = $4::uuid) ORDER BY seq LIMIT $2::integer";
static const char SQL_LINES[] =
    "SELECT invoice_id::text, currency, amount_minor FROM credit_note_lines WHERE credit_note_id = $1 ORDER BY seq";
static const char SQL_INVOICE_INFO[] =
    "SELECT i.account_id::text, coalesce(a.customer_id::text, ''), i.currency, i.amount_minor, "
    "(SELECT coalesce(sum(n.amount_minor), 0) FROM credit_notes n WHERE n.kind = 'PRICE_CORRECTION' "
    " AND n.source = 'invoices/' || i.id::text)::bigint FROM invoices i "
    "JOIN order_accounts a ON a.id = i.account_id WHERE i.id = $1";
static const char SQL_ACCOUNT_LOCK[] = "SELECT state FROM order_accounts WHERE id = $1 FOR UPDATE";

/* --- issuing ------------------------------------------------------------------------------------------------------ */

int dtc_issue_credit(ltc_call *c, ltc_status *st, const dtc_credit_in *in, char id_out[LTC_UUID_LEN + 1]) {
    PGresult *a = ltc_call_query(c, st, SQL_ACCOUNT, 1, (const char *[]){in->account});
    if (!a) return -1;
    if (PQntuples(a) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_ACCOUNT_NOT_FOUND", "order account %s not found", in->account);
    const char *deal = ltc_call_strdup(c, ltc_pg_str(a, 0, 0)), *cur = ltc_call_strdup(c, ltc_pg_str(a, 0, 1));
    const char *customer = ltc_call_strdup(c, ltc_pg_str(a, 0, 2));
    const char *ip[] = {in->account, in->first_invoice, in->first_invoice && !in->first_shipment ? "true" : "false",
                        in->first_shipment};
    PGresult *inv = ltc_call_query(c, st, SQL_OPEN_INVOICES, 4, ip);
    if (!inv) return -1;
    int n = PQntuples(inv);
    int64_t *part = ltc_call_alloc(c, sizeof(int64_t) * (size_t)(n ? n : 1));
    int64_t left = in->amount, credited = 0;
    for (int i = 0; i < n; i++) {
        int64_t open = ltc_pg_i64(inv, i, 1);
        part[i] = open < left ? open : left;
        left -= part[i], credited += part[i];
    }
    ltc_uuid_new(id_out);
    char rid[LTC_UUID_LEN + 1] = "";
    if (left > 0) { /* already paid: customer credit */
        if (!customer[0])
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_WITHOUT_CUSTOMER",
                                  "order %s has no customer to hold a credit of %lld", in->account, (long long)left);
        ltc_uuid_new(rid);
        const char *rp[] = {rid,
                            customer,
                            cur,
                            ltc_sql_i64(c, left),
                            in->date,
                            ltc_call_printf(c, "creditNotes/%s", id_out),
                            ltc_call_printf(c, "%s credit note", in->kind),
                            dtc_principal(c)};
        if (!ltc_call_query(c, st, SQL_CREDIT_RECEIPT, 8, rp)) return -1;
    }
    const char *np[] = {id_out,
                        in->account,
                        customer[0] ? customer : NULL,
                        in->kind,
                        cur,
                        ltc_sql_i64(c, in->amount),
                        ltc_sql_i64(c, credited),
                        ltc_sql_i64(c, left),
                        rid[0] ? rid : NULL,
                        in->date,
                        in->reason,
                        in->source,
                        in->handoff_id,
                        in->handoff_id ? "dtc" : dtc_principal(c)};
    if (!ltc_call_query(c, st, SQL_NOTE_INSERT, 14, np)) {
        if (st->code == LTC_ALREADY_EXISTS)
            ltc_status_set(st, LTC_ALREADY_EXISTS, "ALREADY_CREDITED", "%s was credited already", in->source);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (part[i] == 0) continue;
        char lid[LTC_UUID_LEN + 1];
        ltc_uuid_new(lid);
        const char *amt = ltc_sql_i64(c, part[i]);
        if (!ltc_call_query(c, st, SQL_LINE_INSERT, 5, (const char *[]){lid, id_out, ltc_pg_str(inv, i, 0), cur, amt}))
            return -1;
        if (!ltc_call_query(c, st, SQL_INVOICE_CREDIT, 2, (const char *[]){ltc_pg_str(inv, i, 0), amt})) return -1;
    }
    if (credited > 0 &&
        !ltc_call_query(c, st, SQL_ACCOUNT_CREDIT, 2, (const char *[]){in->account, ltc_sql_i64(c, credited)}))
        return -1;
    dtc_posting post = {.event = DTC_EV_CREDIT_NOTE,
                        .a = credited,
                        .b = left,
                        .source = ltc_call_printf(c, "creditNotes/%s", id_out),
                        .customer = customer,
                        .currency = cur,
                        .date = in->date};
    if (dtc_ledger_post(c, st, &post) != 0) return -1;
    ltc_money m;
    snprintf(m.currency, sizeof m.currency, "%s", cur);
    m.minor = in->amount;
    ltc_milestone ms = {.deal_id = deal,
                        .stage = LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_DTC,
                        .kind = LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_CREDIT_NOTE_ISSUED,
                        .record = ltc_call_printf(c, "creditNotes/%s", id_out),
                        .actor = in->handoff_id ? "dtc" : NULL,
                        .amount = &m,
                        .date = in->date ? in->date : "",
                        .detail = ltc_call_printf(c, "%s of %s", in->kind, in->source)};
    if (ltc_milestone_put(c, st, &ms) != 0) return -1;
    int closed;
    return dtc_close_account_if_settled(c, st, in->account, &closed);
}

/* --- loader ------------------------------------------------------------------------------------------------------- */

static int note_from_row(ltc_call *c, ltc_status *st, const PGresult *r, int i, Ltc__Dtc__V1__CreditNote **out) {
    Ltc__Dtc__V1__CreditNote *n = LTC_NEW(c, Ltc__Dtc__V1__CreditNote, LTC__DTC__V1__CREDIT_NOTE__INIT);
    const char *cur = ltc_pg_str(r, i, 4);
    n->name = ltc_call_printf(c, "creditNotes/%s", ltc_pg_str(r, i, 0));
    n->order = ltc_call_printf(c, "orders/%s", ltc_pg_str(r, i, 1));
    if (ltc_pg_str(r, i, 2)[0]) n->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, i, 2));
    n->kind = (Ltc__Dtc__V1__CreditNoteKind)ltc_enum_from_db(&ltc__dtc__v1__credit_note_kind__descriptor,
                                                             "CREDIT_NOTE_KIND_", ltc_pg_str(r, i, 3));
    n->amount = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 5));
    n->credited_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 6));
    n->customer_credit_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, i, 7));
    if (ltc_pg_str(r, i, 8)[0]) n->customer_credit_receipt = ltc_call_printf(c, "receipts/%s", ltc_pg_str(r, i, 8));
    n->issue_date = ltc_date_from_pg(c, r, i, 9);
    n->reason = ltc_call_strdup(c, ltc_pg_str(r, i, 10));
    n->source = ltc_call_strdup(c, ltc_pg_str(r, i, 11));
    n->issued_by = ltc_call_strdup(c, ltc_pg_str(r, i, 12));
    n->create_time = ltc_ts_from_pg(c, r, i, 13);
    PGresult *l = ltc_call_query(c, st, SQL_LINES, 1, (const char *[]){ltc_pg_str(r, i, 0)});
    if (!l) return -1;
    int k = PQntuples(l);
    n->lines = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__CreditNoteLine *) * (size_t)(k ? k : 1));
    for (int j = 0; j < k; j++) {
        Ltc__Dtc__V1__CreditNoteLine *ln =
            LTC_NEW(c, Ltc__Dtc__V1__CreditNoteLine, LTC__DTC__V1__CREDIT_NOTE_LINE__INIT);
        ln->invoice = ltc_call_printf(c, "invoices/%s", ltc_pg_str(l, j, 0));
        ln->amount = ltc_money_msg(c, ltc_pg_str(l, j, 1), ltc_pg_i64(l, j, 2));
        n->lines[n->n_lines++] = ln;
    }
    *out = n;
    return 0;
}

static int load_note(ltc_call *c, ltc_status *st, const char *id, Ltc__Dtc__V1__CreditNote **out) {
    PGresult *r = ltc_call_query(c, st, SQL_NOTE_GET, 1, (const char *[]){id});
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "CREDIT_NOTE_NOT_FOUND", "credit note %s not found", id);
    return note_from_row(c, st, r, 0, out);
}

/* --- handlers ----------------------------------------------------------------------------------------------------- */

/* DeliveryToCashService/IssueCreditNote: a PRICE_CORRECTION on one invoice: its open amount is credited, what was
 * paid becomes customer credit. The corrections of an invoice add up to at most its amount. */
int dtc_issue_credit_note(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__IssueCreditNoteRequest *req = (const void *)m;
    char invoice[LTC_UUID_LEN + 1], date[11] = "";
    ltc_money amount = {{0}, 0};
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required for a write that moves money");
    ltc_name_parse(req->invoice, "invoices", "invoice", invoice, st);
    if (ltc_money_from_proto(req->amount, "amount", 0, &amount, st) == 0 && amount.minor <= 0)
        ltc_status_bad_field(st, "amount", "must be positive");
    ltc_check_text(req->reason, "reason", 1, 1000, st);
    ltc_date_to_text(req->issue_date, "issue_date", 1, date, st);
    if (st->code != LTC_OK) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_INVOICE_INFO, 1, (const char *[]){invoice});
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "INVOICE_NOT_FOUND", "invoice %s not found", invoice);
    const char *account = ltc_call_strdup(c, ltc_pg_str(r, 0, 0));
    if (strcmp(ltc_pg_str(r, 0, 2), amount.currency) != 0)
        return ltc_status_bad_field(st, "amount", "currency %s differs from the invoice's %s", amount.currency,
                                    ltc_pg_str(r, 0, 2));
    dtc_credit_locked cust = {.id = ""};
    if (ltc_pg_str(r, 0, 1)[0] &&
        dtc_credit_account_lock(c, st, ltc_pg_str(r, 0, 1), NULL, DTC_LOCK_FOLLOW_MERGES, &cust) != 0)
        return -1;
    PGresult *al = ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, (const char *[]){account});
    if (!al) return -1;
    if (strcmp(ltc_pg_str(al, 0, 0), "OPEN") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_ACCOUNT_CLOSED", "order account %s is %s", account,
                              ltc_pg_str(al, 0, 0));
    /* re-read under the lock: earlier corrections of the invoice */
    r = ltc_call_query(c, st, SQL_INVOICE_INFO, 1, (const char *[]){invoice});
    if (!r) return -1;
    int64_t room = ltc_pg_i64(r, 0, 3) - ltc_pg_i64(r, 0, 4);
    if (amount.minor > room)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CREDIT_EXCEEDS_INVOICE",
                              "a correction of %lld exceeds what is left to correct on invoice %s (%lld)",
                              (long long)amount.minor, invoice, (long long)room);
    dtc_credit_in in = {.account = account,
                        .kind = "PRICE_CORRECTION",
                        .amount = amount.minor,
                        .first_invoice = invoice,
                        .reason = req->reason,
                        .source = ltc_call_printf(c, "invoices/%s", invoice),
                        .date = date[0] ? date : NULL};
    char id[LTC_UUID_LEN + 1];
    int64_t credited_before = ltc_pg_i64(r, 0, 4);
    if (dtc_issue_credit(c, st, &in, id) != 0) return -1;
    PGresult *after = ltc_call_query(c, st, SQL_INVOICE_INFO, 1, (const char *[]){invoice});
    if (!after) return -1;
    ltc_audit_change_money(c, ltc_call_printf(c, "invoices/%s", invoice), "credited_amount", amount.currency,
                           credited_before, 1, ltc_pg_i64(after, 0, 4), 1);
    ltc_audit_change_money(c, ltc_call_printf(c, "creditNotes/%s", id), "amount", amount.currency, 0, 0, amount.minor,
                           1);
    if (cust.id[0]) {
        dtc_credit_policy pol;
        if (dtc_credit_policy_load(c, st, &pol) != 0) return -1;
        if (dtc_credit_evaluate_holds(c, st, cust.id, NULL, &pol, ltc_call_printf(c, "creditNotes/%s", id)) != 0)
            return -1;
    }
    Ltc__Dtc__V1__IssueCreditNoteResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__IssueCreditNoteResponse, LTC__DTC__V1__ISSUE_CREDIT_NOTE_RESPONSE__INIT);
    if (load_note(c, st, id, &resp->credit_note) != 0) return -1;
    if (dtc_load_invoice(c, st, invoice, &resp->invoice) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* DeliveryToCashService/GetCreditNote. */
int dtc_get_credit_note(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetCreditNoteRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "creditNotes", "name", id, st) != 0) return -1;
    Ltc__Dtc__V1__GetCreditNoteResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetCreditNoteResponse, LTC__DTC__V1__GET_CREDIT_NOTE_RESPONSE__INIT);
    if (load_note(c, st, id, &resp->credit_note) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* DeliveryToCashService/ListCreditNotes. */
int dtc_list_credit_notes(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ListCreditNotesRequest *req = (const void *)m;
    char order[LTC_UUID_LEN + 1] = "", customer[LTC_UUID_LEN + 1] = "";
    if (req->order[0]) ltc_name_parse(req->order, "orders", "order", order, st);
    if (req->customer[0]) ltc_name_parse(req->customer, "customers", "customer", customer, st);
    int limit = 0;
    int64_t after = 0;
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (st->code != LTC_OK) return -1;
    const char *p[] = {ltc_sql_i64(c, after), ltc_sql_i64(c, limit), order[0] ? order : NULL,
                       customer[0] ? customer : NULL};
    PGresult *r = ltc_call_query(c, st, SQL_NOTES_LIST, 4, p);
    if (!r) return -1;
    Ltc__Dtc__V1__ListCreditNotesResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ListCreditNotesResponse, LTC__DTC__V1__LIST_CREDIT_NOTES_RESPONSE__INIT);
    int n = PQntuples(r);
    int shown = n < limit ? n : limit - 1;
    resp->credit_notes = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__CreditNote *) * (size_t)(shown > 0 ? shown : 1));
    for (int i = 0; i < shown; i++)
        if (note_from_row(c, st, r, i, &resp->credit_notes[resp->n_credit_notes++]) != 0) return -1;
    if (n >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, 14));
    *out = &resp->base;
    return 0;
}
