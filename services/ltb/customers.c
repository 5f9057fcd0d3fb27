/* customers.c - customers (客户), the CRM hub (docs/credit.md): create, read, list, update (update_mask, etag), block
 * and unblock (compliance, sanctions), find duplicates, merge; and the helpers leads.c uses to match a lead and to
 * link a lead or opportunity to its customer.
 * Life cycle: ACTIVE <-> BLOCKED; ACTIVE | BLOCKED -> MERGED (a tombstone, merged_into = the survivor, read only).
 * Every change is handed to BTO, OTD and DTC (AcceptCustomerChanged, handoffs.c) in its transaction.
 * Matching: the keys are normalised by the SQL functions of migrations/002_customers.sql only (generated columns on
 * the rows, the same functions on a probe); matching.c groups the key rows into parties. Before looking for matches a
 * create takes a transaction-level advisory lock per normalised key, in key order, so two creates of one party
 * serialise and the second sees the first.
 * Lock order everywhere: customers (by id when two), then leads, then opportunities.
 * Reasons: CUSTOMER_NOT_FOUND, CUSTOMER_MERGED, DUPLICATE_CUSTOMER, DUPLICATE_LEAD (leads.c), CUSTOMER_BLOCKED,
 * CUSTOMER_NOT_ACTIVE, CUSTOMER_NOT_BLOCKED, SAME_PERSON_AS_BLOCKER, NOT_ACCOUNT_OWNER, ETAG_MISMATCH,
 * LEAD_NOT_FOUND. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/field_mask.pb-c.h"
#include "ltb.h"
#include "ltc/fieldmask.h"
#include "ltc/proto.h"
#include "matching.h"

/* --- SQL ----------------------------------------------------------------------------------------------------- */

#define CUSTOMER_COLS                                                                                                  \
    "c.id::text, c.legal_name, c.normalized_name, c.tax_id, c.country_code, c.billing_currency, c.account_owner,"      \
    " c.state, c.block_reason, c.block_note, c.merged_into::text, " LTC_SQL_MICROS(                                    \
        "c.create_time") ", " LTC_SQL_MICROS("c.update_time") ", c.version, c.seq, c.blocked_by"
enum {
    CC_ID,
    CC_LEGAL,
    CC_NORM,
    CC_TAX,
    CC_COUNTRY,
    CC_CURRENCY,
    CC_OWNER,
    CC_STATE,
    CC_BLOCK_REASON,
    CC_BLOCK_NOTE,
    CC_MERGED_INTO,
    CC_CTIME,
    CC_UTIME,
    CC_VERSION,
    CC_SEQ,
    CC_BLOCKED_BY
};
static const char SQL_CUSTOMER_GET[] = "SELECT " CUSTOMER_COLS " FROM customers c WHERE c.id = $1";
static const char SQL_CUSTOMER_LOCK[] = "SELECT " CUSTOMER_COLS " FROM customers c WHERE c.id = $1 FOR UPDATE";
static const char SQL_CUSTOMER_SHARE[] = "SELECT " CUSTOMER_COLS " FROM customers c WHERE c.id = $1 FOR SHARE";
/* Both customers of a merge, locked in id order. */
static const char SQL_CUSTOMER_LOCK_TWO[] =
    "SELECT " CUSTOMER_COLS " FROM customers c WHERE c.id IN ($1, $2) ORDER BY c.id FOR UPDATE";
/* $1 offset, $2 limit, $3 name_contains ('' all), $4 account owner ('' all), $5 state ('' = ACTIVE or BLOCKED). */
static const char SQL_CUSTOMER_LIST[] =
    "SELECT " CUSTOMER_COLS " FROM customers c"
    " WHERE ($3 = '' OR strpos(c.normalized_name, normalize_company_name($3)) > 0)"
    " AND ($4 = '' OR c.account_owner = $4) AND (CASE WHEN $5 = '' THEN c.state <> 'MERGED' ELSE c.state = $5 END)"
    " ORDER BY c.normalized_name, c.id OFFSET $1 LIMIT $2";
static const char SQL_CONTACTS_OF[] =
    "SELECT customer_id::text, display_name, email, phone, title, normalized_email, normalized_phone"
    " FROM customer_contacts WHERE customer_id = ANY ($1::uuid[]) ORDER BY customer_id, position";
static const char SQL_CUSTOMER_INSERT[] =
    "INSERT INTO customers (id, legal_name, tax_id, country_code, billing_currency, account_owner, created_by)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)";
static const char SQL_CONTACT_INSERT[] =
    "INSERT INTO customer_contacts (id, customer_id, position, display_name, email, phone, title, region)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
static const char SQL_CONTACTS_DELETE[] = "DELETE FROM customer_contacts WHERE customer_id = $1";
static const char SQL_CONTACTS_REGION[] = "UPDATE customer_contacts SET region = $2 WHERE customer_id = $1";
/* $2..$6 whether to write legal_name, tax_id, country_code, billing_currency, account_owner; $7..$11 the values. */
static const char SQL_CUSTOMER_UPDATE[] =
    "UPDATE customers SET legal_name = CASE WHEN $2::boolean THEN $7 ELSE legal_name END,"
    " tax_id = CASE WHEN $3::boolean THEN $8 ELSE tax_id END,"
    " country_code = CASE WHEN $4::boolean THEN $9 ELSE country_code END,"
    " billing_currency = CASE WHEN $5::boolean THEN $10 ELSE billing_currency END,"
    " account_owner = CASE WHEN $6::boolean THEN $11 ELSE account_owner END,"
    " version = version + 1, update_time = now() WHERE id = $1";
static const char SQL_CUSTOMER_BLOCK[] =
    "UPDATE customers SET state = 'BLOCKED', block_reason = $2, block_note = $3, blocked_by = $4, block_time = now(),"
    " version = version + 1, update_time = now() WHERE id = $1";
static const char SQL_CUSTOMER_UNBLOCK[] =
    "UPDATE customers SET state = 'ACTIVE', block_reason = NULL, block_note = '', blocked_by = '', block_time = NULL,"
    " version = version + 1, update_time = now() WHERE id = $1";
static const char SQL_STATE_CHANGE[] =
    "INSERT INTO customer_state_changes (id, customer_id, from_state, to_state, block_reason, note, changed_by,"
    " request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
static const char SQL_DISTINCTION[] =
    "INSERT INTO party_distinctions (id, subject_kind, subject_id, other_kind, other_id, confirmed_by)"
    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT ON CONSTRAINT party_distinctions_unique DO NOTHING";
/* The parties already confirmed distinct from $1 (either way round), as resource names. */
static const char SQL_DISTINCT_OF[] =
    "SELECT lower(other_kind) || 's/' || other_id FROM party_distinctions WHERE subject_id = $1"
    " UNION SELECT lower(subject_kind) || 's/' || subject_id FROM party_distinctions WHERE other_id = $1";

/* The parties a probe matches, one row per shared key: kind, id, display name, field, normalised value.
 * $1 name, $2 tax id, $3 tax country, $4 e-mails (text[]), $5 phone region, $6 phones (text[]), $7 a customer left
 * out (and, for leads, its NEW leads), $8 a lead left out, $9 whether NEW leads are matched too. Live customers
 * only (a tombstone never matches). */
#define MATCH_PROBE                                                                                                    \
    "WITH p AS (SELECT normalize_company_name($1) AS name, normalize_tax_id($2) AS tax, $3::text AS country,"          \
    " ARRAY(SELECT normalize_email(e) FROM unnest($4::text[]) e) AS emails,"                                           \
    " ARRAY(SELECT normalize_phone(x, $5) FROM unnest($6::text[]) x) AS phones)"
static const char SQL_MATCH[] = MATCH_PROBE
    " SELECT 'CUSTOMER' AS kind, c.id::text, c.legal_name, 'COMPANY_NAME' AS field, c.normalized_name, c.seq"
    " FROM customers c, p WHERE c.state <> 'MERGED' AND p.name <> '' AND c.normalized_name = p.name"
    " AND c.id IS DISTINCT FROM $7::uuid"
    " UNION ALL SELECT 'CUSTOMER', c.id::text, c.legal_name, 'TAX_ID', c.normalized_tax_id, c.seq FROM customers c, p"
    " WHERE c.state <> 'MERGED' AND p.tax <> '' AND c.country_code = p.country AND c.normalized_tax_id = p.tax"
    " AND c.id IS DISTINCT FROM $7::uuid"
    " UNION ALL SELECT 'CUSTOMER', c.id::text, c.legal_name, 'EMAIL', k.normalized_email, c.seq"
    " FROM customer_contacts k JOIN customers c ON c.id = k.customer_id, p WHERE c.state <> 'MERGED'"
    " AND k.normalized_email <> '' AND k.normalized_email = ANY (p.emails) AND c.id IS DISTINCT FROM $7::uuid"
    " UNION ALL SELECT 'CUSTOMER', c.id::text, c.legal_name, 'PHONE', k.normalized_phone, c.seq"
    " FROM customer_contacts k JOIN customers c ON c.id = k.customer_id, p WHERE c.state <> 'MERGED'"
    " AND k.normalized_phone <> '' AND k.normalized_phone = ANY (p.phones) AND c.id IS DISTINCT FROM $7::uuid"
    " UNION ALL SELECT 'LEAD', l.id::text, l.company_name, f.field, f.value, l.seq FROM leads l, p,"
    " LATERAL (VALUES ('COMPANY_NAME', l.normalized_company_name, p.name <> '' AND l.normalized_company_name = p.name),"
    "  ('EMAIL', l.normalized_email, l.normalized_email <> '' AND l.normalized_email = ANY (p.emails)),"
    "  ('PHONE', l.normalized_phone, l.normalized_phone <> '' AND l.normalized_phone = ANY (p.phones)))"
    "  AS f(field, value, hit)"
    " WHERE $9::boolean AND l.state = 'NEW' AND f.hit AND l.id IS DISTINCT FROM $8::uuid"
    " AND ($7::uuid IS NULL OR l.customer_id IS DISTINCT FROM $7::uuid)"
    " ORDER BY 1, 6, 4 LIMIT 1000";
/* One advisory lock per non-empty normalised key of the probe (same parameters $1..$6), in key order. */
static const char SQL_PARTY_LOCK[] = MATCH_PROBE
    " SELECT count(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended('ltb.party:' || k, 0)) FROM"
    " (SELECT DISTINCT k FROM p, unnest(ARRAY['name:' || p.name, CASE WHEN p.tax <> '' THEN 'tax:' || p.country"
    " || ':' || p.tax ELSE '' END] || ARRAY(SELECT 'email:' || e FROM unnest(p.emails) e WHERE e <> '')"
    " || ARRAY(SELECT 'phone:' || x FROM unnest(p.phones) x WHERE x <> '')) k"
    " WHERE k <> '' AND k <> 'name:' ORDER BY k) s) l";

/* Merging: leads and opportunities move ($1 survivor, $2 merged), contacts are appended ($3 survivor's country). */
static const char SQL_MERGE_LEADS[] =
    "UPDATE leads SET customer_id = $1, version = version + 1, update_time = now() WHERE customer_id = $2";
static const char SQL_MERGE_OPPS[] =
    "UPDATE opportunities SET customer_id = $1, version = version + 1, update_time = now() WHERE customer_id = $2";
static const char SQL_MERGE_CONTACTS[] =
    "WITH s AS (SELECT COALESCE(max(position) + 1, 0) AS next FROM customer_contacts WHERE customer_id = $1),"
    " cand AS (SELECT m.*, row_number() OVER (ORDER BY m.position) AS rn FROM customer_contacts m"
    "  WHERE m.customer_id = $2 AND NOT EXISTS (SELECT 1 FROM customer_contacts k WHERE k.customer_id = $1"
    "  AND ((m.normalized_email <> '' AND k.normalized_email = m.normalized_email)"
    "   OR (m.normalized_phone <> '' AND k.normalized_phone = m.normalized_phone))))"
    " INSERT INTO customer_contacts (id, customer_id, position, display_name, email, phone, title, region)"
    " SELECT gen_random_uuid(), $1, s.next + cand.rn - 1, cand.display_name, cand.email, cand.phone, cand.title, $3"
    " FROM cand, s WHERE s.next + cand.rn - 1 < 20";
static const char SQL_MERGE_TOMBSTONE[] =
    "UPDATE customers SET state = 'MERGED', merged_into = $1, block_reason = NULL, version = version + 1,"
    " update_time = now() WHERE id = $2";
static const char SQL_TOUCH[] = "UPDATE customers SET version = version + 1, update_time = now() WHERE id = $1";
static const char SQL_MERGE_RECORD[] =
    "INSERT INTO customer_merges (id, survivor_id, merged_id, reason, merged_by, moved_leads, moved_opportunities)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)";
static const char SQL_LEAD_KEYS[] =
    "SELECT company_name, contact_email, contact_phone, customer_id::text FROM leads WHERE id = $1";

/* --- enums and rows ------------------------------------------------------------------------------------------ */

#define STATE_PREFIX "CUSTOMER_STATE_"
#define BLOCK_PREFIX "CUSTOMER_BLOCK_REASON_"

/* Who is calling, for the *_by columns: the principal, "anonymous" when there is none. */
static const char *who(ltc_call *c) {
    const char *p = ltc_call_principal(c);
    return p && p[0] ? p : "anonymous";
}

static Ltc__Ltb__V1__Customer *customer_from_row(ltc_call *c, const PGresult *r, int i) {
    Ltc__Ltb__V1__Customer *x = LTC_NEW(c, Ltc__Ltb__V1__Customer, LTC__LTB__V1__CUSTOMER__INIT);
    x->name = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, i, CC_ID));
    x->legal_name = ltc_call_strdup(c, ltc_pg_str(r, i, CC_LEGAL));
    x->normalized_name = ltc_call_strdup(c, ltc_pg_str(r, i, CC_NORM));
    x->tax_id = ltc_call_strdup(c, ltc_pg_str(r, i, CC_TAX));
    x->country_code = ltc_call_strdup(c, ltc_pg_str(r, i, CC_COUNTRY));
    x->billing_currency = ltc_call_strdup(c, ltc_pg_str(r, i, CC_CURRENCY));
    x->account_owner = ltc_call_strdup(c, ltc_pg_str(r, i, CC_OWNER));
    x->state = (Ltc__Ltb__V1__CustomerState)ltc_enum_from_db(&ltc__ltb__v1__customer_state__descriptor, STATE_PREFIX,
                                                             ltc_pg_str(r, i, CC_STATE));
    if (!ltc_pg_isnull(r, i, CC_BLOCK_REASON)) {
        x->block_reason = (Ltc__Ltb__V1__CustomerBlockReason)ltc_enum_from_db(
            &ltc__ltb__v1__customer_block_reason__descriptor, BLOCK_PREFIX, ltc_pg_str(r, i, CC_BLOCK_REASON));
        x->block_note = ltc_call_strdup(c, ltc_pg_str(r, i, CC_BLOCK_NOTE));
    }
    if (!ltc_pg_isnull(r, i, CC_MERGED_INTO))
        x->merged_into = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, i, CC_MERGED_INTO));
    x->create_time = ltc_ts_from_pg(c, r, i, CC_CTIME);
    x->update_time = ltc_ts_from_pg(c, r, i, CC_UTIME);
    x->etag = ltb_etag(c, ltc_pg_i64(r, i, CC_VERSION));
    return x;
}

/* Fills the contacts of n customers (rows 0..n-1 of r) in one query. */
static int load_contacts(ltc_call *c, ltc_status *st, const PGresult *r, Ltc__Ltb__V1__Customer **xs, size_t n) {
    if (n == 0) return 0;
    const char **ids = ltc_call_alloc(c, sizeof *ids * n);
    for (size_t i = 0; i < n; i++) ids[i] = ltc_pg_str(r, (int)i, CC_ID);
    const char *p[] = {ltc_sql_array(c, ids, n)};
    PGresult *q = ltc_call_query(c, st, SQL_CONTACTS_OF, 1, p);
    if (!q) return -1;
    int rows = PQntuples(q);
    for (size_t k = 0; k < n; k++) {
        size_t cnt = 0;
        for (int i = 0; i < rows; i++)
            if (strcmp(ltc_pg_str(q, i, 0), ids[k]) == 0) cnt++;
        if (!cnt) continue;
        xs[k]->contacts = ltc_call_alloc(c, sizeof *xs[k]->contacts * cnt);
        for (int i = 0; i < rows; i++) {
            if (strcmp(ltc_pg_str(q, i, 0), ids[k]) != 0) continue;
            Ltc__Ltb__V1__Contact *t = LTC_NEW(c, Ltc__Ltb__V1__Contact, LTC__LTB__V1__CONTACT__INIT);
            t->display_name = ltc_call_strdup(c, ltc_pg_str(q, i, 1));
            t->email = ltc_call_strdup(c, ltc_pg_str(q, i, 2));
            t->phone = ltc_call_strdup(c, ltc_pg_str(q, i, 3));
            t->title = ltc_call_strdup(c, ltc_pg_str(q, i, 4));
            t->normalized_email = ltc_call_strdup(c, ltc_pg_str(q, i, 5));
            t->normalized_phone = ltc_call_strdup(c, ltc_pg_str(q, i, 6));
            xs[k]->contacts[xs[k]->n_contacts++] = t;
        }
    }
    return 0;
}

int ltb_load_customer(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__Customer **out) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_CUSTOMER_GET, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "CUSTOMER_NOT_FOUND", "customer %s does not exist", id);
    *out = customer_from_row(c, r, 0);
    return load_contacts(c, st, r, out, 1);
}

/* The customer row `id`, locked with `sql`; NOT_FOUND when unknown. Fills state (and blocked_by) when asked. */
static PGresult *lock_customer(ltc_call *c, ltc_status *st, const char *sql, const char *id) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, sql, 1, p);
    if (!r) return NULL;
    if (PQntuples(r) == 0) {
        ltc_status_set(st, LTC_NOT_FOUND, "CUSTOMER_NOT_FOUND", "customer %s does not exist", id);
        return NULL;
    }
    return r;
}

int ltb_customer_usable(ltc_call *c, ltc_status *st, const char *id, int allow_blocked) {
    PGresult *r = lock_customer(c, st, SQL_CUSTOMER_SHARE, id);
    if (!r) return -1;
    const char *state = ltc_pg_str(r, 0, CC_STATE);
    if (strcmp(state, "MERGED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CUSTOMER_MERGED",
                              "customer %s was merged into customers/%s: use that one", id,
                              ltc_pg_str(r, 0, CC_MERGED_INTO));
    if (!allow_blocked && strcmp(state, "BLOCKED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CUSTOMER_BLOCKED", "customer %s is BLOCKED (%s)", id,
                              ltc_pg_str(r, 0, CC_BLOCK_REASON));
    return 0;
}

/* --- matching ------------------------------------------------------------------------------------------------ */

int ltb_party_match(ltc_call *c, ltc_status *st, const ltb_party_probe *p, int lock, ltb_match **out, size_t *n) {
    const char *params[] = {p->name ? p->name : "",
                            p->tax_id ? p->tax_id : "",
                            p->country ? p->country : "",
                            ltc_sql_text_array(c, p->emails, p->n_emails),
                            p->region ? p->region : "",
                            ltc_sql_text_array(c, p->phones, p->n_phones),
                            p->not_customer,
                            p->not_lead,
                            p->with_leads ? "true" : "false"};
    if (lock && !ltc_call_query(c, st, SQL_PARTY_LOCK, 6, params)) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_MATCH, 9, params);
    if (!r) return -1;
    size_t rows = (size_t)PQntuples(r);
    ltb_match_row *mr = ltc_call_alloc(c, sizeof *mr * (rows ? rows : 1));
    for (size_t i = 0; i < rows; i++) {
        mr[i].kind = ltc_pg_str(r, (int)i, 0);
        mr[i].id = ltc_pg_str(r, (int)i, 1);
        mr[i].display = ltc_pg_str(r, (int)i, 2);
        mr[i].field = ltc_pg_str(r, (int)i, 3);
        mr[i].value = ltc_pg_str(r, (int)i, 4);
    }
    *out = ltc_call_alloc(c, sizeof **out * LTB_MATCH_MAX);
    *n = ltb_match_group(mr, rows, *out, LTB_MATCH_MAX);
    return 0;
}

int ltb_party_refuse_duplicates(ltc_call *c, ltc_status *st, ltb_match *m, size_t n, const char *const *distinct,
                                size_t nd, const char *subject_kind, const char *subject_id) {
    size_t open = ltb_match_unconfirmed(m, n, distinct, nd);
    if (open > 0) {
        char names[1024];
        ltb_match_names(m, open, names, sizeof names);
        if (strcmp(subject_kind, "LEAD") == 0)
            ltc_status_set(st, LTC_ALREADY_EXISTS, "DUPLICATE_LEAD",
                           "the lead matches %zu existing part%s (%s): if it is a different party, name each in"
                           " distinct_from",
                           open, open == 1 ? "y" : "ies", names);
        else
            ltc_status_set(st, LTC_ALREADY_EXISTS, "DUPLICATE_CUSTOMER",
                           "the customer matches %zu existing customer%s (%s): if it is a different party, name each"
                           " in distinct_from",
                           open, open == 1 ? "" : "s", names);
        return ltc_status_meta(st, "matches", "%s", names);
    }
    for (size_t i = 0; i < n; i++) { /* every match is confirmed distinct: keep the evidence */
        char id[LTC_UUID_LEN + 1];
        ltc_uuid_new(id);
        const char *p[] = {id, subject_kind, subject_id, m[i].is_lead ? "LEAD" : "CUSTOMER", m[i].id, who(c)};
        if (!ltc_call_query(c, st, SQL_DISTINCTION, 6, p)) return -1;
    }
    return 0;
}

/* The names of parties confirmed distinct from `id` earlier, appended to the caller's list (arena). */
static int distinct_with_history(ltc_call *c, ltc_status *st, const char *id, char **given, size_t n_given,
                                 const char ***out, size_t *n) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_DISTINCT_OF, 1, p);
    if (!r) return -1;
    size_t rows = (size_t)PQntuples(r);
    const char **all = ltc_call_alloc(c, sizeof *all * (n_given + rows + 1));
    for (size_t i = 0; i < n_given; i++) all[i] = given[i];
    for (size_t i = 0; i < rows; i++) all[n_given + i] = ltc_pg_str(r, (int)i, 0);
    *out = all;
    *n = n_given + rows;
    return 0;
}

/* --- validation ---------------------------------------------------------------------------------------------- */

static int all_match(const char *s, const char *set, size_t min, size_t max) {
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr(set, s[i])) return 0;
    return 1;
}
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define TAXCH UPPER "abcdefghijklmnopqrstuvwxyz0123456789-"

void ltb_check_country(const char *s, const char *field, int required, ltc_status *st) {
    if ((!s || !s[0]) && !required) return;
    if (!all_match(s, UPPER, 2, 2))
        ltc_status_bad_field(st, field, "must be an ISO 3166-1 alpha-2 code in upper case, e.g. CN");
}

static void check_currency(const char *s, const char *field, int required, ltc_status *st) {
    if ((!s || !s[0]) && !required) return;
    if (!all_match(s, UPPER, 3, 3)) ltc_status_bad_field(st, field, "must be an ISO 4217 code, e.g. CNY");
}

void ltb_check_distinct_from(ltc_call *c, char **names, size_t n, ltc_status *st) {
    if (n > LTB_MATCH_NAMES_MAX) {
        ltc_status_bad_field(st, "distinct_from", "at most %d names, got %zu", LTB_MATCH_NAMES_MAX, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char id[LTC_UUID_LEN + 1];
        ltc_status tmp = {0};
        if (ltc_name_parse(names[i], "customers", "distinct_from", id, &tmp) != 0 &&
            ltc_name_parse(names[i], "leads", "distinct_from", id, &tmp) != 0)
            ltc_status_bad_field(st, ltc_call_printf(c, "distinct_from[%zu]", i),
                                 "must be \"customers/{uuid}\" or \"leads/{uuid}\"");
    }
}

enum {
    CU_LEGAL,
    CU_TAX,
    CU_COUNTRY,
    CU_CURRENCY,
    CU_CONTACTS,
    CU_OWNER,
    CU_N
};
static const char *const CUSTOMER_UPDATABLE[CU_N] = {"legal_name",       "tax_id",   "country_code",
                                                     "billing_currency", "contacts", "account_owner"};
#define ALL_FIELDS ((1u << CU_N) - 1)

static void check_customer(ltc_call *c, const Ltc__Ltb__V1__Customer *x, unsigned bits, ltc_status *st) {
    if (bits & (1u << CU_LEGAL)) ltc_check_text(x->legal_name, "customer.legal_name", 1, 200, st);
    if ((bits & (1u << CU_TAX)) && !all_match(x->tax_id, TAXCH, 0, 64))
        ltc_status_bad_field(st, "customer.tax_id", "up to 64 characters of A-Z, a-z, 0-9 and '-'");
    if (bits & (1u << CU_COUNTRY)) ltb_check_country(x->country_code, "customer.country_code", 1, st);
    if (bits & (1u << CU_CURRENCY)) check_currency(x->billing_currency, "customer.billing_currency", 1, st);
    if (bits & (1u << CU_OWNER)) ltc_check_text(x->account_owner, "customer.account_owner", 1, 128, st);
    if (!(bits & (1u << CU_CONTACTS))) return;
    if (x->n_contacts > 20) {
        ltc_status_bad_field(st, "customer.contacts", "at most 20 contacts, got %zu", x->n_contacts);
        return;
    }
    for (size_t i = 0; i < x->n_contacts; i++) {
        const Ltc__Ltb__V1__Contact *t = x->contacts[i];
        const char *f = ltc_call_printf(c, "customer.contacts[%zu]", i);
        ltc_check_text(t->display_name, ltc_call_printf(c, "%s.display_name", f), 1, 200, st);
        if (ltc_check_text(t->email, ltc_call_printf(c, "%s.email", f), 0, 254, st) == 0 && t->email && t->email[0] &&
            !ltb_email_shape_ok(t->email))
            ltc_status_bad_field(st, ltc_call_printf(c, "%s.email", f),
                                 "not an e-mail address of the form name@domain.tld");
        ltc_check_text(t->phone, ltc_call_printf(c, "%s.phone", f), 0, 40, st);
        ltc_check_text(t->title, ltc_call_printf(c, "%s.title", f), 0, 200, st);
    }
}

/* The probe of a customer: its name, tax id, country and its contacts' e-mails and phones. */
static void customer_probe(ltc_call *c, const char *legal, const char *tax, const char *country,
                           Ltc__Ltb__V1__Contact *const *ts, size_t n, ltb_party_probe *p) {
    memset(p, 0, sizeof *p);
    p->name = legal;
    p->tax_id = tax;
    p->country = country;
    p->region = country;
    const char **emails = ltc_call_alloc(c, sizeof *emails * (n ? n : 1));
    const char **phones = ltc_call_alloc(c, sizeof *phones * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        emails[i] = ts[i]->email ? ts[i]->email : "";
        phones[i] = ts[i]->phone ? ts[i]->phone : "";
    }
    p->emails = emails;
    p->phones = phones;
    p->n_emails = p->n_phones = n;
}

static int insert_contacts(ltc_call *c, ltc_status *st, const char *cid, const char *region,
                           Ltc__Ltb__V1__Contact *const *ts, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char id[LTC_UUID_LEN + 1];
        ltc_uuid_new(id);
        const Ltc__Ltb__V1__Contact *t = ts[i];
        const char *p[] = {id,
                           cid,
                           ltc_sql_i64(c, (int64_t)i),
                           t->display_name,
                           t->email ? t->email : "",
                           t->phone ? t->phone : "",
                           t->title ? t->title : "",
                           region};
        if (!ltc_call_query(c, st, SQL_CONTACT_INSERT, 8, p)) return -1;
    }
    return 0;
}

int ltb_customer_insert(ltc_call *c, ltc_status *st, const Ltc__Ltb__V1__Customer *x, char *const *distinct, size_t nd,
                        char id_out[LTC_UUID_LEN + 1]) {
    ltb_party_probe probe;
    customer_probe(c, x->legal_name, x->tax_id, x->country_code, x->contacts, x->n_contacts, &probe);
    ltb_match *m;
    size_t n;
    if (ltb_party_match(c, st, &probe, 1, &m, &n) != 0) return -1;
    ltc_uuid_new(id_out);
    if (ltb_party_refuse_duplicates(c, st, m, n, (const char *const *)distinct, nd, "CUSTOMER", id_out) != 0) return -1;
    const char *p[] = {id_out,          x->legal_name,       x->tax_id ? x->tax_id : "",
                       x->country_code, x->billing_currency, x->account_owner,
                       who(c)};
    if (!ltc_call_query(c, st, SQL_CUSTOMER_INSERT, 7, p)) return -1;
    if (insert_contacts(c, st, id_out, x->country_code, x->contacts, x->n_contacts) != 0) return -1;
    return ltb_handoff_customer_changed(c, st, id_out, LTC__TYPE__V1__CUSTOMER_CHANGE__CUSTOMER_CHANGE_UPDATED, NULL,
                                        NULL);
}

/* --- handlers ------------------------------------------------------------------------------------------------ */

/* CreateCustomer: ACTIVE, unless it matches live customers not named in distinct_from (ALREADY_EXISTS,
 * DUPLICATE_CUSTOMER, metadata "matches"). INVALID_ARGUMENT naming every bad field. */
int ltb_create_customer(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__CreateCustomerRequest *req = (const void *)m;
    const Ltc__Ltb__V1__Customer *x = req->customer;
    if (!x) return ltc_status_bad_field(st, "customer", "required");
    check_customer(c, x, ALL_FIELDS, st);
    ltb_check_distinct_from(c, req->distinct_from, req->n_distinct_from, st);
    if (st->code != LTC_OK) return -1;

    char id[LTC_UUID_LEN + 1];
    if (ltb_customer_insert(c, st, x, req->distinct_from, req->n_distinct_from, id) != 0) return -1;
    Ltc__Ltb__V1__CreateCustomerResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__CreateCustomerResponse, LTC__LTB__V1__CREATE_CUSTOMER_RESPONSE__INIT);
    if (ltb_load_customer(c, st, id, &resp->customer) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* GetCustomer: one customer; a tombstone as it is (MERGED, merged_into). NOT_FOUND (CUSTOMER_NOT_FOUND). */
int ltb_get_customer(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__GetCustomerRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "customers", "name", id, st) != 0) return -1;
    Ltc__Ltb__V1__GetCustomerResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__GetCustomerResponse, LTC__LTB__V1__GET_CUSTOMER_RESPONSE__INIT);
    if (ltb_load_customer(c, st, id, &resp->customer) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ListCustomers: by normalised name then id, filtered; the page token is the position of the next page.
 * INVALID_ARGUMENT (page_size, page_token, name_contains, state). */
int ltb_list_customers(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__ListCustomersRequest *req = (const void *)m;
    int limit;
    int64_t offset;
    ltc_page_parse(req->page_size, req->page_token, &limit, &offset, st);
    ltc_check_text(req->name_contains, "name_contains", 0, 200, st);
    ltc_check_text(req->account_owner, "account_owner", 0, 128, st);
    const char *state = "";
    if (req->state != LTC__LTB__V1__CUSTOMER_STATE__CUSTOMER_STATE_UNSPECIFIED) {
        state = ltc_enum_to_db(&ltc__ltb__v1__customer_state__descriptor, STATE_PREFIX, (int)req->state);
        if (!state) ltc_status_bad_field(st, "state", "not a CustomerState");
    }
    if (st->code != LTC_OK) return -1;
    const char *p[] = {ltc_sql_i64(c, offset), ltc_sql_i64(c, limit), req->name_contains ? req->name_contains : "",
                       req->account_owner ? req->account_owner : "", state};
    PGresult *r = ltc_call_query(c, st, SQL_CUSTOMER_LIST, 5, p);
    if (!r) return -1;
    Ltc__Ltb__V1__ListCustomersResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__ListCustomersResponse, LTC__LTB__V1__LIST_CUSTOMERS_RESPONSE__INIT);
    int n = PQntuples(r), more = n >= limit;
    if (more) n = limit - 1;
    resp->customers = ltc_call_alloc(c, sizeof *resp->customers * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) resp->customers[i] = customer_from_row(c, r, i);
    resp->n_customers = (size_t)n;
    if (load_contacts(c, st, r, resp->customers, (size_t)n) != 0) return -1;
    if (more && n > 0) resp->next_page_token = ltc_page_token(c, offset + n);
    *out = &resp->base;
    return 0;
}

/* UpdateCustomer: the masked fields (contacts: the whole list) of a live customer, re-matched against the others.
 * INVALID_ARGUMENT; NOT_FOUND (CUSTOMER_NOT_FOUND); FAILED_PRECONDITION (CUSTOMER_MERGED); PERMISSION_DENIED
 * (NOT_ACCOUNT_OWNER: a sales user and not the owner); ABORTED (ETAG_MISMATCH); ALREADY_EXISTS
 * (DUPLICATE_CUSTOMER). */
int ltb_update_customer(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__UpdateCustomerRequest *req = (const void *)m;
    const Ltc__Ltb__V1__Customer *x = req->customer;
    char id[LTC_UUID_LEN + 1];
    if (!x) return ltc_status_bad_field(st, "customer", "required: the customer with its name and the fields to write");
    ltc_name_parse(x->name, "customers", "customer.name", id, st);
    unsigned bits =
        ltc_update_mask_bits(req->update_mask, &ltc__ltb__v1__customer__descriptor, CUSTOMER_UPDATABLE, CU_N, st);
    check_customer(c, x, bits, st);
    ltb_check_distinct_from(c, req->distinct_from, req->n_distinct_from, st);
    if (st->code != LTC_OK) return -1;

    PGresult *r = lock_customer(c, st, SQL_CUSTOMER_LOCK, id);
    if (!r) return -1;
    if (strcmp(ltc_pg_str(r, 0, CC_STATE), "MERGED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CUSTOMER_MERGED",
                              "customer %s was merged into customers/%s: change that one", id,
                              ltc_pg_str(r, 0, CC_MERGED_INTO));
    const char *scope = ltc_call_deal_scope(c), *owner = ltc_pg_str(r, 0, CC_OWNER);
    if (scope && strcmp(scope, owner) != 0)
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "NOT_ACCOUNT_OWNER",
                              "customer %s is owned by %s: only its owner, a manager or an admin may change it", id,
                              owner);
    const char *now = ltb_etag(c, ltc_pg_i64(r, 0, CC_VERSION));
    if (x->etag && x->etag[0] && strcmp(x->etag, now) != 0)
        return ltc_status_set(st, LTC_ABORTED, "ETAG_MISMATCH",
                              "customer %s changed since etag %.40s (now %s): read it again", id, x->etag, now);

    /* the values after the change, matched against the other live customers */
    Ltc__Ltb__V1__Customer *cur;
    if (ltb_load_customer(c, st, id, &cur) != 0) return -1;
    const char *legal = bits & (1u << CU_LEGAL) ? x->legal_name : cur->legal_name;
    const char *tax = bits & (1u << CU_TAX) ? (x->tax_id ? x->tax_id : "") : cur->tax_id;
    const char *country = bits & (1u << CU_COUNTRY) ? x->country_code : cur->country_code;
    Ltc__Ltb__V1__Contact *const *ts = bits & (1u << CU_CONTACTS) ? x->contacts : cur->contacts;
    size_t nts = bits & (1u << CU_CONTACTS) ? x->n_contacts : cur->n_contacts;
    ltb_party_probe probe;
    customer_probe(c, legal, tax, country, ts, nts, &probe);
    probe.not_customer = id;
    ltb_match *mt;
    size_t n, nd;
    const char **distinct;
    if (ltb_party_match(c, st, &probe, 1, &mt, &n) != 0) return -1;
    if (distinct_with_history(c, st, id, req->distinct_from, req->n_distinct_from, &distinct, &nd) != 0) return -1;
    if (ltb_party_refuse_duplicates(c, st, mt, n, distinct, nd, "CUSTOMER", id) != 0) return -1;

    const char *pu[] = {id,
                        ltc_mask_flag(bits, CU_LEGAL),
                        ltc_mask_flag(bits, CU_TAX),
                        ltc_mask_flag(bits, CU_COUNTRY),
                        ltc_mask_flag(bits, CU_CURRENCY),
                        ltc_mask_flag(bits, CU_OWNER),
                        x->legal_name,
                        x->tax_id ? x->tax_id : "",
                        x->country_code,
                        x->billing_currency,
                        x->account_owner};
    if (!ltc_call_query(c, st, SQL_CUSTOMER_UPDATE, 11, pu)) return -1;
    if (bits & (1u << CU_CONTACTS)) {
        const char *pd[] = {id};
        if (!ltc_call_query(c, st, SQL_CONTACTS_DELETE, 1, pd)) return -1;
        if (insert_contacts(c, st, id, country, x->contacts, x->n_contacts) != 0) return -1;
    } else if (bits & (1u << CU_COUNTRY)) {
        const char *pr[] = {id, country};
        if (!ltc_call_query(c, st, SQL_CONTACTS_REGION, 2, pr)) return -1;
    }
    if (ltb_handoff_customer_changed(c, st, id, LTC__TYPE__V1__CUSTOMER_CHANGE__CUSTOMER_CHANGE_UPDATED, NULL, NULL) !=
        0)
        return -1;
    Ltc__Ltb__V1__UpdateCustomerResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__UpdateCustomerResponse, LTC__LTB__V1__UPDATE_CUSTOMER_RESPONSE__INIT);
    if (ltb_load_customer(c, st, id, &resp->customer) != 0) return -1;
    *out = &resp->base;
    return 0;
}

static int record_state_change(ltc_call *c, ltc_status *st, const char *id, const char *from, const char *to,
                               const char *block_reason, const char *note) {
    char sid[LTC_UUID_LEN + 1];
    ltc_uuid_new(sid);
    const char *rid = ltc_call_request_id(c);
    const char *p[] = {sid, id, from, to, block_reason, note, who(c), rid ? rid : ""};
    return ltc_call_query(c, st, SQL_STATE_CHANGE, 8, p) ? 0 : -1;
}

/* BlockCustomer: ACTIVE -> BLOCKED with a reason and a note. INVALID_ARGUMENT (name, block_reason, note); NOT_FOUND
 * (CUSTOMER_NOT_FOUND); FAILED_PRECONDITION (CUSTOMER_NOT_ACTIVE). */
int ltb_block_customer(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__BlockCustomerRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "customers", "name", id, st);
    const char *reason =
        req->block_reason == LTC__LTB__V1__CUSTOMER_BLOCK_REASON__CUSTOMER_BLOCK_REASON_UNSPECIFIED
            ? NULL
            : ltc_enum_to_db(&ltc__ltb__v1__customer_block_reason__descriptor, BLOCK_PREFIX, (int)req->block_reason);
    if (!reason) ltc_status_bad_field(st, "block_reason", "required: COMPLIANCE or SANCTIONS");
    ltc_check_text(req->note, "note", 1, 500, st);
    if (st->code != LTC_OK) return -1;

    PGresult *r = lock_customer(c, st, SQL_CUSTOMER_LOCK, id);
    if (!r) return -1;
    const char *state = ltc_pg_str(r, 0, CC_STATE);
    if (strcmp(state, "ACTIVE") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CUSTOMER_NOT_ACTIVE", "customer %s is %s, not ACTIVE", id,
                              state);
    const char *p[] = {id, reason, req->note, who(c)};
    if (!ltc_call_query(c, st, SQL_CUSTOMER_BLOCK, 4, p)) return -1;
    if (record_state_change(c, st, id, "ACTIVE", "BLOCKED", reason, req->note) != 0) return -1;
    if (ltb_handoff_customer_changed(c, st, id, LTC__TYPE__V1__CUSTOMER_CHANGE__CUSTOMER_CHANGE_BLOCKED, NULL,
                                     req->note) != 0)
        return -1;
    Ltc__Ltb__V1__BlockCustomerResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__BlockCustomerResponse, LTC__LTB__V1__BLOCK_CUSTOMER_RESPONSE__INIT);
    if (ltb_load_customer(c, st, id, &resp->customer) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* UnblockCustomer: BLOCKED -> ACTIVE with a note, by someone other than the blocker. INVALID_ARGUMENT (name, note);
 * NOT_FOUND (CUSTOMER_NOT_FOUND); FAILED_PRECONDITION (CUSTOMER_NOT_BLOCKED); PERMISSION_DENIED
 * (SAME_PERSON_AS_BLOCKER). */
int ltb_unblock_customer(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__UnblockCustomerRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "customers", "name", id, st);
    ltc_check_text(req->note, "note", 1, 500, st);
    if (st->code != LTC_OK) return -1;

    PGresult *r = lock_customer(c, st, SQL_CUSTOMER_LOCK, id);
    if (!r) return -1;
    const char *state = ltc_pg_str(r, 0, CC_STATE);
    if (strcmp(state, "BLOCKED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CUSTOMER_NOT_BLOCKED", "customer %s is %s, not BLOCKED", id,
                              state);
    if (strcmp(ltc_pg_str(r, 0, CC_BLOCKED_BY), who(c)) == 0)
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "SAME_PERSON_AS_BLOCKER",
                              "%s blocked customer %s: another manager or admin must unblock it", who(c), id);
    const char *p[] = {id};
    if (!ltc_call_query(c, st, SQL_CUSTOMER_UNBLOCK, 1, p)) return -1;
    if (record_state_change(c, st, id, "BLOCKED", "ACTIVE", NULL, req->note) != 0) return -1;
    if (ltb_handoff_customer_changed(c, st, id, LTC__TYPE__V1__CUSTOMER_CHANGE__CUSTOMER_CHANGE_UNBLOCKED, NULL,
                                     req->note) != 0)
        return -1;
    Ltc__Ltb__V1__UnblockCustomerResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__UnblockCustomerResponse, LTC__LTB__V1__UNBLOCK_CUSTOMER_RESPONSE__INIT);
    if (ltb_load_customer(c, st, id, &resp->customer) != 0) return -1;
    *out = &resp->base;
    return 0;
}

static Ltc__Ltb__V1__MatchField match_field(const char *f) {
    return (Ltc__Ltb__V1__MatchField)ltc_enum_from_db(&ltc__ltb__v1__match_field__descriptor, "MATCH_FIELD_", f);
}

/* FindDuplicateCustomers: the live customers and NEW leads matching a probe, a lead's keys or a customer's keys, each
 * once with every reason, customers first. INVALID_ARGUMENT (an empty probe, bad names, too long fields); NOT_FOUND
 * (LEAD_NOT_FOUND, CUSTOMER_NOT_FOUND). */
int ltb_find_duplicate_customers(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__FindDuplicateCustomersRequest *req = (const void *)m;
    char lead_id[LTC_UUID_LEN + 1] = "", cust_id[LTC_UUID_LEN + 1] = "";
    int has_lead = req->lead && req->lead[0], has_cust = req->customer && req->customer[0];
    int has_probe = (req->company_name && req->company_name[0]) || (req->email && req->email[0]) ||
                    (req->phone && req->phone[0]) || (req->tax_id && req->tax_id[0]);
    if (has_lead) ltc_name_parse(req->lead, "leads", "lead", lead_id, st);
    if (has_cust) ltc_name_parse(req->customer, "customers", "customer", cust_id, st);
    ltc_check_text(req->company_name, "company_name", 0, 200, st);
    ltc_check_text(req->email, "email", 0, 254, st);
    ltc_check_text(req->phone, "phone", 0, 40, st);
    if (!all_match(req->tax_id, TAXCH, 0, 64)) ltc_status_bad_field(st, "tax_id", "up to 64 of A-Z, a-z, 0-9, '-'");
    ltb_check_country(req->country_code, "country_code", 0, st);
    if (has_lead + has_cust + has_probe != 1)
        ltc_status_bad_field(
            st, has_probe || has_lead || has_cust ? "lead" : "company_name",
            "give a probe (company_name, email, phone, tax_id), or a lead, or a customer: one of them");
    if (st->code != LTC_OK) return -1;

    ltb_party_probe probe;
    memset(&probe, 0, sizeof probe);
    probe.with_leads = 1;
    if (has_cust) {
        Ltc__Ltb__V1__Customer *x;
        if (ltb_load_customer(c, st, cust_id, &x) != 0) return -1;
        customer_probe(c, x->legal_name, x->tax_id, x->country_code, x->contacts, x->n_contacts, &probe);
        probe.with_leads = 1;
        probe.not_customer = cust_id;
    } else if (has_lead) {
        const char *p[] = {lead_id};
        PGresult *r = ltc_call_query(c, st, SQL_LEAD_KEYS, 1, p);
        if (!r) return -1;
        if (PQntuples(r) == 0)
            return ltc_status_set(st, LTC_NOT_FOUND, "LEAD_NOT_FOUND", "lead %s does not exist", lead_id);
        static const char *const none = "";
        const char **e = ltc_call_alloc(c, sizeof *e), **ph = ltc_call_alloc(c, sizeof *ph);
        *e = ltc_call_strdup(c, ltc_pg_str(r, 0, 1));
        *ph = ltc_call_strdup(c, ltc_pg_str(r, 0, 2));
        probe.name = ltc_call_strdup(c, ltc_pg_str(r, 0, 0));
        probe.tax_id = probe.country = probe.region = none;
        probe.emails = e;
        probe.phones = ph;
        probe.n_emails = probe.n_phones = 1;
        probe.not_lead = lead_id;
    } else {
        const char **e = ltc_call_alloc(c, sizeof *e), **ph = ltc_call_alloc(c, sizeof *ph);
        *e = req->email ? req->email : "";
        *ph = req->phone ? req->phone : "";
        probe.name = req->company_name;
        probe.tax_id = req->tax_id;
        probe.country = probe.region = req->country_code;
        probe.emails = e;
        probe.phones = ph;
        probe.n_emails = probe.n_phones = 1;
    }
    ltb_match *mt;
    size_t n;
    if (ltb_party_match(c, st, &probe, 0, &mt, &n) != 0) return -1;

    Ltc__Ltb__V1__FindDuplicateCustomersResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__FindDuplicateCustomersResponse, LTC__LTB__V1__FIND_DUPLICATE_CUSTOMERS_RESPONSE__INIT);
    resp->matches = ltc_call_alloc(c, sizeof *resp->matches * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        Ltc__Ltb__V1__DuplicateMatch *d = LTC_NEW(c, Ltc__Ltb__V1__DuplicateMatch, LTC__LTB__V1__DUPLICATE_MATCH__INIT);
        if (mt[i].is_lead)
            d->lead = ltc_call_printf(c, "leads/%s", mt[i].id);
        else
            d->customer = ltc_call_printf(c, "customers/%s", mt[i].id);
        d->display_name = ltc_call_strdup(c, mt[i].display);
        d->reasons = ltc_call_alloc(c, sizeof *d->reasons * (mt[i].n_reasons ? mt[i].n_reasons : 1));
        for (size_t k = 0; k < mt[i].n_reasons; k++) {
            Ltc__Ltb__V1__MatchReason *why = LTC_NEW(c, Ltc__Ltb__V1__MatchReason, LTC__LTB__V1__MATCH_REASON__INIT);
            why->field = match_field(mt[i].reasons[k].field);
            why->normalized_value = ltc_call_strdup(c, mt[i].reasons[k].value);
            d->reasons[d->n_reasons++] = why;
        }
        resp->matches[resp->n_matches++] = d;
    }
    *out = &resp->base;
    return 0;
}

/* MergeCustomers: `merged` becomes a tombstone of `survivor`; its leads and opportunities move, its contacts are
 * appended (those the survivor has by e-mail or phone skipped, 20 at most). INVALID_ARGUMENT (names, the same
 * customer twice, reason); NOT_FOUND (CUSTOMER_NOT_FOUND); FAILED_PRECONDITION (CUSTOMER_MERGED, CUSTOMER_BLOCKED). */
int ltb_merge_customers(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__MergeCustomersRequest *req = (const void *)m;
    char sid[LTC_UUID_LEN + 1], mid[LTC_UUID_LEN + 1];
    int ok = ltc_name_parse(req->survivor, "customers", "survivor", sid, st) == 0;
    ok &= ltc_name_parse(req->merged, "customers", "merged", mid, st) == 0;
    if (ok && strcmp(sid, mid) == 0) ltc_status_bad_field(st, "merged", "must be another customer than the survivor");
    ltc_check_text(req->reason, "reason", 1, 500, st);
    if (st->code != LTC_OK) return -1;

    const char *p2[] = {sid, mid};
    PGresult *r = ltc_call_query(c, st, SQL_CUSTOMER_LOCK_TWO, 2, p2);
    if (!r) return -1;
    int si = -1, mi = -1;
    for (int i = 0; i < PQntuples(r); i++) {
        if (strcmp(ltc_pg_str(r, i, CC_ID), sid) == 0) si = i;
        if (strcmp(ltc_pg_str(r, i, CC_ID), mid) == 0) mi = i;
    }
    if (si < 0 || mi < 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "CUSTOMER_NOT_FOUND", "customer %s does not exist",
                              si < 0 ? sid : mid);
    const char *s_state = ltc_pg_str(r, si, CC_STATE), *m_state = ltc_pg_str(r, mi, CC_STATE);
    if (strcmp(s_state, "MERGED") == 0 || strcmp(m_state, "MERGED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CUSTOMER_MERGED", "customer %s is already MERGED",
                              strcmp(s_state, "MERGED") == 0 ? sid : mid);
    if (strcmp(s_state, m_state) != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CUSTOMER_BLOCKED",
                              "survivor %s is %s and %s is %s: unblock or block first, a merge never changes a block",
                              sid, s_state, mid, m_state);

    PGresult *rl = ltc_call_query(c, st, SQL_MERGE_LEADS, 2, p2);
    if (!rl) return -1;
    PGresult *ro = ltc_call_query(c, st, SQL_MERGE_OPPS, 2, p2);
    if (!ro) return -1;
    const char *pc[] = {sid, mid, ltc_pg_str(r, si, CC_COUNTRY)};
    if (!ltc_call_query(c, st, SQL_MERGE_CONTACTS, 3, pc)) return -1;
    if (!ltc_call_query(c, st, SQL_MERGE_TOMBSTONE, 2, p2)) return -1;
    const char *ps[] = {sid};
    if (!ltc_call_query(c, st, SQL_TOUCH, 1, ps)) return -1;
    if (record_state_change(c, st, mid, m_state, "MERGED", NULL, req->reason) != 0) return -1;
    int64_t moved_leads = atoll(PQcmdTuples(rl)), moved_opps = atoll(PQcmdTuples(ro));
    char xid[LTC_UUID_LEN + 1];
    ltc_uuid_new(xid);
    const char *pm[] = {xid, sid, mid, req->reason, who(c), ltc_sql_i64(c, moved_leads), ltc_sql_i64(c, moved_opps)};
    if (!ltc_call_query(c, st, SQL_MERGE_RECORD, 7, pm)) return -1;
    /* the survivor's snapshot too (its contacts changed), so a stage that never saw it can show the survivor */
    Ltc__Type__V1__CustomerChange updated = LTC__TYPE__V1__CUSTOMER_CHANGE__CUSTOMER_CHANGE_UPDATED;
    if (ltb_handoff_customer_changed(c, st, sid, updated, NULL, NULL) != 0) return -1;
    Ltc__Type__V1__CustomerChange merged = LTC__TYPE__V1__CUSTOMER_CHANGE__CUSTOMER_CHANGE_MERGED;
    if (ltb_handoff_customer_changed(c, st, mid, merged, sid, req->reason) != 0) return -1;

    Ltc__Ltb__V1__MergeCustomersResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__MergeCustomersResponse, LTC__LTB__V1__MERGE_CUSTOMERS_RESPONSE__INIT);
    if (ltb_load_customer(c, st, sid, &resp->survivor) != 0 || ltb_load_customer(c, st, mid, &resp->merged) != 0)
        return -1;
    resp->moved_leads = (int32_t)moved_leads;
    resp->moved_opportunities = (int32_t)moved_opps;
    *out = &resp->base;
    return 0;
}
