/* orders.c - orders in OTD (received from BTO by IntakeService/AcceptOrder, intake.c): the order loader, reading
 * and listing orders, the order review (订单评审) and the release to production (after DTC's credit check, credit.c). */
#include <stdio.h>
#include <string.h>

#include "ltc/money.h"
#include "ltc/proto.h"
#include "otd.h"

/* --- SQL ------------------------------------------------------------------------------------------------- */

#define ORDER_COLUMNS                                                                                                                                                              \
    "id, contract_id, deal_id, customer_name, account_owner, solution_owner, fulfilment_owner, total_minor, "                                                                      \
    "currency, " LTC_SQL_DATE("requested_delivery_date") ", " LTC_SQL_DATE(                                                                                                        \
        "promise_date") ", late, "                                                                                                                                                 \
                        "state, hold_reason, " LTC_SQL_MICROS("create_time") ", " LTC_SQL_MICROS("update_time") ", seq, credit_hold_reasons, credit_decision_id, " LTC_SQL_MICROS( \
                            "credit_check_time") ", " OTD_CUSTOMER_COLS("")
enum {
    OC_ID,
    OC_CONTRACT,
    OC_DEAL,
    OC_CUSTOMER,
    OC_AR,
    OC_SR,
    OC_FR,
    OC_TOTAL,
    OC_CURRENCY,
    OC_REQUESTED,
    OC_PROMISE,
    OC_LATE,
    OC_STATE,
    OC_HOLD,
    OC_CREATE,
    OC_UPDATE,
    OC_SEQ,
    OC_HOLD_REASONS,
    OC_DECISION,
    OC_CHECK_TIME,
    OC_CUSTOMER_ID /* then the rest of OTD_CUSTOMER_COLS */
};

static const char SQL_ORDER_GET[] = "SELECT " ORDER_COLUMNS " FROM orders WHERE id = $1";
/* $4, a customer, resolves through the merges OTD was told of (customer_changes) to its survivor. */
static const char SQL_ORDER_LIST[] =
    "WITH RECURSIVE m(id, depth) AS (SELECT $4::uuid, 0 UNION ALL SELECT x.survivor_id, m.depth + 1 FROM m "
    "CROSS JOIN LATERAL (SELECT survivor_id FROM customer_changes WHERE customer_id = m.id AND change = 'MERGED' "
    "ORDER BY seq DESC LIMIT 1) x WHERE m.depth < 16) "
    "SELECT " ORDER_COLUMNS " FROM orders WHERE ($1::bigint = 0 OR seq < $1) "
    "AND ($3::text IS NULL OR $3 IN (account_owner, solution_owner, fulfilment_owner)) " /* deal scope */
    "AND ($4::uuid IS NULL OR customer_id = (SELECT id FROM m ORDER BY depth DESC LIMIT 1)) AND ($5::text IS NULL OR state = $5) "
    "ORDER BY seq DESC LIMIT $2";
/* The reasons of a CREDIT_HOLD order, one per row, in their stored order. */
static const char SQL_HOLD_REASONS_OF[] =
    "SELECT o.id, r.reason FROM orders o CROSS JOIN LATERAL unnest(o.credit_hold_reasons) WITH ORDINALITY AS r(reason, n) "
    "WHERE o.id = ANY($1::uuid[]) ORDER BY o.id, r.n";
/* What ReleaseOrder asks DTC about, read before the question (no lock held across it). */
static const char SQL_ORDER_FOR_CREDIT[] =
    "SELECT state, deal_id, total_minor, currency, " OTD_CUSTOMER_COLS("") " FROM orders WHERE id = $1";
static const char SQL_ORDER_CREDIT_RESULT[] =
    "UPDATE orders SET state = $2, credit_hold_reasons = $3::text[], credit_decision_id = $4, "
    "credit_check_time = now(), update_time = now() WHERE id = $1";
static const char SQL_LINES_OF[] =
    "SELECT order_id, product_id, sku, quantity, unit_price_minor, currency, shipped_quantity, accepted_quantity "
    "FROM order_lines WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, line_no";
static const char SQL_TERMS_OF[] =
    "SELECT order_id, kind, share_bps, due_days FROM order_payment_terms WHERE order_id = ANY($1::uuid[]) "
    "ORDER BY order_id, position";
static const char SQL_ORDER_LOCK[] = "SELECT state FROM orders WHERE id = $1 FOR UPDATE";
static const char SQL_ORDER_SET_STATE[] = "UPDATE orders SET state = $2, update_time = now() WHERE id = $1";
static const char SQL_REVIEW_INSERT[] =
    "INSERT INTO reviews (id, order_id, approved, comment) VALUES ($1, $2, $3::boolean, $4)";
static const char SQL_ORDER_HOLD[] =
    "UPDATE orders SET state = 'ON_HOLD', hold_reason = $2, update_time = now() WHERE id = $1";

/* --- loading orders -------------------------------------------------------------------------------------- */

/* One Order message from row `row` of an ORDER_COLUMNS result, without lines and terms. */
static Ltc__Otd__V1__Order *order_from_row(ltc_call *c, const PGresult *r, int row) {
    Ltc__Otd__V1__Order *o = LTC_NEW(c, Ltc__Otd__V1__Order, LTC__OTD__V1__ORDER__INIT);
    o->name = ltc_call_printf(c, "orders/%s", ltc_pg_str(r, row, OC_ID));
    o->contract = ltc_call_printf(c, "contracts/%s", ltc_pg_str(r, row, OC_CONTRACT));
    o->deal = ltc_call_printf(c, "deals/%s", ltc_pg_str(r, row, OC_DEAL));
    o->customer_name = ltc_call_strdup(c, ltc_pg_str(r, row, OC_CUSTOMER));
    o->iron_triangle = ltc_triangle_from_pg(c, r, row, OC_AR);
    o->total = ltc_money_msg(c, ltc_pg_str(r, row, OC_CURRENCY), ltc_pg_i64(r, row, OC_TOTAL));
    o->requested_delivery_date = ltc_date_from_pg(c, r, row, OC_REQUESTED);
    o->promise_date = ltc_date_from_pg(c, r, row, OC_PROMISE);
    o->late = ltc_pg_bool(r, row, OC_LATE);
    o->state = (Ltc__Otd__V1__OrderState)ltc_enum_from_db(&ltc__otd__v1__order_state__descriptor, "ORDER_STATE_",
                                                          ltc_pg_str(r, row, OC_STATE));
    o->hold_reason = ltc_call_strdup(c, ltc_pg_str(r, row, OC_HOLD));
    o->create_time = ltc_ts_from_pg(c, r, row, OC_CREATE);
    o->update_time = ltc_ts_from_pg(c, r, row, OC_UPDATE);
    o->credit_decision = PQgetisnull(r, row, OC_DECISION)
                             ? ltc_call_strdup(c, "")
                             : ltc_call_printf(c, "creditDecisions/%s", ltc_pg_str(r, row, OC_DECISION));
    o->credit_check_time = ltc_ts_from_pg(c, r, row, OC_CHECK_TIME);
    o->customer = ltc_customer_from_pg(c, r, row, OC_CUSTOMER_ID);
    return o;
}

/* Index of the order whose id is `id` among ids[0..n), or -1. */
static int find_id(const char *const *ids, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0) return (int)i;
    return -1;
}

/* Rows [from, to) of r hold lines of one order: the index range of the group starting at `from`. */
static int group_end(const PGresult *r, int from) {
    int n = PQntuples(r), to = from + 1;
    while (to < n && strcmp(ltc_pg_str(r, to, 0), ltc_pg_str(r, from, 0)) == 0) to++;
    return to;
}

static void attach_lines(ltc_call *c, const PGresult *r, Ltc__Otd__V1__Order **orders, const char *const *ids,
                         size_t n) {
    for (int g = 0, end; g < PQntuples(r); g = end) {
        end = group_end(r, g);
        int k = find_id(ids, n, ltc_pg_str(r, g, 0));
        if (k < 0) continue;
        Ltc__Otd__V1__Order *o = orders[k];
        o->n_lines = (size_t)(end - g);
        o->lines = ltc_call_alloc(c, o->n_lines * sizeof *o->lines);
        for (int row = g; row < end; row++) {
            Ltc__Otd__V1__OrderLine *l = LTC_NEW(c, Ltc__Otd__V1__OrderLine, LTC__OTD__V1__ORDER_LINE__INIT);
            l->product = ltc_call_printf(c, "products/%s", ltc_pg_str(r, row, 1));
            l->sku = ltc_call_strdup(c, ltc_pg_str(r, row, 2));
            l->quantity = ltc_pg_i64(r, row, 3);
            l->unit_price = ltc_money_msg(c, ltc_pg_str(r, row, 5), ltc_pg_i64(r, row, 4));
            l->shipped_quantity = ltc_pg_i64(r, row, 6);
            l->accepted_quantity = ltc_pg_i64(r, row, 7);
            o->lines[row - g] = l;
        }
    }
}

static void attach_terms(ltc_call *c, const PGresult *r, Ltc__Otd__V1__Order **orders, const char *const *ids,
                         size_t n) {
    for (int g = 0, end; g < PQntuples(r); g = end) {
        end = group_end(r, g);
        int k = find_id(ids, n, ltc_pg_str(r, g, 0));
        if (k < 0) continue;
        Ltc__Otd__V1__Order *o = orders[k];
        o->n_payment_terms = (size_t)(end - g);
        o->payment_terms = ltc_terms_from_pg(c, r, g, end - g, 1);
    }
}

static void attach_hold_reasons(ltc_call *c, const PGresult *r, Ltc__Otd__V1__Order **orders, const char *const *ids,
                                size_t n) {
    for (int g = 0, end; g < PQntuples(r); g = end) {
        end = group_end(r, g);
        int k = find_id(ids, n, ltc_pg_str(r, g, 0));
        if (k < 0) continue;
        Ltc__Otd__V1__Order *o = orders[k];
        o->n_credit_hold_reasons = (size_t)(end - g);
        o->credit_hold_reasons = ltc_call_alloc(c, o->n_credit_hold_reasons * sizeof *o->credit_hold_reasons);
        for (int row = g; row < end; row++) o->credit_hold_reasons[row - g] = ltc_call_strdup(c, ltc_pg_str(r, row, 1));
    }
}

/* Builds the orders of rows [0, n) of an ORDER_COLUMNS result, with their lines and terms (two queries). */
static int orders_from_rows(ltc_call *c, ltc_status *st, const PGresult *r, int n, Ltc__Otd__V1__Order **out) {
    if (n <= 0) return 0;
    const char **ids = ltc_call_alloc(c, (size_t)n * sizeof *ids);
    for (int i = 0; i < n; i++) {
        out[i] = order_from_row(c, r, i);
        ids[i] = ltc_pg_str(r, i, OC_ID);
    }
    const char *params[1] = {ltc_sql_text_array(c, ids, (size_t)n)};
    PGresult *lines = ltc_call_query(c, st, SQL_LINES_OF, 1, params);
    if (!lines) return -1;
    PGresult *terms = ltc_call_query(c, st, SQL_TERMS_OF, 1, params);
    if (!terms) return -1;
    attach_lines(c, lines, out, ids, (size_t)n);
    attach_terms(c, terms, out, ids, (size_t)n);
    int held = 0;
    for (int i = 0; i < n; i++) held |= strcmp(ltc_pg_str(r, i, OC_HOLD_REASONS), "{}") != 0;
    if (held) {
        PGresult *reasons = ltc_call_query(c, st, SQL_HOLD_REASONS_OF, 1, params);
        if (!reasons) return -1;
        attach_hold_reasons(c, reasons, out, ids, (size_t)n);
    }
    return 0;
}

int otd_load_order(ltc_call *c, ltc_status *st, const char *id, Ltc__Otd__V1__Order **out) {
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_GET, 1, params);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order %s not found", id);
    return orders_from_rows(c, st, r, 1, out);
}

int otd_order_lock(ltc_call *c, ltc_status *st, const char *id, const char **state) {
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_LOCK, 1, params);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order %s not found", id);
    *state = ltc_call_strdup(c, ltc_pg_str(r, 0, 0));
    return 0;
}

int otd_order_set_state(ltc_call *c, ltc_status *st, const char *id, const char *state) {
    const char *params[2] = {id, state};
    return ltc_call_query(c, st, SQL_ORDER_SET_STATE, 2, params) ? 0 : -1;
}

/* --- GetOrder / ListOrders ------------------------------------------------------------------------------- */

/* GetOrder: one order with its lines (shipped and accepted quantities), promise date and late flag.
 * Errors: INVALID_ARGUMENT "name", NOT_FOUND "ORDER_NOT_FOUND". */
int otd_get_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__GetOrderRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "orders", "name", id, st) != 0) return -1;
    Ltc__Otd__V1__GetOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__GetOrderResponse, LTC__OTD__V1__GET_ORDER_RESPONSE__INIT);
    if (otd_load_order(c, st, id, &resp->order) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ListOrders: orders newest first, paginated, optionally only those of one customer (OTD moves a merged
 * customer's orders to the survivor, and a merged customer's name resolves to its survivor) and in one state (e.g. ORDER_STATE_CREDIT_HOLD).
 * Errors: INVALID_ARGUMENT "page_size" / "page_token" / "customer" / "state". */
int otd_list_orders(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__ListOrdersRequest *req = (const void *)m;
    int limit = 0;
    int64_t after = 0;
    char cust[LTC_UUID_LEN + 1] = "";
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (req->customer && *req->customer) ltc_name_parse(req->customer, "customers", "customer", cust, st);
    const char *state = NULL;
    if (req->state != 0) {
        state = ltc_enum_to_db(&ltc__otd__v1__order_state__descriptor, "ORDER_STATE_", (int)req->state);
        if (!state) ltc_status_bad_field(st, "state", "unknown order state %d", (int)req->state);
    }
    if (st->code != LTC_OK) return -1;
    const char *p[5] = {ltc_sql_i64(c, after), ltc_sql_i64(c, limit), ltc_call_deal_scope(c), cust[0] ? cust : NULL,
                        state};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_LIST, 5, p);
    if (!r) return -1;
    int n = PQntuples(r), more = n >= limit;
    if (more) n = limit - 1;
    Ltc__Otd__V1__ListOrdersResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__ListOrdersResponse, LTC__OTD__V1__LIST_ORDERS_RESPONSE__INIT);
    resp->orders = ltc_call_alloc(c, (size_t)(n > 0 ? n : 1) * sizeof *resp->orders);
    if (orders_from_rows(c, st, r, n, resp->orders) != 0) return -1;
    resp->n_orders = (size_t)n;
    if (more && n > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, n - 1, OC_SEQ));
    *out = &resp->base;
    return 0;
}

/* --- ReviewOrder / ReleaseOrder -------------------------------------------------------------------------- */

/* ReviewOrder: records the review of a RECEIVED order; approved -> REVIEWED, refused -> ON_HOLD with the comment
 * as hold reason. Errors: INVALID_ARGUMENT "name" / "comment" (required when refused, up to 500 characters),
 * NOT_FOUND "ORDER_NOT_FOUND", FAILED_PRECONDITION "ORDER_NOT_RECEIVED". */
int otd_review_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__ReviewOrderRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "orders", "name", id, st);
    ltc_check_text(req->comment, "comment", !req->approved, 500, st);
    if (st->code != LTC_OK) return -1;

    const char *state = "";
    if (otd_order_lock(c, st, id, &state) != 0) return -1;
    if (strcmp(state, "RECEIVED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_NOT_RECEIVED",
                              "order %s is %s, only a RECEIVED order can be reviewed", id, state);
    char review_id[LTC_UUID_LEN + 1];
    ltc_uuid_new(review_id);
    const char *rp[4] = {review_id, id, req->approved ? "true" : "false", req->comment};
    if (!ltc_call_query(c, st, SQL_REVIEW_INSERT, 4, rp)) return -1;
    if (req->approved) {
        if (otd_order_set_state(c, st, id, "REVIEWED") != 0) return -1;
    } else {
        const char *hp[2] = {id, req->comment};
        if (!ltc_call_query(c, st, SQL_ORDER_HOLD, 2, hp)) return -1;
    }
    Ltc__Otd__V1__ReviewOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__ReviewOrderResponse, LTC__OTD__V1__REVIEW_ORDER_RESPONSE__INIT);
    if (otd_load_order(c, st, id, &resp->order) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ReleaseOrder: a REVIEWED or CREDIT_HOLD order is released once DTC approves its credit. DTC is asked first, before
 * the order is locked (CheckCredit, stage RELEASE, reference the order, amount its total: DTC leaves the order's own
 * account out of the exposure and counts its total less what is paid); then the order is locked and its state
 * checked again, the answer is recorded in credit_checks, and the order becomes RELEASED (APPROVED) or CREDIT_HOLD
 * with the reasons (REFUSED, or CREDIT_SERVICE_UNAVAILABLE when DTC did not answer: fail closed). Both are OK
 * answers; a later ReleaseOrder asks again. Errors: INVALID_ARGUMENT "name", NOT_FOUND "ORDER_NOT_FOUND",
 * FAILED_PRECONDITION "ORDER_NOT_REVIEWED" (neither REVIEWED nor CREDIT_HOLD). */
int otd_release_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__ReleaseOrderRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "orders", "name", id, st) != 0) return -1;
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_FOR_CREDIT, 1, params);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order %s not found", id);
    const char *state = ltc_pg_str(r, 0, 0);
    if (strcmp(state, "REVIEWED") != 0 && strcmp(state, "CREDIT_HOLD") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_NOT_REVIEWED",
                              "order %s is %s, only a REVIEWED or CREDIT_HOLD order can be released", id, state);
    otd_credit_answer credit;
    otd_credit_check(c, LTC__DTC__V1__CREDIT_STAGE__CREDIT_STAGE_RELEASE, ltc_customer_from_pg(c, r, 0, 4), id,
                     ltc_pg_str(r, 0, 1), ltc_pg_str(r, 0, 3), ltc_pg_i64(r, 0, 2), &credit);

    if (otd_order_lock(c, st, id, &state) != 0) return -1;
    if (strcmp(state, "REVIEWED") != 0 && strcmp(state, "CREDIT_HOLD") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_NOT_REVIEWED",
                              "order %s is %s, only a REVIEWED or CREDIT_HOLD order can be released", id, state);
    if (otd_credit_record(c, st, id, "RELEASE", &credit) != 0) return -1;
    int approved = credit.outcome == OTD_CREDIT_APPROVED;
    const char *up[4] = {id, otd_credit_release_state(&credit),
                         ltc_sql_text_array(c, approved ? NULL : credit.reasons, approved ? 0 : credit.n_reasons),
                         credit.decision_id[0] ? credit.decision_id : NULL};
    if (!ltc_call_query(c, st, SQL_ORDER_CREDIT_RESULT, 4, up)) return -1;
    Ltc__Otd__V1__ReleaseOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__ReleaseOrderResponse, LTC__OTD__V1__RELEASE_ORDER_RESPONSE__INIT);
    if (otd_load_order(c, st, id, &resp->order) != 0) return -1;
    *out = &resp->base;
    return 0;
}
