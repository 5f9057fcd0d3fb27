/* customers.c - the customer in BTO (docs/credit.md, "The customer in every stage"): LTB owns customers; BTO keeps
 * the snapshot that came with each deal (AcceptWonBid, intake.c), shows it on deals and orders, filters by it, and
 * keeps it current from LTB's AcceptCustomerChanged hand-off (here): a new snapshot is written onto the customer's
 * deals; a merge moves the merged customer's deals and orders to the survivor. Every change applied is recorded in
 * customer_changes. Lock order as everywhere in BTO: orders before deals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bto.h"
#include "ltc/ids.h"

/* --- SQL ------------------------------------------------------------------------------------------------- */

/* UPDATED, BLOCKED, UNBLOCKED: the new snapshot on every deal of the customer (the orders show their deal's). */
static const char SQL_ORDERS_OF_CUSTOMER[] = "SELECT id FROM orders WHERE customer_id = $1 ORDER BY id FOR UPDATE";
static const char SQL_DEALS_SNAPSHOT[] =
    "UPDATE deals SET customer_name = $2, customer_legal_name = $2, customer_tax_id = $3, customer_country_code = $4,"
    " customer_billing_currency = $5, customer_account_owner = $6, update_time = now() WHERE customer_id = $1";
/* MERGED: the merged customer's orders and deals to the survivor; the deals take the survivor's snapshot from one of
 * its own deals when BTO has one (else they keep their names until LTB's next change of the survivor). */
static const char SQL_ORDERS_MERGE[] = "UPDATE orders SET customer_id = $2, update_time = now() WHERE customer_id = $1";
static const char SQL_DEALS_MERGE[] =
    "WITH s AS (SELECT customer_legal_name AS n, customer_tax_id AS t, customer_country_code AS cc,"
    " customer_billing_currency AS bc, customer_account_owner AS ao FROM deals"
    " WHERE customer_id = $2 ORDER BY update_time DESC, seq DESC LIMIT 1) "
    "UPDATE deals d SET customer_id = $2, customer_name = coalesce((SELECT n FROM s), d.customer_name),"
    " customer_legal_name = coalesce((SELECT n FROM s), d.customer_legal_name),"
    " customer_tax_id = coalesce((SELECT t FROM s), d.customer_tax_id),"
    " customer_country_code = coalesce((SELECT cc FROM s), d.customer_country_code),"
    " customer_billing_currency = coalesce((SELECT bc FROM s), d.customer_billing_currency),"
    " customer_account_owner = coalesce((SELECT ao FROM s), d.customer_account_owner), update_time = now()"
    " WHERE d.customer_id = $1";
static const char SQL_RECORD_CHANGE[] =
    "INSERT INTO customer_changes (id, customer_id, change, survivor_id, handoff_id, updated_records, change_time) "
    "VALUES ($1, $2, $3, $4, $5, $6, coalesce(" LTC_SQL_TS_PARAM("$7") ", now()))";

/* --- AcceptCustomerChanged ------------------------------------------------------------------------------- */

/* IntakeService/AcceptCustomerChanged (from "ltb"): applies a customer change to the customer's deals and orders and
 * records it. UPDATED, BLOCKED, UNBLOCKED: the new snapshot onto the deals (blocking changes nothing else here: DTC
 * refuses the customer's credit, so CreateOrder is refused); MERGED: deals and orders move to the survivor.
 * updated_records counts the deals and orders touched. Errors: INVALID_ARGUMENT (a malformed hand-off: handoff_id,
 * customer, change, survivor — required for MERGED only, not the customer itself —, change_time). */
int bto_accept_customer_changed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__AcceptCustomerChangedRequest *req = (const void *)m;
    char cust[LTC_UUID_LEN + 1], survivor[LTC_UUID_LEN + 1] = "";
    bto_check_uuid(req->handoff_id, "handoff_id", st);
    int cust_ok = ltc_customer_check(req->customer, "customer", 1, cust, st) == 0;
    const char *change = ltc_enum_to_db(&ltc__type__v1__customer_change__descriptor, "CUSTOMER_CHANGE_", req->change);
    if (!change || req->change == 0)
        ltc_status_bad_field(st, "change", "required: UPDATED, BLOCKED, UNBLOCKED, MERGED");
    int merged = req->change == LTC__TYPE__V1__CUSTOMER_CHANGE__CUSTOMER_CHANGE_MERGED;
    if (merged) {
        if (ltc_name_parse(req->survivor, "customers", "survivor", survivor, st) == 0 && cust_ok &&
            strcmp(survivor, cust) == 0)
            ltc_status_bad_field(st, "survivor", "must differ from the merged customer");
    } else if (req->survivor && *req->survivor) {
        ltc_status_bad_field(st, "survivor", "only for MERGED");
    }
    int64_t when_us = 0;
    int when_present = 0;
    bto_ts_micros(req->change_time, "change_time", &when_us, &when_present, st);
    if (st->code != LTC_OK) return -1;

    const char *cp[1] = {cust};
    PGresult *o = ltc_call_query(c, st, SQL_ORDERS_OF_CUSTOMER, 1, cp); /* orders first, then deals */
    if (!o) return -1;
    int64_t updated = 0;
    if (merged) {
        const char *mp[2] = {cust, survivor};
        PGresult *ou = ltc_call_query(c, st, SQL_ORDERS_MERGE, 2, mp);
        if (!ou) return -1;
        PGresult *du = ltc_call_query(c, st, SQL_DEALS_MERGE, 2, mp);
        if (!du) return -1;
        updated = atoll(PQcmdTuples(ou)) + atoll(PQcmdTuples(du));
    } else {
        const Ltc__Type__V1__CustomerSnapshot *s = req->customer;
        const char *dp[6] = {cust,
                             s->legal_name,
                             s->tax_id ? s->tax_id : "",
                             s->country_code ? s->country_code : "",
                             s->billing_currency ? s->billing_currency : "",
                             s->account_owner ? s->account_owner : ""};
        PGresult *du = ltc_call_query(c, st, SQL_DEALS_SNAPSHOT, 6, dp);
        if (!du) return -1;
        updated = atoll(PQcmdTuples(du)) + PQntuples(o);
    }
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *rp[7] = {id,
                         cust,
                         change,
                         merged ? survivor : NULL,
                         req->handoff_id,
                         ltc_sql_i64(c, updated),
                         when_present ? ltc_sql_i64(c, when_us) : NULL};
    if (!ltc_call_query(c, st, SQL_RECORD_CHANGE, 7, rp)) return -1;
    Ltc__Bto__V1__AcceptCustomerChangedResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__AcceptCustomerChangedResponse, LTC__BTO__V1__ACCEPT_CUSTOMER_CHANGED_RESPONSE__INIT);
    resp->updated_records = updated > INT32_MAX ? INT32_MAX : (int32_t)updated;
    *out = &resp->base;
    return 0;
}
