/* intake.c - hand-offs into LTB (ltc.ltb.v1.IntakeService). The runtime dedups by handoff_id before calling us;
 * here a hand-off is validated like client input (a malformed one is INVALID_ARGUMENT, which the sender parks) and
 * applied in the server's transaction. */
#include <string.h>

#include "ltb.h"
#include "ltc/audit.h"

/* --- SQL ----------------------------------------------------------------------------------------------------- */

static const char SQL_ORDER_GET[] =
    "SELECT opportunity_id::text, amount_minor, currency FROM collected_orders WHERE order_id = $1";
static const char SQL_ORDER_INSERT[] =
    "INSERT INTO collected_orders (id, opportunity_id, order_id, amount_minor, currency, handoff_id)"
    " VALUES ($1, $2, $3, $4, $5, $6)";
static const char SQL_OPP_COLLECT[] =
    "UPDATE opportunities SET stage = 'CASH_COLLECTED', collected_minor = $2, version = version + 1,"
    " update_time = now() WHERE id = $1";

/* An order already counted: the same report again (same deal, same amount) changes nothing (0, *seen = 1); any
 * other report of it is refused. 0 with *seen = 0 when the order is new. */
static int order_seen(ltc_call *c, ltc_status *st, const char *order, const char *opp, const ltc_money *amount,
                      int *seen) {
    const char *p[] = {order};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_GET, 1, p);
    if (!r) return -1;
    *seen = PQntuples(r) > 0;
    if (!*seen) return 0;
    if (strcmp(ltc_pg_str(r, 0, 0), opp) != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_OF_ANOTHER_DEAL",
                              "order %s was already collected for deal %s, not %s", order, ltc_pg_str(r, 0, 0), opp);
    if (ltc_pg_i64(r, 0, 1) != amount->minor || strcmp(ltc_pg_str(r, 0, 2), amount->currency) != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_ALREADY_COLLECTED",
                              "order %s was already collected with another amount (%lld %s minor units)", order,
                              (long long)ltc_pg_i64(r, 0, 1), ltc_pg_str(r, 0, 2));
    return 0;
}

/* AcceptCashCollected (from DTC): an order of the deal is paid and closed. Adds its cash to the opportunity's
 * collected amount (each order once, kept in collected_orders) and moves it WON -> CASH_COLLECTED (stage history
 * row on the first order only). The same order reported again with the same amount is OK and changes nothing.
 * INVALID_ARGUMENT (handoff_id, deal, order, collected_amount, or a currency other than the opportunity's);
 * NOT_FOUND (OPPORTUNITY_NOT_FOUND); FAILED_PRECONDITION (OPPORTUNITY_NOT_WON, ORDER_OF_ANOTHER_DEAL,
 * ORDER_ALREADY_COLLECTED); OUT_OF_RANGE (COLLECTED_AMOUNT_OVERFLOW). */
int ltb_accept_cash_collected(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__AcceptCashCollectedRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1], order[LTC_UUID_LEN + 1];
    ltc_money amount = {{0}, 0};
    if (!ltc_uuid_valid(req->handoff_id)) ltc_status_bad_field(st, "handoff_id", "must be a UUID");
    ltc_name_parse(req->deal, "deals", "deal", id, st);
    ltc_name_parse(req->order, "orders", "order", order, st);
    ltc_money_from_proto(req->collected_amount, "collected_amount", 0, &amount, st);
    if (st->code != LTC_OK) return -1;

    ltb_opp_locked opp;
    if (ltb_opp_lock(c, st, id, &opp) != 0) return -1;
    if (opp.stage != LTB_STAGE(WON) && opp.stage != LTB_STAGE(CASH_COLLECTED))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OPPORTUNITY_NOT_WON", "opportunity %s is %s, not WON", id,
                              ltb_stage_text(opp.stage));
    if (strcmp(opp.currency, amount.currency) != 0)
        return ltc_status_bad_field(st, "collected_amount.currency_code", "must be %s, the deal's currency, not %s",
                                    opp.currency, amount.currency);
    int seen;
    if (order_seen(c, st, order, id, &amount, &seen) != 0) return -1;
    if (!seen) {
        int64_t total;
        if (ltc_i64_add(opp.collected_minor, amount.minor, &total) != 0)
            return ltc_status_set(st, LTC_OUT_OF_RANGE, "COLLECTED_AMOUNT_OVERFLOW",
                                  "collected amount of opportunity %s would overflow", id);
        char row[LTC_UUID_LEN + 1];
        ltc_uuid_new(row);
        const char *pi[] = {row, id, order, ltc_sql_i64(c, amount.minor), amount.currency, req->handoff_id};
        if (!ltc_call_query(c, st, SQL_ORDER_INSERT, 6, pi)) return -1;
        const char *pu[] = {id, ltc_sql_i64(c, total)};
        if (!ltc_call_query(c, st, SQL_OPP_COLLECT, 2, pu)) return -1;
        if (opp.stage == LTB_STAGE(WON) && ltb_stage_record(c, st, id, LTB_STAGE(CASH_COLLECTED)) != 0) return -1;
        if (opp.stage == LTB_STAGE(WON)) ltb_audit_stage(c, id, opp.stage, LTB_STAGE(CASH_COLLECTED));
        ltc_audit_change_money(c, ltc_call_printf(c, "opportunities/%s", id), "collected_amount", opp.currency,
                               opp.collected_minor, 1, total, 1);
    }

    Ltc__Ltb__V1__AcceptCashCollectedResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__AcceptCashCollectedResponse, LTC__LTB__V1__ACCEPT_CASH_COLLECTED_RESPONSE__INIT);
    resp->opportunity = ltc_call_printf(c, "opportunities/%s", id);
    *out = &resp->base;
    return 0;
}
