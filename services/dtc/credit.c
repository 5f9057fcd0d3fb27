/* services/dtc/credit.c - customers' credit in DTC (docs/credit.md): the credit account and its lock, the policy,
 * exposure, the automatic holds, and the one place credit is decided, ltc.dtc.v1.CreditService/CheckCredit.
 *
 * Lock order everywhere: the customer's credit account row (credit_accounts, FOR UPDATE: every decision about one
 * customer serialises on it), then its order accounts, then their invoices. Two customers' rows are locked together
 * only by a merge (AcceptCustomerChanged), in customer-id order. The arithmetic (exposure sum, reasons, whether an
 * automatic hold applies) is credit_engine.c's; this file gathers its inputs under the lock and stores the result.
 *
 * CheckCredit is not replayed by request_id: every call is decided live; the reservation it takes is keyed by
 * (customer, reference), so a repeat replaces it instead of adding another.
 * Errors: INVALID_ARGUMENT (fields named), PERMISSION_DENIED STAGE_NOT_ALLOWED, FAILED_PRECONDITION
 * CURRENCY_MISMATCH, NOT_FOUND CREDIT_ACCOUNT_NOT_FOUND (readers of an unknown customer). */
#include <stdio.h>
#include <string.h>

#include "credit_engine.h"
#include "dtc.h"
#include "ltc/dtc/v1/credit_service.pb-c.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

static const char SQL_ACCOUNT_ENSURE[] =
    "INSERT INTO credit_accounts (customer_id, legal_name, tax_id, country_code, billing_currency, account_owner) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (customer_id) DO NOTHING";
/* the account of customer $1 locked, or, when $2 and $1 was merged, the account it was merged into: a tombstone's
 * merged_into never changes, so it is read unlocked and only the account that takes the work is locked. The row
 * says which account it is; a merged_into in it means one more hop (a chain, or merged while we looked). */
static const char SQL_ACCOUNT_LOCK[] =
    "SELECT a.customer_id::text, a.merged_into::text, a.customer_blocked, a.account_owner FROM credit_accounts a "
    "WHERE a.customer_id = CASE WHEN $2::boolean THEN coalesce((SELECT t.merged_into FROM credit_accounts t "
    "WHERE t.customer_id = $1::uuid), $1::uuid) ELSE $1::uuid END FOR UPDATE OF a";
static const char SQL_ACCOUNT_TOUCH[] =
    "UPDATE credit_accounts SET version = version + 1, update_time = now() WHERE customer_id = $1";

static const char SQL_POLICY_GET[] =
    "SELECT check_at_admission, check_at_order_placement, check_at_release, count_admitted_opportunities, "
    "overdue_hold_days, reservation_ttl_seconds, functional_currency, require_credit_limit, version "
    "FROM credit_policy";

/* Exposure per currency of customer $1: the OPEN order accounts (without account $2, nor the account of contract $3
 * opened at its signature and not placed yet: the placement being checked covers it) and the live reservations
 * (without reference $3), with the limit; only currency $4 when given. */
static const char SQL_EXPOSURE[] =
    "WITH a AS (SELECT currency::text AS currency, sum(invoiced_minor - paid_minor - credited_minor) AS r,"
    "   sum(greatest(accepted_minor - invoiced_minor, 0)) AS ani,"
    "   sum(order_total_minor - greatest(accepted_minor, invoiced_minor)) AS oo"
    "   FROM order_accounts WHERE customer_id = $1 AND state = 'OPEN' AND ($2::uuid IS NULL OR id <> $2::uuid)"
    "   AND ($3::text IS NULL OR placed_handoff_id IS NOT NULL OR 'contracts/' || contract_id::text <> $3)"
    "   GROUP BY 1),"
    " s AS (SELECT currency::text AS currency, sum(amount_minor) FILTER (WHERE stage = 'ORDER_PLACEMENT') AS p,"
    "   sum(amount_minor) FILTER (WHERE stage = 'ADMISSION') AS adm FROM credit_reservations"
    "   WHERE customer_id = $1 AND released_time IS NULL AND (expire_time IS NULL OR expire_time > now())"
    "   AND ($3::text IS NULL OR reference <> $3) GROUP BY 1),"
    " l AS (SELECT currency::text AS currency, limit_minor FROM credit_limits WHERE customer_id = $1),"
    " cur AS (SELECT currency FROM a UNION SELECT currency FROM s UNION SELECT currency FROM l)"
    " SELECT cur.currency, coalesce(a.r, 0)::bigint, coalesce(a.ani, 0)::bigint, coalesce(a.oo, 0)::bigint,"
    " coalesce(s.p, 0)::bigint, coalesce(s.adm, 0)::bigint, l.limit_minor"
    " FROM cur LEFT JOIN a USING (currency) LEFT JOIN s USING (currency) LEFT JOIN l USING (currency)"
    " WHERE $4::text IS NULL OR cur.currency = $4 ORDER BY cur.currency";
enum {
    X_CURRENCY,
    X_RECEIVABLES,
    X_ACCEPTED,
    X_ORDERS,
    X_PENDING,
    X_ADMITTED,
    X_LIMIT
};
/* the oldest overdue invoice of customer $1 as of $2 (today when NULL): its days overdue (0: none) and its id */
#define OVERDUE_OF_CUSTOMER                                                                                            \
    "SELECT coalesce(max(coalesce($2::date, current_date) - i.due_date), 0)::integer,"                                 \
    " (array_agg(i.id::text ORDER BY i.due_date, i.seq))[1]"                                                           \
    " FROM invoices i JOIN order_accounts a ON a.id = i.account_id"                                                    \
    " WHERE a.customer_id = $1 AND i.state IN ('UNPAID', 'PARTLY_PAID') AND i.due_date < coalesce($2::date, current_date)"
static const char SQL_OVERDUE[] = OVERDUE_OF_CUSTOMER;
/* The holds' evaluation of customer $1 as of $2 in one statement: the reservations whose time is up lapse (the
 * exposure read next counts only live ones either way), and one row per automatic hold (id, kind), each with the
 * oldest overdue invoice's days and id; one row with NULL hold when there is none. */
static const char SQL_HOLDS_EVALUATION[] =
    "WITH lapse AS (UPDATE credit_reservations SET released_time = now(), release_reason = 'EXPIRED', "
    "update_time = now() WHERE customer_id = $1 AND released_time IS NULL AND expire_time <= now()),"
    " o (days, invoice) AS (" OVERDUE_OF_CUSTOMER ")"
    " SELECT o.days, o.invoice, h.id::text, h.kind FROM o LEFT JOIN credit_holds h ON h.customer_id = $1 "
    "AND h.state = 'ACTIVE' AND h.kind <> 'MANUAL' ORDER BY h.seq";
static const char SQL_HOLD_PLACE_AUTO[] =
    "INSERT INTO credit_holds (id, customer_id, kind, reason, placed_by, cause_invoice_id) "
    "VALUES ($1, $2, $3, $4, 'system', $5::uuid)";
static const char SQL_HOLD_RELEASE_AUTO[] =
    "UPDATE credit_holds SET state = 'RELEASED', released_by = 'system', release_reason = $2, release_time = now() "
    "WHERE id = $1 AND state = 'ACTIVE'";
static const char SQL_HOLDS_ACTIVE_KINDS[] =
    "SELECT bool_or(kind = 'MANUAL'), bool_or(kind = 'OVERDUE'), bool_or(kind = 'OVER_LIMIT') FROM credit_holds "
    "WHERE customer_id = $1 AND state = 'ACTIVE'";
static const char SQL_OTHER_CURRENCY[] =
    "SELECT currency FROM credit_decisions WHERE reference = $1 AND currency <> $2 LIMIT 1";
static const char SQL_ORDER_PAID[] = "SELECT paid_minor FROM order_accounts WHERE id = $1";

#define DECISION_COLS                                                                                                  \
    "id::text, customer_id::text, stage, reference, currency, amount_minor, outcome, array_to_string(reasons, ','), "  \
    "limit_minor, exposure_minor, stage_checked, reserved, caller, " LTC_SQL_DATE("as_of_date") ", " LTC_SQL_MICROS(   \
        "decide_time") ", seq"
enum {
    D_ID,
    D_CUSTOMER,
    D_STAGE,
    D_REFERENCE,
    D_CURRENCY,
    D_AMOUNT,
    D_OUTCOME,
    D_REASONS,
    D_LIMIT,
    D_EXPOSURE,
    D_CHECKED,
    D_RESERVED,
    D_CALLER,
    D_ASOF,
    D_TIME,
    D_SEQ
};
static const char SQL_DECISION_INSERT[] =
    "INSERT INTO credit_decisions (id, customer_id, asked_customer, stage, reference, deal_id, currency, "
    "amount_minor, outcome, reasons, limit_minor, exposure_minor, stage_checked, reserved, caller, request_id, "
    "as_of_date) VALUES ($1, $2, $3, $4, $5, $6::uuid, $7, $8::bigint, $9, $10::text[], $11::bigint, $12::bigint, "
    "$13::boolean, $14::boolean, $15, $16, coalesce($17::date, current_date)) RETURNING " DECISION_COLS;
static const char SQL_RESERVE[] =
    "INSERT INTO credit_reservations (id, customer_id, stage, reference, deal_id, currency, amount_minor, "
    "decision_id, expire_time) VALUES ($1, $2, $3, $4, $5::uuid, $6, $7::bigint, $8, "
    "CASE WHEN $3 = 'ORDER_PLACEMENT' THEN now() + $9::integer * interval '1 second' END) "
    "ON CONFLICT (customer_id, reference) WHERE released_time IS NULL DO UPDATE SET amount_minor = "
    "EXCLUDED.amount_minor, currency = EXCLUDED.currency, deal_id = EXCLUDED.deal_id, decision_id = "
    "EXCLUDED.decision_id, expire_time = EXCLUDED.expire_time, update_time = now()";
static const char SQL_DECISIONS_LIST[] =
    "SELECT " DECISION_COLS " FROM credit_decisions WHERE ($1::uuid IS NULL OR customer_id = $1::uuid) "
    "AND ($2::text IS NULL OR reference = $2) AND ($3::bigint = 0 OR seq < $3::bigint) ORDER BY seq DESC "
    "LIMIT $4::integer";

/* --- the account and the policy ----------------------------------------------------------------------------------- */

const char *dtc_principal(ltc_call *c) {
    const char *p = ltc_call_principal(c);
    return p && p[0] ? p : "anonymous";
}

int dtc_credit_account_lock(ltc_call *c, ltc_status *st, const char *customer,
                            const Ltc__Type__V1__CustomerSnapshot *snap, unsigned flags, dtc_credit_locked *out) {
    char id[LTC_UUID_LEN + 1];
    snprintf(id, sizeof id, "%s", customer);
    if (flags & DTC_LOCK_CREATE) {
        const char *name = snap && snap->legal_name[0] ? snap->legal_name : ltc_call_printf(c, "customers/%s", id);
        const char *p[] = {id,
                           name,
                           snap ? snap->tax_id : "",
                           snap ? snap->country_code : "",
                           snap ? snap->billing_currency : "",
                           snap ? snap->account_owner : ""};
        if (!ltc_call_query(c, st, SQL_ACCOUNT_ENSURE, 6, p)) return -1;
    }
    const char *follow = flags & DTC_LOCK_FOLLOW_MERGES ? "true" : "false";
    for (int hop = 0; hop < 16; hop++) {
        PGresult *r = ltc_call_query(c, st, SQL_ACCOUNT_LOCK, 2, (const char *[]){id, follow});
        if (!r) return -1;
        if (PQntuples(r) == 0)
            return ltc_status_set(st, LTC_NOT_FOUND, "CREDIT_ACCOUNT_NOT_FOUND", "no credit account for customer %s",
                                  id);
        if (!ltc_pg_isnull(r, 0, 1)) {
            if (!(flags & DTC_LOCK_FOLLOW_MERGES))
                return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CUSTOMER_MERGED",
                                      "customer %s was merged into customers/%s: use the survivor", id,
                                      ltc_pg_str(r, 0, 1));
            snprintf(id, sizeof id, "%s", ltc_pg_str(r, 0, 1)); /* a chain, or merged while we looked */
            continue;
        }
        snprintf(out->id, sizeof out->id, "%s", ltc_pg_str(r, 0, 0));
        out->blocked = ltc_pg_bool(r, 0, 2);
        snprintf(out->account_owner, sizeof out->account_owner, "%s", ltc_pg_str(r, 0, 3));
        return 0;
    }
    return ltc_status_set(st, LTC_INTERNAL, "CREDIT_ACCOUNT_CORRUPT", "customer %s: merge chain too long", customer);
}

int dtc_credit_check_owner(ltc_call *c, ltc_status *st, const dtc_credit_locked *acc) {
    const char *scope = ltc_call_deal_scope(c);
    if (scope && strcmp(scope, acc->account_owner) != 0)
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "NOT_ACCOUNT_OWNER",
                              "%s is not the account owner of customer %s", scope, acc->id);
    return 0;
}

int dtc_credit_policy_load(ltc_call *c, ltc_status *st, dtc_credit_policy *p) {
    PGresult *r = ltc_call_query(c, st, SQL_POLICY_GET, 0, NULL);
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_INTERNAL, NULL, "the credit policy row is missing");
    p->check_admission = ltc_pg_bool(r, 0, 0);
    p->check_placement = ltc_pg_bool(r, 0, 1);
    p->check_release = ltc_pg_bool(r, 0, 2);
    p->count_admitted = ltc_pg_bool(r, 0, 3);
    p->overdue_days = (int)ltc_pg_i64(r, 0, 4);
    p->ttl_seconds = (int)ltc_pg_i64(r, 0, 5);
    snprintf(p->functional_currency, sizeof p->functional_currency, "%s", ltc_pg_str(r, 0, 6));
    p->require_limit = ltc_pg_bool(r, 0, 7);
    p->version = ltc_pg_i64(r, 0, 8);
    return 0;
}

/* --- exposure ----------------------------------------------------------------------------------------------------- */

PGresult *dtc_credit_exposure_query(ltc_call *c, ltc_status *st, const char *customer, const char *without_account,
                                    const char *without_reference, const char *currency) {
    const char *p[] = {customer, without_account, without_reference, currency};
    return ltc_call_query(c, st, SQL_EXPOSURE, 4, p);
}

void dtc_credit_exposure_row(const PGresult *r, int row, dtc_exposure_parts *parts, int *has_limit, int64_t *limit) {
    parts->open_receivables = ltc_pg_i64(r, row, X_RECEIVABLES);
    parts->accepted_not_invoiced = ltc_pg_i64(r, row, X_ACCEPTED);
    parts->open_orders = ltc_pg_i64(r, row, X_ORDERS);
    parts->pending_reservations = ltc_pg_i64(r, row, X_PENDING);
    parts->admitted = ltc_pg_i64(r, row, X_ADMITTED);
    *has_limit = !ltc_pg_isnull(r, row, X_LIMIT);
    *limit = ltc_pg_i64(r, row, X_LIMIT);
}

int dtc_credit_overdue(ltc_call *c, ltc_status *st, const char *customer, const char *as_of, int *days,
                       const char **invoice) {
    const char *p[] = {customer, as_of};
    PGresult *r = ltc_call_query(c, st, SQL_OVERDUE, 2, p);
    if (!r) return -1;
    *days = (int)ltc_pg_i64(r, 0, 0);
    if (invoice) *invoice = ltc_pg_isnull(r, 0, 1) ? NULL : ltc_pg_str(r, 0, 1);
    return 0;
}

/* --- automatic holds ---------------------------------------------------------------------------------------------- */

static int place_auto(ltc_call *c, ltc_status *st, const char *customer, const char *kind, const char *reason,
                      const char *invoice) {
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *p[] = {id, customer, kind, reason, invoice};
    return ltc_call_query(c, st, SQL_HOLD_PLACE_AUTO, 5, p) ? 0 : -1;
}

int dtc_credit_evaluate_holds(ltc_call *c, ltc_status *st, const char *customer, const char *as_of,
                              const dtc_credit_policy *pol, const char *cause) {
    const char *p[] = {customer, as_of};
    PGresult *h = ltc_call_query(c, st, SQL_HOLDS_EVALUATION, 2, p);
    if (!h) return -1;
    int days = (int)ltc_pg_i64(h, 0, 0);
    const char *invoice = ltc_pg_isnull(h, 0, 1) ? NULL : ltc_pg_str(h, 0, 1);
    int want_overdue = dtc_overdue_hold_wanted(days, pol->overdue_days);

    PGresult *x = dtc_credit_exposure_query(c, st, customer, NULL, NULL, NULL);
    if (!x) return -1;
    const char *over_text = NULL;
    for (int i = 0; i < PQntuples(x) && !over_text; i++) {
        dtc_exposure_parts parts;
        int has_limit;
        int64_t limit, total;
        dtc_credit_exposure_row(x, i, &parts, &has_limit, &limit);
        if (dtc_exposure_total(&parts, pol->count_admitted, &total) != 0) total = INT64_MAX;
        if (dtc_over_limit_hold_wanted(has_limit, limit, total))
            over_text = ltc_call_printf(c, "exposure %lld exceeds the limit %lld %s", (long long)total,
                                        (long long)limit, ltc_pg_str(x, i, X_CURRENCY));
    }

    int have_overdue = 0, have_over = 0, changed = 0;
    for (int i = 0; i < PQntuples(h) && !ltc_pg_isnull(h, i, 2); i++) {
        const char *id = ltc_pg_str(h, i, 2), *kind = ltc_pg_str(h, i, 3);
        int overdue = strcmp(kind, "OVERDUE") == 0;
        int wanted = overdue ? want_overdue : over_text != NULL;
        if (wanted) {
            if (overdue)
                have_overdue = 1;
            else
                have_over = 1;
            continue;
        }
        const char *why =
            overdue ? ltc_call_printf(c, "no invoice overdue by more than %d days%s%s", pol->overdue_days,
                                      cause ? ": " : "", cause ? cause : "")
                    : ltc_call_printf(c, "exposure within the limit%s%s", cause ? ": " : "", cause ? cause : "");
        const char *rp[] = {id, why};
        if (!ltc_call_query(c, st, SQL_HOLD_RELEASE_AUTO, 2, rp)) return -1;
        changed = 1;
    }
    if (want_overdue && !have_overdue) {
        const char *why = ltc_call_printf(c, "invoices/%s overdue %d days", invoice ? invoice : "?", days);
        if (place_auto(c, st, customer, "OVERDUE", why, invoice) != 0) return -1;
        changed = 1;
    }
    if (over_text && !have_over) {
        if (place_auto(c, st, customer, "OVER_LIMIT", over_text, NULL) != 0) return -1;
        changed = 1;
    }
    if (changed && !ltc_call_query(c, st, SQL_ACCOUNT_TOUCH, 1, p)) return -1;
    return 0;
}

/* --- decisions ---------------------------------------------------------------------------------------------------- */

Ltc__Dtc__V1__CreditDecision *dtc_decision_from_row(ltc_call *c, const PGresult *r, int row) {
    Ltc__Dtc__V1__CreditDecision *d = LTC_NEW(c, Ltc__Dtc__V1__CreditDecision, LTC__DTC__V1__CREDIT_DECISION__INIT);
    const char *cur = ltc_pg_str(r, row, D_CURRENCY);
    d->name = ltc_call_printf(c, "creditDecisions/%s", ltc_pg_str(r, row, D_ID));
    d->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, row, D_CUSTOMER));
    d->stage = (Ltc__Dtc__V1__CreditStage)ltc_enum_from_db(&ltc__dtc__v1__credit_stage__descriptor, "CREDIT_STAGE_",
                                                           ltc_pg_str(r, row, D_STAGE));
    d->reference = ltc_call_strdup(c, ltc_pg_str(r, row, D_REFERENCE));
    d->amount = ltc_money_msg(c, cur, ltc_pg_i64(r, row, D_AMOUNT));
    d->outcome = (Ltc__Dtc__V1__CreditOutcome)ltc_enum_from_db(&ltc__dtc__v1__credit_outcome__descriptor,
                                                               "CREDIT_OUTCOME_", ltc_pg_str(r, row, D_OUTCOME));
    char *reasons = ltc_call_strdup(c, ltc_pg_str(r, row, D_REASONS));
    d->reasons = ltc_call_alloc(c, sizeof(Ltc__Dtc__V1__CreditRefusalReason) * (DTC_REASON_MAX + 1));
    for (char *save = NULL, *tok = strtok_r(reasons, ",", &save); tok && d->n_reasons <= DTC_REASON_MAX;
         tok = strtok_r(NULL, ",", &save))
        d->reasons[d->n_reasons++] = (Ltc__Dtc__V1__CreditRefusalReason)ltc_enum_from_db(
            &ltc__dtc__v1__credit_refusal_reason__descriptor, "CREDIT_REFUSAL_REASON_", tok);
    if (!ltc_pg_isnull(r, row, D_LIMIT)) d->limit = ltc_money_msg(c, cur, ltc_pg_i64(r, row, D_LIMIT));
    d->exposure = ltc_money_msg(c, cur, ltc_pg_i64(r, row, D_EXPOSURE));
    d->stage_checked = ltc_pg_bool(r, row, D_CHECKED);
    d->reserved = ltc_pg_bool(r, row, D_RESERVED);
    d->caller = ltc_call_strdup(c, ltc_pg_str(r, row, D_CALLER));
    d->as_of_date = ltc_date_from_pg(c, r, row, D_ASOF);
    d->decide_time = ltc_ts_from_pg(c, r, row, D_TIME);
    return d;
}

/* A validated CheckCredit request. */
typedef struct check_in {
    char customer[LTC_UUID_LEN + 1];
    char ref_id[LTC_UUID_LEN + 1];
    char deal[LTC_UUID_LEN + 1];
    const char *stage;     /* "ADMISSION", ... */
    const char *reference; /* "contracts/{uuid}", lower case */
    ltc_money amount;
    char as_of[11]; /* "" = today */
} check_in;

static const char *const STAGE_COLLECTION[] = {NULL, "opportunities", "contracts", "orders", "orders"};

static int validate_check(ltc_call *c, const Ltc__Dtc__V1__CheckCreditRequest *req, check_in *in, ltc_status *st) {
    if (!req->customer)
        ltc_status_bad_field(st, "customer", "required");
    else {
        ltc_name_parse(req->customer->customer, "customers", "customer.customer", in->customer, st);
        ltc_check_text(req->customer->legal_name, "customer.legal_name", 0, 200, st);
    }
    in->stage = ltc_enum_to_db(&ltc__dtc__v1__credit_stage__descriptor, "CREDIT_STAGE_", (int)req->stage);
    if (!in->stage || req->stage == LTC__DTC__V1__CREDIT_STAGE__CREDIT_STAGE_UNSPECIFIED) {
        in->stage = NULL;
        ltc_status_bad_field(st, "stage", "required: ADMISSION, ORDER_PLACEMENT, RELEASE or SHIPMENT");
    } else if (ltc_name_parse(req->reference, STAGE_COLLECTION[req->stage], "reference", in->ref_id, st) == 0) {
        in->reference = ltc_call_printf(c, "%s/%s", STAGE_COLLECTION[req->stage], in->ref_id);
    }
    if (req->deal[0]) ltc_name_parse(req->deal, "deals", "deal", in->deal, st);
    ltc_money_from_proto(req->amount, "amount", 0, &in->amount, st);
    ltc_date_to_text(req->as_of_date, "as_of_date", 1, in->as_of, st);
    ltc_check_text(req->request_id, "request_id", 0, 128, st);
    return st->code == LTC_OK ? 0 : -1;
}

/* The caller's identity and whether it may ask for `stage` (plaintext: "anonymous", any stage). */
static int check_caller(ltc_call *c, int stage, const char **caller, ltc_status *st) {
    const char *peer = ltc_call_peer(c);
    if (!peer || !peer[0]) {
        *caller = "anonymous";
        return 0;
    }
    *caller = peer;
    int ok = (strcmp(peer, "ltb") == 0 && stage == DTC_STAGE_ADMISSION) ||
             (strcmp(peer, "bto") == 0 && stage == DTC_STAGE_ORDER_PLACEMENT) ||
             (strcmp(peer, "otd") == 0 && (stage == DTC_STAGE_RELEASE || stage == DTC_STAGE_SHIPMENT));
    if (!ok)
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "STAGE_NOT_ALLOWED", "%s may not ask for credit at stage %d",
                              peer, stage);
    return 0;
}

static int stage_checked(const dtc_credit_policy *pol, int stage) {
    switch (stage) {
        case DTC_STAGE_ADMISSION: return pol->check_admission;
        case DTC_STAGE_ORDER_PLACEMENT: return pol->check_placement;
        case DTC_STAGE_RELEASE: return pol->check_release;
        default: return 0;
    }
}

/* CreditService/CheckCredit: see the file's comment and docs/credit.md, "CheckCredit". */
int dtc_check_credit(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__CheckCreditRequest *req = (const void *)m;
    check_in in = {0};
    if (validate_check(c, req, &in, st) != 0) return -1;
    const char *caller;
    int stage = (int)req->stage;
    if (check_caller(c, stage, &caller, st) != 0) return -1;
    const char *as_of = in.as_of[0] ? in.as_of : NULL;

    /* 1. the customer's account, created from the snapshot on first use, locked */
    dtc_credit_locked acc;
    if (dtc_credit_account_lock(c, st, in.customer, req->customer, DTC_LOCK_CREATE | DTC_LOCK_FOLLOW_MERGES, &acc) != 0)
        return -1;
    dtc_credit_policy pol;
    if (dtc_credit_policy_load(c, st, &pol) != 0) return -1;
    const char *op[] = {in.reference, in.amount.currency};
    PGresult *oc = ltc_call_query(c, st, SQL_OTHER_CURRENCY, 2, op);
    if (!oc) return -1;
    if (PQntuples(oc) > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CURRENCY_MISMATCH", "%s was checked before in %s, not %s",
                              in.reference, ltc_pg_str(oc, 0, 0), in.amount.currency);

    /* 2. automatic holds as of the business date; lapsed reservations */
    if (dtc_credit_evaluate_holds(c, st, acc.id, as_of, &pol, "credit check") != 0) return -1;

    /* 3. exposure without this reference's own part */
    int release_like = stage == DTC_STAGE_RELEASE || stage == DTC_STAGE_SHIPMENT;
    int64_t amount = in.amount.minor;
    if (stage == DTC_STAGE_RELEASE) {
        const char *pp[] = {in.ref_id};
        PGresult *pr = ltc_call_query(c, st, SQL_ORDER_PAID, 1, pp);
        if (!pr) return -1;
        if (PQntuples(pr) == 1) amount = dtc_release_amount(amount, ltc_pg_i64(pr, 0, 0));
    }
    PGresult *x = dtc_credit_exposure_query(c, st, acc.id, release_like ? in.ref_id : NULL,
                                            release_like ? NULL : in.reference, in.amount.currency);
    if (!x) return -1;
    dtc_exposure_parts parts = {0};
    dtc_credit_inputs ci = {0};
    if (PQntuples(x) == 1) dtc_credit_exposure_row(x, 0, &parts, &ci.has_limit, &ci.limit);
    if (dtc_exposure_total(&parts, pol.count_admitted, &ci.exposure) != 0)
        return ltc_status_set(st, LTC_INTERNAL, "CREDIT_ACCOUNT_CORRUPT", "exposure of %s overflows", acc.id);

    /* 4. reasons */
    const char *hp[] = {acc.id};
    PGresult *h = ltc_call_query(c, st, SQL_HOLDS_ACTIVE_KINDS, 1, hp);
    if (!h) return -1;
    ci.stage = stage;
    ci.stage_checked = stage_checked(&pol, stage);
    ci.require_limit = pol.require_limit;
    ci.customer_blocked = acc.blocked;
    ci.manual_hold = ltc_pg_bool(h, 0, 0);
    ci.overdue_hold = ltc_pg_bool(h, 0, 1);
    ci.over_limit_hold = ltc_pg_bool(h, 0, 2);
    ci.amount = amount;
    unsigned reasons = dtc_credit_reasons(&ci);
    const char *names[DTC_REASON_MAX];
    size_t n = 0;
    for (int v = 1; v <= DTC_REASON_MAX; v++)
        if (reasons & (1u << v))
            names[n++] = ltc_enum_to_db(&ltc__dtc__v1__credit_refusal_reason__descriptor, "CREDIT_REFUSAL_REASON_", v);
    int reserve =
        reasons == 0 && (stage == DTC_STAGE_ORDER_PLACEMENT || (stage == DTC_STAGE_ADMISSION && pol.count_admitted));

    /* 5-6. the decision (append-only), then the reservation that refers to it */
    char did[LTC_UUID_LEN + 1];
    ltc_uuid_new(did);
    const char *dp[] = {did,
                        acc.id,
                        in.customer,
                        in.stage,
                        in.reference,
                        in.deal[0] ? in.deal : NULL,
                        in.amount.currency,
                        ltc_sql_i64(c, in.amount.minor),
                        reasons ? "REFUSED" : "APPROVED",
                        ltc_sql_text_array(c, names, n),
                        ci.has_limit ? ltc_sql_i64(c, ci.limit) : NULL,
                        ltc_sql_i64(c, ci.exposure),
                        ci.stage_checked ? "true" : "false",
                        reserve ? "true" : "false",
                        caller,
                        req->request_id,
                        as_of};
    PGresult *d = ltc_call_query(c, st, SQL_DECISION_INSERT, 17, dp);
    if (!d) return -1;
    if (reserve) {
        char rid[LTC_UUID_LEN + 1];
        ltc_uuid_new(rid);
        const char *rp[] = {rid,
                            acc.id,
                            in.stage,
                            in.reference,
                            in.deal[0] ? in.deal : NULL,
                            in.amount.currency,
                            ltc_sql_i64(c, amount),
                            did,
                            ltc_sql_i64(c, pol.ttl_seconds)};
        if (!ltc_call_query(c, st, SQL_RESERVE, 9, rp)) return -1;
    }
    Ltc__Dtc__V1__CheckCreditResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__CheckCreditResponse, LTC__DTC__V1__CHECK_CREDIT_RESPONSE__INIT);
    resp->decision = dtc_decision_from_row(c, d, 0);
    *out = &resp->base;
    return 0;
}

/* DeliveryToCashService/ListCreditDecisions: newest first, of one customer and/or one reference.
 * Errors: INVALID_ARGUMENT (customer, reference, page_size, page_token). */
int dtc_list_credit_decisions(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ListCreditDecisionsRequest *req = (const void *)m;
    char customer[LTC_UUID_LEN + 1] = "";
    if (req->customer[0]) ltc_name_parse(req->customer, "customers", "customer", customer, st);
    ltc_check_text(req->reference, "reference", 0, 64, st);
    int limit = 0;
    int64_t after = 0;
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (st->code != LTC_OK) return -1;
    const char *p[] = {customer[0] ? customer : NULL, req->reference[0] ? req->reference : NULL, ltc_sql_i64(c, after),
                       ltc_sql_i64(c, limit)};
    PGresult *r = ltc_call_query(c, st, SQL_DECISIONS_LIST, 4, p);
    if (!r) return -1;
    Ltc__Dtc__V1__ListCreditDecisionsResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ListCreditDecisionsResponse, LTC__DTC__V1__LIST_CREDIT_DECISIONS_RESPONSE__INIT);
    int rows = PQntuples(r), shown = rows < limit ? rows : limit - 1;
    resp->credit_decisions = ltc_call_alloc(c, sizeof(void *) * (size_t)(shown > 0 ? shown : 1));
    for (int i = 0; i < shown; i++) resp->credit_decisions[i] = dtc_decision_from_row(c, r, i);
    resp->n_credit_decisions = (size_t)shown;
    if (rows >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, D_SEQ));
    *out = &resp->base;
    return 0;
}
