/* services/dtc/accounts.c - order accounts (opened by BTO's AcceptOrderPlaced or OTD's first AcceptDelivery,
 * intake.c): the account loader, GetOrderAccount, and the closure of an account once it is fully accepted, invoiced
 * and paid (its hand-offs back to BTO and LTB are built in handoffs.c). Life cycle: OPEN -> CLOSED. */
#include <stdio.h>
#include <string.h>

#include "dtc.h"
#include "ltc/audit.h"
#include "ltc/ids.h"
#include "ltc/milestone.h"
#include "ltc/type/v1/milestone.pb-c.h"
#include "ltc/money.h"
#include "ltc/proto.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

static const char SQL_ACCOUNT_CLOSE[] =
    "UPDATE order_accounts a SET state = 'CLOSED', close_time = now(), update_time = now() "
    "WHERE a.id = $1 AND a.state = 'OPEN' AND a.fully_accepted AND a.invoiced_minor = a.order_total_minor "
    "AND a.paid_minor + a.credited_minor = a.invoiced_minor "
    "AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.account_id = a.id AND i.state NOT IN ('PAID', 'CREDITED')) "
    "RETURNING contract_id::text, deal_id::text, currency, paid_minor";
static const char SQL_CLOSURE_ORDER[] =
    "INSERT INTO closures (id, kind, account_id, contract_id, deal_id, currency, collected_minor, close_time) "
    "SELECT $1, 'ORDER', id, contract_id, deal_id, currency, paid_minor, close_time FROM order_accounts "
    "WHERE id = $2";
/* Serialises the contract check of orders of one contract closing at the same time. */
static const char SQL_CONTRACT_LOCK[] = "SELECT pg_advisory_xact_lock(hashtextextended('dtc.contract:' || $1, 0))";
static const char SQL_CLOSURE_CONTRACT[] =
    "INSERT INTO closures (id, kind, account_id, contract_id, deal_id, currency, collected_minor, close_time) "
    "SELECT $1, 'CONTRACT', a.id, a.contract_id, a.deal_id, a.currency, "
    "(SELECT coalesce(sum(o.paid_minor), 0)::bigint FROM order_accounts o "
    " WHERE o.contract_id = a.contract_id AND o.currency = a.currency), a.close_time "
    "FROM order_accounts a WHERE a.id = $2 "
    "AND NOT EXISTS (SELECT 1 FROM order_accounts o WHERE o.contract_id = a.contract_id AND o.state <> 'CLOSED') "
    "ON CONFLICT (contract_id) WHERE kind = 'CONTRACT' DO UPDATE SET account_id = EXCLUDED.account_id, "
    "deal_id = EXCLUDED.deal_id, currency = EXCLUDED.currency, collected_minor = EXCLUDED.collected_minor, "
    "close_time = EXCLUDED.close_time, update_time = now()";
static const char SQL_TERMS_SELECT[] =
    "SELECT position, kind, share_bps, due_days, total_minor, invoiced_minor, milestone FROM account_terms "
    "WHERE account_id = $1 ORDER BY position";
#define ACCOUNT_CUSTOMER_COLS                                                                                          \
    "customer_id::text, customer_tax_id, customer_country_code, customer_billing_currency, customer_account_owner"
static const char SQL_ACCOUNT_GET[] =
    "SELECT id::text, contract_id::text, deal_id::text, customer_name, account_owner, solution_owner, "
    "fulfilment_owner, currency, order_total_minor, accepted_minor, invoiced_minor, paid_minor, state, " LTC_SQL_MICROS(
        "close_time") ", " LTC_SQL_MICROS("create_time") ", " ACCOUNT_CUSTOMER_COLS
                                                         ", credited_minor, shipped_minor FROM order_accounts WHERE id = $1";

/* --- loader --------------------------------------------------------------------------------------------------- */

int dtc_load_account(ltc_call *c, ltc_status *st, const char *account_id, Ltc__Dtc__V1__OrderAccount **out) {
    const char *p[] = {account_id};
    PGresult *r = ltc_call_query(c, st, SQL_ACCOUNT_GET, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_ACCOUNT_NOT_FOUND", "order account %s not found", account_id);
    PGresult *t = ltc_call_query(c, st, SQL_TERMS_SELECT, 1, p);
    if (!t) return -1;

    Ltc__Dtc__V1__OrderAccount *a = LTC_NEW(c, Ltc__Dtc__V1__OrderAccount, LTC__DTC__V1__ORDER_ACCOUNT__INIT);
    const char *cur = ltc_pg_str(r, 0, 7);
    a->name = ltc_call_printf(c, "orderAccounts/%s", ltc_pg_str(r, 0, 0));
    a->order = ltc_call_printf(c, "orders/%s", ltc_pg_str(r, 0, 0));
    a->contract = ltc_call_printf(c, "contracts/%s", ltc_pg_str(r, 0, 1));
    a->deal = ltc_call_printf(c, "deals/%s", ltc_pg_str(r, 0, 2));
    a->customer_name = ltc_call_strdup(c, ltc_pg_str(r, 0, 3));
    a->iron_triangle = ltc_triangle_from_pg(c, r, 0, 4);
    a->order_total = ltc_money_msg(c, cur, ltc_pg_i64(r, 0, 8));
    a->accepted_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, 0, 9));
    a->invoiced_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, 0, 10));
    a->paid_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, 0, 11));
    a->credited_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, 0, 20));
    a->shipped_amount = ltc_money_msg(c, cur, ltc_pg_i64(r, 0, 21));
    a->state = (Ltc__Dtc__V1__OrderAccountState)ltc_enum_from_db(&ltc__dtc__v1__order_account_state__descriptor,
                                                                 "ORDER_ACCOUNT_STATE_", ltc_pg_str(r, 0, 12));
    a->close_time = ltc_ts_from_pg(c, r, 0, 13);
    a->create_time = ltc_ts_from_pg(c, r, 0, 14);
    if (!ltc_pg_isnull(r, 0, 15)) { /* the customer as handed over (accounts from before issue #13 have none) */
        Ltc__Type__V1__CustomerSnapshot *sn =
            LTC_NEW(c, Ltc__Type__V1__CustomerSnapshot, LTC__TYPE__V1__CUSTOMER_SNAPSHOT__INIT);
        sn->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, 0, 15));
        sn->legal_name = a->customer_name;
        sn->tax_id = ltc_call_strdup(c, ltc_pg_str(r, 0, 16));
        sn->country_code = ltc_call_strdup(c, ltc_pg_str(r, 0, 17));
        sn->billing_currency = ltc_call_strdup(c, ltc_pg_str(r, 0, 18));
        sn->account_owner = ltc_call_strdup(c, ltc_pg_str(r, 0, 19));
        a->customer = sn;
    }

    a->n_payment_terms = (size_t)PQntuples(t);
    a->payment_terms = ltc_terms_from_pg(c, t, 0, PQntuples(t), 1);
    *out = a;
    return 0;
}

/* --- closure ------------------------------------------------------------------------------------------------------ */

int dtc_close_account_if_settled(ltc_call *c, ltc_status *st, const char *account_id, int *closed) {
    *closed = 0;
    const char *p[] = {account_id};
    PGresult *r = ltc_call_query(c, st, SQL_ACCOUNT_CLOSE, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return 0; /* something is still outstanding */
    ltc_audit_change(c, ltc_call_printf(c, "orderAccounts/%s", account_id), "state", "OPEN", "CLOSED");

    const char *contract = ltc_pg_str(r, 0, 0); /* the result lives until the call ends */

    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *op[] = {id, account_id};
    if (!ltc_call_query(c, st, SQL_CLOSURE_ORDER, 2, op)) return -1;
    const char *lp[] = {contract};
    if (!ltc_call_query(c, st, SQL_CONTRACT_LOCK, 1, lp)) return -1;
    ltc_uuid_new(id);
    if (!ltc_call_query(c, st, SQL_CLOSURE_CONTRACT, 2, op)) return -1;

    if (dtc_handoff_closure(c, st, account_id) != 0) return -1;
    ltc_money collected;
    snprintf(collected.currency, sizeof collected.currency, "%s", ltc_pg_str(r, 0, 2));
    collected.minor = ltc_pg_i64(r, 0, 3);
    ltc_milestone ms = {.deal_id = ltc_pg_str(r, 0, 1),
                        .stage = LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_DTC,
                        .kind = LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_ORDER_CLOSED,
                        .record = ltc_call_printf(c, "orders/%s", account_id),
                        .actor = "dtc",
                        .amount = &collected,
                        .detail = "delivered, accepted, invoiced and paid"};
    if (ltc_milestone_put(c, st, &ms) != 0) return -1;
    *closed = 1;
    return 0;
}

/* --- reads ------------------------------------------------------------------------------------------------------- */

/* DeliveryToCashService/GetOrderAccount: the receivables view of one order.
 * Errors: INVALID_ARGUMENT "name", NOT_FOUND ORDER_ACCOUNT_NOT_FOUND. */
int dtc_get_order_account(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetOrderAccountRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "orderAccounts", "name", id, st) != 0) return -1;
    Ltc__Dtc__V1__GetOrderAccountResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetOrderAccountResponse, LTC__DTC__V1__GET_ORDER_ACCOUNT_RESPONSE__INIT);
    if (dtc_load_account(c, st, id, &resp->order_account) != 0) return -1;
    *out = &resp->base;
    return 0;
}
