/* services/dtc/credit_admin.c - finance's side of credit (docs/credit.md): credit accounts and exposure (reads that
 * may place or release automatic holds), limit changes under four eyes, manual holds, and the credit policy.
 * Life cycles: CreditLimitChange PENDING -> APPROVED | REJECTED, decided by someone other than the requester (also a
 * database constraint); CreditHold ACTIVE -> RELEASED (MANUAL by finance; OVERDUE / OVER_LIMIT only by DTC).
 * Lock order: the credit account (credit.c's dtc_credit_account_lock), then the change or hold row.
 * Errors (besides INVALID_ARGUMENT naming fields): NOT_FOUND CREDIT_ACCOUNT_NOT_FOUND, LIMIT_CHANGE_NOT_FOUND,
 * HOLD_NOT_FOUND; FAILED_PRECONDITION LIMIT_CHANGE_ALREADY_PENDING, LIMIT_CHANGE_NOT_PENDING, HOLD_NOT_ACTIVE,
 * HOLD_IS_AUTOMATIC, CUSTOMER_MERGED; PERMISSION_DENIED APPROVER_IS_REQUESTER, NOT_ACCOUNT_OWNER; ABORTED
 * ETAG_MISMATCH. */
#include <stdio.h>
#include <string.h>

#include "credit_engine.h"
#include "dtc.h"
#include "ltc/audit.h"
#include "ledger.h"
#include "ltc/fieldmask.h"

/* --- SQL ---------------------------------------------------------------------------------------------------------- */

static const char SQL_ACCOUNT_GET[] =
    "SELECT customer_id::text, legal_name, tax_id, country_code, billing_currency, account_owner, customer_blocked, "
    "merged_into::text, " LTC_SQL_MICROS("create_time") ", " LTC_SQL_MICROS(
        "update_time") " FROM credit_accounts WHERE customer_id = $1";
static const char SQL_LIMITS_GET[] =
    "SELECT currency, limit_minor FROM credit_limits WHERE customer_id = $1 ORDER BY currency";
#define HOLD_COLS                                                                                                      \
    "id::text, customer_id::text, kind, state, reason, placed_by, " LTC_SQL_MICROS(                                    \
        "place_time") ", released_by, release_reason, " LTC_SQL_MICROS("release_time") ", seq"
enum {
    H_ID,
    H_CUSTOMER,
    H_KIND,
    H_STATE,
    H_REASON,
    H_PLACED_BY,
    H_PLACE_TIME,
    H_RELEASED_BY,
    H_RELEASE_REASON,
    H_RELEASE_TIME,
    H_SEQ
};
static const char SQL_HOLDS_ACTIVE[] =
    "SELECT " HOLD_COLS " FROM credit_holds WHERE customer_id = $1 AND state = 'ACTIVE' ORDER BY seq";
static const char SQL_ACCOUNTS_LIST[] =
    "SELECT customer_id::text, seq FROM credit_accounts a WHERE seq > $1::bigint AND (NOT $3::boolean OR EXISTS "
    "(SELECT FROM credit_holds h WHERE h.customer_id = a.customer_id AND h.state = 'ACTIVE')) ORDER BY seq "
    "LIMIT $2::integer";

#define CHANGE_COLS                                                                                                    \
    "id::text, customer_id::text, currency, new_limit_minor, previous_limit_minor, reason, state, requested_by, "      \
    "" LTC_SQL_MICROS("request_time") ", decided_by, decision_comment, " LTC_SQL_MICROS("decide_time") ", seq"
enum {
    C_ID,
    C_CUSTOMER,
    C_CURRENCY,
    C_NEW,
    C_PREVIOUS,
    C_REASON,
    C_STATE,
    C_REQUESTED_BY,
    C_REQUEST_TIME,
    C_DECIDED_BY,
    C_COMMENT,
    C_DECIDE_TIME,
    C_SEQ
};
static const char SQL_CHANGE_PENDING[] =
    "SELECT id::text FROM credit_limit_changes WHERE customer_id = $1 AND currency = $2 AND state = 'PENDING'";
static const char SQL_CHANGE_INSERT[] =
    "INSERT INTO credit_limit_changes (id, customer_id, currency, new_limit_minor, previous_limit_minor, reason, "
    "requested_by) VALUES ($1, $2, $3, $4::bigint, (SELECT limit_minor FROM credit_limits WHERE customer_id = $2 "
    "AND currency = $3), $5, $6) RETURNING " CHANGE_COLS;
static const char SQL_CHANGE_CUSTOMER[] = "SELECT customer_id::text FROM credit_limit_changes WHERE id = $1";
static const char SQL_CHANGE_LOCK[] = "SELECT state, requested_by FROM credit_limit_changes WHERE id = $1 FOR UPDATE";
static const char SQL_CHANGE_DECIDE[] =
    "UPDATE credit_limit_changes c SET state = $2, decided_by = $3, decision_comment = $4, decide_time = now(), "
    "previous_limit_minor = (SELECT limit_minor FROM credit_limits l WHERE l.customer_id = c.customer_id "
    "AND l.currency = c.currency) WHERE id = $1 RETURNING " CHANGE_COLS;
static const char SQL_LIMIT_SET[] =
    "INSERT INTO credit_limits (customer_id, currency, limit_minor, change_id) VALUES ($1, $2, $3::bigint, $4) "
    "ON CONFLICT (customer_id, currency) DO UPDATE SET limit_minor = EXCLUDED.limit_minor, change_id = "
    "EXCLUDED.change_id, update_time = now()";
static const char SQL_ACCOUNT_TOUCH[] =
    "UPDATE credit_accounts SET version = version + 1, update_time = now() WHERE customer_id = $1";
static const char SQL_CHANGES_LIST[] =
    "SELECT " CHANGE_COLS " FROM credit_limit_changes WHERE ($1::uuid IS NULL OR customer_id = $1::uuid) "
    "AND ($2::bigint = 0 OR seq < $2::bigint) ORDER BY seq DESC LIMIT $3::integer";

static const char SQL_HOLD_INSERT[] =
    "INSERT INTO credit_holds (id, customer_id, kind, reason, placed_by) VALUES ($1, $2, 'MANUAL', $3, $4) "
    "RETURNING " HOLD_COLS;
static const char SQL_HOLD_CUSTOMER[] = "SELECT customer_id::text FROM credit_holds WHERE id = $1";
static const char SQL_HOLD_LOCK[] = "SELECT kind, state FROM credit_holds WHERE id = $1 FOR UPDATE";
static const char SQL_HOLD_RELEASE[] =
    "UPDATE credit_holds SET state = 'RELEASED', released_by = $2, release_reason = $3, release_time = now() "
    "WHERE id = $1 RETURNING " HOLD_COLS;
static const char SQL_HOLDS_LIST[] =
    "SELECT " HOLD_COLS " FROM credit_holds WHERE ($1::uuid IS NULL OR customer_id = $1::uuid) "
    "AND (NOT $2::boolean OR state = 'ACTIVE') AND ($3::bigint = 0 OR seq < $3::bigint) ORDER BY seq DESC "
    "LIMIT $4::integer";

#define POLICY_COLS                                                                                                    \
    "check_at_admission, check_at_order_placement, check_at_release, count_admitted_opportunities, "                   \
    "overdue_hold_days, reservation_ttl_seconds, functional_currency, update_by, " LTC_SQL_MICROS(                     \
        "update_time") ", version, require_credit_limit"
static const char SQL_POLICY_GET[] = "SELECT " POLICY_COLS " FROM credit_policy";
static const char SQL_POLICY_LOCK[] = "SELECT version FROM credit_policy FOR UPDATE";
/* $1 change id, $2..$9 the new values, $10 who, $11 request id: the row updated and its history in one statement
 * (the CTE `old` sees the row as it was before the update). */
static const char SQL_POLICY_UPDATE[] =
    "WITH old AS (SELECT * FROM credit_policy), upd AS (UPDATE credit_policy SET check_at_admission = $2::boolean, "
    "check_at_order_placement = $3::boolean, check_at_release = $4::boolean, count_admitted_opportunities = "
    "$5::boolean, overdue_hold_days = $6::integer, reservation_ttl_seconds = $7::integer, functional_currency = $8, "
    "require_credit_limit = $9::boolean, update_by = $10, version = version + 1, update_time = now() RETURNING *), "
    "ins AS (INSERT INTO credit_policy_changes (id, old_values, new_values, changed_by, request_id) "
    "SELECT $1, to_jsonb(old) - 'id' - 'update_time', to_jsonb(upd) - 'id' - 'update_time', $10, $11 FROM old, upd) "
    "SELECT version FROM upd";

/* --- rows --------------------------------------------------------------------------------------------------------- */

static Ltc__Dtc__V1__CreditHold *hold_from_row(ltc_call *c, const PGresult *r, int row) {
    Ltc__Dtc__V1__CreditHold *h = LTC_NEW(c, Ltc__Dtc__V1__CreditHold, LTC__DTC__V1__CREDIT_HOLD__INIT);
    h->name = ltc_call_printf(c, "creditHolds/%s", ltc_pg_str(r, row, H_ID));
    h->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, row, H_CUSTOMER));
    h->kind = (Ltc__Dtc__V1__CreditHoldKind)ltc_enum_from_db(&ltc__dtc__v1__credit_hold_kind__descriptor,
                                                             "CREDIT_HOLD_KIND_", ltc_pg_str(r, row, H_KIND));
    h->state = (Ltc__Dtc__V1__CreditHoldState)ltc_enum_from_db(&ltc__dtc__v1__credit_hold_state__descriptor,
                                                               "CREDIT_HOLD_STATE_", ltc_pg_str(r, row, H_STATE));
    h->reason = ltc_call_strdup(c, ltc_pg_str(r, row, H_REASON));
    h->placed_by = ltc_call_strdup(c, ltc_pg_str(r, row, H_PLACED_BY));
    h->place_time = ltc_ts_from_pg(c, r, row, H_PLACE_TIME);
    h->released_by = ltc_call_strdup(c, ltc_pg_str(r, row, H_RELEASED_BY) ? ltc_pg_str(r, row, H_RELEASED_BY) : "");
    h->release_reason =
        ltc_call_strdup(c, ltc_pg_str(r, row, H_RELEASE_REASON) ? ltc_pg_str(r, row, H_RELEASE_REASON) : "");
    h->release_time = ltc_ts_from_pg(c, r, row, H_RELEASE_TIME);
    return h;
}

static Ltc__Dtc__V1__CreditLimitChange *change_from_row(ltc_call *c, const PGresult *r, int row) {
    Ltc__Dtc__V1__CreditLimitChange *ch =
        LTC_NEW(c, Ltc__Dtc__V1__CreditLimitChange, LTC__DTC__V1__CREDIT_LIMIT_CHANGE__INIT);
    const char *cur = ltc_pg_str(r, row, C_CURRENCY);
    ch->name = ltc_call_printf(c, "creditLimitChanges/%s", ltc_pg_str(r, row, C_ID));
    ch->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, row, C_CUSTOMER));
    ch->new_limit = ltc_money_msg(c, cur, ltc_pg_i64(r, row, C_NEW));
    if (!ltc_pg_isnull(r, row, C_PREVIOUS)) ch->previous_limit = ltc_money_msg(c, cur, ltc_pg_i64(r, row, C_PREVIOUS));
    ch->reason = ltc_call_strdup(c, ltc_pg_str(r, row, C_REASON));
    ch->state = (Ltc__Dtc__V1__CreditLimitChangeState)ltc_enum_from_db(
        &ltc__dtc__v1__credit_limit_change_state__descriptor, "CREDIT_LIMIT_CHANGE_STATE_",
        ltc_pg_str(r, row, C_STATE));
    ch->requested_by = ltc_call_strdup(c, ltc_pg_str(r, row, C_REQUESTED_BY));
    ch->request_time = ltc_ts_from_pg(c, r, row, C_REQUEST_TIME);
    ch->decided_by = ltc_call_strdup(c, ltc_pg_str(r, row, C_DECIDED_BY) ? ltc_pg_str(r, row, C_DECIDED_BY) : "");
    ch->decision_comment = ltc_call_strdup(c, ltc_pg_str(r, row, C_COMMENT));
    ch->decide_time = ltc_ts_from_pg(c, r, row, C_DECIDE_TIME);
    return ch;
}

int dtc_load_credit_account(ltc_call *c, ltc_status *st, const char *customer, Ltc__Dtc__V1__CreditAccount **out) {
    const char *p[] = {customer};
    PGresult *r = ltc_call_query(c, st, SQL_ACCOUNT_GET, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "CREDIT_ACCOUNT_NOT_FOUND", "no credit account for customer %s",
                              customer);
    PGresult *l = ltc_call_query(c, st, SQL_LIMITS_GET, 1, p);
    if (!l) return -1;
    PGresult *h = ltc_call_query(c, st, SQL_HOLDS_ACTIVE, 1, p);
    if (!h) return -1;
    Ltc__Dtc__V1__CreditAccount *a = LTC_NEW(c, Ltc__Dtc__V1__CreditAccount, LTC__DTC__V1__CREDIT_ACCOUNT__INIT);
    Ltc__Type__V1__CustomerSnapshot *s =
        LTC_NEW(c, Ltc__Type__V1__CustomerSnapshot, LTC__TYPE__V1__CUSTOMER_SNAPSHOT__INIT);
    a->name = ltc_call_printf(c, "creditAccounts/%s", ltc_pg_str(r, 0, 0));
    s->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, 0, 0));
    s->legal_name = ltc_call_strdup(c, ltc_pg_str(r, 0, 1));
    s->tax_id = ltc_call_strdup(c, ltc_pg_str(r, 0, 2));
    s->country_code = ltc_call_strdup(c, ltc_pg_str(r, 0, 3));
    s->billing_currency = ltc_call_strdup(c, ltc_pg_str(r, 0, 4));
    s->account_owner = ltc_call_strdup(c, ltc_pg_str(r, 0, 5));
    a->customer = s;
    a->customer_blocked = ltc_pg_bool(r, 0, 6);
    a->create_time = ltc_ts_from_pg(c, r, 0, 8);
    a->update_time = ltc_ts_from_pg(c, r, 0, 9);
    int nl = PQntuples(l), nh = PQntuples(h);
    a->limits = ltc_call_alloc(c, sizeof(void *) * (size_t)(nl > 0 ? nl : 1));
    for (int i = 0; i < nl; i++) a->limits[i] = ltc_money_msg(c, ltc_pg_str(l, i, 0), ltc_pg_i64(l, i, 1));
    a->n_limits = (size_t)nl;
    a->active_holds = ltc_call_alloc(c, sizeof(void *) * (size_t)(nh > 0 ? nh : 1));
    for (int i = 0; i < nh; i++) a->active_holds[i] = hold_from_row(c, h, i);
    a->n_active_holds = (size_t)nh;
    a->on_hold = nh > 0;
    *out = a;
    return 0;
}

/* The customer id of "<collection>/{uuid}" in field `field`. */
static int parse_customer(const char *name, const char *collection, const char *field, char id[LTC_UUID_LEN + 1],
                          ltc_status *st) {
    return ltc_name_parse(name, collection, field, id, st);
}

/* --- accounts and exposure ---------------------------------------------------------------------------------------- */

/* GetCreditAccount: a customer's account (a merged customer's id resolves to the survivor's). Runs in a transaction
 * only to read a consistent account; it takes no lock. Errors: INVALID_ARGUMENT "name", NOT_FOUND
 * CREDIT_ACCOUNT_NOT_FOUND, PERMISSION_DENIED NOT_ACCOUNT_OWNER. */
int dtc_get_credit_account(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetCreditAccountRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (parse_customer(req->name, "creditAccounts", "name", id, st) != 0) return -1;
    dtc_credit_locked acc;
    if (dtc_credit_account_lock(c, st, id, NULL, DTC_LOCK_FOLLOW_MERGES, &acc) != 0) return -1;
    if (dtc_credit_check_owner(c, st, &acc) != 0) return -1;
    Ltc__Dtc__V1__GetCreditAccountResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetCreditAccountResponse, LTC__DTC__V1__GET_CREDIT_ACCOUNT_RESPONSE__INIT);
    if (dtc_load_credit_account(c, st, acc.id, &resp->credit_account) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ListCreditAccounts: in the order DTC recorded them, optionally only those with an ACTIVE hold.
 * Errors: INVALID_ARGUMENT page_size, page_token. */
int dtc_list_credit_accounts(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ListCreditAccountsRequest *req = (const void *)m;
    int limit = 0;
    int64_t after = 0;
    if (ltc_page_parse(req->page_size, req->page_token, &limit, &after, st) != 0) return -1;
    const char *p[] = {ltc_sql_i64(c, after), ltc_sql_i64(c, limit), req->on_hold_only ? "true" : "false"};
    PGresult *r = ltc_call_query(c, st, SQL_ACCOUNTS_LIST, 3, p);
    if (!r) return -1;
    Ltc__Dtc__V1__ListCreditAccountsResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ListCreditAccountsResponse, LTC__DTC__V1__LIST_CREDIT_ACCOUNTS_RESPONSE__INIT);
    int rows = PQntuples(r), shown = rows < limit ? rows : limit - 1;
    resp->credit_accounts = ltc_call_alloc(c, sizeof(void *) * (size_t)(shown > 0 ? shown : 1));
    for (int i = 0; i < shown; i++)
        if (dtc_load_credit_account(c, st, ltc_pg_str(r, i, 0), &resp->credit_accounts[i]) != 0) return -1;
    resp->n_credit_accounts = (size_t)shown;
    if (rows >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, 1));
    *out = &resp->base;
    return 0;
}

/* GetCreditExposure: the exposure per currency, part by part, after evaluating the automatic holds (a read that may
 * place or release them: it runs in a transaction under the account's lock). Errors: INVALID_ARGUMENT customer,
 * currency_code, as_of_date; NOT_FOUND CREDIT_ACCOUNT_NOT_FOUND; PERMISSION_DENIED NOT_ACCOUNT_OWNER. */
int dtc_get_credit_exposure(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetCreditExposureRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    char as_of[11];
    parse_customer(req->customer, "customers", "customer", id, st);
    if (req->currency_code[0] && ltc_currency_digits(req->currency_code) < 0)
        ltc_status_bad_field(st, "currency_code", "not an ISO 4217 currency");
    ltc_date_to_text(req->as_of_date, "as_of_date", 1, as_of, st);
    if (st->code != LTC_OK) return -1;

    dtc_credit_locked acc;
    if (dtc_credit_account_lock(c, st, id, NULL, DTC_LOCK_FOLLOW_MERGES, &acc) != 0) return -1;
    if (dtc_credit_check_owner(c, st, &acc) != 0) return -1;
    dtc_credit_policy pol;
    if (dtc_credit_policy_load(c, st, &pol) != 0) return -1;
    const char *date = as_of[0] ? as_of : NULL;
    if (dtc_credit_evaluate_holds(c, st, acc.id, date, &pol, NULL) != 0) return -1;
    int days;
    if (dtc_credit_overdue(c, st, acc.id, date, &days, NULL) != 0) return -1;
    PGresult *x =
        dtc_credit_exposure_query(c, st, acc.id, NULL, NULL, req->currency_code[0] ? req->currency_code : NULL);
    if (!x) return -1;
    PGresult *d = ltc_call_query(c, st, "SELECT to_char(coalesce($1::date, current_date), 'YYYY-MM-DD')", 1,
                                 (const char *[]){date});
    if (!d) return -1;

    Ltc__Dtc__V1__GetCreditExposureResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetCreditExposureResponse, LTC__DTC__V1__GET_CREDIT_EXPOSURE_RESPONSE__INIT);
    int n = PQntuples(x);
    resp->exposures = ltc_call_alloc(c, sizeof(void *) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        dtc_exposure_parts parts;
        int has_limit;
        int64_t limit, total;
        dtc_credit_exposure_row(x, i, &parts, &has_limit, &limit);
        if (dtc_exposure_total(&parts, pol.count_admitted, &total) != 0)
            return ltc_status_set(st, LTC_INTERNAL, "CREDIT_ACCOUNT_CORRUPT", "exposure of %s overflows", acc.id);
        const char *cur = ltc_pg_str(x, i, 0);
        Ltc__Dtc__V1__CreditExposure *e = LTC_NEW(c, Ltc__Dtc__V1__CreditExposure, LTC__DTC__V1__CREDIT_EXPOSURE__INIT);
        e->customer = ltc_call_printf(c, "customers/%s", acc.id);
        e->currency_code = ltc_call_strdup(c, cur);
        if (has_limit) {
            e->limit = ltc_money_msg(c, cur, limit);
            e->available = ltc_money_msg(c, cur, limit - total);
        }
        e->open_receivables = ltc_money_msg(c, cur, parts.open_receivables);
        e->accepted_not_invoiced = ltc_money_msg(c, cur, parts.accepted_not_invoiced);
        e->open_orders = ltc_money_msg(c, cur, parts.open_orders);
        e->pending_order_reservations = ltc_money_msg(c, cur, parts.pending_reservations);
        e->admitted_opportunities = ltc_money_msg(c, cur, parts.admitted);
        e->counts_admitted_opportunities = pol.count_admitted;
        e->total = ltc_money_msg(c, cur, total);
        e->max_days_overdue = days;
        e->as_of_date = ltc_date_from_pg(c, d, 0, 0);
        resp->exposures[i] = e;
    }
    resp->n_exposures = (size_t)n;
    /* every currency's total in the functional currency at the as-of date's rate (docs/finance.md) */
    dtc_fx_report rep;
    if (dtc_fx_report_init(c, st, &rep, ltc_pg_str(d, 0, 0)) != 0) return -1;
    int64_t ftotal = 0;
    for (int i = 0; i < n; i++) {
        int64_t f, t;
        dtc_exposure_parts parts;
        int has_limit;
        int64_t limit;
        dtc_credit_exposure_row(x, i, &parts, &has_limit, &limit);
        if (dtc_exposure_total(&parts, pol.count_admitted, &t) != 0) return -1;
        int r = dtc_fx_report_convert(c, st, &rep, ltc_pg_str(x, i, 0), t, &f);
        if (r < 0) return -1;
        if (r == 0 && ltc_i64_add(ftotal, f, &ftotal) != 0)
            return ltc_status_set(st, LTC_INTERNAL, "CREDIT_ACCOUNT_CORRUPT", "exposure of %s overflows", acc.id);
    }
    resp->functional_total = ltc_money_msg(c, rep.functional, ftotal);
    dtc_fx_report_rates(c, &rep, &resp->rates, &resp->n_rates, &resp->unconverted_currencies,
                        &resp->n_unconverted_currencies);
    PGresult *h = ltc_call_query(c, st, SQL_HOLDS_ACTIVE, 1, (const char *[]){acc.id});
    if (!h) return -1;
    int nh = PQntuples(h);
    resp->active_holds = ltc_call_alloc(c, sizeof(void *) * (size_t)(nh > 0 ? nh : 1));
    for (int i = 0; i < nh; i++) resp->active_holds[i] = hold_from_row(c, h, i);
    resp->n_active_holds = (size_t)nh;
    *out = &resp->base;
    return 0;
}

/* --- limit changes (four eyes) ------------------------------------------------------------------------------------ */

/* RequestCreditLimitChange: a PENDING change of one customer's limit in one currency (the account is opened if DTC
 * has no record of the customer yet; AcceptCustomerChanged fills in its snapshot). Errors: INVALID_ARGUMENT
 * credit_limit_change(.customer, .new_limit, .reason); FAILED_PRECONDITION LIMIT_CHANGE_ALREADY_PENDING,
 * CUSTOMER_MERGED. */
int dtc_request_credit_limit_change(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RequestCreditLimitChangeRequest *req = (const void *)m;
    const Ltc__Dtc__V1__CreditLimitChange *in = req->credit_limit_change;
    if (!in) return ltc_status_bad_field(st, "credit_limit_change", "required");
    char id[LTC_UUID_LEN + 1];
    ltc_money lim = {{0}, 0};
    parse_customer(in->customer, "customers", "credit_limit_change.customer", id, st);
    ltc_money_from_proto(in->new_limit, "credit_limit_change.new_limit", 0, &lim, st);
    ltc_check_text(in->reason, "credit_limit_change.reason", 1, 500, st);
    if (st->code != LTC_OK) return -1;

    dtc_credit_locked acc;
    if (dtc_credit_account_lock(c, st, id, NULL, DTC_LOCK_CREATE, &acc) != 0) return -1;
    const char *pp[] = {acc.id, lim.currency};
    PGresult *pend = ltc_call_query(c, st, SQL_CHANGE_PENDING, 2, pp);
    if (!pend) return -1;
    if (PQntuples(pend) > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "LIMIT_CHANGE_ALREADY_PENDING",
                              "creditLimitChanges/%s of customer %s in %s is PENDING: decide it first",
                              ltc_pg_str(pend, 0, 0), acc.id, lim.currency);
    char cid[LTC_UUID_LEN + 1];
    ltc_uuid_new(cid);
    const char *p[] = {cid, acc.id, lim.currency, ltc_sql_i64(c, lim.minor), in->reason, dtc_principal(c)};
    PGresult *r = ltc_call_query(c, st, SQL_CHANGE_INSERT, 6, p);
    if (!r) return -1;
    const char *target = ltc_call_printf(c, "creditLimitChanges/%s", cid);
    ltc_audit_change(c, target, "state", NULL, "PENDING");
    ltc_audit_change_money(c, target, "new_limit", lim.currency, 0, 0, lim.minor, 1);
    Ltc__Dtc__V1__RequestCreditLimitChangeResponse *resp = LTC_NEW(
        c, Ltc__Dtc__V1__RequestCreditLimitChangeResponse, LTC__DTC__V1__REQUEST_CREDIT_LIMIT_CHANGE_RESPONSE__INIT);
    resp->credit_limit_change = change_from_row(c, r, 0);
    *out = &resp->base;
    return 0;
}

/* Locks the account of change `id`, then the change; checks it is PENDING and the caller did not request it. */
static int lock_pending_change(ltc_call *c, ltc_status *st, const char *id, dtc_credit_locked *acc) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_CHANGE_CUSTOMER, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "LIMIT_CHANGE_NOT_FOUND", "credit limit change %s not found", id);
    /* a change stays on its account, merged or not: lock that very row */
    const char *customer = ltc_call_strdup(c, ltc_pg_str(r, 0, 0));
    PGresult *a = ltc_call_query(c, st, "SELECT 1 FROM credit_accounts WHERE customer_id = $1 FOR UPDATE", 1,
                                 (const char *[]){customer});
    if (!a) return -1;
    snprintf(acc->id, sizeof acc->id, "%s", customer);
    PGresult *ch = ltc_call_query(c, st, SQL_CHANGE_LOCK, 1, p);
    if (!ch) return -1;
    if (strcmp(ltc_pg_str(ch, 0, 0), "PENDING") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "LIMIT_CHANGE_NOT_PENDING",
                              "credit limit change %s is already %s", id, ltc_pg_str(ch, 0, 0));
    if (strcmp(ltc_pg_str(ch, 0, 1), dtc_principal(c)) == 0)
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "APPROVER_IS_REQUESTER",
                              "%s requested credit limit change %s: another finance user must decide it",
                              dtc_principal(c), id);
    return 0;
}

/* ApproveCreditLimitChange: the limit is in force at once (credit_limits, under the account's lock) and the
 * automatic holds are re-evaluated (a higher limit releases OVER_LIMIT). Errors: INVALID_ARGUMENT name, comment;
 * NOT_FOUND LIMIT_CHANGE_NOT_FOUND; FAILED_PRECONDITION LIMIT_CHANGE_NOT_PENDING; PERMISSION_DENIED
 * APPROVER_IS_REQUESTER. */
int dtc_approve_credit_limit_change(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ApproveCreditLimitChangeRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "creditLimitChanges", "name", id, st);
    ltc_check_text(req->comment, "comment", 0, 500, st);
    if (st->code != LTC_OK) return -1;
    dtc_credit_locked acc;
    if (lock_pending_change(c, st, id, &acc) != 0) return -1;
    const char *p[] = {id, "APPROVED", dtc_principal(c), req->comment};
    PGresult *r = ltc_call_query(c, st, SQL_CHANGE_DECIDE, 4, p);
    if (!r) return -1;
    const char *lp[] = {acc.id, ltc_pg_str(r, 0, C_CURRENCY), ltc_pg_str(r, 0, C_NEW), id};
    if (!ltc_call_query(c, st, SQL_LIMIT_SET, 4, lp)) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "creditLimitChanges/%s", id), "state", "PENDING", "APPROVED");
    ltc_audit_change_money(c, ltc_call_printf(c, "creditAccounts/%s", acc.id),
                           ltc_call_printf(c, "credit_limit.%s", ltc_pg_str(r, 0, C_CURRENCY)),
                           ltc_pg_str(r, 0, C_CURRENCY),
                           ltc_pg_isnull(r, 0, C_PREVIOUS) ? 0 : ltc_pg_i64(r, 0, C_PREVIOUS),
                           !ltc_pg_isnull(r, 0, C_PREVIOUS), ltc_pg_i64(r, 0, C_NEW), 1);
    if (!ltc_call_query(c, st, SQL_ACCOUNT_TOUCH, 1, (const char *[]){acc.id})) return -1;
    dtc_credit_policy pol;
    if (dtc_credit_policy_load(c, st, &pol) != 0) return -1;
    const char *cause = ltc_call_printf(c, "creditLimitChanges/%s approved", id);
    if (dtc_credit_evaluate_holds(c, st, acc.id, NULL, &pol, cause) != 0) return -1;
    Ltc__Dtc__V1__ApproveCreditLimitChangeResponse *resp = LTC_NEW(
        c, Ltc__Dtc__V1__ApproveCreditLimitChangeResponse, LTC__DTC__V1__APPROVE_CREDIT_LIMIT_CHANGE_RESPONSE__INIT);
    resp->credit_limit_change = change_from_row(c, r, 0);
    if (dtc_load_credit_account(c, st, acc.id, &resp->credit_account) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* RejectCreditLimitChange: REJECTED with the decider's comment (required). Errors as ApproveCreditLimitChange. */
int dtc_reject_credit_limit_change(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__RejectCreditLimitChangeRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "creditLimitChanges", "name", id, st);
    ltc_check_text(req->comment, "comment", 1, 500, st);
    if (st->code != LTC_OK) return -1;
    dtc_credit_locked acc;
    if (lock_pending_change(c, st, id, &acc) != 0) return -1;
    const char *p[] = {id, "REJECTED", dtc_principal(c), req->comment};
    PGresult *r = ltc_call_query(c, st, SQL_CHANGE_DECIDE, 4, p);
    if (!r) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "creditLimitChanges/%s", id), "state", "PENDING", "REJECTED");
    ltc_audit_change(c, ltc_call_printf(c, "creditLimitChanges/%s", id), "decision_comment", NULL, req->comment);
    Ltc__Dtc__V1__RejectCreditLimitChangeResponse *resp = LTC_NEW(
        c, Ltc__Dtc__V1__RejectCreditLimitChangeResponse, LTC__DTC__V1__REJECT_CREDIT_LIMIT_CHANGE_RESPONSE__INIT);
    resp->credit_limit_change = change_from_row(c, r, 0);
    *out = &resp->base;
    return 0;
}

/* ListCreditLimitChanges: the limit history, newest first. Errors: INVALID_ARGUMENT customer, page_size,
 * page_token. */
int dtc_list_credit_limit_changes(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ListCreditLimitChangesRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1] = "";
    if (req->customer[0]) parse_customer(req->customer, "customers", "customer", id, st);
    int limit = 0;
    int64_t after = 0;
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (st->code != LTC_OK) return -1;
    const char *p[] = {id[0] ? id : NULL, ltc_sql_i64(c, after), ltc_sql_i64(c, limit)};
    PGresult *r = ltc_call_query(c, st, SQL_CHANGES_LIST, 3, p);
    if (!r) return -1;
    Ltc__Dtc__V1__ListCreditLimitChangesResponse *resp = LTC_NEW(
        c, Ltc__Dtc__V1__ListCreditLimitChangesResponse, LTC__DTC__V1__LIST_CREDIT_LIMIT_CHANGES_RESPONSE__INIT);
    int rows = PQntuples(r), shown = rows < limit ? rows : limit - 1;
    resp->credit_limit_changes = ltc_call_alloc(c, sizeof(void *) * (size_t)(shown > 0 ? shown : 1));
    for (int i = 0; i < shown; i++) resp->credit_limit_changes[i] = change_from_row(c, r, i);
    resp->n_credit_limit_changes = (size_t)shown;
    if (rows >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, C_SEQ));
    *out = &resp->base;
    return 0;
}

/* --- holds -------------------------------------------------------------------------------------------------------- */

/* PlaceCreditHold: an ACTIVE MANUAL hold with finance's reason. Errors: INVALID_ARGUMENT credit_hold(.customer,
 * .reason); FAILED_PRECONDITION CUSTOMER_MERGED. */
int dtc_place_credit_hold(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__PlaceCreditHoldRequest *req = (const void *)m;
    const Ltc__Dtc__V1__CreditHold *in = req->credit_hold;
    if (!in) return ltc_status_bad_field(st, "credit_hold", "required");
    char id[LTC_UUID_LEN + 1];
    parse_customer(in->customer, "customers", "credit_hold.customer", id, st);
    ltc_check_text(in->reason, "credit_hold.reason", 1, 500, st);
    if (st->code != LTC_OK) return -1;
    dtc_credit_locked acc;
    if (dtc_credit_account_lock(c, st, id, NULL, DTC_LOCK_CREATE, &acc) != 0) return -1;
    char hid[LTC_UUID_LEN + 1];
    ltc_uuid_new(hid);
    const char *p[] = {hid, acc.id, in->reason, dtc_principal(c)};
    PGresult *r = ltc_call_query(c, st, SQL_HOLD_INSERT, 4, p);
    if (!r) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "creditHolds/%s", hid), "state", NULL, "ACTIVE");
    ltc_audit_change(c, ltc_call_printf(c, "creditHolds/%s", hid), "reason", NULL, in->reason);
    if (!ltc_call_query(c, st, SQL_ACCOUNT_TOUCH, 1, (const char *[]){acc.id})) return -1;
    Ltc__Dtc__V1__PlaceCreditHoldResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__PlaceCreditHoldResponse, LTC__DTC__V1__PLACE_CREDIT_HOLD_RESPONSE__INIT);
    resp->credit_hold = hold_from_row(c, r, 0);
    *out = &resp->base;
    return 0;
}

/* ReleaseCreditHold: an ACTIVE MANUAL hold, with a reason. Errors: INVALID_ARGUMENT name, reason; NOT_FOUND
 * HOLD_NOT_FOUND; FAILED_PRECONDITION HOLD_NOT_ACTIVE, HOLD_IS_AUTOMATIC. */
int dtc_release_credit_hold(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ReleaseCreditHoldRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "creditHolds", "name", id, st);
    ltc_check_text(req->reason, "reason", 1, 500, st);
    if (st->code != LTC_OK) return -1;
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_HOLD_CUSTOMER, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "HOLD_NOT_FOUND", "credit hold %s not found", id);
    const char *customer = ltc_call_strdup(c, ltc_pg_str(r, 0, 0));
    if (!ltc_call_query(c, st, "SELECT 1 FROM credit_accounts WHERE customer_id = $1 FOR UPDATE", 1,
                        (const char *[]){customer}))
        return -1;
    PGresult *h = ltc_call_query(c, st, SQL_HOLD_LOCK, 1, p);
    if (!h) return -1;
    if (PQntuples(h) == 0) return ltc_status_set(st, LTC_ABORTED, "CONCURRENT_UPDATE", "hold %s moved; retry", id);
    if (strcmp(ltc_pg_str(h, 0, 1), "ACTIVE") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "HOLD_NOT_ACTIVE", "credit hold %s is already %s", id,
                              ltc_pg_str(h, 0, 1));
    if (strcmp(ltc_pg_str(h, 0, 0), "MANUAL") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "HOLD_IS_AUTOMATIC",
                              "credit hold %s is %s: it is released when its cause goes", id, ltc_pg_str(h, 0, 0));
    const char *up[] = {id, dtc_principal(c), req->reason};
    PGresult *u = ltc_call_query(c, st, SQL_HOLD_RELEASE, 3, up);
    if (!u) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "creditHolds/%s", id), "state", "ACTIVE", "RELEASED");
    ltc_audit_change(c, ltc_call_printf(c, "creditHolds/%s", id), "release_reason", NULL, req->reason);
    if (!ltc_call_query(c, st, SQL_ACCOUNT_TOUCH, 1, (const char *[]){customer})) return -1;
    Ltc__Dtc__V1__ReleaseCreditHoldResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ReleaseCreditHoldResponse, LTC__DTC__V1__RELEASE_CREDIT_HOLD_RESPONSE__INIT);
    resp->credit_hold = hold_from_row(c, u, 0);
    *out = &resp->base;
    return 0;
}

/* ListCreditHolds: placed and released holds, newest first. Errors: INVALID_ARGUMENT customer, page_size,
 * page_token. */
int dtc_list_credit_holds(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__ListCreditHoldsRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1] = "";
    if (req->customer[0]) parse_customer(req->customer, "customers", "customer", id, st);
    int limit = 0;
    int64_t after = 0;
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (st->code != LTC_OK) return -1;
    const char *p[] = {id[0] ? id : NULL, req->active_only ? "true" : "false", ltc_sql_i64(c, after),
                       ltc_sql_i64(c, limit)};
    PGresult *r = ltc_call_query(c, st, SQL_HOLDS_LIST, 4, p);
    if (!r) return -1;
    Ltc__Dtc__V1__ListCreditHoldsResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__ListCreditHoldsResponse, LTC__DTC__V1__LIST_CREDIT_HOLDS_RESPONSE__INIT);
    int rows = PQntuples(r), shown = rows < limit ? rows : limit - 1;
    resp->credit_holds = ltc_call_alloc(c, sizeof(void *) * (size_t)(shown > 0 ? shown : 1));
    for (int i = 0; i < shown; i++) resp->credit_holds[i] = hold_from_row(c, r, i);
    resp->n_credit_holds = (size_t)shown;
    if (rows >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, H_SEQ));
    *out = &resp->base;
    return 0;
}

/* --- policy ------------------------------------------------------------------------------------------------------- */

static Ltc__Dtc__V1__CreditPolicy *load_policy(ltc_call *c, ltc_status *st) {
    PGresult *r = ltc_call_query(c, st, SQL_POLICY_GET, 0, NULL);
    if (!r) return NULL;
    if (PQntuples(r) != 1) {
        ltc_status_set(st, LTC_INTERNAL, NULL, "the credit policy row is missing");
        return NULL;
    }
    Ltc__Dtc__V1__CreditPolicy *p = LTC_NEW(c, Ltc__Dtc__V1__CreditPolicy, LTC__DTC__V1__CREDIT_POLICY__INIT);
    p->name = "creditPolicy";
    p->check_at_admission = ltc_pg_bool(r, 0, 0);
    p->check_at_order_placement = ltc_pg_bool(r, 0, 1);
    p->check_at_release = ltc_pg_bool(r, 0, 2);
    p->count_admitted_opportunities = ltc_pg_bool(r, 0, 3);
    p->overdue_hold_days = (int32_t)ltc_pg_i64(r, 0, 4);
    p->reservation_ttl_seconds = (int32_t)ltc_pg_i64(r, 0, 5);
    p->functional_currency = ltc_call_strdup(c, ltc_pg_str(r, 0, 6));
    p->update_by = ltc_call_strdup(c, ltc_pg_str(r, 0, 7));
    p->update_time = ltc_ts_from_pg(c, r, 0, 8);
    p->etag = ltc_call_printf(c, "%llx", (unsigned long long)ltc_pg_i64(r, 0, 9));
    p->require_credit_limit = ltc_pg_bool(r, 0, 10);
    return p;
}

/* GetCreditPolicy: the policy (the documented defaults until changed). Errors: INVALID_ARGUMENT name. */
int dtc_get_credit_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__GetCreditPolicyRequest *req = (const void *)m;
    if (req->name[0] && strcmp(req->name, "creditPolicy") != 0)
        return ltc_status_bad_field(st, "name", "must be \"creditPolicy\"");
    Ltc__Dtc__V1__GetCreditPolicyResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__GetCreditPolicyResponse, LTC__DTC__V1__GET_CREDIT_POLICY_RESPONSE__INIT);
    if (!(resp->credit_policy = load_policy(c, st))) return -1;
    *out = &resp->base;
    return 0;
}

static const char *const UPDATABLE[] = {
    "check_at_admission", "check_at_order_placement", "check_at_release",    "count_admitted_opportunities",
    "overdue_hold_days",  "reservation_ttl_seconds",  "functional_currency", "require_credit_limit"};
enum {
    U_ADMISSION,
    U_PLACEMENT,
    U_RELEASE,
    U_COUNT,
    U_DAYS,
    U_TTL,
    U_CURRENCY,
    U_REQUIRE,
    U_N
};

/* UpdateCreditPolicy (AIP-134): the masked fields, etag checked when set; the before/after kept in
 * credit_policy_changes. Errors: INVALID_ARGUMENT update_mask, credit_policy.<field>; ABORTED ETAG_MISMATCH. */
int dtc_update_credit_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Dtc__V1__UpdateCreditPolicyRequest *req = (const void *)m;
    const Ltc__Dtc__V1__CreditPolicy *in = req->credit_policy;
    if (!in) return ltc_status_bad_field(st, "credit_policy", "required");
    if (in->name[0] && strcmp(in->name, "creditPolicy") != 0)
        ltc_status_bad_field(st, "credit_policy.name", "must be \"creditPolicy\"");
    unsigned bits =
        ltc_update_mask_bits(req->update_mask, &ltc__dtc__v1__credit_policy__descriptor, UPDATABLE, U_N, st);
    if ((bits & (1u << U_DAYS)) && (in->overdue_hold_days < 0 || in->overdue_hold_days > 3650))
        ltc_status_bad_field(st, "credit_policy.overdue_hold_days", "must be 0 to 3650");
    if ((bits & (1u << U_TTL)) && (in->reservation_ttl_seconds < 60 || in->reservation_ttl_seconds > 86400))
        ltc_status_bad_field(st, "credit_policy.reservation_ttl_seconds", "must be 60 to 86400");
    if ((bits & (1u << U_CURRENCY)) && ltc_currency_digits(in->functional_currency) < 0)
        ltc_status_bad_field(st, "credit_policy.functional_currency", "not an ISO 4217 currency");
    if (st->code != LTC_OK) return -1;

    PGresult *l = ltc_call_query(c, st, SQL_POLICY_LOCK, 0, NULL);
    if (!l) return -1;
    if (PQntuples(l) != 1) return ltc_status_set(st, LTC_INTERNAL, NULL, "the credit policy row is missing");
    const char *etag = ltc_call_printf(c, "%llx", (unsigned long long)ltc_pg_i64(l, 0, 0));
    if (in->etag[0] && strcmp(in->etag, etag) != 0)
        return ltc_status_set(st, LTC_ABORTED, "ETAG_MISMATCH",
                              "the credit policy changed since etag %.40s (now %s): read it again", in->etag, etag);
    dtc_credit_policy cur;
    if (dtc_credit_policy_load(c, st, &cur) != 0) return -1;
#define PICK_BOOL(bit, field, old) ((bits & (1u << (bit))) ? ((field) ? "true" : "false") : ((old) ? "true" : "false"))
    char hid[LTC_UUID_LEN + 1];
    ltc_uuid_new(hid);
    const char *p[] = {hid,
                       PICK_BOOL(U_ADMISSION, in->check_at_admission, cur.check_admission),
                       PICK_BOOL(U_PLACEMENT, in->check_at_order_placement, cur.check_placement),
                       PICK_BOOL(U_RELEASE, in->check_at_release, cur.check_release),
                       PICK_BOOL(U_COUNT, in->count_admitted_opportunities, cur.count_admitted),
                       ltc_sql_i64(c, (bits & (1u << U_DAYS)) ? in->overdue_hold_days : cur.overdue_days),
                       ltc_sql_i64(c, (bits & (1u << U_TTL)) ? in->reservation_ttl_seconds : cur.ttl_seconds),
                       (bits & (1u << U_CURRENCY)) ? in->functional_currency : cur.functional_currency,
                       PICK_BOOL(U_REQUIRE, in->require_credit_limit, cur.require_limit),
                       dtc_principal(c),
                       req->request_id};
#undef PICK_BOOL
    if (!ltc_call_query(c, st, SQL_POLICY_UPDATE, 11, p)) return -1;
    const char *was[U_N] = {cur.check_admission ? "true" : "false",
                            cur.check_placement ? "true" : "false",
                            cur.check_release ? "true" : "false",
                            cur.count_admitted ? "true" : "false",
                            ltc_sql_i64(c, cur.overdue_days),
                            ltc_sql_i64(c, cur.ttl_seconds),
                            cur.functional_currency,
                            cur.require_limit ? "true" : "false"};
    for (int k = 0; k < U_N; k++)
        if (bits & (1u << k)) ltc_audit_change(c, "creditPolicy", UPDATABLE[k], was[k], p[1 + k]);
    Ltc__Dtc__V1__UpdateCreditPolicyResponse *resp =
        LTC_NEW(c, Ltc__Dtc__V1__UpdateCreditPolicyResponse, LTC__DTC__V1__UPDATE_CREDIT_POLICY_RESPONSE__INIT);
    if (!(resp->credit_policy = load_policy(c, st))) return -1;
    *out = &resp->base;
    return 0;
}
