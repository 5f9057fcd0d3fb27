/* services/dtc/handoffs.c - what DTC sends when an order account closes: the order's closure to BTO
 * (ltc.bto.v1.IntakeService/AcceptOrderClosure) and the cash collected to LTB
 * (ltc.ltb.v1.IntakeService/AcceptCashCollected).
 *
 * Each hand-off's message is built here from DTC's own rows, read inside the transaction that changed them (never
 * copied out of the public response), and queued with ltc_outbox_put in that transaction: it commits with the state
 * change or not at all. The receivers are declared once, below; ltc_outbox_put derives the method's path from the
 * receiver's service descriptor and refuses a message of another type. */
#include "dtc.h"
#include "ltc/bto/v1/intake_service.pb-c.h"
#include "ltc/ltb/v1/intake_service.pb-c.h"
#include "ltc/outbox.h"

/* --- receivers ---------------------------------------------------------------------------------------------------- */

static const ltc_handoff_peer BTO = {"bto", &ltc__bto__v1__intake_service__descriptor};
static const ltc_handoff_peer LTB = {"ltb", &ltc__ltb__v1__intake_service__descriptor};

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

static const char SQL_CLOSED_ACCOUNT[] =
    "SELECT contract_id::text, deal_id::text, currency, paid_minor, " LTC_SQL_MICROS(
        "close_time") " FROM order_accounts WHERE id = $1 AND state = 'CLOSED'";
enum {
    A_CONTRACT,
    A_DEAL,
    A_CURRENCY,
    A_PAID,
    A_CLOSE_TIME
};

/* --- hand-offs ---------------------------------------------------------------------------------------------------- */

/* The order is closed, with what was collected and when: BTO closes it (and its contract and deal when they are
 * done). */
static int put_order_closure(ltc_call *c, ltc_status *st, const char *order, const PGresult *a) {
    char hid[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(hid);
    Ltc__Bto__V1__AcceptOrderClosureRequest *msg =
        LTC_NEW(c, Ltc__Bto__V1__AcceptOrderClosureRequest, LTC__BTO__V1__ACCEPT_ORDER_CLOSURE_REQUEST__INIT);
    msg->handoff_id = ltc_call_strdup(c, hid);
    msg->order = ltc_call_printf(c, "orders/%s", order);
    msg->contract = ltc_call_printf(c, "contracts/%s", ltc_pg_str(a, 0, A_CONTRACT));
    msg->collected_amount = ltc_money_msg(c, ltc_pg_str(a, 0, A_CURRENCY), ltc_pg_i64(a, 0, A_PAID));
    msg->close_time = ltc_ts_from_pg(c, a, 0, A_CLOSE_TIME);
    return ltc_outbox_put(c, st, &BTO, "AcceptOrderClosure", ltc_pg_str(a, 0, A_DEAL), hid, &msg->base);
}

/* The cash of the order is collected: LTB adds it to the deal's opportunity. */
static int put_cash_collected(ltc_call *c, ltc_status *st, const char *order, const PGresult *a) {
    char hid[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(hid);
    Ltc__Ltb__V1__AcceptCashCollectedRequest *msg =
        LTC_NEW(c, Ltc__Ltb__V1__AcceptCashCollectedRequest, LTC__LTB__V1__ACCEPT_CASH_COLLECTED_REQUEST__INIT);
    msg->handoff_id = ltc_call_strdup(c, hid);
    msg->deal = ltc_call_printf(c, "deals/%s", ltc_pg_str(a, 0, A_DEAL));
    msg->order = ltc_call_printf(c, "orders/%s", order);
    msg->collected_amount = ltc_money_msg(c, ltc_pg_str(a, 0, A_CURRENCY), ltc_pg_i64(a, 0, A_PAID));
    return ltc_outbox_put(c, st, &LTB, "AcceptCashCollected", ltc_pg_str(a, 0, A_DEAL), hid, &msg->base);
}

int dtc_handoff_closure(ltc_call *c, ltc_status *st, const char *account_id) {
    const char *p[] = {account_id};
    PGresult *a = ltc_call_query(c, st, SQL_CLOSED_ACCOUNT, 1, p);
    if (!a) return -1;
    if (PQntuples(a) != 1)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "order account %s is not closed: no closure to hand off",
                              account_id);
    if (put_order_closure(c, st, account_id, a) != 0) return -1;
    return put_cash_collected(c, st, account_id, a);
}
