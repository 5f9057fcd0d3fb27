/* handoffs.c - what OTD sends: an accepted shipment to DTC (ltc.dtc.v1.IntakeService/AcceptDelivery), with the
 * order's customer snapshot; a cancelled order to BTO and DTC (AcceptOrderCancelled); a promise made or moved to BTO
 * (AcceptPromiseChanged); and the order's milestones to LTB (ltc_milestone_put).
 *
 * Each hand-off's message is built here from OTD's own rows, read inside the transaction that changed them (never
 * copied out of the public response), and queued with ltc_outbox_put in that transaction: it commits with the state
 * change or not at all. The receivers are declared once, below; ltc_outbox_put derives the method's path from the
 * receiver's service descriptor and refuses a message of another type. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ltc/bto/v1/intake_service.pb-c.h"
#include "ltc/dtc/v1/intake_service.pb-c.h"
#include "ltc/milestone.h"
#include "ltc/type/v1/milestone.pb-c.h"
#include "ltc/outbox.h"
#include "otd.h"

/* --- receivers ------------------------------------------------------------------------------------------- */

static const ltc_handoff_peer DTC = {"dtc", &ltc__dtc__v1__intake_service__descriptor};
static const ltc_handoff_peer BTO = {"bto", &ltc__bto__v1__intake_service__descriptor};

/* --- SQL ------------------------------------------------------------------------------------------------- */

/* The shipment with the facts of its order DTC opens the order account with. */
static const char SQL_SHIPMENT[] =
    "SELECT s.order_id, o.contract_id, o.deal_id, o.customer_name, o.account_owner, o.solution_owner,"
    " o.fulfilment_owner, o.total_minor, o.currency, o.state IN ('ACCEPTED', 'CLOSED'), s.amount_minor, s.currency, " OTD_CUSTOMER_COLS(
        "o.") " FROM shipments s JOIN orders o ON o.id = s.order_id WHERE s.id = $1";
enum {
    S_ORDER,
    S_CONTRACT,
    S_DEAL,
    S_CUSTOMER,
    S_AR,
    S_SR,
    S_FR,
    S_TOTAL,
    S_CURRENCY,
    S_FULLY,
    S_AMOUNT,
    S_AMOUNT_CURRENCY,
    S_CUSTOMER_ID /* then the rest of OTD_CUSTOMER_COLS */
};
static const char SQL_ORDER_TERMS[] =
    "SELECT kind, share_bps, due_days, milestone FROM order_payment_terms WHERE order_id = $1 ORDER BY position";

/* --- hand-offs ------------------------------------------------------------------------------------------- */

int otd_handoff_delivery(ltc_call *c, ltc_status *st, const char *shipment_id, const char *handoff_id) {
    const char *p[] = {shipment_id};
    PGresult *r = ltc_call_query(c, st, SQL_SHIPMENT, 1, p);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "shipment %s vanished before its hand-off", shipment_id);
    const char *order_id = ltc_pg_str(r, 0, S_ORDER), *deal_id = ltc_pg_str(r, 0, S_DEAL);
    const char *op[] = {order_id};
    PGresult *t = ltc_call_query(c, st, SQL_ORDER_TERMS, 1, op);
    if (!t) return -1;

    Ltc__Dtc__V1__AcceptDeliveryRequest *h =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptDeliveryRequest, LTC__DTC__V1__ACCEPT_DELIVERY_REQUEST__INIT);
    h->handoff_id = ltc_call_strdup(c, handoff_id);
    h->shipment = ltc_call_printf(c, "shipments/%s", shipment_id);
    h->order = ltc_call_printf(c, "orders/%s", order_id);
    h->contract = ltc_call_printf(c, "contracts/%s", ltc_pg_str(r, 0, S_CONTRACT));
    h->deal = ltc_call_printf(c, "deals/%s", deal_id);
    h->customer_name = ltc_call_strdup(c, ltc_pg_str(r, 0, S_CUSTOMER));
    h->iron_triangle = ltc_triangle_from_pg(c, r, 0, S_AR);
    h->order_total = ltc_money_msg(c, ltc_pg_str(r, 0, S_CURRENCY), ltc_pg_i64(r, 0, S_TOTAL));
    h->n_payment_terms = (size_t)PQntuples(t);
    h->payment_terms = ltc_terms_from_pg(c, t, 0, PQntuples(t), 0);
    h->accepted_amount = ltc_money_msg(c, ltc_pg_str(r, 0, S_AMOUNT_CURRENCY), ltc_pg_i64(r, 0, S_AMOUNT));
    h->order_fully_accepted = ltc_pg_bool(r, 0, S_FULLY);
    h->customer = ltc_customer_from_pg(c, r, 0, S_CUSTOMER_ID);
    return ltc_outbox_put(c, st, &DTC, "AcceptDelivery", deal_id, handoff_id, &h->base);
}

/* The order's facts a cancellation carries. */
static const char SQL_CANCELLED[] = "SELECT contract_id, deal_id, cancel_reason, cancelled_by, " LTC_SQL_MICROS(
    "cancel_time") " FROM orders WHERE id = $1 AND state = 'CANCELLED'";

int otd_handoff_cancelled(ltc_call *c, ltc_status *st, const char *order_id) {
    const char *p[] = {order_id};
    PGresult *r = ltc_call_query(c, st, SQL_CANCELLED, 1, p);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "order %s is not cancelled at its hand-off", order_id);
    const char *deal = ltc_pg_str(r, 0, 1);
    char hb[LTC_UUID_LEN + 1], hd[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(hb);
    ltc_uuid_new_v7(hd);
    Ltc__Bto__V1__AcceptOrderCancelledRequest *b =
        LTC_NEW(c, Ltc__Bto__V1__AcceptOrderCancelledRequest, LTC__BTO__V1__ACCEPT_ORDER_CANCELLED_REQUEST__INIT);
    b->handoff_id = ltc_call_strdup(c, hb);
    b->order = ltc_call_printf(c, "orders/%s", order_id);
    b->contract = ltc_call_printf(c, "contracts/%s", ltc_pg_str(r, 0, 0));
    b->deal = ltc_call_printf(c, "deals/%s", deal);
    b->reason = ltc_call_strdup(c, ltc_pg_str(r, 0, 2));
    b->cancel_time = ltc_ts_from_pg(c, r, 0, 4);
    b->cancelled_by = ltc_call_strdup(c, ltc_pg_str(r, 0, 3));
    if (ltc_outbox_put(c, st, &BTO, "AcceptOrderCancelled", deal, hb, &b->base) != 0) return -1;
    Ltc__Dtc__V1__AcceptOrderCancelledRequest *d =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptOrderCancelledRequest, LTC__DTC__V1__ACCEPT_ORDER_CANCELLED_REQUEST__INIT);
    d->handoff_id = ltc_call_strdup(c, hd);
    d->order = b->order;
    d->contract = b->contract;
    d->deal = b->deal;
    d->reason = b->reason;
    d->cancel_time = b->cancel_time;
    d->cancelled_by = b->cancelled_by;
    if (ltc_outbox_put(c, st, &DTC, "AcceptOrderCancelled", deal, hd, &d->base) != 0) return -1;
    return otd_milestone(c, st, deal, order_id, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_ORDER_CANCELLED, NULL,
                         b->reason);
}

int otd_handoff_promise(ltc_call *c, ltc_status *st, const char *order_id, const char *deal_id, const char *previous,
                        const char *promise, int late, const char *reason) {
    char h[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(h);
    Ltc__Bto__V1__AcceptPromiseChangedRequest *b =
        LTC_NEW(c, Ltc__Bto__V1__AcceptPromiseChangedRequest, LTC__BTO__V1__ACCEPT_PROMISE_CHANGED_REQUEST__INIT);
    b->handoff_id = ltc_call_strdup(c, h);
    b->order = ltc_call_printf(c, "orders/%s", order_id);
    b->deal = ltc_call_printf(c, "deals/%s", deal_id);
    b->promise_date = otd_date_msg(c, promise);
    b->previous_promise_date = otd_date_msg(c, previous);
    b->late = late;
    b->reason = ltc_call_strdup(c, previous ? reason : "");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    b->promise_time = ltc_ts_from_micros(c, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, 0);
    if (ltc_outbox_put(c, st, &BTO, "AcceptPromiseChanged", deal_id, h, &b->base) != 0) return -1;
    ltc_milestone ms = {.deal_id = deal_id,
                        .stage = LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_OTD,
                        .kind = previous ? LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_ORDER_REPROMISED
                                         : LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_ORDER_PROMISED,
                        .record = b->order,
                        .date = promise ? promise : "",
                        .detail = previous ? (promise ? reason : "no capacity left in the horizon") : NULL};
    return ltc_milestone_put(c, st, &ms);
}

int otd_milestone(ltc_call *c, ltc_status *st, const char *deal_id, const char *order_id, int kind,
                  const ltc_money *amount, const char *detail) {
    ltc_milestone ms = {.deal_id = deal_id,
                        .stage = LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_OTD,
                        .kind = kind,
                        .record = ltc_call_printf(c, "orders/%s", order_id),
                        .amount = amount,
                        .date = "",
                        .detail = detail};
    return ltc_milestone_put(c, st, &ms);
}

Ltc__Type__V1__Date *otd_date_msg(ltc_call *c, const char *ymd) {
    if (!ymd || strlen(ymd) != 10) return NULL;
    Ltc__Type__V1__Date *d = LTC_NEW(c, Ltc__Type__V1__Date, LTC__TYPE__V1__DATE__INIT);
    d->year = (ymd[0] - '0') * 1000 + (ymd[1] - '0') * 100 + (ymd[2] - '0') * 10 + (ymd[3] - '0');
    d->month = (ymd[5] - '0') * 10 + (ymd[6] - '0');
    d->day = (ymd[8] - '0') * 10 + (ymd[9] - '0');
    return d;
}

/* The lines of a shipment at the order's prices. */
static const char SQL_SHIPMENT_LINES[] =
    "SELECT ol.product_id, ol.sku, sl.quantity, ol.unit_price_minor, ol.currency FROM shipment_lines sl "
    "JOIN order_lines ol ON ol.id = sl.order_line_id WHERE sl.shipment_id = $1 ORDER BY sl.line_no";
static const char SQL_SHIPMENT_TIME[] = "SELECT " LTC_SQL_MICROS("create_time") " FROM shipments WHERE id = $1";

int otd_handoff_shipment(ltc_call *c, ltc_status *st, const char *shipment_id, int order_fully_shipped) {
    const char *p[] = {shipment_id};
    PGresult *r = ltc_call_query(c, st, SQL_SHIPMENT, 1, p);
    if (!r) return -1;
    PGresult *l = ltc_call_query(c, st, SQL_SHIPMENT_LINES, 1, p);
    if (!l) return -1;
    PGresult *t = ltc_call_query(c, st, SQL_SHIPMENT_TIME, 1, p);
    if (!t) return -1;
    if (PQntuples(r) != 1 || PQntuples(l) < 1 || PQntuples(t) != 1)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "shipment %s vanished before its hand-off", shipment_id);
    const char *deal_id = ltc_pg_str(r, 0, S_DEAL);
    char h[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(h);
    Ltc__Dtc__V1__AcceptShipmentRequest *m =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptShipmentRequest, LTC__DTC__V1__ACCEPT_SHIPMENT_REQUEST__INIT);
    m->handoff_id = ltc_call_strdup(c, h);
    m->shipment = ltc_call_printf(c, "shipments/%s", shipment_id);
    m->order = ltc_call_printf(c, "orders/%s", ltc_pg_str(r, 0, S_ORDER));
    m->contract = ltc_call_printf(c, "contracts/%s", ltc_pg_str(r, 0, S_CONTRACT));
    m->deal = ltc_call_printf(c, "deals/%s", deal_id);
    m->n_lines = (size_t)PQntuples(l);
    m->lines = ltc_call_alloc(c, m->n_lines * sizeof *m->lines);
    for (int i = 0; i < PQntuples(l); i++) {
        Ltc__Dtc__V1__ReturnLine *x = LTC_NEW(c, Ltc__Dtc__V1__ReturnLine, LTC__DTC__V1__RETURN_LINE__INIT);
        x->product = ltc_call_printf(c, "products/%s", ltc_pg_str(l, i, 0));
        x->sku = ltc_call_strdup(c, ltc_pg_str(l, i, 1));
        x->quantity = ltc_pg_i64(l, i, 2);
        x->unit_price = ltc_money_msg(c, ltc_pg_str(l, i, 4), ltc_pg_i64(l, i, 3));
        m->lines[i] = x;
    }
    m->amount = ltc_money_msg(c, ltc_pg_str(r, 0, S_AMOUNT_CURRENCY), ltc_pg_i64(r, 0, S_AMOUNT));
    m->ship_time = ltc_ts_from_pg(c, t, 0, 0);
    m->order_fully_shipped = order_fully_shipped;
    m->customer = ltc_customer_from_pg(c, r, 0, S_CUSTOMER_ID);
    return ltc_outbox_put(c, st, &DTC, "AcceptShipment", deal_id, h, &m->base);
}

static const char SQL_RETURN[] =
    "SELECT r.order_id, r.shipment_id, o.deal_id, r.amount_minor, r.currency, r.reason, " LTC_SQL_MICROS(
        "r.create_time") ", " OTD_CUSTOMER_COLS("o.") " FROM returns r JOIN orders o ON o.id = r.order_id "
                                                      "WHERE r.id = $1";
static const char SQL_RETURN_LINES[] =
    "SELECT ol.product_id, ol.sku, rl.quantity, ol.unit_price_minor, ol.currency FROM return_lines rl "
    "JOIN order_lines ol ON ol.id = rl.order_line_id WHERE rl.return_id = $1 ORDER BY rl.line_no";

int otd_handoff_return(ltc_call *c, ltc_status *st, const char *return_id, const char *handoff_id) {
    const char *p[] = {return_id};
    PGresult *r = ltc_call_query(c, st, SQL_RETURN, 1, p);
    if (!r) return -1;
    PGresult *l = ltc_call_query(c, st, SQL_RETURN_LINES, 1, p);
    if (!l) return -1;
    if (PQntuples(r) != 1 || PQntuples(l) < 1)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "return %s vanished before its hand-off", return_id);
    const char *order_id = ltc_pg_str(r, 0, 0), *deal_id = ltc_pg_str(r, 0, 2);
    Ltc__Dtc__V1__AcceptReturnRequest *m =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptReturnRequest, LTC__DTC__V1__ACCEPT_RETURN_REQUEST__INIT);
    m->handoff_id = ltc_call_strdup(c, handoff_id);
    m->rma = ltc_call_printf(c, "returns/%s", return_id);
    m->order = ltc_call_printf(c, "orders/%s", order_id);
    m->shipment = ltc_call_printf(c, "shipments/%s", ltc_pg_str(r, 0, 1));
    m->deal = ltc_call_printf(c, "deals/%s", deal_id);
    m->n_lines = (size_t)PQntuples(l);
    m->lines = ltc_call_alloc(c, m->n_lines * sizeof *m->lines);
    for (int i = 0; i < PQntuples(l); i++) {
        Ltc__Dtc__V1__ReturnLine *x = LTC_NEW(c, Ltc__Dtc__V1__ReturnLine, LTC__DTC__V1__RETURN_LINE__INIT);
        x->product = ltc_call_printf(c, "products/%s", ltc_pg_str(l, i, 0));
        x->sku = ltc_call_strdup(c, ltc_pg_str(l, i, 1));
        x->quantity = ltc_pg_i64(l, i, 2);
        x->unit_price = ltc_money_msg(c, ltc_pg_str(l, i, 4), ltc_pg_i64(l, i, 3));
        m->lines[i] = x;
    }
    m->amount = ltc_money_msg(c, ltc_pg_str(r, 0, 4), ltc_pg_i64(r, 0, 3));
    m->reason = ltc_call_strdup(c, ltc_pg_str(r, 0, 5));
    m->receive_time = ltc_ts_from_pg(c, r, 0, 6);
    m->customer = ltc_customer_from_pg(c, r, 0, 7);
    if (ltc_outbox_put(c, st, &DTC, "AcceptReturn", deal_id, handoff_id, &m->base) != 0) return -1;
    ltc_money amount = {.minor = ltc_pg_i64(r, 0, 3)};
    snprintf(amount.currency, sizeof amount.currency, "%s", ltc_pg_str(r, 0, 4));
    return otd_milestone(c, st, deal_id, order_id, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_RETURNED, &amount,
                         m->reason);
}
