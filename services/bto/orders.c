/* orders.c - orders (订单) from signed contracts: CreateOrder (with the hand-off to OTD), GetOrder, and the
 * AcceptOrderClosure hand-off from DTC that closes the order, then its contract and deal once all their orders are. */
#include <string.h>

#include "bto.h"
#include "ltc/ids.h"
#include "ltc/money.h"
#include "ltc/otd/v1/intake_service.pb-c.h"
#include "ltc/outbox.h"
#include "ltc/proto.h"

static const char SQL_LOCK_CONTRACT[] =
    "SELECT state, quote_id, deal_id, total_minor, currency FROM contracts WHERE id = $1 FOR UPDATE";
static const char SQL_ORDER_OF_CONTRACT[] = "SELECT id FROM orders WHERE contract_id = $1";
static const char SQL_LOCK_DEAL[] = "SELECT state FROM deals WHERE id = $1 FOR UPDATE";
static const char SQL_INSERT_ORDER[] =
    "INSERT INTO orders (id, contract_id, deal_id, total_minor, currency, state) "
    "VALUES ($1, $2, $3, $4, $5, 'PLACED')";
/* The frozen prices of the accepted quote become the order's lines. */
static const char SQL_COPY_LINES[] =
    "INSERT INTO order_lines (order_id, line_no, product_id, sku, quantity, unit_price_minor, line_total_minor, "
    "currency) SELECT $1, line_no, product_id, sku, quantity, unit_price_minor, line_total_minor, currency "
    "FROM quote_lines WHERE quote_id = $2";
static const char SQL_DEAL_ORDERED[] =
    "UPDATE deals SET state = 'ORDERED', update_time = now() WHERE id = $1 AND state = 'OPEN'";
static const char SQL_GET_ORDER[] =
    "SELECT id, contract_id, deal_id, total_minor, currency, state, " LTC_SQL_MICROS("create_time") ", "
    LTC_SQL_MICROS("close_time") ", collected_minor, collected_currency FROM orders WHERE id = $1";
static const char SQL_GET_LINES[] =
    "SELECT product_id, sku, quantity, unit_price_minor, line_total_minor, currency FROM order_lines "
    "WHERE order_id = $1 ORDER BY line_no";
static const char SQL_LOCK_ORDER[] =
    "SELECT state, contract_id, deal_id, currency FROM orders WHERE id = $1 FOR UPDATE";
static const char SQL_CLOSE_ORDER[] =
    "UPDATE orders SET state = 'CLOSED', close_time = coalesce(" LTC_SQL_TS_PARAM("$2") ", now()), "
    "collected_minor = $3, collected_currency = $4, close_handoff_id = $5, update_time = now() WHERE id = $1 "
    "RETURNING " LTC_SQL_MICROS("close_time");
static const char SQL_LOCK_CONTRACT_STATE[] = "SELECT state FROM contracts WHERE id = $1 FOR UPDATE";
/* Closes the contract (or deal) unless one of its orders is still open; returns a row when it closed it. */
static const char SQL_CLOSE_CONTRACT[] =
    "UPDATE contracts SET state = 'CLOSED', close_time = " LTC_SQL_TS_PARAM("$2") ", update_time = now() "
    "WHERE id = $1 AND state = 'SIGNED' "
    "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.contract_id = $1 AND o.state <> 'CLOSED') RETURNING id";
static const char SQL_CLOSE_DEAL[] =
    "UPDATE deals SET state = 'CLOSED', update_time = now() WHERE id = $1 AND state = 'ORDERED' "
    "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.deal_id = $1 AND o.state <> 'CLOSED') RETURNING id";

Ltc__Bto__V1__Order *bto_order_load(ltc_call *c, ltc_status *st, const char *id) {
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_GET_ORDER, 1, params);
    if (!r)
        return NULL;
    if (PQntuples(r) != 1) {
        ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order orders/%s not found", id);
        return NULL;
    }
    Ltc__Bto__V1__Order *o = LTC_NEW(c, Ltc__Bto__V1__Order, LTC__BTO__V1__ORDER__INIT);
    o->name = bto_name(c, "orders", ltc_pg_str(r, 0, 0));
    o->contract = bto_name(c, "contracts", ltc_pg_str(r, 0, 1));
    o->deal = bto_name(c, "deals", ltc_pg_str(r, 0, 2));
    o->total = ltc_money_msg_pg(c, r, 0, 3, 4);
    o->state = (Ltc__Bto__V1__OrderState)ltc_enum_from_db(&ltc__bto__v1__order_state__descriptor, "ORDER_STATE_",
                                                         ltc_pg_str(r, 0, 5));
    o->create_time = ltc_ts_from_pg(c, r, 0, 6);
    o->close_time = ltc_ts_from_pg(c, r, 0, 7);
    o->collected_amount = ltc_money_msg_pg(c, r, 0, 8, 9);
    PGresult *l = ltc_call_query(c, st, SQL_GET_LINES, 1, params);
    if (!l)
        return NULL;
    int n = PQntuples(l);
    if (n > 0) {
        o->lines = ltc_call_alloc(c, (size_t)n * sizeof *o->lines);
        o->n_lines = (size_t)n;
    }
    for (int i = 0; i < n; i++) {
        Ltc__Bto__V1__OrderLine *ol = LTC_NEW(c, Ltc__Bto__V1__OrderLine, LTC__BTO__V1__ORDER_LINE__INIT);
        ol->product = bto_name(c, "products", ltc_pg_str(l, i, 0));
        ol->sku = ltc_call_strdup(c, ltc_pg_str(l, i, 1));
        ol->quantity = ltc_pg_i64(l, i, 2);
        ol->unit_price = ltc_money_msg_pg(c, l, i, 3, 5);
        ol->line_total = ltc_money_msg_pg(c, l, i, 4, 5);
        o->lines[i] = ol;
    }
    return o;
}

/* Queues the AcceptOrder hand-off to OTD for order `o` in the current transaction. */
static int handoff_order(ltc_call *c, ltc_status *st, const Ltc__Bto__V1__Order *o, const char *deal_id,
                         const char *contract_id) {
    Ltc__Bto__V1__Deal *d = bto_deal_load(c, st, deal_id);
    if (!d)
        return -1;
    Ltc__Bto__V1__Contract *k = bto_contract_load(c, st, contract_id);
    if (!k)
        return -1;
    char handoff_id[LTC_UUID_LEN + 1];
    ltc_uuid_new(handoff_id);
    Ltc__Otd__V1__AcceptOrderRequest *msg =
        LTC_NEW(c, Ltc__Otd__V1__AcceptOrderRequest, LTC__OTD__V1__ACCEPT_ORDER_REQUEST__INIT);
    msg->handoff_id = ltc_call_strdup(c, handoff_id);
    msg->order = o->name;
    msg->contract = o->contract;
    msg->deal = o->deal;
    msg->customer_name = d->customer_name;
    msg->iron_triangle = d->iron_triangle;
    msg->total = o->total;
    msg->payment_terms = k->payment_terms;
    msg->n_payment_terms = k->n_payment_terms;
    msg->requested_delivery_date = k->requested_delivery_date;
    if (o->n_lines > 0) {
        msg->lines = ltc_call_alloc(c, o->n_lines * sizeof *msg->lines);
        msg->n_lines = o->n_lines;
    }
    for (size_t i = 0; i < o->n_lines; i++) {
        Ltc__Otd__V1__HandoffOrderLine *hl =
            LTC_NEW(c, Ltc__Otd__V1__HandoffOrderLine, LTC__OTD__V1__HANDOFF_ORDER_LINE__INIT);
        hl->product = o->lines[i]->product;
        hl->sku = o->lines[i]->sku;
        hl->quantity = o->lines[i]->quantity;
        hl->unit_price = o->lines[i]->unit_price;
        msg->lines[i] = hl;
    }
    return ltc_outbox_put(c, st, "otd", "/ltc.otd.v1.IntakeService/AcceptOrder", deal_id, handoff_id, &msg->base);
}

/* CreateOrder: creates the order (PLACED) of a SIGNED contract with the accepted quote's frozen prices, moves the
 * deal to ORDERED, and hands the order to OTD exactly once (outbox row in the same transaction).
 * Errors: INVALID_ARGUMENT "contract", NOT_FOUND "CONTRACT_NOT_FOUND", FAILED_PRECONDITION
 * "CONTRACT_ALREADY_ORDERED", "CONTRACT_NOT_SIGNED". */
int bto_create_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__CreateOrderRequest *req = (const void *)m;
    char contract_id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->contract, "contracts", "contract", contract_id, st) != 0)
        return -1;
    const char *cp[1] = {contract_id};
    PGresult *k = ltc_call_query(c, st, SQL_LOCK_CONTRACT, 1, cp);
    if (!k)
        return -1;
    if (PQntuples(k) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "CONTRACT_NOT_FOUND", "contract %s not found", req->contract);
    PGresult *e = ltc_call_query(c, st, SQL_ORDER_OF_CONTRACT, 1, cp);
    if (!e)
        return -1;
    if (PQntuples(e) > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_ALREADY_ORDERED",
                              "contract %s already has orders/%s", req->contract, ltc_pg_str(e, 0, 0));
    if (strcmp(ltc_pg_str(k, 0, 0), "SIGNED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_NOT_SIGNED", "contract %s is %s, not SIGNED",
                              req->contract, ltc_pg_str(k, 0, 0));
    const char *quote_id = ltc_pg_str(k, 0, 1), *deal_id = ltc_pg_str(k, 0, 2);
    const char *dp[1] = {deal_id};
    if (!ltc_call_query(c, st, SQL_LOCK_DEAL, 1, dp))
        return -1;
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *op[5] = {id, contract_id, deal_id, ltc_pg_str(k, 0, 3), ltc_pg_str(k, 0, 4)};
    if (!ltc_call_query(c, st, SQL_INSERT_ORDER, 5, op))
        return -1;
    const char *lp[2] = {id, quote_id};
    if (!ltc_call_query(c, st, SQL_COPY_LINES, 2, lp))
        return -1;
    if (!ltc_call_query(c, st, SQL_DEAL_ORDERED, 1, dp))
        return -1;
    Ltc__Bto__V1__Order *o = bto_order_load(c, st, id);
    if (!o)
        return -1;
    if (handoff_order(c, st, o, deal_id, contract_id) != 0)
        return -1;
    Ltc__Bto__V1__CreateOrderResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__CreateOrderResponse, LTC__BTO__V1__CREATE_ORDER_RESPONSE__INIT);
    resp->order = o;
    *out = &resp->base;
    return 0;
}

/* GetOrder: returns one order with its lines. Errors: INVALID_ARGUMENT "name", NOT_FOUND "ORDER_NOT_FOUND". */
int bto_get_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__GetOrderRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "orders", "name", id, st) != 0)
        return -1;
    Ltc__Bto__V1__GetOrderResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__GetOrderResponse, LTC__BTO__V1__GET_ORDER_RESPONSE__INIT);
    if (!(resp->order = bto_order_load(c, st, id)))
        return -1;
    *out = &resp->base;
    return 0;
}

/* Validates the closure hand-off; fills the ids, the amount and the close time. */
static int validate_closure(const Ltc__Bto__V1__AcceptOrderClosureRequest *req, char order_id[LTC_UUID_LEN + 1],
                            char contract_id[LTC_UUID_LEN + 1], ltc_money *collected, int64_t *close_us,
                            int *close_present, ltc_status *st) {
    bto_check_uuid(req->handoff_id, "handoff_id", st);
    ltc_name_parse(req->order, "orders", "order", order_id, st);
    ltc_name_parse(req->contract, "contracts", "contract", contract_id, st);
    ltc_money_from_proto(req->collected_amount, "collected_amount", 0, collected, st);
    bto_ts_micros(req->close_time, "close_time", close_us, close_present, st);
    return st->code == LTC_OK ? 0 : -1;
}

/* Closes the contract and the deal of a just-closed order when all their orders are closed. *contract_closed is
 * set when the contract closed now. */
static int close_parents(ltc_call *c, ltc_status *st, const char *contract_id, const char *deal_id,
                         const char *close_us, int *contract_closed) {
    const char *cp[2] = {contract_id, close_us};
    if (!ltc_call_query(c, st, SQL_LOCK_CONTRACT_STATE, 1, cp))
        return -1;
    PGresult *r = ltc_call_query(c, st, SQL_CLOSE_CONTRACT, 2, cp);
    if (!r)
        return -1;
    *contract_closed = PQntuples(r) == 1;
    const char *dp[1] = {deal_id};
    if (!ltc_call_query(c, st, SQL_LOCK_DEAL, 1, dp))
        return -1;
    return ltc_call_query(c, st, SQL_CLOSE_DEAL, 1, dp) ? 0 : -1;
}

/* IntakeService/AcceptOrderClosure: DTC reports an order paid and closed; the order becomes CLOSED with its close
 * time and collected amount, then its contract and its deal once all their orders are closed.
 * Errors: INVALID_ARGUMENT (a malformed hand-off; "contract" when it is not the order's contract,
 * "collected_amount" in another currency than the order's), NOT_FOUND "ORDER_NOT_FOUND", FAILED_PRECONDITION
 * "ORDER_ALREADY_CLOSED" (closed by another hand-off). */
int bto_accept_order_closure(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__AcceptOrderClosureRequest *req = (const void *)m;
    char order_id[LTC_UUID_LEN + 1], contract_id[LTC_UUID_LEN + 1];
    ltc_money collected = {{0}, 0};
    int64_t close_us = 0;
    int close_present = 0;
    if (validate_closure(req, order_id, contract_id, &collected, &close_us, &close_present, st) != 0)
        return -1;
    const char *op[1] = {order_id};
    PGresult *r = ltc_call_query(c, st, SQL_LOCK_ORDER, 1, op);
    if (!r)
        return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order %s not found", req->order);
    if (strcmp(ltc_pg_str(r, 0, 1), contract_id) != 0)
        ltc_status_bad_field(st, "contract", "is not the contract of %s", req->order);
    if (strcmp(ltc_pg_str(r, 0, 3), collected.currency) != 0)
        ltc_status_bad_field(st, "collected_amount", "currency %s differs from the order's %s", collected.currency,
                             ltc_pg_str(r, 0, 3));
    if (st->code != LTC_OK)
        return -1;
    if (strcmp(ltc_pg_str(r, 0, 0), "PLACED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_ALREADY_CLOSED", "order %s is already %s",
                              req->order, ltc_pg_str(r, 0, 0));
    const char *deal_id = ltc_pg_str(r, 0, 2);
    const char *up[5] = {order_id, close_present ? ltc_sql_i64(c, close_us) : NULL, ltc_sql_i64(c, collected.minor),
                         collected.currency, req->handoff_id};
    PGresult *u = ltc_call_query(c, st, SQL_CLOSE_ORDER, 5, up);
    if (!u)
        return -1;
    int contract_closed = 0;
    if (close_parents(c, st, contract_id, deal_id, ltc_pg_str(u, 0, 0), &contract_closed) != 0)
        return -1;
    Ltc__Bto__V1__AcceptOrderClosureResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__AcceptOrderClosureResponse, LTC__BTO__V1__ACCEPT_ORDER_CLOSURE_RESPONSE__INIT);
    resp->contract_closed = contract_closed;
    *out = &resp->base;
    return 0;
}
