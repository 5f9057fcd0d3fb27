/* contracts.c - contracts (合同) from accepted quotes: CreateContract, GetContract, SignContract.
 * States: DRAFT -> SIGNED -> CLOSED (closed by AcceptOrderClosure in orders.c when all its orders are closed). */
#include <string.h>

#include "bto.h"
#include "ltc/audit.h"
#include "ltc/ids.h"
#include "ltc/proto.h"

static const char SQL_LOCK_QUOTE[] =
    "SELECT state, deal_id, total_minor, currency FROM quotes WHERE id = $1 FOR UPDATE";
static const char SQL_CONTRACT_OF_QUOTE[] = "SELECT id FROM contracts WHERE quote_id = $1";
static const char SQL_INSERT_CONTRACT[] =
    "INSERT INTO contracts (id, quote_id, deal_id, total_minor, currency, requested_delivery_date, state) "
    "VALUES ($1, $2, $3, $4, $5, $6::date, 'DRAFT')";
static const char SQL_INSERT_TERM[] =
    "INSERT INTO contract_payment_terms (contract_id, position, kind, share_bps, due_days) "
    "VALUES ($1, $2, $3, $4, $5)";
static const char SQL_GET_CONTRACT[] = "SELECT id, quote_id, deal_id, total_minor, currency, " LTC_SQL_DATE(
    "requested_delivery_date") ", state, "
                               "signed_by, " LTC_SQL_MICROS("sign_time") ", " LTC_SQL_MICROS("close_time") ", " LTC_SQL_MICROS(
                                   "create_time") ", "
                                                  "cancel_reason, " LTC_SQL_MICROS(
                                                      "cancel_time") " FROM contracts WHERE id = $1";
static const char SQL_DATE_IN_PAST[] = "SELECT $1::date < current_date";
static const char SQL_LOCK_FOR_CANCEL[] =
    "SELECT k.state, k.deal_id, k.quote_id, k.total_minor, k.currency, o.id, o.state FROM contracts k "
    "LEFT JOIN orders o ON o.contract_id = k.id WHERE k.id = $1 FOR UPDATE OF k";
static const char SQL_LOCK_DEAL_OF[] = "SELECT state FROM deals WHERE id = $1 FOR UPDATE";
static const char SQL_CANCEL_CONTRACT[] =
    "UPDATE contracts SET state = 'CANCELLED', cancel_reason = $2, cancel_time = now(), update_time = now() "
    "WHERE id = $1";
/* The cancelled contract's quote is closed for good (a deal has one accepted quote at a time). */
static const char SQL_QUOTE_REJECTED[] =
    "UPDATE quotes SET state = 'REJECTED', accept_time = NULL, rejection_reason = 'contract contracts/' || $2 || "
    "' cancelled: ' || $3, update_time = now() WHERE id = $1";
static const char SQL_DEAL_REOPENED[] =
    "UPDATE deals SET state = 'OPEN', update_time = now() WHERE id = $1 AND state = 'ORDERED'";
static const char SQL_GET_TERMS[] =
    "SELECT kind, share_bps, due_days FROM contract_payment_terms WHERE contract_id = $1 ORDER BY position";
static const char SQL_LOCK_CONTRACT[] = "SELECT state FROM contracts WHERE id = $1 FOR UPDATE";
static const char SQL_SIGN_CONTRACT[] =
    "UPDATE contracts SET state = 'SIGNED', signed_by = $2, sign_time = now(), update_time = now() WHERE id = $1";

int bto_load_contract(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Contract **out) {
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_GET_CONTRACT, 1, params);
    if (!r) return -1;
    if (PQntuples(r) != 1) {
        ltc_status_set(st, LTC_NOT_FOUND, "CONTRACT_NOT_FOUND", "contract contracts/%s not found", id);
        return -1;
    }
    Ltc__Bto__V1__Contract *k = LTC_NEW(c, Ltc__Bto__V1__Contract, LTC__BTO__V1__CONTRACT__INIT);
    k->name = bto_name(c, "contracts", ltc_pg_str(r, 0, 0));
    k->quote = bto_name(c, "quotes", ltc_pg_str(r, 0, 1));
    k->deal = bto_name(c, "deals", ltc_pg_str(r, 0, 2));
    k->total = ltc_money_msg_pg(c, r, 0, 3, 4);
    k->requested_delivery_date = ltc_date_from_pg(c, r, 0, 5);
    k->state = (Ltc__Bto__V1__ContractState)ltc_enum_from_db(&ltc__bto__v1__contract_state__descriptor,
                                                             "CONTRACT_STATE_", ltc_pg_str(r, 0, 6));
    if (!ltc_pg_isnull(r, 0, 7)) k->signed_by = ltc_call_strdup(c, ltc_pg_str(r, 0, 7));
    k->sign_time = ltc_ts_from_pg(c, r, 0, 8);
    k->close_time = ltc_ts_from_pg(c, r, 0, 9);
    k->create_time = ltc_ts_from_pg(c, r, 0, 10);
    k->cancel_reason = ltc_call_strdup(c, ltc_pg_isnull(r, 0, 11) ? "" : ltc_pg_str(r, 0, 11));
    k->cancel_time = ltc_ts_from_pg(c, r, 0, 12);
    PGresult *t = ltc_call_query(c, st, SQL_GET_TERMS, 1, params);
    if (!t) return -1;
    k->n_payment_terms = (size_t)PQntuples(t);
    k->payment_terms = ltc_terms_from_pg(c, t, 0, PQntuples(t), 0);
    *out = k;
    return 0;
}

/* Validates the request's fields; fills the quote id and the delivery date as text. */
static int validate_contract(ltc_call *c, const Ltc__Bto__V1__Contract *k, char quote_id[LTC_UUID_LEN + 1],
                             char delivery[11], ltc_status *st) {
    if (!k) return ltc_status_bad_field(st, "contract", "required");
    ltc_name_parse(k->quote, "quotes", "contract.quote", quote_id, st);
    ltc_check_payment_terms(c, k->payment_terms, k->n_payment_terms, "contract.payment_terms", BTO_MAX_PAYMENT_TERMS,
                            st);
    if (ltc_date_to_text(k->requested_delivery_date, "contract.requested_delivery_date", 0, delivery, st) == 0) {
        const char *p[1] = {delivery};
        PGresult *r = ltc_call_query(c, st, SQL_DATE_IN_PAST, 1, p);
        if (!r) return -1;
        if (ltc_pg_bool(r, 0, 0))
            ltc_status_bad_field(st, "contract.requested_delivery_date", "must not be in the past");
    }
    return st->code == LTC_OK ? 0 : -1;
}

/* CreateContract: drafts a contract (DRAFT) from an ACCEPTED quote with payment terms; its value is the quote's total.
 * Errors: INVALID_ARGUMENT (contract.* fields; shares must add up to 10000 bps), NOT_FOUND "QUOTE_NOT_FOUND",
 * FAILED_PRECONDITION "QUOTE_NOT_ACCEPTED", "QUOTE_HAS_CONTRACT". */
int bto_create_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__CreateContractRequest *req = (const void *)m;
    const Ltc__Bto__V1__Contract *k = req->contract;
    char quote_id[LTC_UUID_LEN + 1], delivery[11];
    if (validate_contract(c, k, quote_id, delivery, st) != 0) return -1;
    const char *qp[1] = {quote_id};
    PGresult *q = ltc_call_query(c, st, SQL_LOCK_QUOTE, 1, qp);
    if (!q) return -1;
    if (PQntuples(q) != 1) return ltc_status_set(st, LTC_NOT_FOUND, "QUOTE_NOT_FOUND", "quote %s not found", k->quote);
    if (strcmp(ltc_pg_str(q, 0, 0), "ACCEPTED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_NOT_ACCEPTED", "quote %s is %s, not ACCEPTED",
                              k->quote, ltc_pg_str(q, 0, 0));
    PGresult *e = ltc_call_query(c, st, SQL_CONTRACT_OF_QUOTE, 1, qp);
    if (!e) return -1;
    if (PQntuples(e) > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_HAS_CONTRACT", "quote %s already has contracts/%s",
                              k->quote, ltc_pg_str(e, 0, 0));
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *params[6] = {id, quote_id, ltc_pg_str(q, 0, 1), ltc_pg_str(q, 0, 2), ltc_pg_str(q, 0, 3), delivery};
    if (!ltc_call_query(c, st, SQL_INSERT_CONTRACT, 6, params)) return -1;
    for (size_t i = 0; i < k->n_payment_terms; i++) {
        const Ltc__Type__V1__PaymentTerm *t = k->payment_terms[i];
        const char *tp[5] = {id, ltc_sql_i64(c, (int64_t)i), ltc_term_kind_to_db(t->kind), ltc_sql_i64(c, t->share_bps),
                             ltc_sql_i64(c, t->due_days)};
        if (!ltc_call_query(c, st, SQL_INSERT_TERM, 5, tp)) return -1;
    }
    Ltc__Bto__V1__CreateContractResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__CreateContractResponse, LTC__BTO__V1__CREATE_CONTRACT_RESPONSE__INIT);
    if (bto_load_contract(c, st, id, &resp->contract) != 0) return -1;
    ltc_money total;
    if (ltc_money_from_proto(resp->contract->total, "total", 0, &total, st) != 0) return -1;
    const char *target = ltc_call_printf(c, "contracts/%s", id);
    ltc_audit_change(c, target, "state", NULL, "DRAFT");
    ltc_audit_change_money(c, target, "total", total.currency, 0, 0, total.minor, 1);
    ltc_audit_change(c, target, "delivery_date", NULL, delivery);
    *out = &resp->base;
    return 0;
}

/* GetContract: returns one contract with its payment terms.
 * Errors: INVALID_ARGUMENT "name", NOT_FOUND "CONTRACT_NOT_FOUND". */
int bto_get_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__GetContractRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "contracts", "name", id, st) != 0) return -1;
    Ltc__Bto__V1__GetContractResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__GetContractResponse, LTC__BTO__V1__GET_CONTRACT_RESPONSE__INIT);
    if (bto_load_contract(c, st, id, &resp->contract) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* SignContract: the customer signs a DRAFT contract (-> SIGNED, sign_time now).
 * Errors: INVALID_ARGUMENT "name" / "signed_by", NOT_FOUND "CONTRACT_NOT_FOUND", FAILED_PRECONDITION
 * "CONTRACT_NOT_DRAFT". */
int bto_sign_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__SignContractRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "contracts", "name", id, st);
    ltc_check_text(req->signed_by, "signed_by", 1, 200, st);
    if (st->code != LTC_OK) return -1;
    const char *params[2] = {id, req->signed_by};
    PGresult *r = ltc_call_query(c, st, SQL_LOCK_CONTRACT, 1, params);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "CONTRACT_NOT_FOUND", "contract %s not found", req->name);
    if (strcmp(ltc_pg_str(r, 0, 0), "DRAFT") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_NOT_DRAFT", "contract %s is %s, not DRAFT",
                              req->name, ltc_pg_str(r, 0, 0));
    if (!ltc_call_query(c, st, SQL_SIGN_CONTRACT, 2, params)) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "contracts/%s", id), "state", "DRAFT", "SIGNED");
    ltc_audit_change(c, ltc_call_printf(c, "contracts/%s", id), "signed_by", NULL, req->signed_by);
    Ltc__Bto__V1__SignContractResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__SignContractResponse, LTC__BTO__V1__SIGN_CONTRACT_RESPONSE__INIT);
    if (bto_load_contract(c, st, id, &resp->contract) != 0) return -1;
    ltc_money total;
    if (ltc_money_from_proto(resp->contract->total, "total", 0, &total, st) != 0 ||
        bto_milestone(c, st, resp->contract->deal + strlen("deals/"),
                      LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_CONTRACT_SIGNED, resp->contract->name,
                      total.currency, total.minor, NULL, req->signed_by) != 0)
        return -1;
    *out = &resp->base;
    return 0;
}

/* CancelContract: a DRAFT or SIGNED contract -> CANCELLED, before an order exists or once OTD cancelled it; its
 * quote -> REJECTED, the deal -> OPEN; milestone CONTRACT_CANCELLED. Lock order: contract, then deal (as
 * CreateOrder). Errors: INVALID_ARGUMENT "name" / "reason", NOT_FOUND "CONTRACT_NOT_FOUND", FAILED_PRECONDITION
 * "CONTRACT_NOT_OPEN", "CONTRACT_HAS_ORDER". */
int bto_cancel_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__CancelContractRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "contracts", "name", id, st);
    ltc_check_text(req->reason, "reason", 1, 500, st);
    if (st->code != LTC_OK) return -1;
    const char *p[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_LOCK_FOR_CANCEL, 1, p);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "CONTRACT_NOT_FOUND", "contract %s not found", req->name);
    const char *state = ltc_pg_str(r, 0, 0);
    if (strcmp(state, "DRAFT") != 0 && strcmp(state, "SIGNED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_NOT_OPEN",
                              "contract %s is %s: only a DRAFT or SIGNED contract is cancelled", req->name, state);
    if (!ltc_pg_isnull(r, 0, 5) && strcmp(ltc_pg_str(r, 0, 6), "CANCELLED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_HAS_ORDER",
                              "contract %s has orders/%s (%s): OTD cancels the order first", req->name,
                              ltc_pg_str(r, 0, 5), ltc_pg_str(r, 0, 6));
    const char *deal_id = ltc_pg_str(r, 0, 1), *quote_id = ltc_pg_str(r, 0, 2);
    const char *dp[1] = {deal_id};
    const char *cp[2] = {id, req->reason};
    const char *qp[3] = {quote_id, id, req->reason};
    if (!ltc_call_query(c, st, SQL_LOCK_DEAL_OF, 1, dp) || !ltc_call_query(c, st, SQL_CANCEL_CONTRACT, 2, cp) ||
        !ltc_call_query(c, st, SQL_QUOTE_REJECTED, 3, qp) || !ltc_call_query(c, st, SQL_DEAL_REOPENED, 1, dp))
        return -1;
    ltc_audit_change(c, ltc_call_printf(c, "contracts/%s", id), "state", state, "CANCELLED");
    ltc_audit_change(c, ltc_call_printf(c, "contracts/%s", id), "cancel_reason", NULL, req->reason);
    ltc_audit_change(c, ltc_call_printf(c, "quotes/%s", quote_id), "state", "ACCEPTED", "REJECTED");
    if (bto_milestone(c, st, deal_id, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_CONTRACT_CANCELLED,
                      ltc_call_printf(c, "contracts/%s", id), ltc_pg_str(r, 0, 4), ltc_pg_i64(r, 0, 3), NULL,
                      req->reason) != 0)
        return -1;
    Ltc__Bto__V1__CancelContractResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__CancelContractResponse, LTC__BTO__V1__CANCEL_CONTRACT_RESPONSE__INIT);
    if (bto_load_contract(c, st, id, &resp->contract) != 0) return -1;
    *out = &resp->base;
    return 0;
}
