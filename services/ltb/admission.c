/* admission.c - the order-admission gate (订单准入, docs/credit.md): RequestOrderAdmission (credit asked of DTC,
 * compliance, margin; the decision stored with its checks and inputs), OverrideOrderAdmission (a manager turns a
 * REFUSED decision into OVERRIDDEN), ListAdmissionDecisions, Get/UpdateAdmissionPolicy, and the helpers bids.c,
 * updates.c and opportunities.c use: CreateBid's gate, superseding on a grown amount, the decision on the
 * Opportunity. The rules themselves are pure (admission_rules.c).
 *
 * RequestOrderAdmission asks DTC before it locks anything (the server's transaction is open, but holds only the
 * request's idempotency key): read the opportunity and its customer, ask with the policy's deadline, then lock the
 * opportunity, re-check its state and customer, and store. Lock order: the opportunity, then its decisions. The
 * customer is read, not locked (CreateBid reads it live again; a merge locks customers before opportunities). */
#include <stdio.h>
#include <string.h>

#include "admission_rules.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "ltb.h"
#include "ltc/ask.h"
#include "ltc/dtc/v1/credit_service.pb-c.h"
#include "ltc/fieldmask.h"
#include "ltc/log.h"
#include "ltc/proto.h"

static const ltc_ask_peer DTC_CREDIT = {"dtc", &ltc__dtc__v1__credit_service__descriptor};

/* --- SQL ----------------------------------------------------------------------------------------------------- */

/* The opportunity as admission sees it, with its customer and any SUBMITTED bid. */
static const char SQL_ADM_OPP[] =
    "SELECT o.stage, o.currency, o.expected_minor, o.customer_id::text, c.legal_name, c.tax_id, c.country_code,"
    " c.billing_currency, c.account_owner, c.state,"
    " (SELECT b.id::text FROM bids b WHERE b.opportunity_id = o.id AND b.state = 'SUBMITTED' LIMIT 1)"
    " FROM opportunities o LEFT JOIN customers c ON c.id = o.customer_id WHERE o.id = $1";
enum {
    AO_STAGE,
    AO_CURRENCY,
    AO_EXPECTED,
    AO_CUSTOMER,
    AO_LEGAL_NAME,
    AO_TAX_ID,
    AO_COUNTRY,
    AO_BILLING,
    AO_OWNER,
    AO_CSTATE,
    AO_BID_OUT
};
#define POLICY_COLS                                                                                                    \
    "minimum_margin_bps, readmission_tolerance_bps, credit_check_deadline_ms, update_by,"                              \
    " " LTC_SQL_MICROS("update_time") ", version"
static const char SQL_POLICY_GET[] = "SELECT " POLICY_COLS " FROM admission_policy";
static const char SQL_POLICY_LOCK[] = "SELECT " POLICY_COLS " FROM admission_policy FOR UPDATE";
enum {
    PC_MIN_MARGIN,
    PC_TOLERANCE,
    PC_DEADLINE,
    PC_UPDATE_BY,
    PC_UTIME,
    PC_VERSION
};
/* $2..$4 whether to write minimum_margin_bps, readmission_tolerance_bps, credit_check_deadline_ms; $5..$7 values;
 * $8 who. Returns the policy as it is now. */
static const char SQL_POLICY_UPDATE[] =
    "UPDATE admission_policy SET"
    " minimum_margin_bps = CASE WHEN $2::boolean THEN $5::integer ELSE minimum_margin_bps END,"
    " readmission_tolerance_bps = CASE WHEN $3::boolean THEN $6::integer ELSE readmission_tolerance_bps END,"
    " credit_check_deadline_ms = CASE WHEN $4::boolean THEN $7::integer ELSE credit_check_deadline_ms END,"
    " update_by = $8, version = version + 1, update_time = now() WHERE id = $1::boolean RETURNING " POLICY_COLS;
static const char SQL_POLICY_CHANGE[] = "INSERT INTO admission_policy_changes (id, old_values, new_values, changed_by,"
                                        " request_id) VALUES ($1, $2::jsonb, $3::jsonb, $4, $5)";

#define DECISION_COLS                                                                                                  \
    "d.id::text, d.opportunity_id::text, d.outcome, d.admitted_minor, d.currency, d.expected_margin_bps,"              \
    " d.minimum_margin_bps, d.credit_decision_id::text, d.credit_limit_minor, d.credit_exposure_minor,"                \
    " d.requested_by, " LTC_SQL_MICROS(                                                                                \
        "d.decide_time") ", d.override_by, d.override_reason,"                                                         \
                         " " LTC_SQL_MICROS(                                                                           \
                             "d.override_time") ", d.superseded_time IS NOT NULL, d.seq, d.readmission_tolerance_bps," \
                                                " d.credit_reserved, d.customer_id::text"
enum {
    DC_ID,
    DC_OPP,
    DC_OUTCOME,
    DC_ADMITTED,
    DC_CURRENCY,
    DC_MARGIN,
    DC_MIN_MARGIN,
    DC_CREDIT_DECISION,
    DC_LIMIT,
    DC_EXPOSURE,
    DC_REQUESTED_BY,
    DC_DTIME,
    DC_OVERRIDE_BY,
    DC_OVERRIDE_REASON,
    DC_OTIME,
    DC_SUPERSEDED,
    DC_SEQ,
    DC_TOLERANCE,
    DC_RESERVED,
    DC_CUSTOMER
};
static const char SQL_DECISION_GET[] = "SELECT " DECISION_COLS " FROM admission_decisions d WHERE d.id = $1";
/* The current (not superseded) decision of an opportunity, with whether its COMPLIANCE check failed. */
static const char SQL_DECISION_CURRENT[] =
    "SELECT " DECISION_COLS ", EXISTS (SELECT 1 FROM admission_checks k WHERE k.decision_id = d.id"
    " AND k.kind = 'COMPLIANCE' AND NOT k.passed)"
    " FROM admission_decisions d WHERE d.opportunity_id = $1 AND d.superseded_time IS NULL";
/* The latest decision of each opportunity of $1 (a uuid[]), current or not; `ord` its 1-based position. */
static const char SQL_DECISION_LATEST_OF[] =
    "SELECT DISTINCT ON (p.ord) p.ord, " DECISION_COLS
    " FROM unnest($1::uuid[]) WITH ORDINALITY AS p(id, ord) JOIN admission_decisions d ON d.opportunity_id = p.id"
    " ORDER BY p.ord, d.seq DESC";
static const char SQL_DECISION_LIST[] = "SELECT " DECISION_COLS " FROM admission_decisions d"
                                        " WHERE d.opportunity_id = $1 AND d.seq > $2 ORDER BY d.seq LIMIT $3";
/* The checks of several decisions ($1 uuid[]), in the order CREDIT, COMPLIANCE, MARGIN. */
static const char SQL_CHECKS_OF[] =
    "SELECT k.decision_id::text, k.kind, k.passed, k.reasons, k.detail FROM admission_checks k"
    " WHERE k.decision_id = ANY ($1::uuid[])"
    " ORDER BY k.decision_id, array_position(ARRAY['CREDIT', 'COMPLIANCE', 'MARGIN'], k.kind)";
static const char SQL_DECISION_SUPERSEDE[] =
    "UPDATE admission_decisions SET superseded_time = now() WHERE opportunity_id = $1 AND superseded_time IS NULL";
static const char SQL_DECISION_INSERT[] =
    "INSERT INTO admission_decisions (id, opportunity_id, customer_id, outcome, admitted_minor, currency,"
    " expected_margin_bps, minimum_margin_bps, readmission_tolerance_bps, credit_decision_id, credit_limit_minor,"
    " credit_exposure_minor, credit_reserved, requested_by, request_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::uuid, $11::bigint, $12::bigint, $13::boolean, $14, $15)";
static const char SQL_CHECK_INSERT[] = "INSERT INTO admission_checks (id, decision_id, kind, passed, reasons, detail)"
                                       " VALUES ($1, $2, $3, $4::boolean, $5::text[], $6)";
static const char SQL_DECISION_OVERRIDE[] =
    "UPDATE admission_decisions SET outcome = 'OVERRIDDEN', override_by = $2, override_reason = $3,"
    " override_time = now() WHERE id = $1";
/* The opportunity shows its decision: a new or changed decision is a change of the opportunity (its etag). */
static const char SQL_OPP_TOUCH[] = "UPDATE opportunities SET version = version + 1, update_time = now() WHERE id = $1";
/* UpdateOpportunity's new expected amount $2 above the current decision's admitted amount plus its tolerance:
 * superseded (exact: numeric). Returns the superseded decision's customer, credit decision and whether it
 * reserved. */
static const char SQL_DECISION_SUPERSEDE_EXCEEDED[] =
    "UPDATE admission_decisions SET superseded_time = now() WHERE opportunity_id = $1 AND superseded_time IS NULL"
    " AND $2::numeric * 10000 > admitted_minor::numeric * (10000 + readmission_tolerance_bps)"
    " RETURNING customer_id::text, credit_decision_id::text, credit_reserved";
static const char SQL_CUSTOMER_STATE[] = "SELECT state FROM customers WHERE id = $1";
static const char SQL_OPP_CUSTOMER[] = "SELECT customer_id::text FROM opportunities WHERE id = $1";

/* --- reading decisions --------------------------------------------------------------------------------------- */

#define OUTCOME_PREFIX "ADMISSION_OUTCOME_"
#define CHECK_PREFIX "ADMISSION_CHECK_"

/* A decision from row i of a DECISION_COLS result whose columns start at o; no checks yet. */
static Ltc__Ltb__V1__AdmissionDecision *decision_from_row(ltc_call *c, const PGresult *r, int i, int o) {
    Ltc__Ltb__V1__AdmissionDecision *d =
        LTC_NEW(c, Ltc__Ltb__V1__AdmissionDecision, LTC__LTB__V1__ADMISSION_DECISION__INIT);
    const char *currency = ltc_pg_str(r, i, o + DC_CURRENCY);
    d->name = ltc_call_printf(c, "opportunities/%s/admissionDecisions/%s", ltc_pg_str(r, i, o + DC_OPP),
                              ltc_pg_str(r, i, o + DC_ID));
    d->outcome = (Ltc__Ltb__V1__AdmissionOutcome)ltc_enum_from_db(&ltc__ltb__v1__admission_outcome__descriptor,
                                                                  OUTCOME_PREFIX, ltc_pg_str(r, i, o + DC_OUTCOME));
    d->admitted_amount = ltc_money_msg(c, currency, ltc_pg_i64(r, i, o + DC_ADMITTED));
    d->expected_margin_bps = (int32_t)ltc_pg_i64(r, i, o + DC_MARGIN);
    d->minimum_margin_bps = (int32_t)ltc_pg_i64(r, i, o + DC_MIN_MARGIN);
    if (!ltc_pg_isnull(r, i, o + DC_CREDIT_DECISION))
        d->credit_decision = ltc_call_printf(c, "creditDecisions/%s", ltc_pg_str(r, i, o + DC_CREDIT_DECISION));
    if (!ltc_pg_isnull(r, i, o + DC_LIMIT))
        d->credit_limit = ltc_money_msg(c, currency, ltc_pg_i64(r, i, o + DC_LIMIT));
    if (!ltc_pg_isnull(r, i, o + DC_EXPOSURE))
        d->credit_exposure = ltc_money_msg(c, currency, ltc_pg_i64(r, i, o + DC_EXPOSURE));
    d->requested_by = ltc_call_strdup(c, ltc_pg_str(r, i, o + DC_REQUESTED_BY));
    d->decide_time = ltc_ts_from_pg(c, r, i, o + DC_DTIME);
    d->override_by = ltc_call_strdup(c, ltc_pg_str(r, i, o + DC_OVERRIDE_BY));
    d->override_reason = ltc_call_strdup(c, ltc_pg_str(r, i, o + DC_OVERRIDE_REASON));
    if (!ltc_pg_isnull(r, i, o + DC_OTIME)) d->override_time = ltc_ts_from_pg(c, r, i, o + DC_OTIME);
    d->superseded = ltc_pg_bool(r, i, o + DC_SUPERSEDED);
    return d;
}

/* The id of a decision from its name (…/admissionDecisions/{id}). */
static const char *decision_id_of(const Ltc__Ltb__V1__AdmissionDecision *d) {
    const char *s = strrchr(d->name, '/');
    return s ? s + 1 : d->name;
}

/* A uuid[] literal of ids[0..n). */
static char *uuid_array(ltc_call *c, const char *const *ids, size_t n) {
    char *out = ltc_call_alloc(c, n * (LTC_UUID_LEN + 1) + 3), *w = out;
    *w++ = '{';
    for (size_t k = 0; k < n; k++) {
        if (k) *w++ = ',';
        memcpy(w, ids[k], LTC_UUID_LEN);
        w += LTC_UUID_LEN;
    }
    *w++ = '}';
    *w = 0;
    return out;
}

/* Parses a PostgreSQL text[] of UPPER_SNAKE words ("{A,B}") into the arena. */
static void reasons_from_pg(ltc_call *c, const char *s, Ltc__Ltb__V1__AdmissionCheckResult *k) {
    size_t len = strlen(s), n = 0;
    for (size_t i = 0; i < len; i++) n += s[i] == ',';
    if (len <= 2) return;
    k->reasons = ltc_call_alloc(c, sizeof *k->reasons * (n + 1));
    char *copy = ltc_call_strdup(c, s + 1);
    copy[strlen(copy) - 1] = 0; /* the closing brace */
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        k->reasons[k->n_reasons++] = t;
}

/* Fills the checks of decisions d[0..n) with one query. */
static int load_checks(ltc_call *c, ltc_status *st, Ltc__Ltb__V1__AdmissionDecision **d, size_t n) {
    if (n == 0) return 0;
    const char **ids = ltc_call_alloc(c, sizeof *ids * n);
    for (size_t k = 0; k < n; k++) {
        ids[k] = decision_id_of(d[k]);
        d[k]->checks = ltc_call_alloc(c, sizeof *d[k]->checks * 3);
    }
    const char *p[] = {uuid_array(c, ids, n)};
    PGresult *r = ltc_call_query(c, st, SQL_CHECKS_OF, 1, p);
    if (!r) return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        for (size_t k = 0; k < n; k++) {
            if (strcmp(ids[k], ltc_pg_str(r, i, 0)) != 0 || d[k]->n_checks >= 3) continue;
            Ltc__Ltb__V1__AdmissionCheckResult *x =
                LTC_NEW(c, Ltc__Ltb__V1__AdmissionCheckResult, LTC__LTB__V1__ADMISSION_CHECK_RESULT__INIT);
            x->check = (Ltc__Ltb__V1__AdmissionCheck)ltc_enum_from_db(&ltc__ltb__v1__admission_check__descriptor,
                                                                      CHECK_PREFIX, ltc_pg_str(r, i, 1));
            x->passed = ltc_pg_bool(r, i, 2);
            reasons_from_pg(c, ltc_pg_str(r, i, 3), x);
            x->detail = ltc_call_strdup(c, ltc_pg_str(r, i, 4));
            d[k]->checks[d[k]->n_checks++] = x;
        }
    }
    return 0;
}

static int load_decision(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__AdmissionDecision **out) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_DECISION_GET, 1, p);
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_INTERNAL, NULL, "admission decision %s vanished", id);
    *out = decision_from_row(c, r, 0, 0);
    return load_checks(c, st, out, 1);
}

int ltb_admission_attach(ltc_call *c, ltc_status *st, Ltc__Ltb__V1__Opportunity **opps, size_t n) {
    if (n == 0) return 0;
    const char **ids = ltc_call_alloc(c, sizeof *ids * n);
    for (size_t k = 0; k < n; k++) {
        const char *s = strrchr(opps[k]->name, '/');
        ids[k] = s ? s + 1 : opps[k]->name;
    }
    const char *p[] = {uuid_array(c, ids, n)};
    PGresult *r = ltc_call_query(c, st, SQL_DECISION_LATEST_OF, 1, p);
    if (!r) return -1;
    int rows = PQntuples(r);
    Ltc__Ltb__V1__AdmissionDecision **found = ltc_call_alloc(c, sizeof *found * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++) {
        int64_t ord = ltc_pg_i64(r, i, 0);
        found[i] = decision_from_row(c, r, i, 1);
        if (ord >= 1 && (uint64_t)ord <= n) opps[ord - 1]->admission = found[i];
    }
    return load_checks(c, st, found, (size_t)rows);
}

/* --- policy -------------------------------------------------------------------------------------------------- */

typedef struct policy {
    int32_t minimum_margin_bps, tolerance_bps, deadline_ms;
    int64_t version;
} policy;

static int policy_read(ltc_call *c, ltc_status *st, const char *sql, policy *out, PGresult **res) {
    PGresult *r = ltc_call_query(c, st, sql, 0, NULL);
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_INTERNAL, NULL, "the admission policy row is missing");
    out->minimum_margin_bps = (int32_t)ltc_pg_i64(r, 0, PC_MIN_MARGIN);
    out->tolerance_bps = (int32_t)ltc_pg_i64(r, 0, PC_TOLERANCE);
    out->deadline_ms = (int32_t)ltc_pg_i64(r, 0, PC_DEADLINE);
    out->version = ltc_pg_i64(r, 0, PC_VERSION);
    if (res) *res = r;
    return 0;
}

static Ltc__Ltb__V1__AdmissionPolicy *policy_msg(ltc_call *c, const PGresult *r) {
    Ltc__Ltb__V1__AdmissionPolicy *p = LTC_NEW(c, Ltc__Ltb__V1__AdmissionPolicy, LTC__LTB__V1__ADMISSION_POLICY__INIT);
    p->name = "admissionPolicy";
    p->minimum_margin_bps = (int32_t)ltc_pg_i64(r, 0, PC_MIN_MARGIN);
    p->readmission_tolerance_bps = (int32_t)ltc_pg_i64(r, 0, PC_TOLERANCE);
    p->credit_check_deadline_ms = (int32_t)ltc_pg_i64(r, 0, PC_DEADLINE);
    p->update_by = ltc_call_strdup(c, ltc_pg_str(r, 0, PC_UPDATE_BY));
    p->update_time = ltc_ts_from_pg(c, r, 0, PC_UTIME);
    p->etag = ltb_etag(c, ltc_pg_i64(r, 0, PC_VERSION));
    return p;
}

/* --- helpers ------------------------------------------------------------------------------------------------- */

/* Who acts: the token's subject ("anonymous" in plaintext development, where there is none). */
static const char *actor(ltc_call *c) {
    const char *p = ltc_call_principal(c);
    return p && p[0] ? p : "anonymous";
}

/* The credit answer of DTC in LTB's terms, and the numbers the decision keeps (SQL text or NULL). */
typedef struct credit_facts {
    ltb_credit_answer answer;
    int reasons[16];
    const char *decision_id, *limit, *exposure;
    char detail[200];
} credit_facts;

/* Asks DTC's CheckCredit (stage ADMISSION) for `amount` of opportunity opp_id's customer. Never fails: no answer
 * (any status) is recorded as such in *f, to be refused with CREDIT_SERVICE_UNAVAILABLE. */
static void ask_credit(ltc_call *c, const char *opp_id, const PGresult *o, const ltc_money *amount, int deadline_ms,
                       const char *request_id, credit_facts *f) {
    memset(f, 0, sizeof *f);
    Ltc__Type__V1__CustomerSnapshot snap = LTC__TYPE__V1__CUSTOMER_SNAPSHOT__INIT;
    snap.customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(o, 0, AO_CUSTOMER));
    snap.legal_name = (char *)ltc_pg_str(o, 0, AO_LEGAL_NAME);
    snap.tax_id = (char *)ltc_pg_str(o, 0, AO_TAX_ID);
    snap.country_code = (char *)ltc_pg_str(o, 0, AO_COUNTRY);
    snap.billing_currency = (char *)ltc_pg_str(o, 0, AO_BILLING);
    snap.account_owner = (char *)ltc_pg_str(o, 0, AO_OWNER);
    Ltc__Dtc__V1__CheckCreditRequest req = LTC__DTC__V1__CHECK_CREDIT_REQUEST__INIT;
    req.customer = &snap;
    req.stage = LTC__DTC__V1__CREDIT_STAGE__CREDIT_STAGE_ADMISSION;
    req.reference = ltc_call_printf(c, "opportunities/%s", opp_id);
    req.deal = ltc_call_printf(c, "deals/%s", opp_id);
    req.amount = ltc_money_msg(c, amount->currency, amount->minor);
    req.request_id = (char *)request_id;

    ltc_status ast = {0};
    ProtobufCMessage *out = NULL;
    if (ltc_ask(c, &ast, &DTC_CREDIT, "CheckCredit", &req.base, deadline_ms, &out) != 0) {
        snprintf(f->detail, sizeof f->detail, "DTC did not answer within %d ms: %s %s", deadline_ms,
                 ltc_code_name(ast.code), ast.reason);
        LTC_WARN("admission_credit_unanswered", ltc_call_request_id(c), "opportunity %s: %s", opp_id, f->detail);
        ltc_status_clear(&ast);
        return;
    }
    const Ltc__Dtc__V1__CheckCreditResponse *resp = (const void *)out;
    const Ltc__Dtc__V1__CreditDecision *d = resp->decision;
    char id[LTC_UUID_LEN + 1];
    if (!d || ltc_name_parse(d->name, "creditDecisions", "decision.name", id, &ast) != 0) {
        snprintf(f->detail, sizeof f->detail, "DTC's answer names no credit decision");
        ltc_status_clear(&ast);
        protobuf_c_message_free_unpacked(out, NULL);
        return;
    }
    f->answer.answered = 1;
    f->answer.approved = d->outcome == LTC__DTC__V1__CREDIT_OUTCOME__CREDIT_OUTCOME_APPROVED;
    f->answer.reserved = d->reserved;
    for (size_t i = 0; i < d->n_reasons && f->answer.n_reasons < 16; i++)
        f->reasons[f->answer.n_reasons++] = (int)d->reasons[i];
    f->answer.reasons = f->reasons;
    f->decision_id = ltc_call_strdup(c, id);
    ltc_money m;
    if (d->limit && ltc_money_from_proto(d->limit, "limit", 0, &m, &ast) == 0 &&
        strcmp(m.currency, amount->currency) == 0)
        f->limit = ltc_sql_i64(c, m.minor);
    ltc_status_clear(&ast);
    if (d->exposure && ltc_money_from_proto(d->exposure, "exposure", 0, &m, &ast) == 0 &&
        strcmp(m.currency, amount->currency) == 0)
        f->exposure = ltc_sql_i64(c, m.minor);
    ltc_status_clear(&ast);
    /* for people: the decision and its numbers (in minor units of the amount's currency) */
    snprintf(f->detail, sizeof f->detail, "DTC %s %s: amount %lld, exposure %s, limit %s (%s minor units)",
             f->answer.approved ? "approved" : "refused", d->name, (long long)amount->minor,
             f->exposure ? f->exposure : "unknown", f->limit ? f->limit : "none", amount->currency);
    protobuf_c_message_free_unpacked(out, NULL);
}

/* A text[] literal of a check's reasons. */
static const char *reasons_literal(ltc_call *c, const ltb_check *k) {
    char buf[512] = "{";
    for (size_t i = 0; i < k->n_reasons; i++) {
        if (i) strncat(buf, ",", sizeof buf - strlen(buf) - 1);
        strncat(buf, k->reasons[i], sizeof buf - strlen(buf) - 1);
    }
    strncat(buf, "}", sizeof buf - strlen(buf) - 1);
    return ltc_call_strdup(c, buf);
}

static int insert_check(ltc_call *c, ltc_status *st, const char *decision_id, const char *kind, const ltb_check *k,
                        const char *detail) {
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *p[] = {id, decision_id, kind, k->passed ? "true" : "false", reasons_literal(c, k), detail};
    return ltc_call_query(c, st, SQL_CHECK_INSERT, 6, p) ? 0 : -1;
}

/* --- handlers ------------------------------------------------------------------------------------------------ */

/* RequestOrderAdmission: see ltb_service.proto and docs/credit.md. INVALID_ARGUMENT (opportunity, amount,
 * expected_margin_bps); NOT_FOUND (OPPORTUNITY_NOT_FOUND); FAILED_PRECONDITION (OPPORTUNITY_NOT_BIDDABLE,
 * BID_ALREADY_OUT, CUSTOMER_NOT_FOUND for a legacy opportunity without a customer, CUSTOMER_MERGED). A refusal is
 * an OK answer. */
int ltb_request_order_admission(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__RequestOrderAdmissionRequest *req = (const void *)m;
    char opp_id[LTC_UUID_LEN + 1];
    ltc_money amount = {{0}, 0};
    ltc_name_parse(req->opportunity, "opportunities", "opportunity", opp_id, st);
    if (req->amount && ltc_money_from_proto(req->amount, "amount", 0, &amount, st) == 0 && amount.minor <= 0)
        ltc_status_bad_field(st, "amount", "must be positive");
    if (req->expected_margin_bps < -10000 || req->expected_margin_bps > 10000)
        ltc_status_bad_field(st, "expected_margin_bps", "must be between -10000 and 10000, got %d",
                             (int)req->expected_margin_bps);
    if (st->code != LTC_OK) return -1;

    /* 1. read, without locks, what the question needs */
    const char *po[] = {opp_id};
    PGresult *o = ltc_call_query(c, st, SQL_ADM_OPP, 1, po);
    if (!o) return -1;
    if (PQntuples(o) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "OPPORTUNITY_NOT_FOUND", "opportunity %s does not exist", opp_id);
    const char *currency = ltc_pg_str(o, 0, AO_CURRENCY);
    if (!req->amount) {
        snprintf(amount.currency, sizeof amount.currency, "%s", currency);
        amount.minor = ltc_pg_i64(o, 0, AO_EXPECTED);
        if (amount.minor <= 0)
            return ltc_status_bad_field(st, "amount", "required: the opportunity's expected amount is zero");
    } else if (strcmp(amount.currency, currency) != 0) {
        return ltc_status_bad_field(st, "amount.currency_code", "must be %s, the opportunity's currency, not %s",
                                    currency, amount.currency);
    }
    Ltc__Ltb__V1__OpportunityStage stage = ltb_stage_parse(ltc_pg_str(o, 0, AO_STAGE));
    if (stage != LTB_STAGE(QUALIFIED) && stage != LTB_STAGE(BIDDING))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OPPORTUNITY_NOT_BIDDABLE",
                              "opportunity %s is %s, not QUALIFIED or BIDDING", opp_id, ltb_stage_text(stage));
    if (!ltc_pg_isnull(o, 0, AO_BID_OUT))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "BID_ALREADY_OUT",
                              "opportunity %s already has bid %s out (SUBMITTED)", opp_id,
                              ltc_pg_str(o, 0, AO_BID_OUT));
    if (ltc_pg_isnull(o, 0, AO_CUSTOMER))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CUSTOMER_NOT_FOUND",
                              "opportunity %s has no customer (opened before customers existed)", opp_id);
    char customer_id[LTC_UUID_LEN + 1];
    snprintf(customer_id, sizeof customer_id, "%s", ltc_pg_str(o, 0, AO_CUSTOMER));
    if (strcmp(ltc_pg_str(o, 0, AO_CSTATE), "MERGED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CUSTOMER_MERGED",
                              "the customer %s of opportunity %s is merged", customer_id, opp_id);
    policy pol;
    if (policy_read(c, st, SQL_POLICY_GET, &pol, NULL) != 0) return -1;

    /* 2. ask DTC, nothing locked; no answer is an answer: REFUSED, CREDIT_SERVICE_UNAVAILABLE */
    credit_facts cf;
    ask_credit(c, opp_id, o, &amount, pol.deadline_ms,
               req->request_id && req->request_id[0] ? req->request_id : ltc_call_request_id(c), &cf);

    /* 3. lock and check again: the state may have changed while DTC answered */
    ltb_opp_locked opp;
    if (ltb_opp_lock(c, st, opp_id, &opp) != 0) return -1;
    o = ltc_call_query(c, st, SQL_ADM_OPP, 1, po);
    if (!o) return -1;
    stage = ltb_stage_parse(ltc_pg_str(o, 0, AO_STAGE));
    if (stage != LTB_STAGE(QUALIFIED) && stage != LTB_STAGE(BIDDING))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OPPORTUNITY_NOT_BIDDABLE",
                              "opportunity %s is %s, not QUALIFIED or BIDDING", opp_id, ltb_stage_text(stage));
    if (!ltc_pg_isnull(o, 0, AO_BID_OUT))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "BID_ALREADY_OUT",
                              "opportunity %s already has bid %s out (SUBMITTED)", opp_id,
                              ltc_pg_str(o, 0, AO_BID_OUT));
    if (strcmp(ltc_pg_str(o, 0, AO_CUSTOMER), customer_id) != 0) /* merged meanwhile: ask again for the survivor */
        return ltc_status_set(st, LTC_ABORTED, "CONCURRENT_UPDATE", "the customer of opportunity %s changed", opp_id);

    /* 4. decide */
    ltb_admission_input in = {.credit = cf.answer,
                              .customer_blocked = strcmp(ltc_pg_str(o, 0, AO_CSTATE), "BLOCKED") == 0,
                              .expected_margin_bps = req->expected_margin_bps,
                              .minimum_margin_bps = pol.minimum_margin_bps};
    ltb_admission_result res;
    ltb_admission_decide(&in, &res);

    /* 5. supersede the current decision, store the new one with its checks */
    const char *pc[] = {opp_id};
    PGresult *cur = ltc_call_query(c, st, SQL_DECISION_CURRENT, 1, pc);
    if (!cur) return -1;
    int prev_reserved = PQntuples(cur) == 1 && ltc_pg_bool(cur, 0, DC_RESERVED);
    const char *prev_credit = PQntuples(cur) == 1 && !ltc_pg_isnull(cur, 0, DC_CREDIT_DECISION)
                                  ? ltc_call_strdup(c, ltc_pg_str(cur, 0, DC_CREDIT_DECISION))
                                  : NULL;
    if (!ltc_call_query(c, st, SQL_DECISION_SUPERSEDE, 1, pc)) return -1;

    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *pd[] = {id,
                        opp_id,
                        customer_id,
                        res.admitted ? "ADMITTED" : "REFUSED",
                        ltc_sql_i64(c, amount.minor),
                        amount.currency,
                        ltc_sql_i64(c, req->expected_margin_bps),
                        ltc_sql_i64(c, pol.minimum_margin_bps),
                        ltc_sql_i64(c, pol.tolerance_bps),
                        cf.decision_id,
                        cf.limit,
                        cf.exposure,
                        cf.answer.answered && cf.answer.approved && cf.answer.reserved ? "true" : "false",
                        actor(c),
                        req->request_id ? req->request_id : ""};
    if (!ltc_call_query(c, st, SQL_DECISION_INSERT, 15, pd)) return -1;
    const char *compliance = in.customer_blocked ? "the customer is BLOCKED" : "the customer is not BLOCKED";
    const char *margin = ltc_call_printf(c, "expected margin %d bps, minimum %d bps", (int)req->expected_margin_bps,
                                         (int)pol.minimum_margin_bps);
    if (insert_check(c, st, id, "CREDIT", &res.credit, cf.detail) != 0 ||
        insert_check(c, st, id, "COMPLIANCE", &res.compliance, compliance) != 0 ||
        insert_check(c, st, id, "MARGIN", &res.margin, margin) != 0)
        return -1;
    if (!ltc_call_query(c, st, SQL_OPP_TOUCH, 1, pc)) return -1;

    /* 6. a reservation DTC holds for this opportunity that the new decision should not hold: tell DTC */
    if (ltb_admission_release_needed(prev_reserved, &cf.answer, res.admitted)) {
        const char *which = cf.answer.answered && cf.answer.reserved ? cf.decision_id : prev_credit;
        if (ltb_handoff_opportunity_closed(c, st, opp_id, customer_id, "ADMISSION_SUPERSEDED", which) != 0) return -1;
    }

    Ltc__Ltb__V1__RequestOrderAdmissionResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__RequestOrderAdmissionResponse, LTC__LTB__V1__REQUEST_ORDER_ADMISSION_RESPONSE__INIT);
    if (load_decision(c, st, id, &resp->decision) != 0) return -1;
    if (ltb_load_opportunity(c, st, opp_id, &resp->opportunity) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* OverrideOrderAdmission: the current REFUSED decision becomes OVERRIDDEN with the caller and the reason.
 * INVALID_ARGUMENT (opportunity, reason); NOT_FOUND (OPPORTUNITY_NOT_FOUND); FAILED_PRECONDITION
 * (ADMISSION_NOT_REFUSED, ADMISSION_NOT_OVERRIDABLE). */
int ltb_override_order_admission(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__OverrideOrderAdmissionRequest *req = (const void *)m;
    char opp_id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->opportunity, "opportunities", "opportunity", opp_id, st);
    ltc_check_text(req->reason, "reason", 1, 500, st);
    if (st->code != LTC_OK) return -1;

    ltb_opp_locked opp;
    if (ltb_opp_lock(c, st, opp_id, &opp) != 0) return -1;
    const char *pc[] = {opp_id};
    PGresult *cur = ltc_call_query(c, st, SQL_DECISION_CURRENT, 1, pc);
    if (!cur) return -1;
    int has = PQntuples(cur) == 1;
    const char *who = actor(c);
    const char *refusal = ltb_admission_override_refusal(has ? ltc_pg_str(cur, 0, DC_OUTCOME) : NULL, 0,
                                                         has && ltc_pg_bool(cur, 0, DC_CUSTOMER + 1),
                                                         has ? ltc_pg_str(cur, 0, DC_REQUESTED_BY) : NULL, who);
    if (refusal && strcmp(refusal, "ADMISSION_NOT_REFUSED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ADMISSION_NOT_REFUSED",
                              "opportunity %s has no current REFUSED admission decision%s%s", opp_id,
                              has ? "; it is " : "", has ? ltc_pg_str(cur, 0, DC_OUTCOME) : "");
    if (refusal)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ADMISSION_NOT_OVERRIDABLE",
                              "the admission decision of opportunity %s cannot be overridden by %s: %s", opp_id, who,
                              ltc_pg_bool(cur, 0, DC_CUSTOMER + 1) ? "it failed the compliance check"
                                                                   : "the caller requested it (four eyes)");
    const char *id = ltc_call_strdup(c, ltc_pg_str(cur, 0, DC_ID));
    const char *pu[] = {id, who, req->reason};
    if (!ltc_call_query(c, st, SQL_DECISION_OVERRIDE, 3, pu)) return -1;
    if (!ltc_call_query(c, st, SQL_OPP_TOUCH, 1, pc)) return -1;

    Ltc__Ltb__V1__OverrideOrderAdmissionResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__OverrideOrderAdmissionResponse, LTC__LTB__V1__OVERRIDE_ORDER_ADMISSION_RESPONSE__INIT);
    if (load_decision(c, st, id, &resp->decision) != 0) return -1;
    if (ltb_load_opportunity(c, st, opp_id, &resp->opportunity) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ListAdmissionDecisions: oldest first, paginated. INVALID_ARGUMENT (opportunity, page_size, page_token);
 * NOT_FOUND (OPPORTUNITY_NOT_FOUND). */
int ltb_list_admission_decisions(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__ListAdmissionDecisionsRequest *req = (const void *)m;
    char opp_id[LTC_UUID_LEN + 1];
    int limit = 0;
    int64_t after = 0;
    ltc_name_parse(req->opportunity, "opportunities", "opportunity", opp_id, st);
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (st->code != LTC_OK) return -1;
    const char *pe[] = {opp_id};
    PGresult *e = ltc_call_query(c, st, SQL_OPP_CUSTOMER, 1, pe);
    if (!e) return -1;
    if (PQntuples(e) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "OPPORTUNITY_NOT_FOUND", "opportunity %s does not exist", opp_id);
    const char *p[] = {opp_id, ltc_sql_i64(c, after), ltc_sql_i64(c, limit)};
    PGresult *r = ltc_call_query(c, st, SQL_DECISION_LIST, 3, p);
    if (!r) return -1;
    Ltc__Ltb__V1__ListAdmissionDecisionsResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__ListAdmissionDecisionsResponse, LTC__LTB__V1__LIST_ADMISSION_DECISIONS_RESPONSE__INIT);
    int n = PQntuples(r), more = n >= limit;
    if (more) n = limit - 1;
    resp->decisions = ltc_call_alloc(c, sizeof *resp->decisions * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) resp->decisions[i] = decision_from_row(c, r, i, 0);
    resp->n_decisions = (size_t)n;
    if (load_checks(c, st, resp->decisions, resp->n_decisions) != 0) return -1;
    if (more && n > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, n - 1, DC_SEQ));
    *out = &resp->base;
    return 0;
}

/* INVALID_ARGUMENT unless `name` is empty or "admissionPolicy". */
static int check_policy_name(const char *name, const char *field, ltc_status *st) {
    if (name && name[0] && strcmp(name, "admissionPolicy") != 0)
        return ltc_status_bad_field(st, field, "must be \"admissionPolicy\"");
    return 0;
}

/* GetAdmissionPolicy: the policy. INVALID_ARGUMENT (name). */
int ltb_get_admission_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__GetAdmissionPolicyRequest *req = (const void *)m;
    if (check_policy_name(req->name, "name", st) != 0) return -1;
    policy pol;
    PGresult *r = NULL;
    if (policy_read(c, st, SQL_POLICY_GET, &pol, &r) != 0) return -1;
    Ltc__Ltb__V1__GetAdmissionPolicyResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__GetAdmissionPolicyResponse, LTC__LTB__V1__GET_ADMISSION_POLICY_RESPONSE__INIT);
    resp->admission_policy = policy_msg(c, r);
    *out = &resp->base;
    return 0;
}

enum {
    PU_MIN_MARGIN,
    PU_TOLERANCE,
    PU_DEADLINE,
    PU_N
};
static const char *const POLICY_UPDATABLE[PU_N] = {"minimum_margin_bps", "readmission_tolerance_bps",
                                                   "credit_check_deadline_ms"};

/* UpdateAdmissionPolicy: writes the masked fields, keeps the change (old and new values) in
 * admission_policy_changes. INVALID_ARGUMENT (admission_policy, update_mask, the fields); ABORTED (ETAG_MISMATCH). */
int ltb_update_admission_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__UpdateAdmissionPolicyRequest *req = (const void *)m;
    const Ltc__Ltb__V1__AdmissionPolicy *p = req->admission_policy;
    if (!p) return ltc_status_bad_field(st, "admission_policy", "required: the policy with the fields to write");
    check_policy_name(p->name, "admission_policy.name", st);
    unsigned bits =
        ltc_update_mask_bits(req->update_mask, &ltc__ltb__v1__admission_policy__descriptor, POLICY_UPDATABLE, PU_N, st);
    if ((bits & (1u << PU_MIN_MARGIN)) && (p->minimum_margin_bps < -10000 || p->minimum_margin_bps > 10000))
        ltc_status_bad_field(st, "admission_policy.minimum_margin_bps", "must be between -10000 and 10000");
    if ((bits & (1u << PU_TOLERANCE)) && (p->readmission_tolerance_bps < 0 || p->readmission_tolerance_bps > 10000))
        ltc_status_bad_field(st, "admission_policy.readmission_tolerance_bps", "must be between 0 and 10000");
    if ((bits & (1u << PU_DEADLINE)) && (p->credit_check_deadline_ms < 100 || p->credit_check_deadline_ms > 30000))
        ltc_status_bad_field(st, "admission_policy.credit_check_deadline_ms", "must be between 100 and 30000");
    if (st->code != LTC_OK) return -1;

    policy old;
    if (policy_read(c, st, SQL_POLICY_LOCK, &old, NULL) != 0) return -1;
    const char *now = ltb_etag(c, old.version);
    if (p->etag && p->etag[0] && strcmp(p->etag, now) != 0)
        return ltc_status_set(st, LTC_ABORTED, "ETAG_MISMATCH",
                              "the admission policy changed since etag %.40s (now %s): read it again", p->etag, now);

    const char *pu[] = {"true",
                        ltc_mask_flag(bits, PU_MIN_MARGIN),
                        ltc_mask_flag(bits, PU_TOLERANCE),
                        ltc_mask_flag(bits, PU_DEADLINE),
                        ltc_sql_i64(c, p->minimum_margin_bps),
                        ltc_sql_i64(c, p->readmission_tolerance_bps),
                        ltc_sql_i64(c, p->credit_check_deadline_ms),
                        actor(c)};
    PGresult *r = ltc_call_query(c, st, SQL_POLICY_UPDATE, 8, pu);
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_INTERNAL, NULL, "the admission policy row is missing");

    /* the changed fields before and after, as JSON objects (integers only: no quoting needed) */
    const int32_t was[PU_N] = {old.minimum_margin_bps, old.tolerance_bps, old.deadline_ms};
    const int32_t is[PU_N] = {(int32_t)ltc_pg_i64(r, 0, PC_MIN_MARGIN), (int32_t)ltc_pg_i64(r, 0, PC_TOLERANCE),
                              (int32_t)ltc_pg_i64(r, 0, PC_DEADLINE)};
    char before[256] = "{", after[256] = "{";
    for (int i = 0, n = 0; i < PU_N; i++) {
        if (!(bits & (1u << i))) continue;
        size_t lb = strlen(before), la = strlen(after);
        snprintf(before + lb, sizeof before - lb, "%s\"%s\": %d", n ? ", " : "", POLICY_UPDATABLE[i], (int)was[i]);
        snprintf(after + la, sizeof after - la, "%s\"%s\": %d", n ? ", " : "", POLICY_UPDATABLE[i], (int)is[i]);
        n++;
    }
    strncat(before, "}", sizeof before - strlen(before) - 1);
    strncat(after, "}", sizeof after - strlen(after) - 1);
    char cid[LTC_UUID_LEN + 1];
    ltc_uuid_new(cid);
    const char *pch[] = {cid, before, after, actor(c), req->request_id ? req->request_id : ""};
    if (!ltc_call_query(c, st, SQL_POLICY_CHANGE, 5, pch)) return -1;

    Ltc__Ltb__V1__UpdateAdmissionPolicyResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__UpdateAdmissionPolicyResponse, LTC__LTB__V1__UPDATE_ADMISSION_POLICY_RESPONSE__INIT);
    resp->admission_policy = policy_msg(c, r);
    *out = &resp->base;
    return 0;
}

/* --- for the other handlers ---------------------------------------------------------------------------------- */

int ltb_admission_gate(ltc_call *c, ltc_status *st, const char *opp_id, const ltc_money *amount,
                       const char **decision_id) {
    *decision_id = NULL;
    const char *p[] = {opp_id};
    PGresult *e = ltc_call_query(c, st, SQL_OPP_CUSTOMER, 1, p);
    if (!e) return -1;
    int blocked = 0;
    if (PQntuples(e) == 1 && !ltc_pg_isnull(e, 0, 0)) { /* read live: whatever the decision said */
        const char *pk[] = {ltc_pg_str(e, 0, 0)};
        PGresult *k = ltc_call_query(c, st, SQL_CUSTOMER_STATE, 1, pk);
        if (!k) return -1;
        blocked = PQntuples(k) == 1 && strcmp(ltc_pg_str(k, 0, 0), "BLOCKED") == 0;
    }
    PGresult *cur = ltc_call_query(c, st, SQL_DECISION_CURRENT, 1, p);
    if (!cur) return -1;
    int has = PQntuples(cur) == 1;
    ltb_bid_gate g = {.customer_blocked = blocked,
                      .outcome = has ? ltc_pg_str(cur, 0, DC_OUTCOME) : NULL,
                      .superseded = 0,
                      .same_currency = has && strcmp(ltc_pg_str(cur, 0, DC_CURRENCY), amount->currency) == 0,
                      .admitted_minor = has ? ltc_pg_i64(cur, 0, DC_ADMITTED) : 0,
                      .tolerance_bps = has ? (int32_t)ltc_pg_i64(cur, 0, DC_TOLERANCE) : 0,
                      .bid_minor = amount->minor};
    const char *refusal = ltb_admission_bid_refusal(&g);
    if (!refusal) {
        *decision_id = ltc_call_strdup(c, ltc_pg_str(cur, 0, DC_ID));
        return 0;
    }
    if (strcmp(refusal, "CUSTOMER_BLOCKED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CUSTOMER_BLOCKED",
                              "the customer of opportunity %s is BLOCKED", opp_id);
    if (strcmp(refusal, "ADMISSION_REQUIRED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ADMISSION_REQUIRED",
                              "opportunity %s has no current admission decision: RequestOrderAdmission first", opp_id);
    if (strcmp(refusal, "ADMISSION_REFUSED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ADMISSION_REFUSED",
                              "the admission of opportunity %s was refused (%s)", opp_id, g.outcome);
    return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ADMISSION_EXCEEDED",
                          "bid %lld %s is above the admitted %lld %s plus %d bps: request admission again",
                          (long long)amount->minor, amount->currency, (long long)g.admitted_minor,
                          ltc_pg_str(cur, 0, DC_CURRENCY), (int)g.tolerance_bps);
}

int ltb_admission_supersede_exceeded(ltc_call *c, ltc_status *st, const char *opp_id, int64_t expected_minor) {
    const char *p[] = {opp_id, ltc_sql_i64(c, expected_minor)};
    PGresult *r = ltc_call_query(c, st, SQL_DECISION_SUPERSEDE_EXCEEDED, 2, p);
    if (!r) return -1;
    if (PQntuples(r) == 1 && ltc_pg_bool(r, 0, 2)) /* it reserved: its reservation goes with it */
        return ltb_handoff_opportunity_closed(c, st, opp_id, ltc_pg_str(r, 0, 0), "ADMISSION_SUPERSEDED",
                                              ltc_pg_isnull(r, 0, 1) ? NULL : ltc_pg_str(r, 0, 1));
    return 0;
}
