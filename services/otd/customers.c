/* customers.c - the customer in OTD (docs/credit.md, "The customer in every stage"): LTB owns customers; OTD keeps
 * the snapshot that came with each order (AcceptOrder, intake.c), shows it, filters by it, hands it on to DTC with
 * each delivery, and keeps it current from LTB's AcceptCustomerChanged hand-off (here): a new snapshot is written
 * onto the customer's orders; a merge moves the merged customer's orders to the survivor. Blocking changes no order
 * state here: DTC refuses the customer's next release or shipment. Every change applied is recorded in
 * customer_changes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otd.h"

/* --- SQL ------------------------------------------------------------------------------------------------- */

static const char SQL_ORDERS_SNAPSHOT[] =
    "UPDATE orders SET customer_name = $2, customer_legal_name = $2, customer_tax_id = $3, customer_country_code = $4,"
    " customer_billing_currency = $5, customer_account_owner = $6, update_time = now() WHERE customer_id = $1";
/* MERGED: the orders take the survivor's snapshot from one of its own orders when OTD has one (else they keep their
 * names until LTB's next change of the survivor). */
static const char SQL_ORDERS_MERGE[] =
    "WITH s AS (SELECT customer_legal_name AS n, customer_tax_id AS t, customer_country_code AS cc,"
    " customer_billing_currency AS bc, customer_account_owner AS ao FROM orders"
    " WHERE customer_id = $2 ORDER BY update_time DESC, seq DESC LIMIT 1) "
    "UPDATE orders o SET customer_id = $2, customer_name = coalesce((SELECT n FROM s), o.customer_name),"
    " customer_legal_name = coalesce((SELECT n FROM s), o.customer_legal_name),"
    " customer_tax_id = coalesce((SELECT t FROM s), o.customer_tax_id),"
    " customer_country_code = coalesce((SELECT cc FROM s), o.customer_country_code),"
    " customer_billing_currency = coalesce((SELECT bc FROM s), o.customer_billing_currency),"
    " customer_account_owner = coalesce((SELECT ao FROM s), o.customer_account_owner), update_time = now()"
    " WHERE o.customer_id = $1";
static const char SQL_RECORD_CHANGE[] =
    "INSERT INTO customer_changes (id, customer_id, change, survivor_id, handoff_id, updated_records, change_time) "
    "VALUES ($1, $2, $3, $4, $5, $6, coalesce(" LTC_SQL_TS_PARAM("$7") ", now()))";

/* --- AcceptCustomerChanged ------------------------------------------------------------------------------- */

/* change_time: an optional Timestamp between 1970 and 9999, as microseconds. */
static void check_time(const Google__Protobuf__Timestamp *ts, int64_t *us, int *present, ltc_status *st) {
    *present = 0;
    if (!ts) return;
    if (ts->seconds < 0 || ts->seconds > 253402300799LL || ts->nanos < 0 || ts->nanos > 999999999) {
        ltc_status_bad_field(st, "change_time", "must be between 1970-01-01 and 9999-12-31");
        return;
    }
    *us = ts->seconds * 1000000 + ts->nanos / 1000;
    *present = 1;
}

/* IntakeService/AcceptCustomerChanged (from "ltb"): UPDATED, BLOCKED, UNBLOCKED: the new snapshot onto the customer's
 * orders; MERGED: its orders move to the survivor. updated_records counts the orders touched. Errors:
 * INVALID_ARGUMENT (a malformed hand-off: handoff_id, customer, change, survivor — for MERGED only, not the customer
 * itself —, change_time). */
int otd_accept_customer_changed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__AcceptCustomerChangedRequest *req = (const void *)m;
    char cust[LTC_UUID_LEN + 1], survivor[LTC_UUID_LEN + 1] = "";
    if (!req->handoff_id || !ltc_uuid_valid(req->handoff_id)) ltc_status_bad_field(st, "handoff_id", "must be a UUID");
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
    check_time(req->change_time, &when_us, &when_present, st);
    if (st->code != LTC_OK) return -1;

    PGresult *u;
    if (merged) {
        const char *mp[2] = {cust, survivor};
        u = ltc_call_query(c, st, SQL_ORDERS_MERGE, 2, mp);
    } else {
        const Ltc__Type__V1__CustomerSnapshot *s = req->customer;
        const char *dp[6] = {cust,
                             s->legal_name,
                             s->tax_id ? s->tax_id : "",
                             s->country_code ? s->country_code : "",
                             s->billing_currency ? s->billing_currency : "",
                             s->account_owner ? s->account_owner : ""};
        u = ltc_call_query(c, st, SQL_ORDERS_SNAPSHOT, 6, dp);
    }
    if (!u) return -1;
    int64_t updated = atoll(PQcmdTuples(u));
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
    Ltc__Otd__V1__AcceptCustomerChangedResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__AcceptCustomerChangedResponse, LTC__OTD__V1__ACCEPT_CUSTOMER_CHANGED_RESPONSE__INIT);
    resp->updated_records = updated > INT32_MAX ? INT32_MAX : (int32_t)updated;
    *out = &resp->base;
    return 0;
}
