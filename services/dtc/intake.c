/* services/dtc/intake.c - what DTC receives (ltc.dtc.v1.IntakeService): OTD's accepted deliveries (AcceptDelivery),
 * which open the order account on the order's first delivery, add the accepted value and raise the invoices the
 * payment terms call for (dtc_split_invoices, split.c). The runtime dedups by handoff_id before calling us; a
 * hand-off is validated like client input (a malformed one is INVALID_ARGUMENT, which the sender parks) and applied in
 * the server's transaction. */
#include <string.h>

#include "dtc.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

static const char SQL_ACCOUNT_INSERT[] =
    "INSERT INTO order_accounts (id, contract_id, deal_id, customer_name, account_owner, solution_owner, "
    "fulfilment_owner, currency, order_total_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::bigint) "
    "ON CONFLICT (id) DO NOTHING RETURNING id";
static const char SQL_TERM_INSERT[] =
    "INSERT INTO account_terms (id, account_id, position, kind, share_bps, due_days, total_minor) "
    "VALUES ($1, $2, $3::integer, $4, $5::integer, $6::integer, $7::bigint)";
static const char SQL_ACCOUNT_LOCK[] =
    "SELECT contract_id::text, deal_id::text, currency, order_total_minor, accepted_minor, fully_accepted, state "
    "FROM order_accounts WHERE id = $1 FOR UPDATE";
static const char SQL_TERMS_SELECT[] =
    "SELECT position, kind, share_bps, due_days, total_minor, invoiced_minor FROM account_terms "
    "WHERE account_id = $1 ORDER BY position";
static const char SQL_DELIVERY_FIND[] = "SELECT account_id::text FROM deliveries WHERE shipment_id = $1";
static const char SQL_DELIVERY_INSERT[] =
    "INSERT INTO deliveries (id, account_id, shipment_id, handoff_id, currency, accepted_minor, fully_accepted) "
    "VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::boolean)";
static const char SQL_INVOICE_INSERT[] =
    "INSERT INTO invoices (id, account_id, shipment_id, term_position, term_kind, currency, amount_minor, "
    "invoice_date, due_date) VALUES ($1, $2, $3, $4::integer, $5, $6, $7::bigint, current_date, "
    "current_date + $8::integer)";
static const char SQL_TERM_BILL[] =
    "UPDATE account_terms SET invoiced_minor = invoiced_minor + $3::bigint, update_time = now() "
    "WHERE account_id = $1 AND position = $2::integer";
static const char SQL_ACCOUNT_UPDATE[] =
    "UPDATE order_accounts SET accepted_minor = $2::bigint, invoiced_minor = invoiced_minor + $3::bigint, "
    "fully_accepted = $4::boolean, update_time = now() WHERE id = $1";

/* --- AcceptDelivery ----------------------------------------------------------------------------------------------- */

/* A validated AcceptDelivery request. */
typedef struct delivery_in {
    char shipment[LTC_UUID_LEN + 1];
    char order[LTC_UUID_LEN + 1];
    char contract[LTC_UUID_LEN + 1];
    char deal[LTC_UUID_LEN + 1];
    ltc_money total;
    ltc_money accepted;
    int n_terms;
    int32_t bps[DTC_MAX_TERMS];
} delivery_in;

/* Validates the terms (ltc_check_payment_terms, at most DTC_MAX_TERMS) and keeps their shares for the split. */
static void check_terms(ltc_call *c, const Ltc__Dtc__V1__AcceptDeliveryRequest *req, delivery_in *d, ltc_status *st) {
    if (ltc_check_payment_terms(c, req->payment_terms, req->n_payment_terms, "payment_terms", DTC_MAX_TERMS, st) != 0)
        return;
    for (size_t i = 0; i < req->n_payment_terms; i++) d->bps[i] = req->payment_terms[i]->share_bps;
    d->n_terms = (int)req->n_payment_terms;
}

/* Validates every field of the hand-off, naming each bad one. 0 or -1 (INVALID_ARGUMENT). */
static int validate_delivery(ltc_call *c, const Ltc__Dtc__V1__AcceptDeliveryRequest *req, delivery_in *d,
                             ltc_status *st) {
    if (!ltc_uuid_valid(req->handoff_id)) ltc_status_bad_field(st, "handoff_id", "must be a UUID");
    ltc_name_parse(req->shipment, "shipments", "shipment", d->shipment, st);
    ltc_name_parse(req->order, "orders", "order", d->order, st);
    ltc_name_parse(req->contract, "contracts", "contract", d->contract, st);
    ltc_name_parse(req->deal, "deals", "deal", d->deal, st);
    ltc_check_text(req->customer_name, "customer_name", 1, 200, st);
    ltc_check_triangle(req->iron_triangle, "iron_triangle", 1, st);
    int total_ok = ltc_money_from_proto(req->order_total, "order_total", 0, &d->total, st) == 0;
    int acc_ok = ltc_money_from_proto(req->accepted_amount, "accepted_amount", 0, &d->accepted, st) == 0;
    if (total_ok && acc_ok) {
        if (strcmp(d->total.currency, d->accepted.currency) != 0)
            ltc_status_bad_field(st, "accepted_amount.currency_code", "%s differs from order_total's %s",
                                 d->accepted.currency, d->total.currency);
        else if (d->accepted.minor > d->total.minor)
            ltc_status_bad_field(st, "accepted_amount", "exceeds order_total");
    }
    check_terms(c, req, d, st);
    return st->code == LTC_OK ? 0 : -1;
}

/* The stored payment terms of a locked account. */
typedef struct stored_terms {
    int n;
    Ltc__Type__V1__PaymentTermKind kind[DTC_MAX_TERMS];
    int32_t bps[DTC_MAX_TERMS];
    int32_t due_days[DTC_MAX_TERMS];
    int64_t invoiced[DTC_MAX_TERMS];
} stored_terms;

static int load_terms(ltc_call *c, ltc_status *st, const char *account_id, stored_terms *out) {
    const char *p[] = {account_id};
    PGresult *r = ltc_call_query(c, st, SQL_TERMS_SELECT, 1, p);
    if (!r) return -1;
    int n = PQntuples(r);
    if (n < 1 || n > DTC_MAX_TERMS)
        return ltc_status_set(st, LTC_INTERNAL, "ORDER_ACCOUNT_CORRUPT", "order account %s has %d terms", account_id,
                              n);
    out->n = n;
    for (int i = 0; i < n; i++) {
        out->kind[i] = ltc_term_kind_from_db(ltc_pg_str(r, i, 1));
        out->bps[i] = (int32_t)ltc_pg_i64(r, i, 2);
        out->due_days[i] = (int32_t)ltc_pg_i64(r, i, 3);
        out->invoiced[i] = ltc_pg_i64(r, i, 5);
    }
    return 0;
}

/* Opens the account with its terms unless it exists already (a concurrent first delivery waits on the key). */
static int create_account_if_new(ltc_call *c, ltc_status *st, const Ltc__Dtc__V1__AcceptDeliveryRequest *req,
                                 const delivery_in *d) {
    const char *p[] = {d->order,
                       d->contract,
                       d->deal,
                       req->customer_name,
                       req->iron_triangle->account_owner,
                       req->iron_triangle->solution_owner,
                       req->iron_triangle->fulfilment_owner,
                       d->total.currency,
                       ltc_sql_i64(c, d->total.minor)};
    PGresult *r = ltc_call_query(c, st, SQL_ACCOUNT_INSERT, 9, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return 0; /* existed */

    int64_t totals[DTC_MAX_TERMS];
    if (dtc_term_totals(d->total.minor, d->bps, d->n_terms, totals) != 0)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "term split failed");
    for (int i = 0; i < d->n_terms; i++) {
        const Ltc__Type__V1__PaymentTerm *t = req->payment_terms[i];
        char id[LTC_UUID_LEN + 1];
        ltc_uuid_new(id);
        const char *tp[] = {id,
                            d->order,
                            ltc_sql_i64(c, i),
                            ltc_term_kind_to_db(t->kind),
                            ltc_sql_i64(c, t->share_bps),
                            ltc_sql_i64(c, t->due_days),
                            ltc_sql_i64(c, totals[i])};
        if (!ltc_call_query(c, st, SQL_TERM_INSERT, 7, tp)) return -1;
    }
    return 0;
}

/* Refuses a delivery whose order facts differ from those the account was opened with. */
static int check_same_order(const PGresult *acc, const Ltc__Dtc__V1__AcceptDeliveryRequest *req, const delivery_in *d,
                            const stored_terms *terms, ltc_status *st) {
    const char *what = NULL;
    if (strcmp(ltc_pg_str(acc, 0, 0), d->contract) != 0)
        what = "contract";
    else if (strcmp(ltc_pg_str(acc, 0, 1), d->deal) != 0)
        what = "deal";
    else if (strcmp(ltc_pg_str(acc, 0, 2), d->total.currency) != 0)
        what = "order_total currency";
    else if (ltc_pg_i64(acc, 0, 3) != d->total.minor)
        what = "order_total";
    else if (terms->n != d->n_terms)
        what = "payment_terms";
    for (int i = 0; !what && i < terms->n; i++) {
        const Ltc__Type__V1__PaymentTerm *t = req->payment_terms[i];
        if (terms->kind[i] != t->kind || terms->bps[i] != t->share_bps || terms->due_days[i] != t->due_days)
            what = "payment_terms";
    }
    if (what)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_MISMATCH",
                              "the %s of order %s differs from the one its account was opened with", what, d->order);
    return 0;
}

/* Refuses a shipment that was invoiced before (under another hand-off id). */
static int check_new_shipment(ltc_call *c, ltc_status *st, const char *shipment) {
    const char *p[] = {shipment};
    PGresult *r = ltc_call_query(c, st, SQL_DELIVERY_FIND, 1, p);
    if (!r) return -1;
    if (PQntuples(r) > 0)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "SHIPMENT_ALREADY_INVOICED",
                              "shipment %s was already handed over for order %s", shipment, ltc_pg_str(r, 0, 0));
    return 0;
}

/* Raises one invoice per term with a non-zero amount and bills it on the term. Fills resp->invoices. */
static int raise_invoices(ltc_call *c, ltc_status *st, const delivery_in *d, const stored_terms *terms,
                          const int64_t *amounts, Ltc__Dtc__V1__AcceptDeliveryResponse *resp, int64_t *billed) {
    resp->invoices = ltc_call_alloc(c, sizeof(char *) * (size_t)terms->n);
    *billed = 0;
    for (int i = 0; i < terms->n; i++) {
        if (amounts[i] == 0) continue;
        char id[LTC_UUID_LEN + 1];
        ltc_uuid_new(id);
        const char *p[] = {id,
                           d->order,
                           d->shipment,
                           ltc_sql_i64(c, i),
                           ltc_term_kind_to_db(terms->kind[i]),
                           d->total.currency,
                           ltc_sql_i64(c, amounts[i]),
                           ltc_sql_i64(c, terms->due_days[i])};
        if (!ltc_call_query(c, st, SQL_INVOICE_INSERT, 8, p)) return -1;
        const char *bp[] = {d->order, ltc_sql_i64(c, i), ltc_sql_i64(c, amounts[i])};
        if (!ltc_call_query(c, st, SQL_TERM_BILL, 3, bp)) return -1;
        resp->invoices[resp->n_invoices++] = ltc_call_printf(c, "invoices/%s", id);
        *billed += amounts[i]; /* amounts add up to at most order_total: no overflow */
    }
    return 0;
}

/* IntakeService/AcceptDelivery: OTD hands over a shipment the customer accepted. Opens the order account on the
 * order's first delivery, adds the accepted value and raises the invoices the payment terms now call for (see
 * dtc_split_invoices); a zero-value order closes at once when fully accepted.
 * Errors: INVALID_ARGUMENT (every bad field named), FAILED_PRECONDITION ORDER_MISMATCH (order facts differ from the
 * account's), ORDER_ACCOUNT_CLOSED, OVER_ACCEPTANCE (more than the order total accepted), ALREADY_EXISTS
 * SHIPMENT_ALREADY_INVOICED (the same shipment under another hand-off id). */
int dtc_accept_delivery(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__AcceptDeliveryRequest *req = (const void *)m;
    delivery_in d = {0};
    if (validate_delivery(c, req, &d, st) != 0) return -1;

    if (create_account_if_new(c, st, req, &d) != 0) return -1;
    const char *ap[] = {d.order};
    PGresult *acc = ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, ap);
    if (!acc) return -1;
    if (PQntuples(acc) == 0) return ltc_status_set(st, LTC_ABORTED, NULL, "order account vanished; retry");
    stored_terms terms = {0};
    if (load_terms(c, st, d.order, &terms) != 0) return -1;
    if (check_same_order(acc, req, &d, &terms, st) != 0) return -1;
    if (check_new_shipment(c, st, d.shipment) != 0) return -1;
    if (strcmp(ltc_pg_str(acc, 0, 6), "OPEN") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_ACCOUNT_CLOSED", "order account %s is %s", d.order,
                              ltc_pg_str(acc, 0, 6));

    int64_t accepted_cum;
    if (ltc_i64_add(ltc_pg_i64(acc, 0, 4), d.accepted.minor, &accepted_cum) != 0 || accepted_cum > d.total.minor)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OVER_ACCEPTANCE",
                              "accepting %lld more on order %s would exceed its total %lld (accepted so far %lld)",
                              (long long)d.accepted.minor, d.order, (long long)d.total.minor,
                              (long long)ltc_pg_i64(acc, 0, 4));
    int fully = req->order_fully_accepted || accepted_cum == d.total.minor || ltc_pg_bool(acc, 0, 5);

    int64_t amounts[DTC_MAX_TERMS];
    if (dtc_split_invoices(d.total.minor, terms.bps, terms.n, accepted_cum, fully, terms.invoiced, amounts) != 0)
        return ltc_status_set(st, LTC_INTERNAL, "ORDER_ACCOUNT_CORRUPT", "invoice split failed for order %s", d.order);

    char did[LTC_UUID_LEN + 1];
    ltc_uuid_new(did);
    const char *dp[] = {did,
                        d.order,
                        d.shipment,
                        req->handoff_id,
                        d.total.currency,
                        ltc_sql_i64(c, d.accepted.minor),
                        req->order_fully_accepted ? "true" : "false"};
    if (!ltc_call_query(c, st, SQL_DELIVERY_INSERT, 7, dp)) {
        if (st->code == LTC_ALREADY_EXISTS) /* the same shipment raced in for another order */
            ltc_status_set(st, LTC_ALREADY_EXISTS, "SHIPMENT_ALREADY_INVOICED", "shipment %s was already handed over",
                           d.shipment);
        return -1;
    }

    Ltc__Dtc__V1__AcceptDeliveryResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptDeliveryResponse, LTC__DTC__V1__ACCEPT_DELIVERY_RESPONSE__INIT);
    int64_t billed;
    if (raise_invoices(c, st, &d, &terms, amounts, resp, &billed) != 0) return -1;
    const char *up[] = {d.order, ltc_sql_i64(c, accepted_cum), ltc_sql_i64(c, billed), fully ? "true" : "false"};
    if (!ltc_call_query(c, st, SQL_ACCOUNT_UPDATE, 4, up)) return -1;

    int closed;
    if (dtc_close_account_if_settled(c, st, d.order, &closed) != 0) return -1;
    *out = &resp->base;
    return 0;
}
