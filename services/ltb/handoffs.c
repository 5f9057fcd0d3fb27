/* handoffs.c - what LTB sends: a won bid to BTO (ltc.bto.v1.IntakeService/AcceptWonBid); every customer change
 * to BTO, OTD and DTC (their IntakeService/AcceptCustomerChanged), each with the customer's snapshot; an
 * opportunity lost, or its reserving admission superseded, to DTC (ltc.dtc.v1.IntakeService/AcceptOpportunityClosed).
 *
 * Each hand-off's message is built here from LTB's own rows, read inside the transaction that changed them (never
 * copied out of the public response), and queued with ltc_outbox_put in that transaction: it commits with the state
 * change or not at all. The receivers are declared once, below; ltc_outbox_put derives the method's path from the
 * receiver's service descriptor and refuses a message of another type. */
#include "ltb.h"
#include "ltc/bto/v1/intake_service.pb-c.h"
#include "ltc/dtc/v1/intake_service.pb-c.h"
#include "ltc/otd/v1/intake_service.pb-c.h"
#include "ltc/outbox.h"

/* --- receivers ----------------------------------------------------------------------------------------------- */

static const ltc_handoff_peer BTO = {"bto", &ltc__bto__v1__intake_service__descriptor};
static const ltc_handoff_peer OTD = {"otd", &ltc__otd__v1__intake_service__descriptor};
static const ltc_handoff_peer DTC = {"dtc", &ltc__dtc__v1__intake_service__descriptor};

/* --- SQL ----------------------------------------------------------------------------------------------------- */

static const char SQL_SNAPSHOT[] = "SELECT id::text, legal_name, tax_id, country_code, billing_currency, account_owner,"
                                   " " LTC_SQL_MICROS("update_time") " FROM customers WHERE id = $1";
static const char SQL_OPP_CUSTOMER[] = "SELECT customer_id::text FROM opportunities WHERE id = $1";
static const char SQL_WON_BID[] =
    "SELECT o.customer_name, o.account_owner, o.solution_owner, o.fulfilment_owner, b.amount_minor, b.currency,"
    " " LTC_SQL_MICROS(
        "o.update_time") " FROM opportunities o JOIN bids b ON b.opportunity_id = o.id WHERE o.id = $1 AND b.id = $2";
enum {
    WB_CUSTOMER,
    WB_AR,
    WB_AMOUNT = 4,
    WB_CURRENCY,
    WB_WON_TIME
};
/* The customer of an opportunity that ever had an admission decision (none: DTC holds nothing for it). */
static const char SQL_ADMITTED_CUSTOMER[] =
    "SELECT o.customer_id::text FROM opportunities o WHERE o.id = $1 AND o.customer_id IS NOT NULL"
    " AND EXISTS (SELECT 1 FROM admission_decisions d WHERE d.opportunity_id = o.id)";
static const char SQL_REQUIREMENTS[] =
    "SELECT code, description, quantity FROM requirements WHERE opportunity_id = $1 ORDER BY position";

/* --- hand-offs ----------------------------------------------------------------------------------------------- */

static Ltc__Type__V1__CustomerSnapshot *snapshot_from_row(ltc_call *c, const PGresult *r) {
    Ltc__Type__V1__CustomerSnapshot *s =
        LTC_NEW(c, Ltc__Type__V1__CustomerSnapshot, LTC__TYPE__V1__CUSTOMER_SNAPSHOT__INIT);
    s->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, 0, 0));
    s->legal_name = ltc_call_strdup(c, ltc_pg_str(r, 0, 1));
    s->tax_id = ltc_call_strdup(c, ltc_pg_str(r, 0, 2));
    s->country_code = ltc_call_strdup(c, ltc_pg_str(r, 0, 3));
    s->billing_currency = ltc_call_strdup(c, ltc_pg_str(r, 0, 4));
    s->account_owner = ltc_call_strdup(c, ltc_pg_str(r, 0, 5));
    return s;
}

static PGresult *snapshot_row(ltc_call *c, ltc_status *st, const char *id) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_SNAPSHOT, 1, p);
    if (r && PQntuples(r) == 0) {
        ltc_status_set(st, LTC_NOT_FOUND, "CUSTOMER_NOT_FOUND", "customer %s does not exist", id);
        return NULL;
    }
    return r;
}

int ltb_customer_snapshot(ltc_call *c, ltc_status *st, const char *id, Ltc__Type__V1__CustomerSnapshot **out) {
    PGresult *r = snapshot_row(c, st, id);
    if (!r) return -1;
    *out = snapshot_from_row(c, r);
    return 0;
}

/* The same change to the three stages: three message types with the same fields (DTC's also has the note). */
int ltb_handoff_customer_changed(ltc_call *c, ltc_status *st, const char *id, Ltc__Type__V1__CustomerChange change,
                                 const char *survivor_id, const char *note) {
    PGresult *r = snapshot_row(c, st, id);
    if (!r) return -1;
    Ltc__Type__V1__CustomerSnapshot *snap = snapshot_from_row(c, r);
    char *survivor = survivor_id ? ltc_call_printf(c, "customers/%s", survivor_id) : "";
    Google__Protobuf__Timestamp *when = ltc_ts_from_pg(c, r, 0, 6);
    char hb[LTC_UUID_LEN + 1], ho[LTC_UUID_LEN + 1], hd[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(hb);
    ltc_uuid_new_v7(ho);
    ltc_uuid_new_v7(hd);

    Ltc__Bto__V1__AcceptCustomerChangedRequest *b =
        LTC_NEW(c, Ltc__Bto__V1__AcceptCustomerChangedRequest, LTC__BTO__V1__ACCEPT_CUSTOMER_CHANGED_REQUEST__INIT);
    b->handoff_id = ltc_call_strdup(c, hb);
    b->customer = snap;
    b->change = change;
    b->survivor = survivor;
    b->change_time = when;
    if (ltc_outbox_put(c, st, &BTO, "AcceptCustomerChanged", id, hb, &b->base) != 0) return -1;

    Ltc__Otd__V1__AcceptCustomerChangedRequest *o =
        LTC_NEW(c, Ltc__Otd__V1__AcceptCustomerChangedRequest, LTC__OTD__V1__ACCEPT_CUSTOMER_CHANGED_REQUEST__INIT);
    o->handoff_id = ltc_call_strdup(c, ho);
    o->customer = snap;
    o->change = change;
    o->survivor = survivor;
    o->change_time = when;
    if (ltc_outbox_put(c, st, &OTD, "AcceptCustomerChanged", id, ho, &o->base) != 0) return -1;

    Ltc__Dtc__V1__AcceptCustomerChangedRequest *d =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptCustomerChangedRequest, LTC__DTC__V1__ACCEPT_CUSTOMER_CHANGED_REQUEST__INIT);
    d->handoff_id = ltc_call_strdup(c, hd);
    d->customer = snap;
    d->change = change;
    d->survivor = survivor;
    d->note = note ? ltc_call_strdup(c, note) : "";
    d->change_time = when;
    return ltc_outbox_put(c, st, &DTC, "AcceptCustomerChanged", id, hd, &d->base);
}

/* The deal as BTO opens it: customer, iron triangle, the winning bid's amount, the time it was won (the
 * opportunity's last update, the decision itself) and the requirements in their order. */
int ltb_handoff_won_bid(ltc_call *c, ltc_status *st, const char *opp_id, const char *bid_id) {
    const char *p[] = {opp_id, bid_id};
    PGresult *r = ltc_call_query(c, st, SQL_WON_BID, 2, p);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "bid %s of opportunity %s vanished before its hand-off", bid_id,
                              opp_id);
    PGresult *q = ltc_call_query(c, st, SQL_REQUIREMENTS, 1, p);
    if (!q) return -1;

    char handoff_id[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(handoff_id);
    Ltc__Bto__V1__AcceptWonBidRequest *h =
        LTC_NEW(c, Ltc__Bto__V1__AcceptWonBidRequest, LTC__BTO__V1__ACCEPT_WON_BID_REQUEST__INIT);
    h->handoff_id = ltc_call_strdup(c, handoff_id);
    h->deal = ltc_call_printf(c, "deals/%s", opp_id);
    h->opportunity = ltc_call_printf(c, "opportunities/%s", opp_id);
    h->bid = ltc_call_printf(c, "bids/%s", bid_id);
    h->customer_name = ltc_call_strdup(c, ltc_pg_str(r, 0, WB_CUSTOMER));
    h->iron_triangle = ltc_triangle_from_pg(c, r, 0, WB_AR);
    h->expected_amount = ltc_money_msg(c, ltc_pg_str(r, 0, WB_CURRENCY), ltc_pg_i64(r, 0, WB_AMOUNT));
    h->won_time = ltc_ts_from_pg(c, r, 0, WB_WON_TIME);
    PGresult *oc = ltc_call_query(c, st, SQL_OPP_CUSTOMER, 1, p);
    if (!oc) return -1;
    if (PQntuples(oc) == 1 && !ltc_pg_isnull(oc, 0, 0) && /* NULL: a legacy opportunity (docs/credit.md) */
        ltb_customer_snapshot(c, st, ltc_pg_str(oc, 0, 0), &h->customer) != 0)
        return -1;
    h->n_requirements = (size_t)PQntuples(q);
    if (h->n_requirements) h->requirements = ltc_call_alloc(c, sizeof *h->requirements * h->n_requirements);
    for (size_t i = 0; i < h->n_requirements; i++) {
        Ltc__Bto__V1__WonBidRequirement *w =
            LTC_NEW(c, Ltc__Bto__V1__WonBidRequirement, LTC__BTO__V1__WON_BID_REQUIREMENT__INIT);
        w->code = ltc_call_strdup(c, ltc_pg_str(q, (int)i, 0));
        w->description = ltc_call_strdup(c, ltc_pg_str(q, (int)i, 1));
        w->quantity = ltc_pg_i64(q, (int)i, 2);
        h->requirements[i] = w;
    }
    return ltc_outbox_put(c, st, &BTO, "AcceptWonBid", opp_id, handoff_id, &h->base);
}

/* DTC drops the opportunity's admission reservation (of credit_decision_id only, when given). */
int ltb_handoff_opportunity_closed(ltc_call *c, ltc_status *st, const char *opp_id, const char *customer_id,
                                   const char *reason, const char *credit_decision_id) {
    char handoff_id[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(handoff_id);
    Ltc__Dtc__V1__AcceptOpportunityClosedRequest *h =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptOpportunityClosedRequest, LTC__DTC__V1__ACCEPT_OPPORTUNITY_CLOSED_REQUEST__INIT);
    h->handoff_id = ltc_call_strdup(c, handoff_id);
    h->opportunity = ltc_call_printf(c, "opportunities/%s", opp_id);
    h->customer = ltc_call_printf(c, "customers/%s", customer_id);
    h->reason = ltc_call_strdup(c, reason);
    if (credit_decision_id) h->credit_decision = ltc_call_printf(c, "creditDecisions/%s", credit_decision_id);
    return ltc_outbox_put(c, st, &DTC, "AcceptOpportunityClosed", opp_id, handoff_id, &h->base);
}

int ltb_handoff_opportunity_lost(ltc_call *c, ltc_status *st, const char *opp_id) {
    const char *p[] = {opp_id};
    PGresult *r = ltc_call_query(c, st, SQL_ADMITTED_CUSTOMER, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return 0;
    return ltb_handoff_opportunity_closed(c, st, opp_id, ltc_pg_str(r, 0, 0), "LOST", NULL);
}
