/* orders.c - orders in OTD (received from BTO by IntakeService/AcceptOrder, intake.c): the order loader, reading
 * and listing orders, the order review (订单评审) and the release to production (after DTC's credit check, credit.c). */
#include <stdio.h>
#include <string.h>

#include "ltc/access.h"
#include "ltc/audit.h"
#include "ltc/type/v1/milestone.pb-c.h"
#include "ltc/money.h"
#include "ltc/proto.h"
#include "otd.h"

/* --- SQL ------------------------------------------------------------------------------------------------- */

#define ORDER_COLUMNS                                                                                                                                                              \
    "id, contract_id, deal_id, customer_name, account_owner, solution_owner, fulfilment_owner, total_minor, "                                                                      \
    "currency, " LTC_SQL_DATE("requested_delivery_date") ", " LTC_SQL_DATE(                                                                                                        \
        "promise_date") ", late, "                                                                                                                                                 \
                        "state, hold_reason, " LTC_SQL_MICROS("create_time") ", " LTC_SQL_MICROS("update_time") ", seq, credit_hold_reasons, credit_decision_id, " LTC_SQL_MICROS( \
                            "credit_check_time") ", priority, cancel_reason, " LTC_SQL_MICROS("cancel_time") ", " LTC_SQL_MICROS("close_time") ", " OTD_CUSTOMER_COLS("")
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
    OC_PRIORITY,
    OC_CANCEL_REASON,
    OC_CANCEL_TIME,
    OC_CLOSE_TIME,
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
    /* late: open with a promise after the requested date (or none left in the horizon) */
    "AND (NOT $6::boolean OR (late AND state NOT IN ('ACCEPTED', 'CLOSED', 'CANCELLED'))) "
    /* at risk: open, not late, promised less than 3 days before the requested date, or unpromised and due within
     * 14 days */
    "AND (NOT $7::boolean OR (NOT late AND state NOT IN ('SHIPPED', 'ACCEPTED', 'CLOSED', 'CANCELLED') AND "
    "     ((promise_date IS NOT NULL AND requested_delivery_date - promise_date < 3) OR "
    "      (promise_date IS NULL AND requested_delivery_date - current_date < 14)))) "
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
    "SELECT order_id, product_id, sku, quantity, unit_price_minor, currency, shipped_quantity, accepted_quantity, "
    "over_delivery_bps, returned_quantity FROM order_lines WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, line_no";
static const char SQL_TERMS_OF[] =
    "SELECT order_id, kind, share_bps, due_days, milestone FROM order_payment_terms WHERE order_id = ANY($1::uuid[]) "
    "ORDER BY order_id, position";
static const char SQL_ORDER_LOCK[] = "SELECT state FROM orders WHERE id = $1 FOR UPDATE";
static const char SQL_ORDER_SET_STATE[] = "UPDATE orders SET state = $2, update_time = now() WHERE id = $1";
static const char SQL_REVIEW_INSERT[] =
    "INSERT INTO reviews (id, order_id, approved, comment) VALUES ($1, $2, $3::boolean, $4)";
static const char SQL_ORDER_HOLD[] =
    "UPDATE orders SET state = 'ON_HOLD', hold_reason = $2, update_time = now() WHERE id = $1";
/* The latest check of each function of the orders, in function order. */
static const char SQL_CHECKS_OF[] =
    "SELECT order_id, function, outcome, array_to_string(reasons, chr(31)), reviewer, comment, " LTC_SQL_MICROS(
        "create_time") " FROM ("
                       "SELECT DISTINCT ON (order_id, function) * FROM order_checks WHERE order_id = ANY($1::uuid[]) "
                       "ORDER BY order_id, function, seq DESC) x "
                       "ORDER BY order_id, array_position(ARRAY['CONFIGURATION', 'CREDIT', 'CAPACITY', 'TERMS', 'REVIEWER'], function)";
/* One reason per row of an order's failed checks (latest per function), as "FUNCTION: reason". */
static const char SQL_FAILED_OF[] =
    "SELECT x.function || ': ' || r FROM (SELECT DISTINCT ON (function) function, outcome, reasons FROM order_checks "
    "WHERE order_id = $1 ORDER BY function, seq DESC) x CROSS JOIN LATERAL unnest(x.reasons) AS r "
    "WHERE x.outcome = 'FAILED' ORDER BY array_position(ARRAY['CONFIGURATION', 'CREDIT', 'CAPACITY', 'TERMS', "
    "'REVIEWER'], x.function)";
static const char SQL_CHECK_INSERT[] =
    "INSERT INTO order_checks (id, order_id, function, outcome, reasons, reviewer, comment) "
    "VALUES ($1, $2, $3, $4, $5::text[], $6, $7)";
/* TERMS: payment terms adding up to 100% and a requested date not in the past. */
static const char SQL_TERMS_CHECK[] =
    "SELECT coalesce((SELECT sum(share_bps) FROM order_payment_terms WHERE order_id = o.id), 0) = 10000, "
    "o.requested_delivery_date > current_date, o.deal_id FROM orders o WHERE o.id = $1";
static const char SQL_ORDER_REVIEWED[] =
    "UPDATE orders SET state = 'REVIEWED', hold_reason = '', update_time = now() WHERE id = $1";
static const char SQL_ORDER_DEAL[] = "SELECT deal_id, currency, total_minor FROM orders WHERE id = $1";
static const char SQL_ORDER_PRIORITY[] = "UPDATE orders SET priority = $2 WHERE id = $1";
static const char SQL_ORDER_CANCEL[] =
    "UPDATE orders SET state = 'CANCELLED', cancel_reason = $2, cancelled_by = $3, cancel_time = now(), "
    "close_time = now(), late = false, update_time = now() WHERE id = $1";
static const char SQL_ORDER_SHIPPED_ANY[] =
    "SELECT coalesce(bool_or(shipped_quantity > 0 OR accepted_quantity > 0), false) FROM order_lines "
    "WHERE order_id = $1";
static const char SQL_ORDER_UNBOOK_ALL[] = "DELETE FROM capacity_bookings WHERE order_id = $1";

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
    o->priority = (int32_t)ltc_pg_i64(r, row, OC_PRIORITY);
    o->cancel_reason = ltc_call_strdup(c, ltc_pg_str(r, row, OC_CANCEL_REASON));
    o->cancel_time = ltc_ts_from_pg(c, r, row, OC_CANCEL_TIME);
    o->close_time = ltc_ts_from_pg(c, r, row, OC_CLOSE_TIME);
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
            l->over_delivery_bps = (int32_t)ltc_pg_i64(r, row, 8);
            l->returned_quantity = ltc_pg_i64(r, row, 9);
            l->backorder_quantity = l->quantity > l->shipped_quantity ? l->quantity - l->shipped_quantity : 0;
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

/* Splits `s` on the unit separator (chr(31), which the SQL joins the reasons with) into the arena. */
static char **split_us(ltc_call *c, const char *s, size_t *n) {
    *n = 0;
    size_t parts = *s ? 1 : 0;
    for (const char *q = s; *q; q++) parts += *q == '\x1f';
    char **out = ltc_call_alloc(c, (parts ? parts : 1) * sizeof *out);
    while (*s) {
        const char *e = strchr(s, '\x1f');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char *item = ltc_call_alloc(c, len + 1);
        memcpy(item, s, len);
        item[len] = '\0';
        out[(*n)++] = item;
        s += len + (e ? 1 : 0);
    }
    return out;
}

static void attach_checks(ltc_call *c, const PGresult *r, Ltc__Otd__V1__Order **orders, const char *const *ids,
                          size_t n) {
    for (int g = 0, end; g < PQntuples(r); g = end) {
        end = group_end(r, g);
        int k = find_id(ids, n, ltc_pg_str(r, g, 0));
        if (k < 0) continue;
        Ltc__Otd__V1__Order *o = orders[k];
        o->n_checks = (size_t)(end - g);
        o->checks = ltc_call_alloc(c, o->n_checks * sizeof *o->checks);
        size_t n_hold = 0;
        char **hold = ltc_call_alloc(c, 64 * sizeof *hold);
        for (int row = g; row < end; row++) {
            Ltc__Otd__V1__ReviewCheck *ck = LTC_NEW(c, Ltc__Otd__V1__ReviewCheck, LTC__OTD__V1__REVIEW_CHECK__INIT);
            ck->function = (Ltc__Otd__V1__ReviewFunction)ltc_enum_from_db(&ltc__otd__v1__review_function__descriptor,
                                                                          "REVIEW_FUNCTION_", ltc_pg_str(r, row, 1));
            ck->outcome = (Ltc__Otd__V1__CheckOutcome)ltc_enum_from_db(&ltc__otd__v1__check_outcome__descriptor,
                                                                       "CHECK_OUTCOME_", ltc_pg_str(r, row, 2));
            ck->reasons = split_us(c, ltc_pg_str(r, row, 3), &ck->n_reasons);
            ck->reviewer = ltc_call_strdup(c, ltc_pg_str(r, row, 4));
            ck->comment = ltc_call_strdup(c, ltc_pg_str(r, row, 5));
            ck->check_time = ltc_ts_from_pg(c, r, row, 6);
            o->checks[row - g] = ck;
            if (ck->outcome == LTC__OTD__V1__CHECK_OUTCOME__CHECK_OUTCOME_FAILED)
                for (size_t i = 0; i < ck->n_reasons && n_hold < 64; i++)
                    hold[n_hold++] = ltc_call_printf(c, "%s: %s", ltc_pg_str(r, row, 1), ck->reasons[i]);
        }
        if (o->state == LTC__OTD__V1__ORDER_STATE__ORDER_STATE_ON_HOLD) {
            o->hold_reasons = hold;
            o->n_hold_reasons = n_hold;
        }
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
    PGresult *checks = ltc_call_query(c, st, SQL_CHECKS_OF, 1, params);
    if (!checks) return -1;
    attach_checks(c, checks, out, ids, (size_t)n);
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

void otd_audit_order_state(ltc_call *c, const char *id, const char *old, const Ltc__Otd__V1__Order *now) {
    if (!now) return;
    ltc_audit_change(c, ltc_call_printf(c, "orders/%s", id), "state", old,
                     ltc_enum_to_db(&ltc__otd__v1__order_state__descriptor, "ORDER_STATE_", (int)now->state));
}

int otd_order_set_state(ltc_call *c, ltc_status *st, const char *id, const char *state) {
    const char *params[2] = {id, state};
    return ltc_call_query(c, st, SQL_ORDER_SET_STATE, 2, params) ? 0 : -1;
}

/* --- GetOrder / ListOrders ------------------------------------------------------------------------------- */

/* GetOrder: one order with its lines (shipped and accepted quantities), promise date and late flag; its owners are
 * checked on the order read (by_handler, service.c). Errors: INVALID_ARGUMENT "name", NOT_FOUND "ORDER_NOT_FOUND",
 * PERMISSION_DENIED NOT_IN_IRON_TRIANGLE. */
int otd_get_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__GetOrderRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "orders", "name", id, st) != 0) return -1;
    Ltc__Otd__V1__GetOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__GetOrderResponse, LTC__OTD__V1__GET_ORDER_RESPONSE__INIT);
    if (otd_load_order(c, st, id, &resp->order) != 0 ||
        ltc_call_check_triangle(c, resp->order->iron_triangle, req->name, st) != 0)
        return -1;
    *out = &resp->base;
    return 0;
}

/* ListOrders: orders newest first, paginated, optionally only those of one customer (OTD moves a merged
 * customer's orders to the survivor, and a merged customer's name resolves to its survivor), in one state (e.g.
 * ORDER_STATE_CREDIT_HOLD), late (late_only) or at risk (at_risk_only).
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
    const char *p[7] = {ltc_sql_i64(c, after),
                        ltc_sql_i64(c, limit),
                        ltc_call_deal_scope(c),
                        cust[0] ? cust : NULL,
                        state,
                        req->late_only ? "true" : "false",
                        req->at_risk_only ? "true" : "false"};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_LIST, 7, p);
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

/* Appends one check of `function` ("CONFIGURATION", ...) with outcome "PASSED"/"FAILED"/"CLEARED". */
static int record_check(ltc_call *c, ltc_status *st, const char *order, const char *function, const char *outcome,
                        const char *const *reasons, size_t n_reasons, const char *reviewer, const char *comment) {
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *p[7] = {
        id, order, function, outcome, ltc_sql_text_array(c, reasons, n_reasons), reviewer, comment ? comment : ""};
    return ltc_call_query(c, st, SQL_CHECK_INSERT, 7, p) ? 0 : -1;
}

static const char *principal(ltc_call *c) {
    const char *by = ltc_call_principal(c);
    return by && *by ? by : "anonymous";
}

/* The order's failed checks as one hold reason text ("FUNCTION: reason; ..."), "" when none. */
static const char *failed_reasons(ltc_call *c, ltc_status *st, const char *order, int *n_failed) {
    const char *p[1] = {order};
    PGresult *r = ltc_call_query(c, st, SQL_FAILED_OF, 1, p);
    if (!r) return NULL;
    const char *out = "";
    *n_failed = PQntuples(r);
    for (int i = 0; i < PQntuples(r); i++) out = ltc_call_printf(c, "%s%s%s", out, i ? "; " : "", ltc_pg_str(r, i, 0));
    if (strlen(out) > 1000) out = ltc_call_printf(c, "%.996s ...", out);
    return out;
}

/* Puts the order ON_HOLD with its failed checks' reasons (or REVIEWED when none) and tells LTB. */
static int settle_review(ltc_call *c, ltc_status *st, const char *id) {
    int n_failed = 0;
    const char *reasons = failed_reasons(c, st, id, &n_failed);
    if (!reasons) return -1;
    const char *p[1] = {id};
    PGresult *d = ltc_call_query(c, st, SQL_ORDER_DEAL, 1, p);
    if (!d) return -1;
    const char *deal = ltc_pg_str(d, 0, 0);
    if (n_failed) {
        const char *hp[2] = {id, reasons};
        if (!ltc_call_query(c, st, SQL_ORDER_HOLD, 2, hp)) return -1;
        return otd_milestone(c, st, deal, id, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_ORDER_HELD, NULL, reasons);
    }
    if (!ltc_call_query(c, st, SQL_ORDER_REVIEWED, 1, p)) return -1;
    return otd_milestone(c, st, deal, id, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_ORDER_REVIEWED, NULL, NULL);
}

/* The automatic checks: CONFIGURATION (every SKU can be made), CAPACITY (by the requested date, booking nothing;
 * only when the configuration passed) and TERMS, each recorded by "otd". */
static int automatic_checks(ltc_call *c, ltc_status *st, const char *id) {
    const char *cap_reason = NULL;
    if (otd_capacity_feasible(c, st, id, &cap_reason) != 0) return -1;
    int no_routing = cap_reason && strncmp(cap_reason, "NO_ROUTING", 10) == 0;
    if (record_check(c, st, id, "CONFIGURATION", no_routing ? "FAILED" : "PASSED", no_routing ? &cap_reason : NULL,
                     no_routing ? 1 : 0, "otd", NULL) != 0)
        return -1;
    if (!no_routing && record_check(c, st, id, "CAPACITY", cap_reason ? "FAILED" : "PASSED",
                                    cap_reason ? &cap_reason : NULL, cap_reason ? 1 : 0, "otd", NULL) != 0)
        return -1;
    const char *p[1] = {id};
    PGresult *t = ltc_call_query(c, st, SQL_TERMS_CHECK, 1, p);
    if (!t) return -1;
    const char *terms[2];
    size_t n = 0;
    if (!ltc_pg_bool(t, 0, 0)) terms[n++] = "PAYMENT_TERMS_INCOMPLETE";
    if (!ltc_pg_bool(t, 0, 1)) terms[n++] = "REQUESTED_DATE_NOT_IN_FUTURE";
    return record_check(c, st, id, "TERMS", n ? "FAILED" : "PASSED", terms, n, "otd", NULL);
}

/* ReviewOrder: the review (订单评审) of a RECEIVED order by its functions. Approved: the automatic checks
 * CONFIGURATION, CAPACITY and TERMS run and the REVIEWER check passes with the comment; refused: the REVIEWER check
 * fails with the comment. All passed -> REVIEWED (milestone ORDER_REVIEWED); one failed -> ON_HOLD with the reasons
 * (hold_reason, the checks; milestone ORDER_HELD). Errors: INVALID_ARGUMENT "name" / "comment" (required when
 * refused, up to 500 characters), NOT_FOUND "ORDER_NOT_FOUND", FAILED_PRECONDITION "ORDER_NOT_RECEIVED". */
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
        if (automatic_checks(c, st, id) != 0) return -1;
        if (record_check(c, st, id, "REVIEWER", "PASSED", NULL, 0, principal(c), req->comment) != 0) return -1;
    } else {
        const char *why = "REFUSED_BY_REVIEWER";
        if (record_check(c, st, id, "REVIEWER", "FAILED", &why, 1, principal(c), req->comment) != 0) return -1;
    }
    if (settle_review(c, st, id) != 0) return -1;
    if (!req->approved) { /* the reviewer's own words stay the hold reason, as before */
        const char *hp[2] = {id, req->comment};
        if (!ltc_call_query(c, st, SQL_ORDER_HOLD, 2, hp)) return -1;
    }
    Ltc__Otd__V1__ReviewOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__ReviewOrderResponse, LTC__OTD__V1__REVIEW_ORDER_RESPONSE__INIT);
    if (otd_load_order(c, st, id, &resp->order) != 0) return -1;
    otd_audit_order_state(c, id, state, resp->order);
    ltc_audit_change(c, ltc_call_printf(c, "orders/%s", id), "check.REVIEWER", NULL,
                     req->approved ? "PASSED" : "FAILED");
    *out = &resp->base;
    return 0;
}

/* --- ClearHold / CancelOrder ------------------------------------------------------------------------------ */

/* The role that clears a function's hold (managers and admins clear any). */
static unsigned responsible_role(Ltc__Otd__V1__ReviewFunction f) {
    switch (f) {
        case LTC__OTD__V1__REVIEW_FUNCTION__REVIEW_FUNCTION_CONFIGURATION: return LTC_ROLE_SOLUTION;
        case LTC__OTD__V1__REVIEW_FUNCTION__REVIEW_FUNCTION_TERMS: return LTC_ROLE_SALES;
        case LTC__OTD__V1__REVIEW_FUNCTION__REVIEW_FUNCTION_CAPACITY:
        case LTC__OTD__V1__REVIEW_FUNCTION__REVIEW_FUNCTION_REVIEWER: return LTC_ROLE_FULFILMENT;
        default: return 0;
    }
}

static const char SQL_LATEST_CHECK[] =
    "SELECT outcome FROM order_checks WHERE order_id = $1 AND function = $2 ORDER BY seq DESC LIMIT 1";

/* ClearHold: the responsible role takes one function's failed check off an ON_HOLD order, with a comment; with no
 * failed check left the order is REVIEWED (milestone ORDER_REVIEWED). Errors: INVALID_ARGUMENT "name", "function"
 * (unset, unknown, or CREDIT: DTC's), "comment" (1 to 1000 characters); NOT_FOUND "ORDER_NOT_FOUND";
 * FAILED_PRECONDITION "ORDER_NOT_ON_HOLD", "CHECK_NOT_FAILED"; PERMISSION_DENIED "NOT_RESPONSIBLE_FOR_CHECK". */
int otd_clear_hold(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__ClearHoldRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "orders", "name", id, st);
    unsigned need = responsible_role(req->function);
    if (!need)
        ltc_status_bad_field(st, "function", "CONFIGURATION, CAPACITY, TERMS or REVIEWER (credit holds are DTC's)");
    ltc_check_text(req->comment, "comment", 1, 1000, st);
    if (st->code != LTC_OK) return -1;
    const char *function =
        ltc_enum_to_db(&ltc__otd__v1__review_function__descriptor, "REVIEW_FUNCTION_", (int)req->function);
    const char *who = ltc_call_principal(c); /* none: plaintext development, not restricted (ltc/authz) */
    if (who && *who && (ltc_call_roles(c) & (need | LTC_ROLE_MANAGER | LTC_ROLE_ADMIN)) == 0)
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "NOT_RESPONSIBLE_FOR_CHECK",
                              "a %s hold is cleared by the %s role (or a manager)", function,
                              need == LTC_ROLE_SOLUTION ? "solution"
                              : need == LTC_ROLE_SALES  ? "sales"
                                                        : "fulfilment");
    const char *state = "";
    if (otd_order_lock(c, st, id, &state) != 0) return -1;
    if (strcmp(state, "ON_HOLD") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_NOT_ON_HOLD", "order %s is %s, not ON_HOLD", id,
                              state);
    const char *p[2] = {id, function};
    PGresult *r = ltc_call_query(c, st, SQL_LATEST_CHECK, 2, p);
    if (!r) return -1;
    if (PQntuples(r) == 0 || strcmp(ltc_pg_str(r, 0, 0), "FAILED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CHECK_NOT_FAILED",
                              "the %s check of order %s is not failed (%s)", function, id,
                              PQntuples(r) ? ltc_pg_str(r, 0, 0) : "never checked");
    if (record_check(c, st, id, function, "CLEARED", NULL, 0, principal(c), req->comment) != 0) return -1;
    if (settle_review(c, st, id) != 0) return -1;
    Ltc__Otd__V1__ClearHoldResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__ClearHoldResponse, LTC__OTD__V1__CLEAR_HOLD_RESPONSE__INIT);
    if (otd_load_order(c, st, id, &resp->order) != 0) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "orders/%s", id), ltc_call_printf(c, "check.%s", function), "FAILED",
                     "CLEARED");
    otd_audit_order_state(c, id, state, resp->order);
    *out = &resp->base;
    return 0;
}

/* CancelOrder: cancels an order before anything of it ships: its capacity bookings are dropped, BTO and DTC get
 * AcceptOrderCancelled and LTB the milestones ORDER_CANCELLED and ORDER_CLOSED. Errors: INVALID_ARGUMENT "name",
 * "reason" (1 to 1000 characters); NOT_FOUND "ORDER_NOT_FOUND"; FAILED_PRECONDITION "ORDER_NOT_CANCELLABLE"
 * (something shipped, or already cancelled or closed). */
int otd_cancel_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__CancelOrderRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "orders", "name", id, st);
    ltc_check_text(req->reason, "reason", 1, 1000, st);
    if (st->code != LTC_OK) return -1;
    const char *state = "";
    if (otd_order_lock(c, st, id, &state) != 0) return -1;
    static const char *const open_states[] = {"RECEIVED",    "REVIEWED", "ON_HOLD",
                                              "CREDIT_HOLD", "RELEASED", "SCHEDULED"};
    int ok = 0;
    for (size_t i = 0; i < sizeof open_states / sizeof *open_states; i++) ok |= strcmp(state, open_states[i]) == 0;
    const char *p[1] = {id};
    PGresult *sh = ltc_call_query(c, st, SQL_ORDER_SHIPPED_ANY, 1, p);
    if (!sh) return -1;
    if (!ok || ltc_pg_bool(sh, 0, 0))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_NOT_CANCELLABLE",
                              "order %s is %s; only an order nothing of which has shipped can be cancelled", id, state);
    if (!ltc_call_query(c, st, SQL_ORDER_UNBOOK_ALL, 1, p)) return -1;
    const char *cp[3] = {id, req->reason, principal(c)};
    if (!ltc_call_query(c, st, SQL_ORDER_CANCEL, 3, cp)) return -1;
    if (otd_handoff_cancelled(c, st, id) != 0) return -1;
    PGresult *d = ltc_call_query(c, st, SQL_ORDER_DEAL, 1, p);
    if (!d) return -1;
    if (otd_milestone(c, st, ltc_pg_str(d, 0, 0), id, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_ORDER_CLOSED, NULL,
                      "cancelled") != 0)
        return -1;
    Ltc__Otd__V1__CancelOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__CancelOrderResponse, LTC__OTD__V1__CANCEL_ORDER_RESPONSE__INIT);
    if (otd_load_order(c, st, id, &resp->order) != 0) return -1;
    otd_audit_order_state(c, id, state, resp->order);
    ltc_audit_change(c, ltc_call_printf(c, "orders/%s", id), "cancel_reason", NULL, req->reason);
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
    ltc_name_parse(req->name, "orders", "name", id, st);
    if (req->priority < 0 || req->priority > 3) ltc_status_bad_field(st, "priority", "0 (keep), or 1 to 3");
    if (st->code != LTC_OK) return -1;
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
    if (record_check(c, st, id, "CREDIT", approved ? "PASSED" : "FAILED", approved ? NULL : credit.reasons,
                     approved ? 0 : credit.n_reasons, "dtc", NULL) != 0)
        return -1;
    if (req->priority) {
        const char *pp[2] = {id, ltc_sql_i64(c, req->priority)};
        if (!ltc_call_query(c, st, SQL_ORDER_PRIORITY, 2, pp)) return -1;
    }
    if (approved) {
        PGresult *d = ltc_call_query(c, st, SQL_ORDER_DEAL, 1, params);
        if (!d) return -1;
        if (otd_milestone(c, st, ltc_pg_str(d, 0, 0), id, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_ORDER_RELEASED,
                          NULL, NULL) != 0)
            return -1;
        if (req->schedule && otd_schedule_one(c, st, id, 0, "scheduled at release") != 0) return -1;
    }
    Ltc__Otd__V1__ReleaseOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__ReleaseOrderResponse, LTC__OTD__V1__RELEASE_ORDER_RESPONSE__INIT);
    if (otd_load_order(c, st, id, &resp->order) != 0) return -1;
    otd_audit_order_state(c, id, state, resp->order);
    *out = &resp->base;
    return 0;
}
