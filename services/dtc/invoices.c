/* services/dtc/invoices.c - invoices (发票) raised by AcceptDelivery (intake.c) and paid by RecordPayment
 * (payments.c): the invoice loader, GetInvoice and ListInvoices. Life cycle: UNPAID -> PARTLY_PAID -> PAID (or
 * CREDITED; WRITTEN_OFF when a write-off settles what is open, provisions.c). */
#include "dtc.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

/* the customer billed: its order account's */
#define INVOICE_CUSTOMER "(SELECT a.customer_id::text FROM order_accounts a WHERE a.id = invoices.account_id)"
#define INVOICE_COLS                                                                                                                                          \
    "id::text, account_id::text, shipment_id::text, term_kind, currency, amount_minor, paid_minor, " LTC_SQL_DATE(                                            \
        "invoice_date") ", " LTC_SQL_DATE("due_date") ", state, " LTC_SQL_MICROS("create_time") ", seq, " INVOICE_CUSTOMER                                    \
                                                                                                ", billing_event, credited_minor, disputed, dispute_reason, " \
                                                                                                "greatest(current_date - due_date, 0), written_off_minor, recovered_minor"
static const char SQL_INVOICE_GET[] = "SELECT " INVOICE_COLS " FROM invoices WHERE id = $1";
/* $4: only invoices of this customer (its order accounts'), NULL for all. */
static const char SQL_INVOICES_ALL[] =
    "SELECT " INVOICE_COLS " FROM invoices WHERE seq > $1::bigint AND ($3::text IS NULL OR EXISTS ("
    " SELECT FROM order_accounts a WHERE a.id = invoices.account_id"
    " AND $3 IN (a.account_owner, a.solution_owner, a.fulfilment_owner))) AND ($4::uuid IS NULL OR EXISTS ("
    " SELECT FROM order_accounts a WHERE a.id = invoices.account_id AND a.customer_id = $4::uuid))"
    " ORDER BY seq LIMIT $2::integer";
static const char SQL_INVOICES_OF_ORDER[] =
    "SELECT " INVOICE_COLS " FROM invoices WHERE account_id = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3::integer";

/* --- rows -------------------------------------------------------------------------------------------------------- */

/* An Invoice from row `row` of a result with INVOICE_COLS. */
static Ltc__Dtc__V1__Invoice *invoice_from_row(ltc_call *c, const PGresult *r, int row) {
    Ltc__Dtc__V1__Invoice *inv = LTC_NEW(c, Ltc__Dtc__V1__Invoice, LTC__DTC__V1__INVOICE__INIT);
    const char *cur = ltc_pg_str(r, row, 4);
    inv->name = ltc_call_printf(c, "invoices/%s", ltc_pg_str(r, row, 0));
    inv->order = ltc_call_printf(c, "orders/%s", ltc_pg_str(r, row, 1));
    if (!ltc_pg_isnull(r, row, 2)) inv->shipment = ltc_call_printf(c, "shipments/%s", ltc_pg_str(r, row, 2));
    inv->term_kind = ltc_term_kind_from_db(ltc_pg_str(r, row, 3));
    inv->amount = ltc_money_msg(c, cur, ltc_pg_i64(r, row, 5));
    inv->paid_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, row, 6));
    int64_t open = ltc_pg_i64(r, row, 5) - ltc_pg_i64(r, row, 6) - ltc_pg_i64(r, row, 14) - ltc_pg_i64(r, row, 18);
    inv->written_off_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, row, 18));
    inv->recovered_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, row, 19));
    inv->open_amount = ltc_money_msg(c, cur, open);
    inv->credited_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, row, 14));
    inv->disputed = ltc_pg_bool(r, row, 15);
    inv->dispute_reason = ltc_call_strdup(c, ltc_pg_str(r, row, 16));
    int64_t days = ltc_pg_i64(r, row, 17);
    inv->overdue = open > 0 && days > 0;
    inv->days_overdue = inv->overdue ? (int32_t)days : 0;
    inv->billing_event = (Ltc__Dtc__V1__BillingEvent)ltc_enum_from_db(&ltc__dtc__v1__billing_event__descriptor,
                                                                      "BILLING_EVENT_", ltc_pg_str(r, row, 13));
    inv->invoice_date = ltc_date_from_pg(c, r, row, 7);
    inv->due_date = ltc_date_from_pg(c, r, row, 8);
    inv->state = (Ltc__Dtc__V1__InvoiceState)ltc_enum_from_db(&ltc__dtc__v1__invoice_state__descriptor,
                                                              "INVOICE_STATE_", ltc_pg_str(r, row, 9));
    inv->create_time = ltc_ts_from_pg(c, r, row, 10);
    if (!ltc_pg_isnull(r, row, 12)) inv->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, row, 12));
    return inv;
}

int dtc_load_invoice(ltc_call *c, ltc_status *st, const char *invoice_id, Ltc__Dtc__V1__Invoice **out) {
    const char *p[] = {invoice_id};
    PGresult *r = ltc_call_query(c, st, SQL_INVOICE_GET, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "INVOICE_NOT_FOUND", "invoice %s not found", invoice_id);
    *out = invoice_from_row(c, r, 0);
    return 0;
}

/* --- handlers ---------------------------------------------------------------------------------------------------- */

/* DeliveryToCashService/GetInvoice: one invoice. Errors: INVALID_ARGUMENT "name", NOT_FOUND INVOICE_NOT_FOUND. */
int dtc_get_invoice(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetInvoiceRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "invoices", "name", id, st) != 0) return -1;
    Ltc__Dtc__V1__GetInvoiceResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetInvoiceResponse, LTC__DTC__V1__GET_INVOICE_RESPONSE__INIT);
    if (dtc_load_invoice(c, st, id, &resp->invoice) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* DeliveryToCashService/ListInvoices: invoices oldest first, all or of one order ("orders/{order}"; an order DTC
 * has no account for gives an empty list), or (without an order) of one customer ("customers/{customer}": its order
 * accounts' invoices). Errors: INVALID_ARGUMENT "order", "customer", "page_size", "page_token". */
int dtc_list_invoices(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ListInvoicesRequest *req = (const void *)m;
    char order[LTC_UUID_LEN + 1] = "", customer[LTC_UUID_LEN + 1] = "";
    int by_order = req->order[0] != '\0';
    if (by_order) ltc_name_parse(req->order, "orders", "order", order, st);
    if (req->customer[0]) ltc_name_parse(req->customer, "customers", "customer", customer, st);
    int limit = 0;
    int64_t after = 0;
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (st->code != LTC_OK) return -1;

    PGresult *r;
    if (by_order) {
        const char *p[] = {order, ltc_sql_i64(c, after), ltc_sql_i64(c, limit)};
        r = ltc_call_query(c, st, SQL_INVOICES_OF_ORDER, 3, p);
    } else {
        const char *p[] = {ltc_sql_i64(c, after), ltc_sql_i64(c, limit), ltc_call_deal_scope(c),
                           customer[0] ? customer : NULL};
        r = ltc_call_query(c, st, SQL_INVOICES_ALL, 4, p);
    }
    if (!r) return -1;

    Ltc__Dtc__V1__ListInvoicesResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ListInvoicesResponse, LTC__DTC__V1__LIST_INVOICES_RESPONSE__INIT);
    int n = PQntuples(r);
    int shown = n < limit ? n : limit - 1;
    resp->invoices = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__Invoice *) * (size_t)(shown > 0 ? shown : 1));
    for (int i = 0; i < shown; i++) resp->invoices[i] = invoice_from_row(c, r, i);
    resp->n_invoices = (size_t)shown;
    if (n >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, 11));
    *out = &resp->base;
    return 0;
}
