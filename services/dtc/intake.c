/* services/dtc/intake.c - what DTC receives (ltc.dtc.v1.IntakeService): OTD's accepted deliveries (AcceptDelivery),
 * which add the accepted value to the order account and raise the invoices the payment terms call for
 * (dtc_split_invoices, split.c); BTO's placed orders (AcceptOrderPlaced), which open the order account with its
 * customer so that the open order counts in the customer's credit exposure (an account opened at placement is found
 * by the deliveries; one of an older order is opened by its first delivery, as before); and LTB's customer changes
 * (AcceptCustomerChanged: snapshot, block, merge) and closed opportunities (AcceptOpportunityClosed: the admission
 * reservation goes). The runtime dedups by handoff_id before calling us; a hand-off is validated like client input (a
 * malformed one is INVALID_ARGUMENT, which the sender parks) and applied in the server's transaction.
 * Lock order (credit.c): the customer's credit account, then the order account. */
#include <stdio.h>
#include <string.h>

#include "dtc.h"
#include "ltc/milestone.h"
#include "revrec_engine.h"
#include "ltc/type/v1/milestone.pb-c.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

/* $10.. the customer (id and snapshot; NULL for a legacy delivery), $15 the placement hand-off, $16 its time
 * (microseconds; NULL: now), $17 the credit decision (kept only when DTC has it). */
static const char SQL_ACCOUNT_INSERT[] =
    "INSERT INTO order_accounts (id, contract_id, deal_id, customer_name, account_owner, solution_owner, "
    "fulfilment_owner, currency, order_total_minor, customer_id, customer_tax_id, customer_country_code, "
    "customer_billing_currency, customer_account_owner, placed_handoff_id, place_time, credit_decision_id, "
    "signed_handoff_id) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::bigint, $10::uuid, coalesce($11, ''), coalesce($12, ''), "
    "coalesce($13, ''), coalesce($14, ''), $15::uuid, CASE WHEN $15::uuid IS NOT NULL THEN coalesce(" LTC_SQL_TS_PARAM(
        "$16") ", now()) END, (SELECT id FROM credit_decisions WHERE id = $17::uuid), $18::uuid) "
               "ON CONFLICT (id) DO NOTHING RETURNING id";
/* An account opened before the customer reached DTC (a legacy account, or a delivery before the placement): it
 * takes the customer now. */
static const char SQL_ACCOUNT_SET_CUSTOMER[] =
    "UPDATE order_accounts SET customer_id = $2::uuid, customer_tax_id = $3, customer_country_code = $4, "
    "customer_billing_currency = $5, customer_account_owner = $6, update_time = now() "
    "WHERE id = $1 AND customer_id IS NULL";
static const char SQL_ACCOUNT_CUSTOMER[] = "SELECT customer_id::text FROM order_accounts WHERE id = $1";
static const char SQL_ACCOUNT_PLACED[] = "SELECT placed_handoff_id::text FROM order_accounts WHERE id = $1 FOR UPDATE";
static const char SQL_ACCOUNT_MARK_PLACED[] =
    "UPDATE order_accounts SET placed_handoff_id = $2::uuid, place_time = coalesce(" LTC_SQL_TS_PARAM(
        "$3") ", now()), update_time = now() WHERE id = $1 AND placed_handoff_id IS NULL";
static const char SQL_RESERVATIONS_PLACED[] =
    "UPDATE credit_reservations SET released_time = now(), release_reason = 'ORDER_PLACED', update_time = now() "
    "WHERE released_time IS NULL AND customer_id = $3 AND ((stage = 'ORDER_PLACEMENT' AND reference = $1) "
    "OR (stage = 'ADMISSION' AND deal_id = $2::uuid))";
static const char SQL_RESERVATION_CLOSE_OPP[] =
    "UPDATE credit_reservations SET released_time = now(), release_reason = $2, update_time = now() "
    "WHERE reference = $1 AND stage = 'ADMISSION' AND released_time IS NULL RETURNING currency, amount_minor";
static const char SQL_CUSTOMER_UPDATE[] =
    "UPDATE credit_accounts SET legal_name = $2, tax_id = $3, country_code = $4, billing_currency = $5, "
    "account_owner = $6, customer_blocked = CASE $7 WHEN 'BLOCKED' THEN true WHEN 'UNBLOCKED' THEN false "
    "ELSE customer_blocked END, version = version + 1, update_time = now() WHERE customer_id = $1";
static const char SQL_CUSTOMER_CHANGE_INSERT[] =
    "INSERT INTO customer_changes (id, customer_id, change, survivor_id, note, handoff_id, change_time) "
    "VALUES ($1, $2, $3, $4::uuid, $5, $6, coalesce(" LTC_SQL_TS_PARAM("$7") ", now()))";
static const char SQL_LOCK_TWO[] =
    "SELECT customer_id::text FROM credit_accounts WHERE customer_id IN ($1, $2) ORDER BY customer_id FOR UPDATE";
static const char SQL_MERGE_ACCOUNT[] =
    "UPDATE credit_accounts SET merged_into = $2, version = version + 1, update_time = now() "
    "WHERE customer_id = $1";
static const char SQL_MERGE_ORDERS[] = "UPDATE order_accounts SET customer_id = $2 WHERE customer_id = $1";
static const char SQL_MERGE_RESERVATIONS_DUP[] =
    "UPDATE credit_reservations r SET released_time = now(), release_reason = 'MERGED', update_time = now() "
    "WHERE r.customer_id = $1 AND r.released_time IS NULL AND EXISTS (SELECT FROM credit_reservations s "
    "WHERE s.customer_id = $2 AND s.reference = r.reference AND s.released_time IS NULL)";
static const char SQL_MERGE_RESERVATIONS[] = "UPDATE credit_reservations SET customer_id = $2, update_time = now() "
                                             "WHERE customer_id = $1 AND released_time IS NULL";
static const char SQL_MERGE_AUTO_HOLDS[] =
    "UPDATE credit_holds SET state = 'RELEASED', released_by = 'system', release_reason = $3, release_time = now() "
    "WHERE customer_id = $1 AND state = 'ACTIVE' AND kind <> 'MANUAL' AND $2::uuid IS NOT NULL";
static const char SQL_MERGE_MANUAL_HOLDS[] =
    "UPDATE credit_holds SET customer_id = $2 WHERE customer_id = $1 AND state = 'ACTIVE' AND kind = 'MANUAL'";
static const char SQL_TERM_INSERT[] =
    "INSERT INTO account_terms (id, account_id, position, kind, share_bps, due_days, total_minor, milestone) "
    "VALUES ($1, $2, $3::integer, $4, $5::integer, $6::integer, $7::bigint, nullif($8, ''))";
static const char SQL_ACCOUNT_LOCK[] =
    "SELECT contract_id::text, deal_id::text, currency, order_total_minor, accepted_minor, fully_accepted, state "
    "FROM order_accounts WHERE id = $1 FOR UPDATE";
static const char SQL_TERMS_SELECT[] =
    "SELECT position, kind, share_bps, due_days, total_minor, invoiced_minor, coalesce(milestone, '') "
    "FROM account_terms WHERE account_id = $1 ORDER BY position";
static const char SQL_DELIVERY_FIND[] = "SELECT account_id::text FROM deliveries WHERE shipment_id = $1";
static const char SQL_DELIVERY_INSERT[] =
    "INSERT INTO deliveries (id, account_id, shipment_id, handoff_id, currency, accepted_minor, fully_accepted, "
    "accept_date) VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::boolean, coalesce($8::date, current_date))";
/* $4: the acceptance's business date (NULL: today), the start of the retention period once fully accepted */
static const char SQL_ACCOUNT_UPDATE[] =
    "UPDATE order_accounts SET accepted_minor = $2::bigint, fully_accepted = $3::boolean, fully_accepted_date = "
    "CASE WHEN $3::boolean THEN coalesce(fully_accepted_date, $4::date, current_date) END, update_time = now() "
    "WHERE id = $1";
static const char SQL_SHIPMENT_FIND[] = "SELECT account_id::text FROM shipments WHERE shipment_id = $1";
static const char SQL_SHIPMENT_INSERT[] =
    "INSERT INTO shipments (id, account_id, shipment_id, handoff_id, currency, amount_minor, fully_shipped, "
    "ship_date) VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::boolean, coalesce($8::date, current_date))";
static const char SQL_ACCOUNT_SHIP[] =
    "SELECT contract_id::text, deal_id::text, currency, order_total_minor, shipped_minor, state FROM order_accounts "
    "WHERE id = $1 FOR UPDATE";
static const char SQL_ACCOUNT_SHIPPED[] =
    "UPDATE order_accounts SET shipped_minor = $2::bigint, fully_shipped = fully_shipped OR $3::boolean, "
    "update_time = now() WHERE id = $1";

static void check_snapshot(const Ltc__Type__V1__CustomerSnapshot *s, const char *field, int required,
                           char id[LTC_UUID_LEN + 1], ltc_call *c, ltc_status *st);
static void check_time(const Google__Protobuf__Timestamp *t, const char *field, ltc_status *st);

/* --- AcceptDelivery ----------------------------------------------------------------------------------------------- */

/* A validated AcceptDelivery request. */
typedef struct delivery_in {
    char shipment[LTC_UUID_LEN + 1];
    char order[LTC_UUID_LEN + 1];
    char contract[LTC_UUID_LEN + 1];
    char deal[LTC_UUID_LEN + 1];
    char customer[LTC_UUID_LEN + 1]; /* "" when the hand-off names none (sent before issue #13) */
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
    check_snapshot(req->customer, "customer", 0, d->customer, c, st);
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
    check_time(req->accept_time, "accept_time", st);
    return st->code == LTC_OK ? 0 : -1;
}

/* The stored payment terms of a locked account. */
typedef struct stored_terms {
    int n;
    Ltc__Type__V1__PaymentTermKind kind[DTC_MAX_TERMS];
    int32_t bps[DTC_MAX_TERMS];
    int32_t due_days[DTC_MAX_TERMS];
    int64_t invoiced[DTC_MAX_TERMS];
    const char *milestone[DTC_MAX_TERMS]; /* "" for other kinds */
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
        out->milestone[i] = ltc_pg_str(r, i, 6);
    }
    return 0;
}

/* The facts an order account is opened with: from OTD's first delivery or BTO's placement. */
typedef struct order_facts {
    const char *order, *contract, *deal; /* UUIDs */
    const char *customer_name;
    const Ltc__Type__V1__IronTriangle *triangle;
    ltc_money total;
    Ltc__Type__V1__PaymentTerm *const *terms;
    size_t n_terms;
    const int32_t *bps;
    const char *customer;                               /* the credit account it belongs to; NULL: none known */
    const Ltc__Type__V1__CustomerSnapshot *snap;        /* may be NULL */
    const char *placed_handoff, *place_time, *decision; /* placement only; else NULL */
    const char *signed_handoff;                         /* opened at contract signature only; else NULL */
} order_facts;

/* Opens the account with its terms unless it exists already (a concurrent first delivery waits on the key).
 * *created is 1 when this call opened it. */
static int create_account_if_new(ltc_call *c, ltc_status *st, const order_facts *f, int *created) {
    const Ltc__Type__V1__CustomerSnapshot *sn = f->customer ? f->snap : NULL;
    const char *p[] = {f->order,
                       f->contract,
                       f->deal,
                       f->customer_name,
                       f->triangle->account_owner,
                       f->triangle->solution_owner,
                       f->triangle->fulfilment_owner,
                       f->total.currency,
                       ltc_sql_i64(c, f->total.minor),
                       f->customer,
                       sn ? sn->tax_id : NULL,
                       sn ? sn->country_code : NULL,
                       sn ? sn->billing_currency : NULL,
                       sn ? sn->account_owner : NULL,
                       f->placed_handoff,
                       f->place_time,
                       f->decision,
                       f->signed_handoff};
    *created = 0;
    PGresult *r = ltc_call_query(c, st, SQL_ACCOUNT_INSERT, 18, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return 0; /* existed */
    *created = 1;

    int64_t totals[DTC_MAX_TERMS];
    if (dtc_term_totals(f->total.minor, f->bps, (int)f->n_terms, totals) != 0)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "term split failed");
    for (size_t i = 0; i < f->n_terms; i++) {
        const Ltc__Type__V1__PaymentTerm *t = f->terms[i];
        char id[LTC_UUID_LEN + 1];
        ltc_uuid_new(id);
        const char *tp[] = {id,
                            f->order,
                            ltc_sql_i64(c, (int64_t)i),
                            ltc_term_kind_to_db(t->kind),
                            ltc_sql_i64(c, t->share_bps),
                            ltc_sql_i64(c, t->due_days),
                            ltc_sql_i64(c, totals[i]),
                            t->milestone ? t->milestone : ""};
        if (!ltc_call_query(c, st, SQL_TERM_INSERT, 8, tp)) return -1;
    }
    return 0;
}

/* Refuses order facts that differ from those the account was opened with (acc: SQL_ACCOUNT_LOCK's row). */
static int check_same_order(const PGresult *acc, const order_facts *f, const stored_terms *terms, ltc_status *st) {
    const char *what = NULL;
    if (strcmp(ltc_pg_str(acc, 0, 0), f->contract) != 0)
        what = "contract";
    else if (strcmp(ltc_pg_str(acc, 0, 1), f->deal) != 0)
        what = "deal";
    else if (strcmp(ltc_pg_str(acc, 0, 2), f->total.currency) != 0)
        what = "order_total currency";
    else if (ltc_pg_i64(acc, 0, 3) != f->total.minor)
        what = "order_total";
    else if (terms->n != (int)f->n_terms)
        what = "payment_terms";
    for (int i = 0; !what && i < terms->n; i++) {
        const Ltc__Type__V1__PaymentTerm *t = f->terms[i];
        if (terms->kind[i] != t->kind || terms->bps[i] != t->share_bps || terms->due_days[i] != t->due_days ||
            strcmp(terms->milestone[i], t->milestone ? t->milestone : "") != 0)
            what = "payment_terms";
    }
    if (what)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_MISMATCH",
                              "the %s of order %s differs from the one its account was opened with", what, f->order);
    return 0;
}

/* Checks a customer snapshot the way credit_accounts stores it. `required`: the message and its customer and
 * legal name must be there. Writes the customer's id (or "") to id. */
static void check_snapshot(const Ltc__Type__V1__CustomerSnapshot *s, const char *field, int required,
                           char id[LTC_UUID_LEN + 1], ltc_call *c, ltc_status *st) {
    id[0] = '\0';
    if (!s) {
        if (required) ltc_status_bad_field(st, field, "required");
        return;
    }
    ltc_name_parse(s->customer, "customers", ltc_call_printf(c, "%s.customer", field), id, st);
    ltc_check_text(s->legal_name, ltc_call_printf(c, "%s.legal_name", field), 1, 200, st);
    ltc_check_text(s->tax_id, ltc_call_printf(c, "%s.tax_id", field), 0, 64, st);
    const char *cc = s->country_code;
    if (cc[0] && !(strlen(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z'))
        ltc_status_bad_field(st, ltc_call_printf(c, "%s.country_code", field), "must be ISO 3166-1 alpha-2");
    if (s->billing_currency[0] && ltc_currency_digits(s->billing_currency) < 0)
        ltc_status_bad_field(st, ltc_call_printf(c, "%s.billing_currency", field), "not an ISO 4217 currency");
    ltc_check_text(s->account_owner, ltc_call_printf(c, "%s.account_owner", field), 0, 128, st);
}

/* A Timestamp a hand-off may leave out: when given, between 1970 and 9999 with valid nanos. */
static void check_time(const Google__Protobuf__Timestamp *t, const char *field, ltc_status *st) {
    if (t && (t->seconds < 0 || t->seconds > 253402300799LL || t->nanos < 0 || t->nanos > 999999999))
        ltc_status_bad_field(st, field, "out of range");
}

/* Locks the credit account of the order's customer before the order account (the lock order of credit.c): the
 * customer of the request (its account created from the snapshot on first use), else the one the account already
 * has. *customer is "" when neither names one (a legacy order). */
static int lock_order_customer(ltc_call *c, ltc_status *st, const char *order, const char *asked,
                               const Ltc__Type__V1__CustomerSnapshot *snap, char customer[LTC_UUID_LEN + 1]) {
    customer[0] = '\0';
    if (!asked || !asked[0]) {
        const char *p[] = {order};
        PGresult *r = ltc_call_query(c, st, SQL_ACCOUNT_CUSTOMER, 1, p);
        if (!r) return -1;
        if (PQntuples(r) == 0 || ltc_pg_isnull(r, 0, 0)) return 0;
        asked = ltc_pg_str(r, 0, 0);
        snap = NULL;
    }
    dtc_credit_locked acc;
    unsigned flags = DTC_LOCK_FOLLOW_MERGES | (snap ? DTC_LOCK_CREATE : 0);
    if (dtc_credit_account_lock(c, st, asked, snap, flags, &acc) != 0) return -1;
    snprintf(customer, LTC_UUID_LEN + 1, "%s", acc.id);
    return 0;
}

/* Re-evaluates the automatic holds of a locked customer after its exposure changed. */
static int reevaluate(ltc_call *c, ltc_status *st, const char *customer, const char *cause) {
    if (!customer[0]) return 0;
    dtc_credit_policy pol;
    if (dtc_credit_policy_load(c, st, &pol) != 0) return -1;
    return dtc_credit_evaluate_holds(c, st, customer, NULL, &pol, cause);
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

    char customer[LTC_UUID_LEN + 1];
    if (lock_order_customer(c, st, d.order, d.customer, req->customer, customer) != 0) return -1;
    order_facts f = {.order = d.order,
                     .contract = d.contract,
                     .deal = d.deal,
                     .customer_name = req->customer_name,
                     .triangle = req->iron_triangle,
                     .total = d.total,
                     .terms = req->payment_terms,
                     .n_terms = req->n_payment_terms,
                     .bps = d.bps,
                     .customer = customer[0] ? customer : NULL,
                     .snap = req->customer};
    int created;
    if (create_account_if_new(c, st, &f, &created) != 0) return -1;
    const char *ap[] = {d.order};
    PGresult *acc = ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, ap);
    if (!acc) return -1;
    if (PQntuples(acc) == 0) return ltc_status_set(st, LTC_ABORTED, NULL, "order account vanished; retry");
    stored_terms terms = {0};
    if (load_terms(c, st, d.order, &terms) != 0) return -1;
    if (check_same_order(acc, &f, &terms, st) != 0) return -1;
    if (!created && customer[0] && req->customer) {
        const Ltc__Type__V1__CustomerSnapshot *sn = req->customer;
        const char *cp[] = {d.order, customer, sn->tax_id, sn->country_code, sn->billing_currency, sn->account_owner};
        if (!ltc_call_query(c, st, SQL_ACCOUNT_SET_CUSTOMER, 6, cp)) return -1;
    }
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

    char did[LTC_UUID_LEN + 1];
    ltc_uuid_new(did);
    const char *dp[] = {did,
                        d.order,
                        d.shipment,
                        req->handoff_id,
                        d.total.currency,
                        ltc_sql_i64(c, d.accepted.minor),
                        req->order_fully_accepted ? "true" : "false",
                        dtc_date_of(c, req->accept_time)};
    if (!ltc_call_query(c, st, SQL_DELIVERY_INSERT, 8, dp)) {
        if (st->code == LTC_ALREADY_EXISTS) /* the same shipment raced in for another order */
            ltc_status_set(st, LTC_ALREADY_EXISTS, "SHIPMENT_ALREADY_INVOICED", "shipment %s was already handed over",
                           d.shipment);
        return -1;
    }
    const char *up[] = {d.order, ltc_sql_i64(c, accepted_cum), fully ? "true" : "false",
                        dtc_date_of(c, req->accept_time)};
    if (!ltc_call_query(c, st, SQL_ACCOUNT_UPDATE, 4, up)) return -1;

    dtc_invoice_list raised = {0};
    if (dtc_bill_account(c, st, d.order, "ACCEPTANCE", d.shipment, dtc_date_of(c, req->accept_time), &raised) != 0)
        return -1;
    Ltc__Dtc__V1__AcceptDeliveryResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptDeliveryResponse, LTC__DTC__V1__ACCEPT_DELIVERY_RESPONSE__INIT);
    resp->invoices = ltc_call_alloc(c, sizeof(char *) * DTC_MAX_TERMS);
    for (int i = 0; i < raised.n; i++)
        resp->invoices[resp->n_invoices++] = ltc_call_printf(c, "invoices/%s", raised.ids[i]);

    int closed;
    if (dtc_close_account_if_settled(c, st, d.order, &closed) != 0) return -1;
    if (reevaluate(c, st, customer, NULL) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- AcceptOrderPlaced -------------------------------------------------------------------------------------------- */

/* The order's performance obligations (docs/finance.md, "Revenue recognition"): one per line, its standalone selling
 * price list_price x quantity (the net amounts when no line has a list price), the order total allocated among them
 * by relative SSP (dtc_revrec_allocate). Validates the lines into ssp/net (INVALID_ARGUMENT naming each bad field). */
static const char SQL_OBLIGATION_INSERT[] =
    "INSERT INTO revenue_obligations (account_id, line_no, product, sku, revenue_type, service_months, currency, "
    "ssp_minor, net_minor, allocated_minor) SELECT $1, t.n, t.product, t.sku, t.kind, t.months, $2, t.ssp, t.net, "
    "t.alloc FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[]) "
    "WITH ORDINALITY AS t(product, sku, kind, months, ssp, net, alloc, n) ON CONFLICT DO NOTHING";

static int check_lines(ltc_call *c, const Ltc__Dtc__V1__AcceptOrderPlacedRequest *req, const ltc_money *total,
                       int64_t *ssp, int64_t *net, ltc_status *st) {
    if (req->n_lines > DTC_REVREC_MAX_LINES) return ltc_status_bad_field(st, "lines", "at most 1000 lines");
    for (size_t i = 0; i < req->n_lines; i++) {
        const Ltc__Dtc__V1__PlacedOrderLine *l = req->lines[i];
        ltc_money lp = {{0}, 0}, nm = {{0}, 0};
        ssp[i] = net[i] = 0;
        if (!l) return ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu]", i), "required");
        ltc_check_text(l->product, ltc_call_printf(c, "lines[%zu].product", i), 0, 200, st);
        ltc_check_text(l->sku, ltc_call_printf(c, "lines[%zu].sku", i), 0, 200, st);
        if (l->quantity < 0 || l->quantity > 1000000000)
            ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu].quantity", i), "0 to 1000000000");
        if (l->revenue_type == LTC__TYPE__V1__REVENUE_TYPE__REVENUE_TYPE_OVER_TIME) {
            if (l->service_months < 1 || l->service_months > DTC_REVREC_MAX_MONTHS)
                ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu].service_months", i),
                                     "1 to 1200 for an OVER_TIME line");
        } else if (l->revenue_type != LTC__TYPE__V1__REVENUE_TYPE__REVENUE_TYPE_POINT_IN_TIME &&
                   l->revenue_type != LTC__TYPE__V1__REVENUE_TYPE__REVENUE_TYPE_UNSPECIFIED) {
            ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu].revenue_type", i), "unknown revenue type");
        }
        if (l->list_price &&
            ltc_money_from_proto(l->list_price, ltc_call_printf(c, "lines[%zu].list_price", i), 0, &lp, st) == 0 &&
            lp.minor > 0 && strcmp(lp.currency, total->currency) != 0)
            ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu].list_price", i), "not the order's currency");
        if (l->net_amount &&
            ltc_money_from_proto(l->net_amount, ltc_call_printf(c, "lines[%zu].net_amount", i), 0, &nm, st) == 0 &&
            nm.minor > 0 && strcmp(nm.currency, total->currency) != 0)
            ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu].net_amount", i), "not the order's currency");
        if (st->code == LTC_OK && ltc_i64_mul(lp.minor, l->quantity, &ssp[i]) != 0)
            ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu].list_price", i), "list price x quantity overflows");
        net[i] = nm.minor;
    }
    return st->code == LTC_OK ? 0 : -1;
}

static int store_obligations(ltc_call *c, ltc_status *st, const char *order,
                             const Ltc__Dtc__V1__AcceptOrderPlacedRequest *req, const ltc_money *total, int64_t *ssp,
                             int64_t *net) {
    int n = (int)req->n_lines;
    if (n == 0 || total->minor == 0) return 0;
    int64_t *alloc = ltc_call_alloc(c, sizeof(int64_t) * (size_t)n);
    if (dtc_revrec_allocate(total->minor, ssp, n, alloc) != 0 && dtc_revrec_allocate(total->minor, net, n, alloc) != 0)
        return 0; /* neither list prices nor net amounts: nothing to allocate by (document: no obligations) */
    const char **prod = ltc_call_alloc(c, sizeof(char *) * (size_t)n),
               **sku = ltc_call_alloc(c, sizeof(char *) * (size_t)n);
    const char **kind = ltc_call_alloc(c, sizeof(char *) * (size_t)n);
    int64_t *months = ltc_call_alloc(c, sizeof(int64_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        const Ltc__Dtc__V1__PlacedOrderLine *l = req->lines[i];
        int ot = l->revenue_type == LTC__TYPE__V1__REVENUE_TYPE__REVENUE_TYPE_OVER_TIME;
        prod[i] = l->product, sku[i] = l->sku, kind[i] = ot ? "OVER_TIME" : "POINT_IN_TIME";
        months[i] = ot ? l->service_months : 0;
    }
    const char *p[] = {order,
                       total->currency,
                       ltc_sql_text_array(c, prod, (size_t)n),
                       ltc_sql_text_array(c, sku, (size_t)n),
                       ltc_sql_text_array(c, kind, (size_t)n),
                       ltc_sql_i64_array(c, months, (size_t)n),
                       ltc_sql_i64_array(c, ssp, (size_t)n),
                       ltc_sql_i64_array(c, net, (size_t)n),
                       ltc_sql_i64_array(c, alloc, (size_t)n)};
    return ltc_call_query(c, st, SQL_OBLIGATION_INSERT, 9, p) ? 0 : -1;
}

/* IntakeService/AcceptOrderPlaced: BTO placed an order. Opens its account (OPEN, nothing accepted) with the customer,
 * so the order counts in the customer's exposure from now on (open orders), and drops the placement reservation of
 * its contract and the admission reservations of its deal; the automatic holds are re-evaluated. AcceptDelivery
 * later finds the account. Lock order: the credit account, then the order account.
 * Errors: INVALID_ARGUMENT (every bad field named); ALREADY_EXISTS ORDER_ALREADY_PLACED (another hand-off placed the
 * order); FAILED_PRECONDITION ORDER_MISMATCH (the account exists with other contract, deal, total or terms). */
int dtc_accept_order_placed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__AcceptOrderPlacedRequest *req = (const void *)m;
    char order[LTC_UUID_LEN + 1], contract[LTC_UUID_LEN + 1], deal[LTC_UUID_LEN + 1], customer[LTC_UUID_LEN + 1];
    char decision[LTC_UUID_LEN + 1] = "";
    ltc_money total = {{0}, 0};
    int32_t bps[DTC_MAX_TERMS] = {0};
    if (!ltc_uuid_valid(req->handoff_id)) ltc_status_bad_field(st, "handoff_id", "must be a UUID");
    ltc_name_parse(req->order, "orders", "order", order, st);
    ltc_name_parse(req->contract, "contracts", "contract", contract, st);
    ltc_name_parse(req->deal, "deals", "deal", deal, st);
    check_snapshot(req->customer, "customer", 1, customer, c, st);
    ltc_check_triangle(req->iron_triangle, "iron_triangle", 1, st);
    ltc_money_from_proto(req->order_total, "order_total", 0, &total, st);
    if (ltc_check_payment_terms(c, req->payment_terms, req->n_payment_terms, "payment_terms", DTC_MAX_TERMS, st) == 0)
        for (size_t i = 0; i < req->n_payment_terms; i++) bps[i] = req->payment_terms[i]->share_bps;
    if (req->credit_decision[0])
        ltc_name_parse(req->credit_decision, "creditDecisions", "credit_decision", decision, st);
    if (st->code != LTC_OK) return -1;
    int64_t *ssp = ltc_call_alloc(c, sizeof(int64_t) * (req->n_lines + 1));
    int64_t *net = ltc_call_alloc(c, sizeof(int64_t) * (req->n_lines + 1));
    if (check_lines(c, req, &total, ssp, net, st) != 0) return -1;

    char locked[LTC_UUID_LEN + 1];
    if (lock_order_customer(c, st, order, customer, req->customer, locked) != 0) return -1;
    const char *place_time =
        req->place_time ? ltc_sql_i64(c, req->place_time->seconds * 1000000 + req->place_time->nanos / 1000) : NULL;
    order_facts f = {.order = order,
                     .contract = contract,
                     .deal = deal,
                     .customer_name = req->customer->legal_name,
                     .triangle = req->iron_triangle,
                     .total = total,
                     .terms = req->payment_terms,
                     .n_terms = req->n_payment_terms,
                     .bps = bps,
                     .customer = locked,
                     .snap = req->customer,
                     .placed_handoff = req->handoff_id,
                     .place_time = place_time,
                     .decision = decision[0] ? decision : NULL};
    int created;
    if (create_account_if_new(c, st, &f, &created) != 0) return -1;
    if (!created) {
        const char *op[] = {order};
        PGresult *pl = ltc_call_query(c, st, SQL_ACCOUNT_PLACED, 1, op);
        if (!pl) return -1;
        if (!ltc_pg_isnull(pl, 0, 0) && strcmp(ltc_pg_str(pl, 0, 0), req->handoff_id) != 0)
            return ltc_status_set(st, LTC_ALREADY_EXISTS, "ORDER_ALREADY_PLACED", "order %s was placed by hand-off %s",
                                  order, ltc_pg_str(pl, 0, 0));
        PGresult *acc = ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, op);
        if (!acc) return -1;
        stored_terms terms = {0};
        if (load_terms(c, st, order, &terms) != 0) return -1;
        if (check_same_order(acc, &f, &terms, st) != 0) return -1;
        /* opened by a delivery that came first: it is the placed order now */
        const char *mp[] = {order, req->handoff_id, place_time};
        if (!ltc_call_query(c, st, SQL_ACCOUNT_MARK_PLACED, 3, mp)) return -1;
        const Ltc__Type__V1__CustomerSnapshot *sn = req->customer;
        const char *cp[] = {order, locked, sn->tax_id, sn->country_code, sn->billing_currency, sn->account_owner};
        if (!ltc_call_query(c, st, SQL_ACCOUNT_SET_CUSTOMER, 6, cp)) return -1;
    }
    if (store_obligations(c, st, order, req, &total, ssp, net) != 0) return -1;
    const char *rp[] = {ltc_call_printf(c, "contracts/%s", contract), deal, locked};
    if (!ltc_call_query(c, st, SQL_RESERVATIONS_PLACED, 3, rp)) return -1;
    /* the ADVANCE terms are billed now, dated the placement (an account a delivery opened first caught them up) */
    const char *op[] = {order};
    PGresult *acc = ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, op);
    if (!acc) return -1;
    if (strcmp(ltc_pg_str(acc, 0, 6), "OPEN") == 0 &&
        dtc_bill_account(c, st, order, "ORDER_PLACED", NULL, dtc_date_of(c, req->place_time), NULL) != 0)
        return -1;
    if (reevaluate(c, st, locked, NULL) != 0) return -1;

    Ltc__Dtc__V1__AcceptOrderPlacedResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptOrderPlacedResponse, LTC__DTC__V1__ACCEPT_ORDER_PLACED_RESPONSE__INIT);
    resp->order_account = ltc_call_printf(c, "orderAccounts/%s", order);
    *out = &resp->base;
    return 0;
}

/* --- AcceptCustomerChanged ---------------------------------------------------------------------------------------- */

/* Merges the account of `merged` into `survivor` (both exist): both rows locked in id order; the merged account
 * points at the survivor; its order accounts, live reservations (those the survivor holds for the same reference
 * are released, MERGED) and ACTIVE manual holds move; its automatic holds are released (the survivor's are
 * re-evaluated over the moved exposure). Limits stay where they are. */
static int merge_accounts(ltc_call *c, ltc_status *st, const char *merged, const char *survivor) {
    const char *two[] = {merged, survivor};
    PGresult *l = ltc_call_query(c, st, SQL_LOCK_TWO, 2, two);
    if (!l) return -1;
    if (PQntuples(l) != 2) return ltc_status_set(st, LTC_ABORTED, "CONCURRENT_UPDATE", "credit accounts moved; retry");
    if (!ltc_call_query(c, st, SQL_MERGE_ACCOUNT, 2, two)) return -1;
    if (!ltc_call_query(c, st, SQL_MERGE_ORDERS, 2, two)) return -1;
    if (!ltc_call_query(c, st, SQL_MERGE_RESERVATIONS_DUP, 2, two)) return -1;
    if (!ltc_call_query(c, st, SQL_MERGE_RESERVATIONS, 2, two)) return -1;
    const char *hp[] = {merged, survivor, ltc_call_printf(c, "merged into customers/%s", survivor)};
    if (!ltc_call_query(c, st, SQL_MERGE_AUTO_HOLDS, 3, hp)) return -1;
    if (!ltc_call_query(c, st, SQL_MERGE_MANUAL_HOLDS, 2, two)) return -1;
    return reevaluate(c, st, survivor, ltc_call_printf(c, "customers/%s merged", merged));
}

/* IntakeService/AcceptCustomerChanged: LTB's customer changed. The account (created on first sight) takes the new
 * snapshot; BLOCKED / UNBLOCKED set customer_blocked (every later credit check is refused CUSTOMER_BLOCKED while
 * it is set); MERGED folds the account into the survivor's (merge_accounts). Recorded in customer_changes.
 * Errors: INVALID_ARGUMENT (every bad field named). */
int dtc_accept_customer_changed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__AcceptCustomerChangedRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1], survivor[LTC_UUID_LEN + 1] = "";
    if (!ltc_uuid_valid(req->handoff_id)) ltc_status_bad_field(st, "handoff_id", "must be a UUID");
    check_snapshot(req->customer, "customer", 1, id, c, st);
    const char *change =
        ltc_enum_to_db(&ltc__type__v1__customer_change__descriptor, "CUSTOMER_CHANGE_", (int)req->change);
    if (!change || req->change == LTC__TYPE__V1__CUSTOMER_CHANGE__CUSTOMER_CHANGE_UNSPECIFIED) {
        change = NULL;
        ltc_status_bad_field(st, "change", "required");
    }
    int merged = req->change == LTC__TYPE__V1__CUSTOMER_CHANGE__CUSTOMER_CHANGE_MERGED;
    if (merged) {
        if (ltc_name_parse(req->survivor, "customers", "survivor", survivor, st) == 0 && strcmp(survivor, id) == 0)
            ltc_status_bad_field(st, "survivor", "must differ from the merged customer");
    } else if (req->survivor[0])
        ltc_status_bad_field(st, "survivor", "only for MERGED");
    ltc_check_text(req->note, "note", 0, 500, st);
    check_time(req->change_time, "change_time", st);
    if (st->code != LTC_OK) return -1;

    const Ltc__Type__V1__CustomerSnapshot *sn = req->customer;
    dtc_credit_locked acc;
    if (merged) { /* both accounts exist before the pair is locked in id order */
        const char *ins = "INSERT INTO credit_accounts (customer_id, legal_name) VALUES ($1, $2) "
                          "ON CONFLICT (customer_id) DO NOTHING";
        if (!ltc_call_query(c, st, ins, 2, (const char *[]){id, sn->legal_name})) return -1;
        if (!ltc_call_query(c, st, ins, 2, (const char *[]){survivor, ltc_call_printf(c, "customers/%s", survivor)}))
            return -1;
    } else if (dtc_credit_account_lock(c, st, id, sn, DTC_LOCK_CREATE, &acc) != 0) {
        if (strcmp(st->reason, "CUSTOMER_MERGED") != 0) return -1;
        ltc_status_clear(st); /* a late change of a merged customer: its tombstone takes the snapshot */
    }
    const char *up[] = {id,    sn->legal_name, sn->tax_id, sn->country_code, sn->billing_currency, sn->account_owner,
                        change};
    if (!ltc_call_query(c, st, SQL_CUSTOMER_UPDATE, 7, up)) return -1;
    if (merged && merge_accounts(c, st, id, survivor) != 0) return -1;

    char cid[LTC_UUID_LEN + 1];
    ltc_uuid_new(cid);
    const char *change_time =
        req->change_time ? ltc_sql_i64(c, req->change_time->seconds * 1000000 + req->change_time->nanos / 1000) : NULL;
    const char *cp[] = {cid, id, change, merged ? survivor : NULL, req->note, req->handoff_id, change_time};
    if (!ltc_call_query(c, st, SQL_CUSTOMER_CHANGE_INSERT, 7, cp)) return -1;

    Ltc__Dtc__V1__AcceptCustomerChangedResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptCustomerChangedResponse, LTC__DTC__V1__ACCEPT_CUSTOMER_CHANGED_RESPONSE__INIT);
    resp->credit_account = ltc_call_printf(c, "creditAccounts/%s", merged ? survivor : id);
    *out = &resp->base;
    return 0;
}

/* --- AcceptOpportunityClosed -------------------------------------------------------------------------------------- */

/* IntakeService/AcceptOpportunityClosed: LTB lost an opportunity or superseded its admission: its live ADMISSION
 * reservation (if the policy made one) is released with reason OPPORTUNITY_LOST or ADMISSION_SUPERSEDED, under the
 * customer's lock. The response's released_amount is absent when nothing was reserved.
 * Errors: INVALID_ARGUMENT (every bad field named). */
int dtc_accept_opportunity_closed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__AcceptOpportunityClosedRequest *req = (const void *)m;
    char opp[LTC_UUID_LEN + 1], customer[LTC_UUID_LEN + 1];
    if (!ltc_uuid_valid(req->handoff_id)) ltc_status_bad_field(st, "handoff_id", "must be a UUID");
    ltc_name_parse(req->opportunity, "opportunities", "opportunity", opp, st);
    ltc_name_parse(req->customer, "customers", "customer", customer, st);
    const char *reason = strcmp(req->reason, "LOST") == 0                   ? "OPPORTUNITY_LOST"
                         : strcmp(req->reason, "ADMISSION_SUPERSEDED") == 0 ? "ADMISSION_SUPERSEDED"
                                                                            : NULL;
    if (!reason) ltc_status_bad_field(st, "reason", "must be LOST or ADMISSION_SUPERSEDED");
    if (st->code != LTC_OK) return -1;

    dtc_credit_locked acc;
    if (dtc_credit_account_lock(c, st, customer, NULL, DTC_LOCK_FOLLOW_MERGES, &acc) != 0) {
        if (st->code != LTC_NOT_FOUND) return -1;
        ltc_status_clear(st); /* DTC never heard of the customer: nothing was reserved for it */
    }
    const char *p[] = {ltc_call_printf(c, "opportunities/%s", opp), reason};
    PGresult *r = ltc_call_query(c, st, SQL_RESERVATION_CLOSE_OPP, 2, p);
    if (!r) return -1;
    Ltc__Dtc__V1__AcceptOpportunityClosedResponse *resp = LTC_NEW(
        c, Ltc__Dtc__V1__AcceptOpportunityClosedResponse, LTC__DTC__V1__ACCEPT_OPPORTUNITY_CLOSED_RESPONSE__INIT);
    int64_t sum = 0;
    for (int i = 0; i < PQntuples(r); i++) sum += ltc_pg_i64(r, i, 1);
    if (PQntuples(r) > 0) resp->released_amount = ltc_money_msg(c, ltc_pg_str(r, 0, 0), sum);
    *out = &resp->base;
    return 0;
}

/* --- OTD's order events: cancellations and returns (credit notes, creditnotes.c) ------------------------------- */

static const char SQL_CANCEL_LOCK[] =
    "SELECT contract_id::text, deal_id::text, state, greatest(accepted_minor, shipped_minor), "
    "(SELECT coalesce(sum(amount_minor), 0) FROM credit_notes n WHERE n.account_id = order_accounts.id "
    " AND n.kind = 'RETURN')::bigint, currency FROM order_accounts WHERE id = $1 FOR UPDATE";
static const char SQL_SIGNATURE_OF_ORDER[] =
    "SELECT 1 FROM contract_signatures WHERE order_id = $1 AND contract_id = $2 AND NOT advance_billed";
static const char SQL_ACCOUNT_ALLOCATIONS[] =
    "SELECT l.id::text, l.receipt_id::text FROM allocations l WHERE l.account_id = $1 AND l.state = 'ACTIVE' "
    "ORDER BY l.receipt_id, l.seq";
static const char SQL_RECEIPT_LOCK_ONLY[] = "SELECT 1 FROM receipts WHERE id = $1 FOR UPDATE";
static const char SQL_ACCOUNT_OPEN_SUM[] =
    "SELECT coalesce(sum(amount_minor - paid_minor - credited_minor - written_off_minor), 0)::bigint FROM invoices "
    "WHERE account_id = $1 AND state IN ('UNPAID', 'PARTLY_PAID')";
static const char SQL_ACCOUNT_CANCEL[] =
    "UPDATE order_accounts SET state = 'CANCELLED', cancel_time = coalesce(" LTC_SQL_TS_PARAM(
        "$2") ", now()), cancel_reason = $3, update_time = now() WHERE id = $1";

/* IntakeService/AcceptOrderCancelled: OTD cancelled an order. Nothing more is billed on it (its account is
 * CANCELLED: shipments and deliveries are refused ORDER_ACCOUNT_CLOSED), the payments applied to its invoices are
 * reversed (that cash is the customer's credit again, unapplied on its receipts: apply it elsewhere or refund it),
 * every invoice's open amount is credited by one CANCELLATION credit note, and the order leaves the customer's
 * exposure; an ORDER_CLOSED milestone goes to LTB. A second cancellation of the same order answers the same.
 * BTO sends it too, for a signed contract cancelled before its order was placed: an account opened at signature is
 * cancelled the same way (its advance credited); a signature that opened none answers at once with no account.
 * Errors: INVALID_ARGUMENT (every bad field named); NOT_FOUND ORDER_ACCOUNT_NOT_FOUND (the placement has not reached
 * DTC: the sender retries); FAILED_PRECONDITION ORDER_MISMATCH, ORDER_ACCOUNT_CLOSED (settled and closed already). */
int dtc_accept_order_cancelled(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__AcceptOrderCancelledRequest *req = (const void *)m;
    char order[LTC_UUID_LEN + 1], contract[LTC_UUID_LEN + 1], deal[LTC_UUID_LEN + 1];
    if (!ltc_uuid_valid(req->handoff_id)) ltc_status_bad_field(st, "handoff_id", "must be a UUID");
    ltc_name_parse(req->order, "orders", "order", order, st);
    ltc_name_parse(req->contract, "contracts", "contract", contract, st);
    ltc_name_parse(req->deal, "deals", "deal", deal, st);
    ltc_check_text(req->reason, "reason", 1, 1000, st);
    check_time(req->cancel_time, "cancel_time", st);
    ltc_check_text(req->cancelled_by, "cancelled_by", 0, 128, st);
    if (st->code != LTC_OK) return -1;

    char locked[LTC_UUID_LEN + 1];
    if (lock_order_customer(c, st, order, NULL, NULL, locked) != 0) return -1;
    PGresult *acc = ltc_call_query(c, st, SQL_CANCEL_LOCK, 1, (const char *[]){order});
    if (!acc) return -1;
    Ltc__Dtc__V1__AcceptOrderCancelledResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptOrderCancelledResponse, LTC__DTC__V1__ACCEPT_ORDER_CANCELLED_RESPONSE__INIT);
    if (PQntuples(acc) == 0) {
        /* a signed contract cancelled before its order, its advance not billed at signature: nothing to undo */
        PGresult *sg = ltc_call_query(c, st, SQL_SIGNATURE_OF_ORDER, 2, (const char *[]){order, contract});
        if (!sg) return -1;
        if (PQntuples(sg) > 0) {
            resp->account = "";
            *out = &resp->base;
            return 0;
        }
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_ACCOUNT_NOT_FOUND",
                              "order %s has no account yet (its placement has not reached DTC)", order);
    }
    if (strcmp(ltc_pg_str(acc, 0, 0), contract) != 0 || strcmp(ltc_pg_str(acc, 0, 1), deal) != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_MISMATCH",
                              "the contract or deal of cancelled order %s differs from its account's", order);
    resp->account = ltc_call_printf(c, "orderAccounts/%s", order);
    const char *state = ltc_pg_str(acc, 0, 2);
    if (strcmp(state, "CANCELLED") == 0) {
        *out = &resp->base;
        return 0;
    }
    if (strcmp(state, "OPEN") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_ACCOUNT_CLOSED",
                              "order account %s is %s: nothing to cancel", order, state);
    const char *why = ltc_call_printf(c, "order cancelled: %s", req->reason);
    if (strlen(why) > 500) why = "order cancelled";
    PGresult *al = ltc_call_query(c, st, SQL_ACCOUNT_ALLOCATIONS, 1, (const char *[]){order});
    if (!al) return -1;
    for (int i = 0; i < PQntuples(al); i++) { /* receipts in id order, then their allocations */
        if (!ltc_call_query(c, st, SQL_RECEIPT_LOCK_ONLY, 1, (const char *[]){ltc_pg_str(al, i, 1)})) return -1;
        if (dtc_reverse_locked(c, st, ltc_pg_str(al, i, 0), why, dtc_date_of(c, req->cancel_time), "dtc") != 0)
            return -1;
    }
    PGresult *open = ltc_call_query(c, st, SQL_ACCOUNT_OPEN_SUM, 1, (const char *[]){order});
    if (!open) return -1;
    if (ltc_pg_i64(open, 0, 0) > 0) {
        dtc_credit_in in = {.account = order,
                            .kind = "CANCELLATION",
                            .amount = ltc_pg_i64(open, 0, 0),
                            .reason = req->reason,
                            .source = ltc_call_printf(c, "orders/%s", order),
                            .handoff_id = req->handoff_id,
                            .date = dtc_date_of(c, req->cancel_time)};
        char nid[LTC_UUID_LEN + 1];
        if (dtc_issue_credit(c, st, &in, nid) != 0) return -1;
    }
    const char *cancel_time =
        req->cancel_time ? ltc_sql_i64(c, req->cancel_time->seconds * 1000000 + req->cancel_time->nanos / 1000) : NULL;
    if (!ltc_call_query(c, st, SQL_ACCOUNT_CANCEL, 3, (const char *[]){order, cancel_time, req->reason})) return -1;
    ltc_milestone ms = {.deal_id = deal,
                        .stage = LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_DTC,
                        .kind = LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_ORDER_CLOSED,
                        .record = ltc_call_printf(c, "orders/%s", order),
                        .actor = "dtc",
                        .detail = ltc_call_printf(c, "cancelled: %s", req->reason)};
    if (ltc_milestone_put(c, st, &ms) != 0) return -1;
    if (reevaluate(c, st, locked, ltc_call_printf(c, "orders/%s cancelled", order)) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* IntakeService/AcceptReturn: goods of an accepted shipment came back. A RETURN credit note of their value credits
 * the open amounts of the shipment's invoices first, then the order's newest; what was paid already becomes customer
 * credit (creditnotes.c). An RMA is credited once; the returns of an order add up to at most what was delivered.
 * Errors: INVALID_ARGUMENT (every bad field named); NOT_FOUND ORDER_ACCOUNT_NOT_FOUND; FAILED_PRECONDITION
 * ORDER_MISMATCH (deal or currency), ORDER_ACCOUNT_CLOSED (cancelled), RETURN_EXCEEDS_DELIVERED; ALREADY_EXISTS
 * ALREADY_CREDITED (the RMA under another hand-off id). */
int dtc_accept_return(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__AcceptReturnRequest *req = (const void *)m;
    char rma[LTC_UUID_LEN + 1], order[LTC_UUID_LEN + 1], shipment[LTC_UUID_LEN + 1], deal[LTC_UUID_LEN + 1];
    char customer[LTC_UUID_LEN + 1];
    ltc_money amount = {{0}, 0};
    if (!ltc_uuid_valid(req->handoff_id)) ltc_status_bad_field(st, "handoff_id", "must be a UUID");
    ltc_name_parse(req->rma, "returns", "rma", rma, st);
    ltc_name_parse(req->order, "orders", "order", order, st);
    ltc_name_parse(req->shipment, "shipments", "shipment", shipment, st);
    ltc_name_parse(req->deal, "deals", "deal", deal, st);
    if (req->n_lines == 0) ltc_status_bad_field(st, "lines", "at least one");
    for (size_t i = 0; i < req->n_lines; i++)
        if (!req->lines[i] || req->lines[i]->quantity <= 0)
            ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu].quantity", i), "must be positive");
    if (ltc_money_from_proto(req->amount, "amount", 0, &amount, st) == 0 && amount.minor <= 0)
        ltc_status_bad_field(st, "amount", "must be positive");
    ltc_check_text(req->reason, "reason", 1, 1000, st);
    check_time(req->receive_time, "receive_time", st);
    check_snapshot(req->customer, "customer", 0, customer, c, st);
    if (st->code != LTC_OK) return -1;

    char locked[LTC_UUID_LEN + 1];
    if (lock_order_customer(c, st, order, customer, req->customer, locked) != 0) return -1;
    PGresult *acc = ltc_call_query(c, st, SQL_CANCEL_LOCK, 1, (const char *[]){order});
    if (!acc) return -1;
    if (PQntuples(acc) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_ACCOUNT_NOT_FOUND", "order %s has no account", order);
    if (strcmp(ltc_pg_str(acc, 0, 1), deal) != 0 || strcmp(ltc_pg_str(acc, 0, 5), amount.currency) != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_MISMATCH",
                              "the deal or currency of return %s differs from order %s's", rma, order);
    if (strcmp(ltc_pg_str(acc, 0, 2), "CANCELLED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_ACCOUNT_CLOSED", "order %s was cancelled", order);
    int64_t returned;
    if (ltc_i64_add(ltc_pg_i64(acc, 0, 4), amount.minor, &returned) != 0 || returned > ltc_pg_i64(acc, 0, 3))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "RETURN_EXCEEDS_DELIVERED",
                              "returns of %lld would exceed the %lld delivered on order %s",
                              (long long)(ltc_pg_i64(acc, 0, 4) + amount.minor), (long long)ltc_pg_i64(acc, 0, 3),
                              order);
    dtc_credit_in in = {.account = order,
                        .kind = "RETURN",
                        .amount = amount.minor,
                        .first_shipment = shipment,
                        .reason = req->reason,
                        .source = ltc_call_printf(c, "returns/%s", rma),
                        .handoff_id = req->handoff_id,
                        .date = dtc_date_of(c, req->receive_time)};
    char nid[LTC_UUID_LEN + 1];
    if (dtc_issue_credit(c, st, &in, nid) != 0) return -1;
    if (reevaluate(c, st, locked, ltc_call_printf(c, "creditNotes/%s", nid)) != 0) return -1;
    Ltc__Dtc__V1__AcceptReturnResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptReturnResponse, LTC__DTC__V1__ACCEPT_RETURN_RESPONSE__INIT);
    resp->credit_note = ltc_call_printf(c, "creditNotes/%s", nid);
    *out = &resp->base;
    return 0;
}

/* IntakeService/AcceptShipment: OTD reports a shipment as it leaves. Adds its value to the order account's shipped
 * value and raises what the ON_DELIVERY terms have now earned (dtc_bill_account), dated the ship date; the order
 * must have been placed (its account exists). A shipment is recorded once.
 * Errors: INVALID_ARGUMENT (every bad field named); NOT_FOUND ORDER_ACCOUNT_NOT_FOUND (the placement has not arrived:
 * the sender retries); FAILED_PRECONDITION ORDER_MISMATCH (contract, deal or currency differ), ORDER_ACCOUNT_CLOSED,
 * OVER_SHIPMENT (more than the order total shipped); ALREADY_EXISTS SHIPMENT_ALREADY_RECORDED (another hand-off). */
int dtc_accept_shipment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__AcceptShipmentRequest *req = (const void *)m;
    char shipment[LTC_UUID_LEN + 1], order[LTC_UUID_LEN + 1], contract[LTC_UUID_LEN + 1], deal[LTC_UUID_LEN + 1];
    char customer[LTC_UUID_LEN + 1];
    ltc_money amount = {{0}, 0};
    if (!ltc_uuid_valid(req->handoff_id)) ltc_status_bad_field(st, "handoff_id", "must be a UUID");
    ltc_name_parse(req->shipment, "shipments", "shipment", shipment, st);
    ltc_name_parse(req->order, "orders", "order", order, st);
    ltc_name_parse(req->contract, "contracts", "contract", contract, st);
    ltc_name_parse(req->deal, "deals", "deal", deal, st);
    if (req->n_lines == 0) ltc_status_bad_field(st, "lines", "at least one");
    for (size_t i = 0; i < req->n_lines; i++)
        if (!req->lines[i] || req->lines[i]->quantity <= 0)
            ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu].quantity", i), "must be positive");
    ltc_money_from_proto(req->amount, "amount", 0, &amount, st);
    check_time(req->ship_time, "ship_time", st);
    check_snapshot(req->customer, "customer", 0, customer, c, st);
    if (st->code != LTC_OK) return -1;

    char locked[LTC_UUID_LEN + 1];
    if (lock_order_customer(c, st, order, customer, req->customer, locked) != 0) return -1;
    const char *op[] = {order};
    PGresult *acc = ltc_call_query(c, st, SQL_ACCOUNT_SHIP, 1, op);
    if (!acc) return -1;
    if (PQntuples(acc) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_ACCOUNT_NOT_FOUND",
                              "order %s has no account yet (its placement has not reached DTC)", order);
    const char *what = strcmp(ltc_pg_str(acc, 0, 0), contract) != 0     ? "contract"
                       : strcmp(ltc_pg_str(acc, 0, 1), deal) != 0       ? "deal"
                       : strcmp(ltc_pg_str(acc, 0, 2), amount.currency) ? "amount currency"
                                                                        : NULL;
    if (what)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_MISMATCH",
                              "the %s of shipment %s differs from order %s's", what, shipment, order);
    const char *sp[] = {shipment};
    PGresult *f = ltc_call_query(c, st, SQL_SHIPMENT_FIND, 1, sp);
    if (!f) return -1;
    if (PQntuples(f) > 0)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "SHIPMENT_ALREADY_RECORDED",
                              "shipment %s was already reported for order %s", shipment, ltc_pg_str(f, 0, 0));
    if (strcmp(ltc_pg_str(acc, 0, 5), "OPEN") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_ACCOUNT_CLOSED", "order account %s is %s", order,
                              ltc_pg_str(acc, 0, 5));
    int64_t total = ltc_pg_i64(acc, 0, 3), shipped_cum;
    if (ltc_i64_add(ltc_pg_i64(acc, 0, 4), amount.minor, &shipped_cum) != 0 || shipped_cum > total)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OVER_SHIPMENT",
                              "shipping %lld more on order %s would exceed its total %lld (shipped so far %lld)",
                              (long long)amount.minor, order, (long long)total, (long long)ltc_pg_i64(acc, 0, 4));

    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *date = dtc_date_of(c, req->ship_time);
    const char *ip[] = {id,
                        order,
                        shipment,
                        req->handoff_id,
                        amount.currency,
                        ltc_sql_i64(c, amount.minor),
                        req->order_fully_shipped ? "true" : "false",
                        date};
    if (!ltc_call_query(c, st, SQL_SHIPMENT_INSERT, 8, ip)) return -1;
    const char *up[] = {order, ltc_sql_i64(c, shipped_cum), req->order_fully_shipped ? "true" : "false"};
    if (!ltc_call_query(c, st, SQL_ACCOUNT_SHIPPED, 3, up)) return -1;
    dtc_invoice_list raised = {0};
    if (dtc_bill_account(c, st, order, "SHIPMENT", shipment, date, &raised) != 0) return -1;
    if (reevaluate(c, st, locked, NULL) != 0) return -1;

    Ltc__Dtc__V1__AcceptShipmentResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptShipmentResponse, LTC__DTC__V1__ACCEPT_SHIPMENT_RESPONSE__INIT);
    resp->invoices = ltc_call_alloc(c, sizeof(char *) * DTC_MAX_TERMS);
    for (int i = 0; i < raised.n; i++)
        resp->invoices[resp->n_invoices++] = ltc_call_printf(c, "invoices/%s", raised.ids[i]);
    *out = &resp->base;
    return 0;
}

/* --- AcceptContractSigned ----------------------------------------------------------------------------------------- */

static const char SQL_SIGNATURE_OF[] = "SELECT handoff_id::text FROM contract_signatures WHERE contract_id = $1";
static const char SQL_SIGNATURE_INSERT[] =
    "INSERT INTO contract_signatures (contract_id, order_id, deal_id, handoff_id, advance_billed, sign_time) "
    "VALUES ($1, $2, $3, $4, $5::boolean, coalesce(" LTC_SQL_TS_PARAM("$6") ", now()))";

/* IntakeService/AcceptContractSigned: BTO's customer signed a contract. Under the billing policy
 * AT_CONTRACT_SIGNATURE, when the contract has an ADVANCE term and a customer, the account of its order to be is
 * opened now (not placed: AcceptOrderPlaced later finds it, checks the same facts and marks it placed) and the
 * ADVANCE terms are invoiced, dated the signature; the placement then finds them billed (dtc_bill_terms bills each
 * term up to its total once). Otherwise the signature is only recorded. Lock order: the credit account, then the
 * order account. Errors: INVALID_ARGUMENT (every bad field named); ALREADY_EXISTS CONTRACT_ALREADY_SIGNED (the
 * contract came under another hand-off id). */
int dtc_accept_contract_signed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__AcceptContractSignedRequest *req = (const void *)m;
    char order[LTC_UUID_LEN + 1], contract[LTC_UUID_LEN + 1], deal[LTC_UUID_LEN + 1], customer[LTC_UUID_LEN + 1];
    ltc_money total = {{0}, 0};
    int32_t bps[DTC_MAX_TERMS] = {0};
    int has_advance = 0;
    if (!ltc_uuid_valid(req->handoff_id)) ltc_status_bad_field(st, "handoff_id", "must be a UUID");
    ltc_name_parse(req->contract, "contracts", "contract", contract, st);
    ltc_name_parse(req->order, "orders", "order", order, st);
    ltc_name_parse(req->deal, "deals", "deal", deal, st);
    check_snapshot(req->customer, "customer", 0, customer, c, st);
    ltc_check_triangle(req->iron_triangle, "iron_triangle", 1, st);
    ltc_money_from_proto(req->contract_total, "contract_total", 0, &total, st);
    if (ltc_check_payment_terms(c, req->payment_terms, req->n_payment_terms, "payment_terms", DTC_MAX_TERMS, st) == 0)
        for (size_t i = 0; i < req->n_payment_terms; i++) {
            bps[i] = req->payment_terms[i]->share_bps;
            if (req->payment_terms[i]->kind == LTC__TYPE__V1__PAYMENT_TERM_KIND__PAYMENT_TERM_KIND_ADVANCE)
                has_advance = 1;
        }
    check_time(req->sign_time, "sign_time", st);
    if (st->code != LTC_OK) return -1;

    PGresult *prev = ltc_call_query(c, st, SQL_SIGNATURE_OF, 1, (const char *[]){contract});
    if (!prev) return -1;
    if (PQntuples(prev) > 0)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "CONTRACT_ALREADY_SIGNED",
                              "contract %s was signed by hand-off %s", contract, ltc_pg_str(prev, 0, 0));
    const char *policy = dtc_advance_billing(c, st);
    if (!policy) return -1;
    Ltc__Dtc__V1__AcceptContractSignedResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptContractSignedResponse, LTC__DTC__V1__ACCEPT_CONTRACT_SIGNED_RESPONSE__INIT);
    int billed = 0;
    if (strcmp(policy, "AT_CONTRACT_SIGNATURE") == 0 && has_advance && customer[0]) {
        char locked[LTC_UUID_LEN + 1];
        if (lock_order_customer(c, st, order, customer, req->customer, locked) != 0) return -1;
        order_facts f = {.order = order,
                         .contract = contract,
                         .deal = deal,
                         .customer_name = req->customer->legal_name,
                         .triangle = req->iron_triangle,
                         .total = total,
                         .terms = req->payment_terms,
                         .n_terms = req->n_payment_terms,
                         .bps = bps,
                         .customer = locked,
                         .snap = req->customer,
                         .signed_handoff = req->handoff_id};
        int created;
        if (create_account_if_new(c, st, &f, &created) != 0) return -1;
        if (created) { /* (an account that exists already was placed: its advance was billed then) */
            PGresult *acc = ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 1, (const char *[]){order});
            if (!acc) return -1;
            dtc_invoice_list raised = {0};
            if (dtc_bill_account(c, st, order, "CONTRACT_SIGNED", NULL, dtc_date_of(c, req->sign_time), &raised) != 0)
                return -1;
            resp->invoices = ltc_call_alloc(c, sizeof(char *) * DTC_MAX_TERMS);
            for (int i = 0; i < raised.n; i++)
                resp->invoices[resp->n_invoices++] = ltc_call_printf(c, "invoices/%s", raised.ids[i]);
            if (reevaluate(c, st, locked, ltc_call_printf(c, "contracts/%s signed", contract)) != 0) return -1;
            billed = 1;
        }
    }
    const char *sign_time =
        req->sign_time ? ltc_sql_i64(c, req->sign_time->seconds * 1000000 + req->sign_time->nanos / 1000) : NULL;
    const char *sp[] = {contract, order, deal, req->handoff_id, billed ? "true" : "false", sign_time};
    if (!ltc_call_query(c, st, SQL_SIGNATURE_INSERT, 6, sp)) return -1;
    *out = &resp->base;
    return 0;
}
