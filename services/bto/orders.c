/* orders.c - orders (订单) from signed contracts: CreateOrder (credit asked of DTC first, credit.c; the hand-offs to
 * OTD and DTC, handoffs.c), GetOrder and the order loader. (DTC's AcceptOrderClosure, which closes orders, is in intake.c.) */
#include <stdio.h>
#include <string.h>

#include "bto.h"
#include "ltc/audit.h"
#include "ltc/ids.h"
#include "ltc/milestone.h"
#include "ltc/money.h"
#include "ltc/type/v1/milestone.pb-c.h"
#include "ltc/proto.h"

/* The contract and its deal's customer, read before asking DTC (no lock is held across the question). */
static const char SQL_READ_CONTRACT[] =
    "SELECT k.state, k.deal_id, k.total_minor, k.currency, (SELECT o.id FROM orders o WHERE o.contract_id = k.id), " BTO_CUSTOMER_COLS
    " FROM contracts k JOIN deals d ON d.id = k.deal_id WHERE k.id = $1";
enum {
    K_STATE,
    K_DEAL,
    K_TOTAL,
    K_CURRENCY,
    K_ORDER,
    K_CUSTOMER_ID /* then the rest of BTO_CUSTOMER_COLS */
};
static const char SQL_LOCK_CONTRACT[] =
    "SELECT state, quote_id, deal_id, total_minor, currency, order_id FROM contracts WHERE id = $1 FOR UPDATE";
static const char SQL_PENDING_AMENDMENT[] = "SELECT id FROM contracts WHERE amends_id = $1 AND state = 'DRAFT'";
static const char SQL_ORDER_OF_CONTRACT[] = "SELECT id FROM orders WHERE contract_id = $1";
static const char SQL_LOCK_DEAL[] = "SELECT state, customer_id FROM deals WHERE id = $1 FOR UPDATE";
static const char SQL_INSERT_ORDER[] =
    "INSERT INTO orders (id, contract_id, deal_id, total_minor, currency, state, customer_id, credit_decision_id) "
    "VALUES ($1, $2, $3, $4, $5, 'PLACED', $6, $7)";
/* The frozen prices of the accepted quote become the order's lines. */
static const char SQL_COPY_LINES[] =
    "INSERT INTO order_lines (order_id, line_no, product_id, sku, quantity, unit_price_minor, line_total_minor, "
    "currency) SELECT $1, line_no, product_id, sku, quantity, unit_price_minor, line_total_minor, currency "
    "FROM quote_lines WHERE quote_id = $2";
static const char SQL_DEAL_ORDERED[] =
    "UPDATE deals SET state = 'ORDERED', update_time = now() WHERE id = $1 AND state = 'OPEN'";
/* The order, its customer (the snapshot kept on its deal) and DTC's placement decision. */
static const char SQL_GET_ORDER[] =
    "SELECT o.id, o.contract_id, o.deal_id, o.total_minor, o.currency, o.state, " LTC_SQL_MICROS("o.create_time") ", " LTC_SQL_MICROS(
        "o.close_time") ", o.collected_minor, o.collected_currency, "
                        "o.credit_decision_id, " BTO_CUSTOMER_COLS
                        ", " LTC_SQL_DATE("o.promise_date") ", o.promise_late, o.cancel_reason, " LTC_SQL_MICROS(
                            "o.cancel_time") " FROM orders o JOIN deals d ON d.id = o.deal_id "
                                             "WHERE o.id = $1";
static const char SQL_GET_LINES[] =
    "SELECT product_id, sku, quantity, unit_price_minor, line_total_minor, currency FROM order_lines "
    "WHERE order_id = $1 ORDER BY line_no";

int bto_load_order(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Order **out) {
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_GET_ORDER, 1, params);
    if (!r) return -1;
    if (PQntuples(r) != 1) {
        ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order orders/%s not found", id);
        return -1;
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
    o->credit_decision =
        PQgetisnull(r, 0, 10) ? ltc_call_strdup(c, "") : ltc_call_printf(c, "creditDecisions/%s", ltc_pg_str(r, 0, 10));
    o->customer = ltc_customer_from_pg(c, r, 0, 11);
    o->promise_date = ltc_date_from_pg(c, r, 0, 17); /* after the 6 customer columns */
    o->late = ltc_pg_bool(r, 0, 18);
    o->cancel_reason = ltc_call_strdup(c, ltc_pg_isnull(r, 0, 19) ? "" : ltc_pg_str(r, 0, 19));
    o->cancel_time = ltc_ts_from_pg(c, r, 0, 20);
    PGresult *l = ltc_call_query(c, st, SQL_GET_LINES, 1, params);
    if (!l) return -1;
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
    *out = o;
    return 0;
}

/* Checks, without locking, what CreateOrder needs before it asks DTC: the contract exists, is SIGNED, has no order
 * yet, and its deal has a customer. 0 (r: the SQL_READ_CONTRACT row) or -1. */
static int precheck_contract(ltc_call *c, ltc_status *st, const char *name, const char *contract_id, PGresult **r) {
    const char *cp[1] = {contract_id};
    PGresult *k = ltc_call_query(c, st, SQL_READ_CONTRACT, 1, cp);
    if (!k) return -1;
    if (PQntuples(k) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "CONTRACT_NOT_FOUND", "contract %s not found", name);
    if (!PQgetisnull(k, 0, K_ORDER))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_ALREADY_ORDERED",
                              "contract %s already has orders/%s", name, ltc_pg_str(k, 0, K_ORDER));
    if (strcmp(ltc_pg_str(k, 0, K_STATE), "SIGNED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_NOT_SIGNED", "contract %s is %s, not SIGNED", name,
                              ltc_pg_str(k, 0, K_STATE));
    if (PQgetisnull(k, 0, K_CUSTOMER_ID))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "DEAL_HAS_NO_CUSTOMER",
                              "the deal of contract %s has no customer (handed over before customers): its credit "
                              "cannot be checked",
                              name);
    *r = k;
    return 0;
}

/* CreateOrder: creates the order (PLACED, with the id fixed when the contract was signed) of a SIGNED contract with the accepted quote's frozen prices, moves the
 * deal to ORDERED, and hands the order to OTD (AcceptOrder) and DTC (AcceptOrderPlaced) exactly once (outbox rows in
 * the same transaction). First, before any row is locked, DTC is asked (CheckCredit, stage ORDER_PLACEMENT,
 * reference the contract, amount the order total: one order per contract, so a retry re-asks for the same
 * reference and DTC replaces its reservation instead of adding one); then the contract is locked and checked again.
 * Errors: INVALID_ARGUMENT "contract", NOT_FOUND "CONTRACT_NOT_FOUND", FAILED_PRECONDITION
 * "CONTRACT_ALREADY_ORDERED", "CONTRACT_NOT_SIGNED", "CONTRACT_AMENDMENT_PENDING", "DEAL_HAS_NO_CUSTOMER", "CREDIT_REFUSED" (nothing placed);
 * UNAVAILABLE "CREDIT_SERVICE_UNAVAILABLE" (DTC did not answer: nothing placed). */
int bto_create_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__CreateOrderRequest *req = (const void *)m;
    char contract_id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->contract, "contracts", "contract", contract_id, st) != 0) return -1;
    PGresult *pre = NULL;
    if (precheck_contract(c, st, req->contract, contract_id, &pre) != 0) return -1;

    bto_credit_answer credit;
    bto_credit_check(c, ltc_customer_from_pg(c, pre, 0, K_CUSTOMER_ID), contract_id, ltc_pg_str(pre, 0, K_DEAL),
                     ltc_pg_str(pre, 0, K_CURRENCY), ltc_pg_i64(pre, 0, K_TOTAL), &credit);
    if (bto_credit_fail(&credit, req->contract, st) != 0) return -1;

    const char *cp[1] = {contract_id};
    PGresult *k = ltc_call_query(c, st, SQL_LOCK_CONTRACT, 1, cp);
    if (!k) return -1;
    if (PQntuples(k) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "CONTRACT_NOT_FOUND", "contract %s not found", req->contract);
    PGresult *e = ltc_call_query(c, st, SQL_ORDER_OF_CONTRACT, 1, cp);
    if (!e) return -1;
    if (PQntuples(e) > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_ALREADY_ORDERED",
                              "contract %s already has orders/%s", req->contract, ltc_pg_str(e, 0, 0));
    if (strcmp(ltc_pg_str(k, 0, 0), "SIGNED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_NOT_SIGNED", "contract %s is %s, not SIGNED",
                              req->contract, ltc_pg_str(k, 0, 0));
    PGresult *am = ltc_call_query(c, st, SQL_PENDING_AMENDMENT, 1, cp);
    if (!am) return -1;
    if (PQntuples(am) > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_AMENDMENT_PENDING",
                              "contract %s has the unsigned amendment contracts/%s: sign or cancel it first",
                              req->contract, ltc_pg_str(am, 0, 0));
    const char *quote_id = ltc_pg_str(k, 0, 1), *deal_id = ltc_pg_str(k, 0, 2);
    const char *dp[1] = {deal_id};
    PGresult *d = ltc_call_query(c, st, SQL_LOCK_DEAL, 1, dp);
    if (!d) return -1;
    /* the deal's customer now (a merge may have moved it to the survivor meanwhile: DTC resolves the same way) */
    const char *customer_id = PQntuples(d) == 1 && !PQgetisnull(d, 0, 1) ? ltc_pg_str(d, 0, 1) : NULL;
    if (!customer_id)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "DEAL_HAS_NO_CUSTOMER",
                              "the deal of contract %s has no "
                              "customer",
                              req->contract);
    char id[LTC_UUID_LEN + 1];
    if (ltc_pg_isnull(k, 0, 5))
        ltc_uuid_new(id); /* signed before the order id was fixed at signature */
    else
        snprintf(id, sizeof id, "%s", ltc_pg_str(k, 0, 5));
    const char *op[7] = {id,          contract_id,       deal_id, ltc_pg_str(k, 0, 3), ltc_pg_str(k, 0, 4),
                         customer_id, credit.decision_id};
    if (!ltc_call_query(c, st, SQL_INSERT_ORDER, 7, op)) return -1;
    const char *lp[2] = {id, quote_id};
    if (!ltc_call_query(c, st, SQL_COPY_LINES, 2, lp)) return -1;
    if (!ltc_call_query(c, st, SQL_DEAL_ORDERED, 1, dp)) return -1;
    Ltc__Bto__V1__Order *o;
    if (bto_load_order(c, st, id, &o) != 0) return -1;
    const char *target = ltc_call_printf(c, "orders/%s", id);
    ltc_audit_change(c, target, "state", NULL,
                     ltc_enum_to_db(&ltc__bto__v1__order_state__descriptor, "ORDER_STATE_", (int)o->state));
    ltc_audit_change_money(c, target, "total", ltc_pg_str(k, 0, 4), 0, 0, ltc_pg_i64(k, 0, 3), 1);
    ltc_audit_target(c, ltc_call_printf(c, "contracts/%s", contract_id));
    if (bto_handoff_order(c, st, id) != 0) return -1;
    /* ORDER_PLACED carries the order's SKUs (each once): the CRM hub groups its velocity by product with them */
    const char **skus = ltc_call_alloc(c, (o->n_lines ? o->n_lines : 1) * sizeof *skus);
    size_t n_skus = 0;
    for (size_t i = 0; i < o->n_lines; i++) {
        size_t j = 0;
        while (j < n_skus && strcmp(skus[j], o->lines[i]->sku) != 0) j++;
        if (j == n_skus) skus[n_skus++] = o->lines[i]->sku;
    }
    ltc_money placed = {{0}, ltc_pg_i64(k, 0, 3)};
    snprintf(placed.currency, sizeof placed.currency, "%s", ltc_pg_str(k, 0, 4));
    ltc_milestone ms = {.deal_id = deal_id,
                        .stage = LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_BTO,
                        .kind = LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_ORDER_PLACED,
                        .record = ltc_call_printf(c, "orders/%s", id),
                        .amount = &placed,
                        .date = "",
                        .product_skus = skus,
                        .n_product_skus = n_skus};
    if (ltc_milestone_put(c, st, &ms) != 0) return -1;
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
    if (ltc_name_parse(req->name, "orders", "name", id, st) != 0) return -1;
    Ltc__Bto__V1__GetOrderResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__GetOrderResponse, LTC__BTO__V1__GET_ORDER_RESPONSE__INIT);
    if (bto_load_order(c, st, id, &resp->order) != 0) return -1;
    *out = &resp->base;
    return 0;
}
