/* handoffs.c - what OTD sends: an accepted shipment to DTC (ltc.dtc.v1.IntakeService/AcceptDelivery), with the
 * order's customer snapshot.
 *
 * Each hand-off's message is built here from OTD's own rows, read inside the transaction that changed them (never
 * copied out of the public response), and queued with ltc_outbox_put in that transaction: it commits with the state
 * change or not at all. The receivers are declared once, below; ltc_outbox_put derives the method's path from the
 * receiver's service descriptor and refuses a message of another type. */
#include "ltc/dtc/v1/intake_service.pb-c.h"
#include "ltc/outbox.h"
#include "otd.h"

/* --- receivers ------------------------------------------------------------------------------------------- */

static const ltc_handoff_peer DTC = {"dtc", &ltc__dtc__v1__intake_service__descriptor};

/* --- SQL ------------------------------------------------------------------------------------------------- */

/* The shipment with the facts of its order DTC opens the order account with. */
static const char SQL_SHIPMENT[] =
    "SELECT s.order_id, o.contract_id, o.deal_id, o.customer_name, o.account_owner, o.solution_owner,"
    " o.fulfilment_owner, o.total_minor, o.currency, o.state = 'ACCEPTED', s.amount_minor, s.currency, " OTD_CUSTOMER_COLS(
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
    "SELECT kind, share_bps, due_days FROM order_payment_terms WHERE order_id = $1 ORDER BY position";

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
