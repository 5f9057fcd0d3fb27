/* intake.c - what BTO receives (ltc.bto.v1.IntakeService): LTB's won bids, which open deals (AcceptWonBid), and DTC's
 * order closures (AcceptOrderClosure), which close an order, then its contract and its deal once all their orders
 * are closed. The runtime dedups by handoff_id before calling us; a hand-off is validated like client input (a
 * malformed one is INVALID_ARGUMENT, which the sender parks) and applied in the server's transaction. (LTB's
 * AcceptCustomerChanged is in customers.c.) OTD's order events: AcceptOrderCancelled (the order CANCELLED) and
 * AcceptPromiseChanged (its promise date and lateness).
 * Lock order: the order, then its contract, then its deal (as CreateOrder: contract, then deal). */
#include <string.h>

#include "bto.h"
#include "ltc/ids.h"

/* --- SQL ------------------------------------------------------------------------------------------------- */

/* The customer id resolves through the merges BTO was told of (a bid won before a merge, handed over after it). */
static const char SQL_INSERT_DEAL[] =
    "INSERT INTO deals (id, opportunity_id, bid_id, customer_name, account_owner, solution_owner, fulfilment_owner, "
    "expected_minor, currency, handoff_id, won_time, customer_id, customer_legal_name, customer_tax_id, "
    "customer_country_code, customer_billing_currency, customer_account_owner) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, " LTC_SQL_TS_PARAM(
        "$11") ", "
               "(WITH RECURSIVE m(id, depth) AS (SELECT $12::uuid, 0 UNION ALL SELECT x.survivor_id, m.depth + 1 "
               "FROM m CROSS JOIN LATERAL (SELECT survivor_id FROM customer_changes WHERE customer_id = m.id "
               "AND change = 'MERGED' ORDER BY seq DESC LIMIT 1) x WHERE m.depth < 16) SELECT id FROM m ORDER BY depth DESC LIMIT 1)"
               ", $13, $14, $15, $16, $17) "
               "ON CONFLICT (id) DO NOTHING RETURNING id";
static const char SQL_INSERT_REQUIREMENT[] =
    "INSERT INTO deal_requirements (deal_id, position, code, description, quantity) VALUES ($1, $2, $3, $4, $5)";
static const char SQL_LOCK_ORDER[] =
    "SELECT state, contract_id, deal_id, currency FROM orders WHERE id = $1 FOR UPDATE";
static const char SQL_CLOSE_ORDER[] = "UPDATE orders SET state = 'CLOSED', close_time = coalesce(" LTC_SQL_TS_PARAM(
    "$2") ", now()), "
          "collected_minor = $3, collected_currency = $4, close_handoff_id = $5, update_time = now() WHERE id = $1 "
          "RETURNING " LTC_SQL_MICROS("close_time");
static const char SQL_LOCK_CONTRACT_STATE[] = "SELECT state FROM contracts WHERE id = $1 FOR UPDATE";
/* Closes the contract (or deal) unless one of its orders is still open; returns a row when it closed it. */
static const char SQL_CLOSE_CONTRACT[] = "UPDATE contracts SET state = 'CLOSED', close_time = " LTC_SQL_TS_PARAM(
    "$2") ", update_time = now() "
          "WHERE id = $1 AND state = 'SIGNED' "
          "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.contract_id = $1 AND o.state <> 'CLOSED') RETURNING id";
static const char SQL_LOCK_DEAL[] = "SELECT state FROM deals WHERE id = $1 FOR UPDATE";
static const char SQL_CLOSE_DEAL[] =
    "UPDATE deals SET state = 'CLOSED', update_time = now() WHERE id = $1 AND state = 'ORDERED' "
    "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.deal_id = $1 AND o.state <> 'CLOSED') RETURNING id";

/* --- AcceptWonBid ---------------------------------------------------------------------------------------- */

/* Validates the hand-off; fills the deal id and the expected amount. */
static int validate_won_bid(ltc_call *c, const Ltc__Bto__V1__AcceptWonBidRequest *req, char deal_id[LTC_UUID_LEN + 1],
                            char opp_id[LTC_UUID_LEN + 1], char bid_id[LTC_UUID_LEN + 1],
                            char customer_id[LTC_UUID_LEN + 1], ltc_money *amount, int64_t *won_us, int *won_present,
                            ltc_status *st) {
    bto_check_uuid(req->handoff_id, "handoff_id", st);
    int deal_ok = ltc_name_parse(req->deal, "deals", "deal", deal_id, st) == 0;
    int opp_ok = ltc_name_parse(req->opportunity, "opportunities", "opportunity", opp_id, st) == 0;
    if (deal_ok && opp_ok && strcmp(deal_id, opp_id) != 0)
        ltc_status_bad_field(st, "deal", "must carry the opportunity's id");
    ltc_name_parse(req->bid, "bids", "bid", bid_id, st);
    ltc_check_text(req->customer_name, "customer_name", 1, 200, st);
    ltc_customer_check(req->customer, "customer", 1, customer_id, st);
    ltc_check_triangle(req->iron_triangle, "iron_triangle", 1, st);
    ltc_money_from_proto(req->expected_amount, "expected_amount", 0, amount, st);
    if (req->n_requirements > LTC_MAX_REQUIREMENTS) {
        ltc_status_bad_field(st, "requirements", "at most %d", LTC_MAX_REQUIREMENTS);
    } else {
        for (size_t i = 0; i < req->n_requirements; i++) {
            const Ltc__Bto__V1__WonBidRequirement *q = req->requirements[i];
            ltc_check_requirement(c, "requirements", i, q->code, q->description, q->quantity, st);
        }
    }
    bto_ts_micros(req->won_time, "won_time", won_us, won_present, st);
    return st->code == LTC_OK ? 0 : -1;
}

/* IntakeService/AcceptWonBid: LTB hands over a won bid; the deal opens (state OPEN, id = the opportunity's id) with
 * its requirements and its customer's snapshot (required: "customer"). Errors: INVALID_ARGUMENT (a malformed hand-off, fields named), ALREADY_EXISTS "DEAL_EXISTS" when
 * another hand-off already opened this deal. A repeat of the same hand-off is answered by the runtime. */
int bto_accept_won_bid(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__AcceptWonBidRequest *req = (const void *)m;
    char deal_id[LTC_UUID_LEN + 1], opp_id[LTC_UUID_LEN + 1], bid_id[LTC_UUID_LEN + 1], cust_id[LTC_UUID_LEN + 1];
    ltc_money amount = {{0}, 0};
    int64_t won_us = 0;
    int won_present = 0;
    if (validate_won_bid(c, req, deal_id, opp_id, bid_id, cust_id, &amount, &won_us, &won_present, st) != 0) return -1;
    const Ltc__Type__V1__IronTriangle *t = req->iron_triangle;
    const Ltc__Type__V1__CustomerSnapshot *cs = req->customer;
    const char *params[17] = {deal_id,
                              opp_id,
                              bid_id,
                              req->customer_name,
                              t->account_owner,
                              t->solution_owner,
                              t->fulfilment_owner,
                              ltc_sql_i64(c, amount.minor),
                              amount.currency,
                              req->handoff_id,
                              won_present ? ltc_sql_i64(c, won_us) : NULL,
                              cust_id,
                              cs->legal_name,
                              cs->tax_id ? cs->tax_id : "",
                              cs->country_code ? cs->country_code : "",
                              cs->billing_currency ? cs->billing_currency : "",
                              cs->account_owner ? cs->account_owner : ""};
    PGresult *r = ltc_call_query(c, st, SQL_INSERT_DEAL, 17, params);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "DEAL_EXISTS", "deal %s was already handed over", req->deal);
    for (size_t i = 0; i < req->n_requirements; i++) {
        const Ltc__Bto__V1__WonBidRequirement *q = req->requirements[i];
        const char *rp[5] = {deal_id, ltc_sql_i64(c, (int64_t)i), q->code, q->description, ltc_sql_i64(c, q->quantity)};
        if (!ltc_call_query(c, st, SQL_INSERT_REQUIREMENT, 5, rp)) return -1;
    }
    if (bto_milestone(c, st, deal_id, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_DEAL_OPENED,
                      ltc_call_printf(c, "deals/%s", deal_id), amount.currency, amount.minor, NULL, NULL) != 0)
        return -1;
    Ltc__Bto__V1__AcceptWonBidResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__AcceptWonBidResponse, LTC__BTO__V1__ACCEPT_WON_BID_RESPONSE__INIT);
    resp->deal = bto_name(c, "deals", deal_id);
    *out = &resp->base;
    return 0;
}

/* --- AcceptOrderClosure ---------------------------------------------------------------------------------- */

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
    if (!ltc_call_query(c, st, SQL_LOCK_CONTRACT_STATE, 1, cp)) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_CLOSE_CONTRACT, 2, cp);
    if (!r) return -1;
    *contract_closed = PQntuples(r) == 1;
    const char *dp[1] = {deal_id};
    if (!ltc_call_query(c, st, SQL_LOCK_DEAL, 1, dp)) return -1;
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
    if (validate_closure(req, order_id, contract_id, &collected, &close_us, &close_present, st) != 0) return -1;
    const char *op[1] = {order_id};
    PGresult *r = ltc_call_query(c, st, SQL_LOCK_ORDER, 1, op);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order %s not found", req->order);
    if (strcmp(ltc_pg_str(r, 0, 1), contract_id) != 0)
        ltc_status_bad_field(st, "contract", "is not the contract of %s", req->order);
    if (strcmp(ltc_pg_str(r, 0, 3), collected.currency) != 0)
        ltc_status_bad_field(st, "collected_amount", "currency %s differs from the order's %s", collected.currency,
                             ltc_pg_str(r, 0, 3));
    if (st->code != LTC_OK) return -1;
    if (strcmp(ltc_pg_str(r, 0, 0), "PLACED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_ALREADY_CLOSED", "order %s is already %s", req->order,
                              ltc_pg_str(r, 0, 0));
    const char *deal_id = ltc_pg_str(r, 0, 2);
    const char *up[5] = {order_id, close_present ? ltc_sql_i64(c, close_us) : NULL, ltc_sql_i64(c, collected.minor),
                         collected.currency, req->handoff_id};
    PGresult *u = ltc_call_query(c, st, SQL_CLOSE_ORDER, 5, up);
    if (!u) return -1;
    int contract_closed = 0;
    if (close_parents(c, st, contract_id, deal_id, ltc_pg_str(u, 0, 0), &contract_closed) != 0) return -1;
    Ltc__Bto__V1__AcceptOrderClosureResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__AcceptOrderClosureResponse, LTC__BTO__V1__ACCEPT_ORDER_CLOSURE_RESPONSE__INIT);
    resp->contract_closed = contract_closed;
    *out = &resp->base;
    return 0;
}

/* --- OTD's order events ---------------------------------------------------------------------------------- */

static const char SQL_LOCK_ORDER_EVENT[] = "SELECT state, deal_id, " LTC_SQL_MICROS(
    "promise_time") ", contract_id, total_minor, currency FROM orders WHERE id = $1 FOR UPDATE";
static const char SQL_CANCEL_ORDER[] =
    "UPDATE orders SET state = 'CANCELLED', cancel_reason = $2, cancel_time = coalesce(to_timestamp($3::bigint / "
    "1e6), now()), cancelled_by = $4, cancel_handoff_id = $5, update_time = now() WHERE id = $1";
static const char SQL_PROMISE[] =
    "UPDATE orders SET promise_date = $2::date, promise_late = $3::boolean, promise_reason = $4, "
    "promise_time = coalesce(to_timestamp($5::bigint / 1e6), now()), update_time = now() WHERE id = $1";

/* AcceptOrderCancelled: OTD cancelled an order: PLACED -> CANCELLED (its contract can then be cancelled, which
 * reopens the deal). Errors: INVALID_ARGUMENT (handoff_id, order, deal, reason, cancel_time), NOT_FOUND
 * "ORDER_NOT_FOUND", FAILED_PRECONDITION "ORDER_ALREADY_CLOSED". A second cancellation of a cancelled order is a
 * no-op. */
int bto_accept_order_cancelled(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__AcceptOrderCancelledRequest *req = (const void *)m;
    char order_id[LTC_UUID_LEN + 1], deal_id[LTC_UUID_LEN + 1];
    bto_check_uuid(req->handoff_id, "handoff_id", st);
    ltc_name_parse(req->order, "orders", "order", order_id, st);
    ltc_name_parse(req->deal, "deals", "deal", deal_id, st);
    ltc_check_text(req->reason, "reason", 1, 1000, st);
    ltc_check_text(req->cancelled_by, "cancelled_by", 0, 128, st);
    int64_t at = 0;
    int at_present = 0;
    bto_ts_micros(req->cancel_time, "cancel_time", &at, &at_present, st);
    if (st->code != LTC_OK) return -1;
    const char *p[1] = {order_id};
    PGresult *r = ltc_call_query(c, st, SQL_LOCK_ORDER_EVENT, 1, p);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order %s not found", req->order);
    const char *state = ltc_pg_str(r, 0, 0);
    if (strcmp(state, "CLOSED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_ALREADY_CLOSED",
                              "order %s is CLOSED (paid): it cannot be cancelled", req->order);
    if (strcmp(state, "PLACED") == 0) {
        const char *u[5] = {order_id, req->reason, at_present ? ltc_sql_i64(c, at) : NULL, req->cancelled_by,
                            req->handoff_id};
        if (!ltc_call_query(c, st, SQL_CANCEL_ORDER, 5, u)) return -1;
    }
    Ltc__Bto__V1__AcceptOrderCancelledResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__AcceptOrderCancelledResponse, LTC__BTO__V1__ACCEPT_ORDER_CANCELLED_RESPONSE__INIT);
    resp->order = bto_name(c, "orders", order_id);
    *out = &resp->base;
    return 0;
}

/* AcceptPromiseChanged: OTD's current promise date and lateness, shown on the order. An event older than the one
 * applied (promise_time) changes nothing. Errors: INVALID_ARGUMENT (handoff_id, order, deal, promise_date,
 * promise_time), NOT_FOUND "ORDER_NOT_FOUND". */
int bto_accept_promise_changed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__AcceptPromiseChangedRequest *req = (const void *)m;
    char order_id[LTC_UUID_LEN + 1], deal_id[LTC_UUID_LEN + 1], date[11];
    bto_check_uuid(req->handoff_id, "handoff_id", st);
    ltc_name_parse(req->order, "orders", "order", order_id, st);
    ltc_name_parse(req->deal, "deals", "deal", deal_id, st);
    ltc_date_to_text(req->promise_date, "promise_date", 0, date, st);
    ltc_check_text(req->reason, "reason", 0, 1000, st);
    int64_t at = 0;
    int at_present = 0;
    bto_ts_micros(req->promise_time, "promise_time", &at, &at_present, st);
    if (st->code != LTC_OK) return -1;
    const char *p[1] = {order_id};
    PGresult *r = ltc_call_query(c, st, SQL_LOCK_ORDER_EVENT, 1, p);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order %s not found", req->order);
    int stale = at_present && !ltc_pg_isnull(r, 0, 2) && ltc_pg_i64(r, 0, 2) > at;
    if (!stale) {
        const char *u[5] = {order_id, date, req->late ? "true" : "false", req->reason,
                            at_present ? ltc_sql_i64(c, at) : NULL};
        if (!ltc_call_query(c, st, SQL_PROMISE, 5, u)) return -1;
    }
    Ltc__Bto__V1__AcceptPromiseChangedResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__AcceptPromiseChangedResponse, LTC__BTO__V1__ACCEPT_PROMISE_CHANGED_RESPONSE__INIT);
    resp->order = bto_name(c, "orders", order_id);
    *out = &resp->base;
    return 0;
}
