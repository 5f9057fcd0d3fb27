/* contracts.c - contracts (合同) from accepted quotes: CreateContract, GetContract, SignContract.
 * States: DRAFT -> SIGNED -> CLOSED (closed by AcceptOrderClosure in orders.c when all its orders are closed). */
#include <string.h>

#include "bto.h"
#include "ltc/audit.h"
#include "ltc/ids.h"
#include "ltc/sqltext.h"
#include "ltc/proto.h"

static const char SQL_LOCK_QUOTE[] =
    "SELECT state, deal_id, total_minor, currency FROM quotes WHERE id = $1 FOR UPDATE";
static const char SQL_CONTRACT_OF_QUOTE[] = "SELECT id FROM contracts WHERE quote_id = $1";
static const char SQL_INSERT_CONTRACT[] =
    "INSERT INTO contracts (id, quote_id, deal_id, total_minor, currency, requested_delivery_date, state) "
    "VALUES ($1, $2, $3, $4, $5, $6::date, 'DRAFT')";
static const char SQL_INSERT_TERM[] =
    "INSERT INTO contract_payment_terms (contract_id, position, kind, share_bps, due_days, milestone) "
    "VALUES ($1, $2, $3, $4, $5, nullif($6, ''))";
static const char SQL_GET_CONTRACT[] = "SELECT id, quote_id, deal_id, total_minor, currency, " LTC_SQL_DATE(
    "requested_delivery_date") ", state, "
                               "signed_by, " LTC_SQL_MICROS("sign_time") ", " LTC_SQL_MICROS("close_time") ", " LTC_SQL_MICROS(
                                   "create_time") ", "
                                                  "cancel_reason, " LTC_SQL_MICROS(
                                                      "cancel_time") ", version, amends_id, amend_reason, superseded_by "
                                                                     "FROM contracts WHERE id = $1";
static const char SQL_GET_CHANGES[] = "SELECT unnest(amendment_changes) FROM contracts WHERE id = $1";
static const char SQL_DATE_IN_PAST[] = "SELECT $1::date < current_date";
static const char SQL_LOCK_FOR_CANCEL[] =
    "SELECT k.state, k.deal_id, k.quote_id, k.total_minor, k.currency, o.id, o.state, k.order_id, k.amends_id, "
    "(SELECT a.id FROM contracts a WHERE a.amends_id = k.id AND a.state = 'DRAFT') FROM contracts k "
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
    "SELECT kind, share_bps, due_days, milestone FROM contract_payment_terms WHERE contract_id = $1 ORDER BY position";
static const char SQL_LOCK_CONTRACT[] = "SELECT state FROM contracts WHERE id = $1 FOR UPDATE";
static const char SQL_SIGN_CONTRACT[] =
    "UPDATE contracts SET state = 'SIGNED', signed_by = $2, sign_time = now(), order_id = $3::uuid, "
    "update_time = now() WHERE id = $1";

/* The version an amendment amends, locked (after the amendment: the lock order of SignContract), with its quote,
 * order id and live order. */
static const char SQL_LOCK_AMENDED[] =
    "SELECT o.id, o.state, o.quote_id, k.quote_id, o.order_id, o.deal_id, (SELECT x.id FROM orders x WHERE "
    "x.contract_id = o.id AND x.state <> 'CANCELLED') FROM contracts k JOIN contracts o ON o.id = k.amends_id "
    "WHERE k.id = $1 FOR UPDATE OF o";
static const char SQL_SUPERSEDE[] =
    "UPDATE contracts SET state = 'SUPERSEDED', superseded_by = $2, update_time = now() WHERE id = $1";
static const char SQL_QUOTE_SUPERSEDED[] =
    "UPDATE quotes SET state = 'REJECTED', accept_time = NULL, rejection_reason = 'superseded by the amendment "
    "contracts/' || $2, update_time = now() WHERE id = $1 AND state = 'ACCEPTED'";
static const char SQL_QUOTE_ACCEPTED_BY_AMENDMENT[] =
    "UPDATE quotes SET state = 'ACCEPTED', accept_time = now(), update_time = now() WHERE id = $1";

/* Signing the amendment `id` (locked, DRAFT): the version it amends (if any) must still be DRAFT or SIGNED without
 * a live order; it becomes SUPERSEDED; a changed quote replaces the old one as the deal's accepted quote; DTC, told of
 * the old version's signature, is told that its order to be is cancelled (an advance billed at signature is
 * credited; the new signature bills the new one). 0 or -1. */
static int supersede_amended(ltc_call *c, ltc_status *st, const char *id, const char *name) {
    PGresult *o = ltc_call_query(c, st, SQL_LOCK_AMENDED, 1, (const char *[]){id});
    if (!o) return -1;
    if (PQntuples(o) == 0) return 0; /* a first version */
    const char *old = ltc_pg_str(o, 0, 0), *state = ltc_pg_str(o, 0, 1);
    if (strcmp(state, "DRAFT") != 0 && strcmp(state, "SIGNED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_NOT_OPEN",
                              "%s amends contracts/%s, which is %s now", name, old, state);
    if (!ltc_pg_isnull(o, 0, 6))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_HAS_ORDER",
                              "%s amends contracts/%s, which has orders/%s now", name, old, ltc_pg_str(o, 0, 6));
    if (!ltc_call_query(c, st, SQL_SUPERSEDE, 2, (const char *[]){old, id})) return -1;
    if (strcmp(ltc_pg_str(o, 0, 2), ltc_pg_str(o, 0, 3)) != 0 &&
        (!ltc_call_query(c, st, SQL_QUOTE_SUPERSEDED, 2, (const char *[]){ltc_pg_str(o, 0, 2), id}) ||
         !ltc_call_query(c, st, SQL_QUOTE_ACCEPTED_BY_AMENDMENT, 1, (const char *[]){ltc_pg_str(o, 0, 3)})))
        return -1;
    if (strcmp(state, "SIGNED") == 0 && !ltc_pg_isnull(o, 0, 4))
        return bto_handoff_contract_cancelled(c, st, old, ltc_pg_str(o, 0, 4), ltc_pg_str(o, 0, 5),
                                              ltc_call_printf(c, "superseded by the amendment contracts/%s", id));
    return 0;
}

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
    k->version = (int32_t)ltc_pg_i64(r, 0, 13);
    k->amends = bto_name(c, "contracts", ltc_pg_isnull(r, 0, 14) ? NULL : ltc_pg_str(r, 0, 14));
    k->amend_reason = ltc_call_strdup(c, ltc_pg_isnull(r, 0, 15) ? "" : ltc_pg_str(r, 0, 15));
    k->superseded_by = bto_name(c, "contracts", ltc_pg_isnull(r, 0, 16) ? NULL : ltc_pg_str(r, 0, 16));
    PGresult *ch = ltc_call_query(c, st, SQL_GET_CHANGES, 1, params);
    if (!ch) return -1;
    k->n_amendment_changes = (size_t)PQntuples(ch);
    k->amendment_changes = ltc_call_alloc(c, sizeof(char *) * (k->n_amendment_changes + 1));
    for (size_t i = 0; i < k->n_amendment_changes; i++)
        k->amendment_changes[i] = ltc_call_strdup(c, ltc_pg_str(ch, (int)i, 0));
    PGresult *t = ltc_call_query(c, st, SQL_GET_TERMS, 1, params);
    if (!t) return -1;
    k->n_payment_terms = (size_t)PQntuples(t);
    k->payment_terms = ltc_terms_from_pg(c, t, 0, PQntuples(t), 0);
    *out = k;
    return 0;
}

/* Validates payment terms and a requested delivery date (not in the past), the fields named with `prefix`
 * ("contract." or ""); fills the date as text. Adds violations to st; -1 only when the database failed. */
static int check_terms_and_date(ltc_call *c, Ltc__Type__V1__PaymentTerm *const *terms, size_t n,
                                const Ltc__Type__V1__Date *date, const char *prefix, char delivery[11],
                                ltc_status *st) {
    ltc_check_payment_terms(c, terms, n, ltc_call_printf(c, "%spayment_terms", prefix), BTO_MAX_PAYMENT_TERMS, st);
    const char *field = ltc_call_printf(c, "%srequested_delivery_date", prefix);
    if (ltc_date_to_text(date, field, 0, delivery, st) == 0) {
        const char *p[1] = {delivery};
        PGresult *r = ltc_call_query(c, st, SQL_DATE_IN_PAST, 1, p);
        if (!r) return -1;
        if (ltc_pg_bool(r, 0, 0)) ltc_status_bad_field(st, field, "must not be in the past");
    }
    return 0;
}

/* Validates the request's fields; fills the quote id and the delivery date as text. */
static int validate_contract(ltc_call *c, const Ltc__Bto__V1__Contract *k, char quote_id[LTC_UUID_LEN + 1],
                             char delivery[11], ltc_status *st) {
    if (!k) return ltc_status_bad_field(st, "contract", "required");
    ltc_name_parse(k->quote, "quotes", "contract.quote", quote_id, st);
    if (check_terms_and_date(c, k->payment_terms, k->n_payment_terms, k->requested_delivery_date, "contract.", delivery,
                             st) != 0)
        return -1;
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
        const char *tp[6] = {id,
                             ltc_sql_i64(c, (int64_t)i),
                             ltc_term_kind_to_db(t->kind),
                             ltc_sql_i64(c, t->share_bps),
                             ltc_sql_i64(c, t->due_days),
                             t->milestone ? t->milestone : ""};
        if (!ltc_call_query(c, st, SQL_INSERT_TERM, 6, tp)) return -1;
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

/* SignContract: the customer signs a DRAFT contract (-> SIGNED, sign_time now); the id of its order to be is fixed
 * now and DTC is told (AcceptContractSigned, through the outbox: it bills the ADVANCE now when its billing policy says
 * AT_CONTRACT_SIGNATURE).
 * Errors: INVALID_ARGUMENT "name" / "signed_by", NOT_FOUND "CONTRACT_NOT_FOUND", FAILED_PRECONDITION
 * "CONTRACT_NOT_DRAFT". */
int bto_sign_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__SignContractRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "contracts", "name", id, st);
    ltc_check_text(req->signed_by, "signed_by", 1, 200, st);
    if (st->code != LTC_OK) return -1;
    char order_id[LTC_UUID_LEN + 1];
    ltc_uuid_new(order_id); /* the id its order will take (orders.c), told to DTC now */
    const char *params[3] = {id, req->signed_by, order_id};
    PGresult *r = ltc_call_query(c, st, SQL_LOCK_CONTRACT, 1, params);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "CONTRACT_NOT_FOUND", "contract %s not found", req->name);
    if (strcmp(ltc_pg_str(r, 0, 0), "DRAFT") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_NOT_DRAFT", "contract %s is %s, not DRAFT",
                              req->name, ltc_pg_str(r, 0, 0));
    if (supersede_amended(c, st, id, req->name) != 0) return -1;
    if (!ltc_call_query(c, st, SQL_SIGN_CONTRACT, 3, params)) return -1;
    if (bto_handoff_contract_signed(c, st, id) != 0) return -1;
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
 * quote -> REJECTED, the deal -> OPEN; milestone CONTRACT_CANCELLED; a SIGNED contract without an order is reported
 * to DTC as its order to be cancelled (AcceptOrderCancelled: an advance billed at signature is credited). Lock order: contract, then deal (as
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
    if (!ltc_pg_isnull(r, 0, 9))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_AMENDMENT_PENDING",
                              "contract %s has the unsigned amendment contracts/%s: cancel that first", req->name,
                              ltc_pg_str(r, 0, 9));
    const char *deal_id = ltc_pg_str(r, 0, 1), *quote_id = ltc_pg_str(r, 0, 2);
    if (!ltc_pg_isnull(r, 0, 8) && strcmp(state, "DRAFT") == 0) {
        /* an unsigned amendment: only it goes; the version it amends stays in force with its quote and deal */
        if (!ltc_call_query(c, st, SQL_CANCEL_CONTRACT, 2, (const char *[]){id, req->reason})) return -1;
        Ltc__Bto__V1__CancelContractResponse *resp =
            LTC_NEW(c, Ltc__Bto__V1__CancelContractResponse, LTC__BTO__V1__CANCEL_CONTRACT_RESPONSE__INIT);
        if (bto_load_contract(c, st, id, &resp->contract) != 0) return -1;
        *out = &resp->base;
        return 0;
    }
    const char *dp[1] = {deal_id};
    const char *cp[2] = {id, req->reason};
    const char *qp[3] = {quote_id, id, req->reason};
    if (!ltc_call_query(c, st, SQL_LOCK_DEAL_OF, 1, dp) || !ltc_call_query(c, st, SQL_CANCEL_CONTRACT, 2, cp) ||
        !ltc_call_query(c, st, SQL_QUOTE_REJECTED, 3, qp) || !ltc_call_query(c, st, SQL_DEAL_REOPENED, 1, dp))
        return -1;
    /* a signed contract without an order: DTC heard of the signature (and may have billed its advance) */
    if (strcmp(state, "SIGNED") == 0 && ltc_pg_isnull(r, 0, 5) && !ltc_pg_isnull(r, 0, 7) &&
        bto_handoff_contract_cancelled(c, st, id, ltc_pg_str(r, 0, 7), deal_id, req->reason) != 0)
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

/* --- AmendContract ------------------------------------------------------------------------------------------------ */

static const char SQL_LOCK_FOR_AMEND[] =
    "SELECT k.state, k.deal_id, k.quote_id, k.total_minor, k.currency, " LTC_SQL_DATE(
        "k.requested_delivery_date") ", k.version, (SELECT o.id FROM orders o WHERE o.contract_id = k.id "
                                     "AND o.state <> 'CANCELLED'), (SELECT a.id FROM contracts a WHERE a.amends_id = "
                                     "k.id AND a.state = 'DRAFT') FROM contracts k WHERE k.id = $1 FOR UPDATE OF k";
enum {
    A_STATE,
    A_DEAL,
    A_QUOTE,
    A_TOTAL,
    A_CURRENCY,
    A_DATE,
    A_VERSION,
    A_ORDER,
    A_PENDING
};
/* The revised quote: its state, deal, total, whether expired, whether its revision chain reaches quote $2, and
 * whether a live contract uses it already. */
static const char SQL_AMEND_QUOTE[] =
    "WITH RECURSIVE chain(id, depth) AS (SELECT $1::uuid, 0 UNION ALL SELECT q.revision_of, chain.depth + 1 "
    "FROM quotes q JOIN chain ON q.id = chain.id WHERE q.revision_of IS NOT NULL AND chain.depth < 100) "
    "SELECT q.state, q.deal_id, q.total_minor, q.currency, q.valid_until < current_date, "
    "EXISTS (SELECT FROM chain WHERE chain.id = $2::uuid AND chain.depth > 0), "
    "(SELECT k.id FROM contracts k WHERE k.quote_id = q.id AND k.state <> 'CANCELLED' LIMIT 1) "
    "FROM quotes q WHERE q.id = $1";
static const char SQL_INSERT_AMENDMENT[] =
    "INSERT INTO contracts (id, quote_id, deal_id, total_minor, currency, requested_delivery_date, state, version, "
    "amends_id, amend_reason, amendment_changes) VALUES ($1, $2, $3, $4, $5, $6::date, 'DRAFT', $7::integer, $8, $9, "
    "$10::text[])";

/* "ADVANCE 3000bps 0d" (and the milestone's name) of each term, joined by ", ". */
static const char *terms_text(ltc_call *c, Ltc__Type__V1__PaymentTerm *const *t, size_t n) {
    const char *out = "";
    for (size_t i = 0; i < n; i++)
        out = ltc_call_printf(c, "%s%s%s %dbps %dd%s%s%s", out, i ? ", " : "", ltc_term_kind_to_db(t[i]->kind),
                              t[i]->share_bps, t[i]->due_days, t[i]->milestone[0] ? " \"" : "", t[i]->milestone,
                              t[i]->milestone[0] ? "\"" : "");
    return out;
}

/* AmendContract: see the proto. Lock order: the contract amended (as CreateOrder and CancelContract). */
int bto_amend_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__AmendContractRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1], quote_id[LTC_UUID_LEN + 1] = "", delivery[11] = "";
    ltc_name_parse(req->name, "contracts", "name", id, st);
    if (req->quote[0]) ltc_name_parse(req->quote, "quotes", "quote", quote_id, st);
    if (check_terms_and_date(c, req->payment_terms, req->n_payment_terms, req->requested_delivery_date, "", delivery,
                             st) != 0)
        return -1;
    ltc_check_text(req->reason, "reason", 1, 500, st);
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    if (st->code != LTC_OK) return -1;

    PGresult *k = ltc_call_query(c, st, SQL_LOCK_FOR_AMEND, 1, (const char *[]){id});
    if (!k) return -1;
    if (PQntuples(k) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "CONTRACT_NOT_FOUND", "contract %s not found", req->name);
    const char *state = ltc_pg_str(k, 0, A_STATE);
    if (strcmp(state, "DRAFT") != 0 && strcmp(state, "SIGNED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_NOT_OPEN",
                              "contract %s is %s: only a DRAFT or SIGNED contract is amended", req->name, state);
    if (!ltc_pg_isnull(k, 0, A_ORDER))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_HAS_ORDER",
                              "contract %s has orders/%s: after ordering, a change is a cancellation in OTD "
                              "(CancelOrder), CancelContract and a new quote, contract and order",
                              req->name, ltc_pg_str(k, 0, A_ORDER));
    if (!ltc_pg_isnull(k, 0, A_PENDING))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONTRACT_AMENDMENT_PENDING",
                              "contract %s has the unsigned amendment contracts/%s: sign or cancel it first", req->name,
                              ltc_pg_str(k, 0, A_PENDING));
    const char *old_quote = ltc_pg_str(k, 0, A_QUOTE), *currency = ltc_pg_str(k, 0, A_CURRENCY);
    const char *new_quote = old_quote;
    int64_t total = ltc_pg_i64(k, 0, A_TOTAL);
    const char *changes[3];
    int n_changes = 0;
    if (quote_id[0] && strcmp(quote_id, old_quote) != 0) {
        PGresult *q = ltc_call_query(c, st, SQL_AMEND_QUOTE, 2, (const char *[]){quote_id, old_quote});
        if (!q) return -1;
        if (PQntuples(q) != 1)
            return ltc_status_set(st, LTC_NOT_FOUND, "QUOTE_NOT_FOUND", "quote %s not found", req->quote);
        const char *qs = ltc_pg_str(q, 0, 0);
        if (strcmp(ltc_pg_str(q, 0, 1), ltc_pg_str(k, 0, A_DEAL)) != 0 || !ltc_pg_bool(q, 0, 5))
            return ltc_status_bad_field(st, "quote", "not a revision (revision_of) of the contract's quotes/%s",
                                        old_quote);
        if (strcmp(qs, "PENDING_APPROVAL") == 0)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_NOT_APPROVED",
                                  "quote %s waits for approval: its changed prices are beyond the discount policy",
                                  req->quote);
        if (strcmp(qs, "DRAFT") != 0 && strcmp(qs, "APPROVED") != 0 && strcmp(qs, "SENT") != 0)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_NOT_DRAFT",
                                  "quote %s is %s, not DRAFT, APPROVED or SENT", req->quote, qs);
        if (ltc_pg_bool(q, 0, 4))
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_EXPIRED",
                                  "quote %s expired: revise it into a new version", req->quote);
        if (!ltc_pg_isnull(q, 0, 6))
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_HAS_CONTRACT",
                                  "quote %s already has contracts/%s", req->quote, ltc_pg_str(q, 0, 6));
        new_quote = quote_id;
        char a[48], b[48];
        changes[n_changes++] = ltc_call_printf(c, "lines: quotes/%s (total %s) -> quotes/%s (total %s)", old_quote,
                                               ltc_audit_money_text(currency, total, a), quote_id,
                                               ltc_audit_money_text(currency, ltc_pg_i64(q, 0, 2), b));
        total = ltc_pg_i64(q, 0, 2);
    }
    PGresult *t = ltc_call_query(c, st, SQL_GET_TERMS, 1, (const char *[]){id});
    if (!t) return -1;
    const char *old_terms = terms_text(c, ltc_terms_from_pg(c, t, 0, PQntuples(t), 0), (size_t)PQntuples(t));
    const char *new_terms = terms_text(c, req->payment_terms, req->n_payment_terms);
    if (strcmp(old_terms, new_terms) != 0)
        changes[n_changes++] = ltc_call_printf(c, "payment_terms: %s -> %s", old_terms, new_terms);
    if (strcmp(ltc_pg_str(k, 0, A_DATE), delivery) != 0)
        changes[n_changes++] =
            ltc_call_printf(c, "requested_delivery_date: %s -> %s", ltc_pg_str(k, 0, A_DATE), delivery);
    if (n_changes == 0)
        return ltc_status_bad_field(st, "name", "the amendment changes nothing (lines, payment terms and date)");

    char nid[LTC_UUID_LEN + 1];
    ltc_uuid_new(nid);
    const char *ip[10] = {nid,
                          new_quote,
                          ltc_pg_str(k, 0, A_DEAL),
                          ltc_sql_i64(c, total),
                          currency,
                          delivery,
                          ltc_sql_i64(c, ltc_pg_i64(k, 0, A_VERSION) + 1),
                          id,
                          req->reason,
                          ltc_sql_text_array(c, changes, (size_t)n_changes)};
    if (!ltc_call_query(c, st, SQL_INSERT_AMENDMENT, 10, ip)) return -1;
    for (size_t i = 0; i < req->n_payment_terms; i++) {
        const Ltc__Type__V1__PaymentTerm *pt = req->payment_terms[i];
        const char *tp[6] = {nid,
                             ltc_sql_i64(c, (int64_t)i),
                             ltc_term_kind_to_db(pt->kind),
                             ltc_sql_i64(c, pt->share_bps),
                             ltc_sql_i64(c, pt->due_days),
                             pt->milestone ? pt->milestone : ""};
        if (!ltc_call_query(c, st, SQL_INSERT_TERM, 6, tp)) return -1;
    }
    Ltc__Bto__V1__AmendContractResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__AmendContractResponse, LTC__BTO__V1__AMEND_CONTRACT_RESPONSE__INIT);
    if (bto_load_contract(c, st, nid, &resp->contract) != 0) return -1;
    *out = &resp->base;
    return 0;
}
