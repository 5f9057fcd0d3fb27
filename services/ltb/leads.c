/* leads.c - leads (线索): capture, read, list, qualify (which opens the opportunity) and disqualify.
 * Life cycle: NEW -> QUALIFIED | DISQUALIFIED; both ends are final. */
#include <stdio.h>
#include <string.h>

#include "ltb.h"
#include "ltc/audit.h"
#include "ltc/filter.h"
#include "ltc/proto.h"
#include "matching.h"

/* --- SQL ----------------------------------------------------------------------------------------------------- */

#define LEAD_COLUMNS                                                                                                                  \
    "l.id::text, l.source, l.company_name, l.contact_name, l.contact_email, l.contact_phone, l.state,"                                \
    " l.disqualify_reason, o.id::text, " LTC_SQL_MICROS("l.create_time") ", " LTC_SQL_MICROS(                                         \
        "l.update_time") ", l.version, l.seq, l.customer_id::text, l.normalized_email, l.normalized_phone, l.normalized_company_name" \
                         " FROM leads l LEFT JOIN opportunities o ON o.lead_id = l.id"
enum {
    LC_ID,
    LC_SOURCE,
    LC_COMPANY,
    LC_CONTACT,
    LC_EMAIL,
    LC_PHONE,
    LC_STATE,
    LC_REASON,
    LC_OPP,
    LC_CTIME,
    LC_UTIME,
    LC_VERSION,
    LC_SEQ,
    LC_CUSTOMER,
    LC_NORM_EMAIL,
    LC_NORM_PHONE,
    LC_NORM_COMPANY
};

static const char SQL_LEAD_GET[] = "SELECT " LEAD_COLUMNS " WHERE l.id = $1";
/* $1 the seq to continue after (default order) or the offset (with $15), $2 limit, $3 only leads of this customer
 * (a tombstone resolves to its survivor; NULL: all); the filter's slots (LEAD_FILTER): $4 state =, $5 state !=,
 * $6 source =, $7 source !=, $8 customer, $9..$13 create_time (= < <= > >= a UTC day), $14 company_name; $15 the
 * order_by field (NULL: newest first), $16 descending. */
#define LEAD_DAY "((l.create_time AT TIME ZONE 'UTC')::date)"
static const char SQL_LEAD_LIST[] =
    "SELECT " LEAD_COLUMNS " WHERE ($15::text IS NOT NULL OR $1::bigint = 0 OR l.seq < $1)"
    " AND ($3::uuid IS NULL OR l.customer_id = (SELECT COALESCE(merged_into, id) FROM customers WHERE id = $3))"
    " AND ($4::text IS NULL OR l.state = $4) AND ($5::text IS NULL OR l.state <> $5)"
    " AND ($6::text IS NULL OR l.source = $6) AND ($7::text IS NULL OR l.source <> $7)"
    " AND ($8::uuid IS NULL OR l.customer_id = (SELECT COALESCE(merged_into, id) FROM customers WHERE id = $8))"
    " AND ($9::date IS NULL OR " LEAD_DAY " = $9) AND ($10::date IS NULL OR " LEAD_DAY " < $10)"
    " AND ($11::date IS NULL OR " LEAD_DAY " <= $11) AND ($12::date IS NULL OR " LEAD_DAY " > $12)"
    " AND ($13::date IS NULL OR " LEAD_DAY " >= $13) AND ($14::text IS NULL OR l.company_name = $14)"
    " ORDER BY CASE WHEN $15 = 'create_time' AND NOT $16::boolean THEN l.seq END ASC, l.seq DESC"
    " LIMIT $2 OFFSET CASE WHEN $15 IS NULL THEN 0 ELSE $1 END";
static const char SQL_LEAD_INSERT[] =
    "INSERT INTO leads (id, source, company_name, contact_name, contact_email, contact_phone, customer_id, created_by)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
static const char SQL_LEAD_LOCK[] =
    "SELECT state, company_name, contact_name, contact_email, contact_phone FROM leads WHERE id = $1 FOR UPDATE";
/* The customer a lead would be linked to before anything is locked: its own, a tombstone resolved. */
static const char SQL_LEAD_CUSTOMER[] =
    "SELECT COALESCE(c.merged_into, c.id)::text FROM leads l JOIN customers c ON c.id = l.customer_id WHERE l.id = $1";
static const char SQL_LEAD_QUALIFY[] =
    "UPDATE leads SET state = 'QUALIFIED', customer_id = $2, version = version + 1, update_time = now()"
    " WHERE id = $1";
static const char SQL_LEAD_DISQUALIFY[] =
    "UPDATE leads SET state = 'DISQUALIFIED', disqualify_reason = $2, version = version + 1, update_time = now()"
    " WHERE id = $1";
static const char SQL_OPP_INSERT[] =
    "INSERT INTO opportunities (id, lead_id, customer_name, title, account_owner, solution_owner, fulfilment_owner,"
    " expected_minor, currency, expected_close_date, win_probability_bps, stage, customer_id,"
    " probability_override_bps, probability_override_reason, probability_override_by, probability_override_time,"
    " probability_override_stage)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::date, $11, 'QUALIFIED', $12,"
    " CASE WHEN $11::integer > 0 THEN $11::integer END, CASE WHEN $11::integer > 0 THEN 'given at QualifyLead' END,"
    " CASE WHEN $11::integer > 0 THEN COALESCE(NULLIF($13, ''), 'unknown') END, CASE WHEN $11::integer > 0 THEN now() END,"
    " CASE WHEN $11::integer > 0 THEN 'QUALIFIED' END)";
static const char SQL_REQ_INSERT[] =
    "INSERT INTO requirements (id, opportunity_id, position, code, description, quantity)"
    " VALUES ($1, $2, $3, $4, $5, $6)";

/* --- enums and rows ------------------------------------------------------------------------------------------ */

/* The stored text of a source, or NULL for UNSPECIFIED and numbers that are no source. */
static const char *source_text(Ltc__Ltb__V1__LeadSource s) {
    if (s == LTC__LTB__V1__LEAD_SOURCE__LEAD_SOURCE_UNSPECIFIED) return NULL;
    return ltc_enum_to_db(&ltc__ltb__v1__lead_source__descriptor, "LEAD_SOURCE_", (int)s);
}

/* A Lead message from row `i` of a LEAD_COLUMNS result. */
static Ltc__Ltb__V1__Lead *lead_from_row(ltc_call *c, const PGresult *r, int i) {
    Ltc__Ltb__V1__Lead *l = LTC_NEW(c, Ltc__Ltb__V1__Lead, LTC__LTB__V1__LEAD__INIT);
    l->name = ltc_call_printf(c, "leads/%s", ltc_pg_str(r, i, LC_ID));
    l->source = (Ltc__Ltb__V1__LeadSource)ltc_enum_from_db(&ltc__ltb__v1__lead_source__descriptor, "LEAD_SOURCE_",
                                                           ltc_pg_str(r, i, LC_SOURCE));
    l->company_name = ltc_call_strdup(c, ltc_pg_str(r, i, LC_COMPANY));
    l->contact_name = ltc_call_strdup(c, ltc_pg_str(r, i, LC_CONTACT));
    l->contact_email = ltc_call_strdup(c, ltc_pg_str(r, i, LC_EMAIL));
    l->contact_phone = ltc_call_strdup(c, ltc_pg_str(r, i, LC_PHONE));
    l->state = (Ltc__Ltb__V1__LeadState)ltc_enum_from_db(&ltc__ltb__v1__lead_state__descriptor, "LEAD_STATE_",
                                                         ltc_pg_str(r, i, LC_STATE));
    l->disqualify_reason = ltc_call_strdup(c, ltc_pg_str(r, i, LC_REASON));
    if (!ltc_pg_isnull(r, i, LC_OPP)) l->opportunity = ltc_call_printf(c, "opportunities/%s", ltc_pg_str(r, i, LC_OPP));
    l->create_time = ltc_ts_from_pg(c, r, i, LC_CTIME);
    l->update_time = ltc_ts_from_pg(c, r, i, LC_UTIME);
    l->etag = ltb_etag(c, ltc_pg_i64(r, i, LC_VERSION));
    if (!ltc_pg_isnull(r, i, LC_CUSTOMER))
        l->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, i, LC_CUSTOMER));
    l->normalized_email = ltc_call_strdup(c, ltc_pg_str(r, i, LC_NORM_EMAIL));
    l->normalized_phone = ltc_call_strdup(c, ltc_pg_str(r, i, LC_NORM_PHONE));
    l->normalized_company_name = ltc_call_strdup(c, ltc_pg_str(r, i, LC_NORM_COMPANY));
    return l;
}

int ltb_load_lead(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__Lead **out) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_LEAD_GET, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "LEAD_NOT_FOUND", "lead %s does not exist", id);
    *out = lead_from_row(c, r, 0);
    return 0;
}

/* Locks lead `id`; NOT_FOUND when unknown, FAILED_PRECONDITION LEAD_NOT_NEW unless NEW. Gives its row (state,
 * company_name, contact_name, contact_email, contact_phone) when row is not NULL. */
static int lock_new_lead(ltc_call *c, ltc_status *st, const char *id, PGresult **row) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_LEAD_LOCK, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "LEAD_NOT_FOUND", "lead %s does not exist", id);
    const char *state = ltc_pg_str(r, 0, 0);
    if (strcmp(state, "NEW") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "LEAD_NOT_NEW", "lead %s is %s, not NEW", id, state);
    if (row) *row = r;
    return 0;
}

/* --- validation ---------------------------------------------------------------------------------------------- */

/* "local@domain.tld": one '@', a non-empty local part, a domain with a dot that neither starts nor ends it nor
 * doubles, and no spaces or control characters anywhere. Deliverability is not our business. */
int ltb_email_shape_ok(const char *s) {
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@')) return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) return 0;
    const char *dom = at + 1;
    size_t n = strlen(dom);
    if (n < 3 || dom[0] == '.' || dom[n - 1] == '.' || !strchr(dom, '.') || strstr(dom, "..")) return 0;
    return 1;
}

static void check_lead(const Ltc__Ltb__V1__Lead *l, ltc_status *st) {
    if (!l) {
        ltc_status_bad_field(st, "lead", "required");
        return;
    }
    if (!source_text(l->source))
        ltc_status_bad_field(st, "lead.source", "required: one of the LeadSource values other than UNSPECIFIED");
    ltc_check_text(l->company_name, "lead.company_name", 1, 200, st);
    ltc_check_text(l->contact_name, "lead.contact_name", 0, 200, st);
    if (ltc_check_text(l->contact_email, "lead.contact_email", 0, 254, st) == 0 && l->contact_email &&
        l->contact_email[0] && !ltb_email_shape_ok(l->contact_email))
        ltc_status_bad_field(st, "lead.contact_email", "not an e-mail address of the form name@domain.tld");
    ltc_check_text(l->contact_phone, "lead.contact_phone", 0, 40, st);
}

static void check_requirements(ltc_call *c, const Ltc__Ltb__V1__QualifyLeadRequest *req, ltc_status *st) {
    if (req->n_requirements > LTC_MAX_REQUIREMENTS) {
        ltc_status_bad_field(st, "requirements", "at most %d requirements, got %zu", LTC_MAX_REQUIREMENTS,
                             req->n_requirements);
        return;
    }
    for (size_t i = 0; i < req->n_requirements; i++) {
        const Ltc__Ltb__V1__Requirement *q = req->requirements[i];
        ltc_check_requirement(c, "requirements", i, q->code, q->description, q->quantity, st);
    }
}

/* --- handlers ------------------------------------------------------------------------------------------------ */

/* CreateLead: captures a lead in state NEW, optionally of a known customer. Its normalised company name, e-mail and
 * phone are matched against live customers and NEW leads (not its own customer nor that customer's NEW leads):
 * ALREADY_EXISTS (DUPLICATE_LEAD, metadata "matches") unless each match is named in distinct_from.
 * INVALID_ARGUMENT naming every bad field; NOT_FOUND (CUSTOMER_NOT_FOUND); FAILED_PRECONDITION (CUSTOMER_MERGED). */
int ltb_create_lead(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__CreateLeadRequest *req = (const void *)m;
    const Ltc__Ltb__V1__Lead *l = req->lead;
    char cust[LTC_UUID_LEN + 1] = "";
    check_lead(l, st);
    if (l && l->customer && l->customer[0]) ltc_name_parse(l->customer, "customers", "lead.customer", cust, st);
    ltb_check_distinct_from(c, req->distinct_from, req->n_distinct_from, st);
    if (st->code != LTC_OK) return -1;

    if (cust[0] && ltb_customer_usable(c, st, cust, 1) != 0) return -1;
    const char *email = l->contact_email ? l->contact_email : "", *phone = l->contact_phone ? l->contact_phone : "";
    ltb_party_probe probe = {.name = l->company_name,
                             .tax_id = "",
                             .country = "",
                             .region = "",
                             .emails = &email,
                             .n_emails = 1,
                             .phones = &phone,
                             .n_phones = 1,
                             .with_leads = 1,
                             .not_customer = cust[0] ? cust : NULL};
    ltb_match *mt;
    size_t n;
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    if (ltb_party_match(c, st, &probe, 1, &mt, &n) != 0) return -1;
    if (ltb_party_refuse_duplicates(c, st, mt, n, (const char *const *)req->distinct_from, req->n_distinct_from, "LEAD",
                                    id) != 0)
        return -1;

    const char *p[] = {id,    source_text(l->source), l->company_name, l->contact_name, email,
                       phone, cust[0] ? cust : NULL,  ltb_actor(c)};
    if (!ltc_call_query(c, st, SQL_LEAD_INSERT, 8, p)) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "leads/%s", id), "state", NULL, "NEW");

    Ltc__Ltb__V1__CreateLeadResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__CreateLeadResponse, LTC__LTB__V1__CREATE_LEAD_RESPONSE__INIT);
    if (ltb_load_lead(c, st, id, &resp->lead) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* GetLead: one lead. INVALID_ARGUMENT for a malformed name, NOT_FOUND (LEAD_NOT_FOUND). */
int ltb_get_lead(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__GetLeadRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "leads", "name", id, st) != 0) return -1;
    Ltc__Ltb__V1__GetLeadResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__GetLeadResponse, LTC__LTB__V1__GET_LEAD_RESPONSE__INIT);
    if (ltb_load_lead(c, st, id, &resp->lead) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ListLeads' filter fields (docs/api.md#list-filters), in the order of SQL_LEAD_LIST's slots. */
static const char *const LEAD_STATES[] = {"NEW", "QUALIFIED", "DISQUALIFIED", NULL};
static const char *const LEAD_SOURCES[] = {
    "WEBSITE", "SOCIAL_MEDIA", "MARKETING_AUTOMATION", "EVENT", "REFERRAL", "INBOUND", "PARTNER", NULL};
enum {
    LF_STATE,
    LF_SOURCE,
    LF_CUSTOMER,
    LF_CREATE,
    LF_COMPANY,
    LF_N
};
static const ltc_filter_field LEAD_FILTER[LF_N] = {
    {"state", LTC_FILTER_ENUM, LTC_FILTER_EQ | LTC_FILTER_NE, LEAD_STATES, "LEAD_STATE_"},
    {"source", LTC_FILTER_ENUM, LTC_FILTER_EQ | LTC_FILTER_NE, LEAD_SOURCES, "LEAD_SOURCE_"},
    {"customer", LTC_FILTER_STRING, LTC_FILTER_EQ, NULL, NULL},
    {"create_time", LTC_FILTER_DATE, LTC_FILTER_RANGE, NULL, NULL},
    {"company_name", LTC_FILTER_STRING, LTC_FILTER_EQ, NULL, NULL},
};
static const char *const LEAD_ORDER[] = {"create_time"};

/* ListLeads: newest first (or oldest first: order_by "create_time"), paginated, filtered (AIP-160).
 * INVALID_ARGUMENT for a bad page_size, page_token, customer, filter or order_by. */
int ltb_list_leads(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__ListLeadsRequest *req = (const void *)m;
    int limit = 0, order = -1, desc = 0;
    int64_t after = 0;
    ltc_filter f;
    char cust[LTC_UUID_LEN + 1] = "", fcust[LTC_UUID_LEN + 1] = "";
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (req->customer && req->customer[0]) ltc_name_parse(req->customer, "customers", "customer", cust, st);
    if (ltc_filter_parse(req->filter, LEAD_FILTER, LF_N, &f, st) == 0) {
        const char *fc = ltc_filter_value(&f, LF_CUSTOMER, LTC_FILTER_EQ);
        if (fc) ltc_name_parse(fc, "customers", "filter", fcust, st);
    }
    ltc_order_by_parse(req->order_by, LEAD_ORDER, 1, &order, &desc, st);
    if (st->code != LTC_OK) return -1;
    if (order >= 0 && desc) order = -1; /* "create_time desc" is the default order */

    static const unsigned RANGE[5] = {LTC_FILTER_EQ, LTC_FILTER_LT, LTC_FILTER_LE, LTC_FILTER_GT, LTC_FILTER_GE};
    const char *p[16] = {ltc_sql_i64(c, after), ltc_sql_i64(c, limit), cust[0] ? cust : NULL};
    p[3] = ltc_filter_value(&f, LF_STATE, LTC_FILTER_EQ);
    p[4] = ltc_filter_value(&f, LF_STATE, LTC_FILTER_NE);
    p[5] = ltc_filter_value(&f, LF_SOURCE, LTC_FILTER_EQ);
    p[6] = ltc_filter_value(&f, LF_SOURCE, LTC_FILTER_NE);
    p[7] = fcust[0] ? fcust : NULL;
    for (int k = 0; k < 5; k++) p[8 + k] = ltc_filter_value(&f, LF_CREATE, RANGE[k]);
    p[13] = ltc_filter_value(&f, LF_COMPANY, LTC_FILTER_EQ);
    p[14] = order >= 0 ? LEAD_ORDER[order] : NULL;
    p[15] = desc ? "true" : "false";
    PGresult *r = ltc_call_query(c, st, SQL_LEAD_LIST, 16, p);
    if (!r) return -1;

    Ltc__Ltb__V1__ListLeadsResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__ListLeadsResponse, LTC__LTB__V1__LIST_LEADS_RESPONSE__INIT);
    int n = PQntuples(r), more = n >= limit;
    if (more) n = limit - 1;
    resp->leads = ltc_call_alloc(c, sizeof *resp->leads * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) resp->leads[i] = lead_from_row(c, r, i);
    resp->n_leads = (size_t)n;
    if (more && n > 0) resp->next_page_token = ltc_page_token(c, order >= 0 ? after + n : ltc_pg_i64(r, n - 1, LC_SEQ));
    *out = &resp->base;
    return 0;
}

/* QualifyLead: NEW -> QUALIFIED, and in the same transaction opens the opportunity (stage QUALIFIED, first stage
 * history row) with the iron triangle, expected amount and date, win probability and requirements, linked to a
 * customer: the request's, else the lead's own (a tombstone resolved), else one created from the lead (legal name
 * = company name, the lead's contact, customer_country_code, billing currency = customer_billing_currency or the
 * expected amount's), refused like CreateCustomer when it matches live customers not named in distinct_from.
 * The customer is share-locked before the lead (lock order: customers, then leads).
 * INVALID_ARGUMENT naming every bad field (customer_country_code when a customer is to be created); NOT_FOUND
 * (LEAD_NOT_FOUND, CUSTOMER_NOT_FOUND); FAILED_PRECONDITION (LEAD_NOT_NEW, CUSTOMER_BLOCKED, CUSTOMER_MERGED);
 * ALREADY_EXISTS (DUPLICATE_CUSTOMER). */
int ltb_qualify_lead(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__QualifyLeadRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1], close_date[11] = "", cust[LTC_UUID_LEN + 1] = "";
    ltc_money amount = {{0}, 0};
    ltc_name_parse(req->name, "leads", "name", id, st);
    ltc_check_text(req->opportunity_title, "opportunity_title", 1, 200, st);
    ltc_check_triangle(req->iron_triangle, "iron_triangle", 1, st);
    ltc_money_from_proto(req->expected_amount, "expected_amount", 0, &amount, st);
    ltc_date_to_text(req->expected_close_date, "expected_close_date", 1, close_date, st);
    if (req->win_probability_bps < 0 || req->win_probability_bps > 10000)
        ltc_status_bad_field(st, "win_probability_bps", "must be between 0 and 10000, got %d",
                             (int)req->win_probability_bps);
    check_requirements(c, req, st);
    if (req->customer && req->customer[0]) ltc_name_parse(req->customer, "customers", "customer", cust, st);
    ltb_check_country(req->customer_country_code, "customer_country_code", 0, st);
    const char *currency = req->customer_billing_currency && req->customer_billing_currency[0]
                               ? req->customer_billing_currency
                               : amount.currency;
    if (req->customer_billing_currency && req->customer_billing_currency[0] &&
        (strlen(currency) != 3 || strspn(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3))
        ltc_status_bad_field(st, "customer_billing_currency", "must be an ISO 4217 code, e.g. CNY");
    ltb_check_distinct_from(c, req->distinct_from, req->n_distinct_from, st);
    if (st->code != LTC_OK) return -1;

    if (!cust[0]) { /* the lead's own customer, if any */
        const char *pl0[] = {id};
        PGresult *r0 = ltc_call_query(c, st, SQL_LEAD_CUSTOMER, 1, pl0);
        if (!r0) return -1;
        if (PQntuples(r0) == 1) snprintf(cust, sizeof cust, "%s", ltc_pg_str(r0, 0, 0));
    }
    if (cust[0] && ltb_customer_usable(c, st, cust, 0) != 0) return -1;

    PGresult *lr;
    if (lock_new_lead(c, st, id, &lr) != 0) return -1;
    const char *company = ltc_call_strdup(c, ltc_pg_str(lr, 0, 1));
    if (!cust[0]) { /* a new customer from the lead */
        if (!req->customer_country_code || !req->customer_country_code[0])
            return ltc_status_bad_field(st, "customer_country_code",
                                        "required: the lead has no customer, so one is created from it");
        Ltc__Ltb__V1__Contact t = LTC__LTB__V1__CONTACT__INIT, *tp = &t;
        const char *cname = ltc_pg_str(lr, 0, 2), *email = ltc_pg_str(lr, 0, 3), *phone = ltc_pg_str(lr, 0, 4);
        t.display_name = ltc_call_strdup(c, cname[0] ? cname : company);
        t.email = ltc_call_strdup(c, email);
        t.phone = ltc_call_strdup(c, phone);
        t.title = "";
        Ltc__Ltb__V1__Customer x = LTC__LTB__V1__CUSTOMER__INIT;
        x.legal_name = (char *)company;
        x.tax_id = "";
        x.country_code = req->customer_country_code;
        x.billing_currency = (char *)currency;
        x.account_owner = req->iron_triangle->account_owner;
        x.n_contacts = cname[0] || email[0] || phone[0] ? 1 : 0;
        x.contacts = &tp;
        if (ltb_customer_insert(c, st, &x, req->distinct_from, req->n_distinct_from, cust) != 0) return -1;
    }

    char opp[LTC_UUID_LEN + 1];
    ltc_uuid_new(opp);
    const Ltc__Type__V1__IronTriangle *t = req->iron_triangle;
    const char *po[] = {opp,
                        id,
                        company,
                        req->opportunity_title,
                        t->account_owner,
                        t->solution_owner,
                        t->fulfilment_owner,
                        ltc_sql_i64(c, amount.minor),
                        amount.currency,
                        close_date[0] ? close_date : NULL,
                        ltc_sql_i64(c, req->win_probability_bps),
                        cust,
                        ltb_actor(c)};
    if (!ltc_call_query(c, st, SQL_OPP_INSERT, 13, po)) return -1;
    for (size_t i = 0; i < req->n_requirements; i++) {
        const Ltc__Ltb__V1__Requirement *q = req->requirements[i];
        char rid[LTC_UUID_LEN + 1];
        ltc_uuid_new(rid);
        const char *pr[] = {rid, opp, ltc_sql_i64(c, (int64_t)i), q->code, q->description, ltc_sql_i64(c, q->quantity)};
        if (!ltc_call_query(c, st, SQL_REQ_INSERT, 6, pr)) return -1;
    }
    if (ltb_stage_record(c, st, opp, LTB_STAGE(QUALIFIED)) != 0) return -1;
    const char *pl[] = {id, cust};
    if (!ltc_call_query(c, st, SQL_LEAD_QUALIFY, 2, pl)) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "leads/%s", id), "state", "NEW", "QUALIFIED");
    const char *opp_target = ltc_call_printf(c, "opportunities/%s", opp);
    ltc_audit_change(c, opp_target, "stage", NULL, "QUALIFIED");
    ltc_audit_change_money(c, opp_target, "expected_amount", amount.currency, 0, 0, amount.minor, 1);

    Ltc__Ltb__V1__QualifyLeadResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__QualifyLeadResponse, LTC__LTB__V1__QUALIFY_LEAD_RESPONSE__INIT);
    if (ltb_load_lead(c, st, id, &resp->lead) != 0) return -1;
    if (ltb_load_opportunity(c, st, opp, &resp->opportunity) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* DisqualifyLead: NEW -> DISQUALIFIED with a reason. INVALID_ARGUMENT (name, reason); NOT_FOUND (LEAD_NOT_FOUND);
 * FAILED_PRECONDITION (LEAD_NOT_NEW). */
int ltb_disqualify_lead(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__DisqualifyLeadRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "leads", "name", id, st);
    ltc_check_text(req->reason, "reason", 1, 500, st);
    if (st->code != LTC_OK) return -1;

    if (lock_new_lead(c, st, id, NULL) != 0) return -1;
    const char *p[] = {id, req->reason};
    if (!ltc_call_query(c, st, SQL_LEAD_DISQUALIFY, 2, p)) return -1;
    const char *target = ltc_call_printf(c, "leads/%s", id);
    ltc_audit_change(c, target, "state", "NEW", "DISQUALIFIED");
    ltc_audit_change(c, target, "disqualify_reason", NULL, req->reason);

    Ltc__Ltb__V1__DisqualifyLeadResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__DisqualifyLeadResponse, LTC__LTB__V1__DISQUALIFY_LEAD_RESPONSE__INIT);
    if (ltb_load_lead(c, st, id, &resp->lead) != 0) return -1;
    *out = &resp->base;
    return 0;
}
