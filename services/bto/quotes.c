/* quotes.c - quotes (报价) priced from the catalogue: CreateQuote, GetQuote, AcceptQuote.
 * A deal's quotes are versions 1, 2, ...; prices are frozen on the quote lines when the quote is created. */
#include <string.h>

#include <stdio.h>
#include <strings.h>

#include "bto.h"
#include "ltc/access.h"
#include "ltc/audit.h"
#include "ltc/milestone.h"
#include "ltc/type/v1/milestone.pb-c.h"
#include "pricing.h"
#include "ltc/ids.h"
#include "ltc/money.h"
#include "ltc/proto.h"

static const char SQL_DATE_IN_PAST[] = "SELECT $1::date < current_date";
static const char SQL_LOCK_DEAL[] =
    "SELECT state, currency, customer_country_code, customer_group FROM deals WHERE id = $1 FOR UPDATE";
static const char SQL_PRODUCTS[] = "SELECT id, list_price_minor, currency, unit_cost_minor, tax_class FROM products "
                                   "WHERE id = ANY($1::uuid[]) FOR SHARE";
/* The price books of a currency valid on the business date (the database's current_date). */
static const char SQL_BOOKS[] = "SELECT id, customer_group, " LTC_SQL_DATE("valid_from") ", coalesce(" LTC_SQL_DATE(
    "valid_until") ", '') FROM price_books WHERE currency = $1 AND valid_from <= current_date AND (valid_until IS "
                   "NULL OR valid_until >= current_date) ORDER BY seq";
/* The book's entries of the lines' products, one row per tier (tier columns NULL for an entry without tiers). */
static const char SQL_BOOK_ENTRIES[] =
    "SELECT e.product_id, e.unit_price_minor, e.tier_mode, t.q, t.u FROM price_book_entries e "
    "LEFT JOIN LATERAL unnest(e.tier_min_qty, e.tier_unit_minor) AS t(q, u) ON true "
    "WHERE e.price_book_id = $1 AND e.product_id = ANY($2::uuid[]) ORDER BY e.product_id, t.q";
static const char SQL_TAX_RATES[] =
    "SELECT tax_class, country, rate_bps FROM tax_rates WHERE tax_class = ANY($1::text[])";
/* The next version of the deal (its row is locked, so versions are serialised). */
static const char SQL_INSERT_QUOTE[] =
    "INSERT INTO quotes (id, deal_id, version, total_minor, currency, valid_until, state, order_discount_bps, "
    "price_book_id, list_total_minor, book_total_minor, tax_total_minor, cost_total_minor, revision_of, author, "
    "approval_level, submit_time, escalation_minutes, requested_date) "
    "SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5::date, $12, $6, nullif($7, '')::uuid, $8, $9, $10, "
    "$11, nullif($13, '')::uuid, $14, $15::integer, CASE WHEN $15::integer > 0 THEN now() END, "
    "CASE WHEN $15::integer > 0 THEN $16::integer END, nullif($17, '')::date FROM quotes WHERE deal_id = $2";
static const char SQL_INSERT_LINES[] =
    "INSERT INTO quote_lines (quote_id, line_no, product_id, sku, quantity, discount_bps, unit_list_minor, "
    "unit_price_minor, line_total_minor, currency, list_minor, book_minor, line_discount_minor, "
    "order_discount_minor, tax_class, tax_rate_bps, tax_minor, unit_cost_minor, approval, approval_level, "
    "product_version, revenue_type, service_months) "
    "SELECT $1, l.n - 1, l.product_id, p.sku, l.quantity, l.bps, l.list_minor, l.price_minor, l.total_minor, $2, "
    "l.list_amt, l.book_amt, l.ld, l.od, l.tax_class, l.tax_bps, l.tax, l.unit_cost, l.approval, l.level, "
    "p.version, p.revenue_type, p.service_months "
    "FROM unnest($3::uuid[], $4::bigint[], $5::int[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], "
    "$10::bigint[], $11::bigint[], $12::bigint[], $13::text[], $14::int[], $15::bigint[], $16::bigint[], $17::text[], "
    "$18::int[]) WITH ORDINALITY AS l(product_id, quantity, bps, list_minor, price_minor, total_minor, list_amt, "
    "book_amt, ld, od, tax_class, tax_bps, tax, unit_cost, approval, level, n) "
    "JOIN products p ON p.id = l.product_id";
/* A quote still open past valid_until reads EXPIRED (as of the business date: current_date); the approval level
 * escalates by one per escalation period waited (bto_escalated_level, applied to the minutes waited). */
#define OPEN_STATES "('DRAFT', 'PENDING_APPROVAL', 'APPROVED', 'SENT')"
static const char SQL_GET_QUOTE[] = "SELECT id, deal_id, version, total_minor, currency, " LTC_SQL_DATE(
    "valid_until") ", "
                   "CASE WHEN state IN " OPEN_STATES " AND valid_until < current_date THEN 'EXPIRED' ELSE state END, "
                   "" LTC_SQL_MICROS(
                       "create_time") ", order_discount_bps, price_book_id, list_total_minor, book_total_minor, "
                                      "tax_total_minor, cost_total_minor, revision_of, author, approval_level, escalation_minutes, "
                                      "floor(extract(epoch FROM now() - submit_time) / 60)::bigint, " LTC_SQL_MICROS(
                                          "submit_time") ", "
                                                         "approver, approval_comment, " LTC_SQL_MICROS("decide_time") ", rejection_reason, " LTC_SQL_MICROS(
                                                             "send_time") ", "
                                                                          "" LTC_SQL_DATE("requested_date") ", atp_state, " LTC_SQL_DATE(
                                                                              "atp_date") ", atp_meets, atp_reason, "
                                                                                          "" LTC_SQL_MICROS(
                                                                                              "atp_time") " FROM quotes WHERE id = $1";
enum {
    Q_ID,
    Q_DEAL,
    Q_VERSION,
    Q_TOTAL,
    Q_CUR,
    Q_VALID,
    Q_STATE,
    Q_CTIME,
    Q_ODISC,
    Q_BOOK,
    Q_LIST_T,
    Q_BOOK_T,
    Q_TAX_T,
    Q_COST_T,
    Q_REVISION_OF,
    Q_AUTHOR,
    Q_LEVEL,
    Q_ESCALATION,
    Q_WAITED,
    Q_SUBMIT,
    Q_APPROVER,
    Q_COMMENT,
    Q_DECIDE,
    Q_REJECTION,
    Q_SEND,
    Q_REQUESTED,
    Q_ATP_STATE,
    Q_ATP_DATE,
    Q_ATP_MEETS,
    Q_ATP_REASON,
    Q_ATP_TIME
};
static const char SQL_GET_LINES[] =
    "SELECT product_id, quantity, unit_list_minor, discount_bps, unit_price_minor, line_total_minor, currency, "
    "list_minor, book_minor, line_discount_minor, order_discount_minor, tax_class, tax_rate_bps, tax_minor, "
    "unit_cost_minor, approval, approval_level, product_version, revenue_type, service_months FROM quote_lines "
    "WHERE quote_id = $1 ORDER BY line_no";
enum {
    L_PRODUCT,
    L_QTY,
    L_UNIT_LIST,
    L_DISC,
    L_UNIT_PRICE,
    L_TOTAL,
    L_CUR,
    L_LIST,
    L_BOOK,
    L_LDISC,
    L_ODISC,
    L_TAX_CLASS,
    L_TAX_BPS,
    L_TAX,
    L_UNIT_COST,
    L_APPROVAL,
    L_LEVEL,
    L_VERSION,
    L_REVENUE,
    L_MONTHS
};
/* Per requirement of the quote's deal: what the quote's lines cover of it (quantity x quantity_per_unit) and by
 * which products. */
static const char SQL_COVERAGE[] =
    "SELECT r.code, r.quantity, coalesce(sum(l.quantity * pc.quantity_per_unit), 0)::bigint, "
    "coalesce(string_agg(DISTINCT l.product_id::text, ',') FILTER (WHERE pc.code IS NOT NULL), '') "
    "FROM quotes q JOIN deal_requirements r ON r.deal_id = q.deal_id "
    "LEFT JOIN quote_lines l ON l.quote_id = q.id "
    "LEFT JOIN product_capabilities pc ON pc.product_id = l.product_id AND pc.code = r.code "
    "WHERE q.id = $1 "
    "GROUP BY r.position, r.code, r.quantity ORDER BY r.position";
static const char SQL_QUOTE_DEAL[] = "SELECT deal_id FROM quotes WHERE id = $1";
static const char SQL_LOCK_QUOTE[] = "SELECT state, valid_until < current_date, " LTC_SQL_DATE(
    "valid_until") ", author, approval_level, escalation_minutes, floor(extract(epoch FROM now() - submit_time) / "
                   "60)::bigint, total_minor, currency, deal_id, coalesce(" LTC_SQL_DATE(
                       "requested_date") ", '') FROM quotes WHERE id = $1 FOR UPDATE";
enum {
    K_STATE,
    K_EXPIRED,
    K_VALID,
    K_AUTHOR,
    K_LEVEL,
    K_ESCALATION,
    K_WAITED,
    K_TOTAL,
    K_CUR,
    K_DEAL,
    K_REQUESTED
};
static const char SQL_POLICY[] =
    "SELECT sales_max_bps, manager_max_bps, minimum_margin_bps, escalation_minutes, " LTC_SQL_MICROS(
        "update_time") " FROM discount_policy";
static const char SQL_SET_POLICY[] =
    "UPDATE discount_policy SET sales_max_bps = $1, manager_max_bps = $2, minimum_margin_bps = $3, "
    "escalation_minutes = $4, update_time = now() RETURNING sales_max_bps, manager_max_bps, minimum_margin_bps, "
    "escalation_minutes, " LTC_SQL_MICROS("update_time");
static const char SQL_PRIOR_LINES[] =
    "SELECT l.product_id, l.quantity, l.discount_bps, l.line_total_minor, l.approval, q.deal_id FROM quotes q "
    "JOIN quote_lines l ON l.quote_id = q.id WHERE q.id = $1";
static const char SQL_SEND_QUOTE[] =
    "UPDATE quotes SET state = 'SENT', send_time = now(), update_time = now(), atp_state = $2, "
    "atp_date = nullif($3, '')::date, atp_meets = $4::boolean, atp_reason = nullif($5, ''), atp_time = now() "
    "WHERE id = $1";
static const char SQL_REJECT_QUOTE[] =
    "UPDATE quotes SET state = 'REJECTED', rejection_reason = $2, update_time = now() WHERE id = $1";
static const char SQL_APPROVE_QUOTE[] =
    "UPDATE quotes SET state = 'APPROVED', approver = $2, approval_comment = $3, decide_time = now(), "
    "update_time = now() WHERE id = $1";
static const char SQL_APPROVE_LINES[] =
    "UPDATE quote_lines SET approval = 'APPROVED' WHERE quote_id = $1 AND approval = 'PENDING'";
static const char SQL_DENY_QUOTE[] =
    "UPDATE quotes SET state = 'REJECTED', approver = $2, approval_comment = $3, decide_time = now(), "
    "rejection_reason = 'approval denied: ' || $3, update_time = now() WHERE id = $1";
static const char SQL_ACCEPTED_OF_DEAL[] = "SELECT id FROM quotes WHERE deal_id = $1 AND state = 'ACCEPTED' LIMIT 1";
static const char SQL_ACCEPT_QUOTE[] =
    "UPDATE quotes SET state = 'ACCEPTED', accept_time = now(), update_time = now() WHERE id = $1";

/* A money message, or NULL when the column is SQL NULL (quotes priced before migration 004). */
static Ltc__Type__V1__Money *opt_money(ltc_call *c, const PGresult *r, int row, int col, const char *currency) {
    if (PQgetisnull(r, row, col)) return NULL;
    return ltc_money_msg(c, currency, ltc_pg_i64(r, row, col));
}

int bto_load_quote(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Quote **out) {
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_GET_QUOTE, 1, params);
    if (!r) return -1;
    if (PQntuples(r) != 1) {
        ltc_status_set(st, LTC_NOT_FOUND, "QUOTE_NOT_FOUND", "quote quotes/%s not found", id);
        return -1;
    }
    Ltc__Bto__V1__Quote *q = LTC_NEW(c, Ltc__Bto__V1__Quote, LTC__BTO__V1__QUOTE__INIT);
    const char *cur = ltc_call_strdup(c, ltc_pg_str(r, 0, Q_CUR));
    q->name = bto_name(c, "quotes", ltc_pg_str(r, 0, Q_ID));
    q->deal = bto_name(c, "deals", ltc_pg_str(r, 0, Q_DEAL));
    q->version = (int32_t)ltc_pg_i64(r, 0, Q_VERSION);
    q->total = ltc_money_msg_pg(c, r, 0, Q_TOTAL, Q_CUR);
    q->valid_until = ltc_date_from_pg(c, r, 0, Q_VALID);
    q->state = (Ltc__Bto__V1__QuoteState)ltc_enum_from_db(&ltc__bto__v1__quote_state__descriptor, "QUOTE_STATE_",
                                                          ltc_pg_str(r, 0, Q_STATE));
    q->create_time = ltc_ts_from_pg(c, r, 0, Q_CTIME);
    q->order_discount_bps = (int32_t)ltc_pg_i64(r, 0, Q_ODISC);
    q->price_book =
        PQgetisnull(r, 0, Q_BOOK) ? ltc_call_strdup(c, "") : bto_name(c, "priceBooks", ltc_pg_str(r, 0, Q_BOOK));
    int64_t total = ltc_pg_i64(r, 0, Q_TOTAL), tax = ltc_pg_i64(r, 0, Q_TAX_T);
    q->list_total = opt_money(c, r, 0, Q_LIST_T, cur);
    q->book_total = opt_money(c, r, 0, Q_BOOK_T, cur);
    q->tax_total = ltc_money_msg(c, cur, tax);
    q->gross_total = ltc_money_msg(c, cur, total + tax);
    if (!PQgetisnull(r, 0, Q_COST_T)) {
        int64_t cost = ltc_pg_i64(r, 0, Q_COST_T);
        q->cost_total = ltc_money_msg(c, cur, cost);
        q->margin = ltc_money_msg(c, cur, total - cost);
        q->margin_bps = bto_margin_bps(total - cost, total, cost);
    }
    q->revision_of = PQgetisnull(r, 0, Q_REVISION_OF) ? ltc_call_strdup(c, "")
                                                      : bto_name(c, "quotes", ltc_pg_str(r, 0, Q_REVISION_OF));
    q->author = ltc_call_strdup(c, ltc_pg_str(r, 0, Q_AUTHOR));
    q->rejection_reason = ltc_call_strdup(c, PQgetisnull(r, 0, Q_REJECTION) ? "" : ltc_pg_str(r, 0, Q_REJECTION));
    q->send_time = ltc_ts_from_pg(c, r, 0, Q_SEND);
    q->requested_date = ltc_date_from_pg(c, r, 0, Q_REQUESTED);
    if (!PQgetisnull(r, 0, Q_ATP_STATE)) {
        Ltc__Bto__V1__QuoteAvailability *a =
            LTC_NEW(c, Ltc__Bto__V1__QuoteAvailability, LTC__BTO__V1__QUOTE_AVAILABILITY__INIT);
        int known = strcmp(ltc_pg_str(r, 0, Q_ATP_STATE), "KNOWN") == 0;
        a->state = known ? LTC__BTO__V1__AVAILABILITY_STATE__AVAILABILITY_STATE_KNOWN
                         : LTC__BTO__V1__AVAILABILITY_STATE__AVAILABILITY_STATE_UNKNOWN;
        a->earliest_promise_date = ltc_date_from_pg(c, r, 0, Q_ATP_DATE);
        a->meets_requested_date = known && ltc_pg_bool(r, 0, Q_ATP_MEETS);
        a->reason = ltc_call_strdup(c, PQgetisnull(r, 0, Q_ATP_REASON) ? "" : ltc_pg_str(r, 0, Q_ATP_REASON));
        a->check_time = ltc_ts_from_pg(c, r, 0, Q_ATP_TIME);
        q->availability = a;
    }
    if (!PQgetisnull(r, 0, Q_SUBMIT)) {
        Ltc__Bto__V1__QuoteApproval *a = LTC_NEW(c, Ltc__Bto__V1__QuoteApproval, LTC__BTO__V1__QUOTE_APPROVAL__INIT);
        int level = (int)ltc_pg_i64(r, 0, Q_LEVEL), now_level = level;
        if (q->state == LTC__BTO__V1__QUOTE_STATE__QUOTE_STATE_PENDING_APPROVAL)
            now_level = bto_escalated_level(level, ltc_pg_i64(r, 0, Q_WAITED), (int32_t)ltc_pg_i64(r, 0, Q_ESCALATION));
        a->required_level = (Ltc__Bto__V1__ApprovalLevel)now_level;
        a->escalated = now_level > level;
        a->submit_time = ltc_ts_from_pg(c, r, 0, Q_SUBMIT);
        a->approver = ltc_call_strdup(c, PQgetisnull(r, 0, Q_APPROVER) ? "" : ltc_pg_str(r, 0, Q_APPROVER));
        a->comment = ltc_call_strdup(c, PQgetisnull(r, 0, Q_COMMENT) ? "" : ltc_pg_str(r, 0, Q_COMMENT));
        a->decide_time = ltc_ts_from_pg(c, r, 0, Q_DECIDE);
        q->approval = a;
    }
    if (!PQgetisnull(r, 0, Q_BOOK_T))
        q->effective_discount_bps = bto_effective_discount_bps(ltc_pg_i64(r, 0, Q_BOOK_T), total);
    PGresult *l = ltc_call_query(c, st, SQL_GET_LINES, 1, params);
    if (!l) return -1;
    int n = PQntuples(l);
    if (n > 0) {
        q->lines = ltc_call_alloc(c, (size_t)n * sizeof *q->lines);
        q->n_lines = (size_t)n;
    }
    for (int i = 0; i < n; i++) {
        Ltc__Bto__V1__QuoteLine *ql = LTC_NEW(c, Ltc__Bto__V1__QuoteLine, LTC__BTO__V1__QUOTE_LINE__INIT);
        ql->product = bto_name(c, "products", ltc_pg_str(l, i, L_PRODUCT));
        ql->quantity = ltc_pg_i64(l, i, L_QTY);
        ql->unit_list_price = ltc_money_msg_pg(c, l, i, L_UNIT_LIST, L_CUR);
        ql->discount_bps = (int32_t)ltc_pg_i64(l, i, L_DISC);
        ql->unit_price = ltc_money_msg_pg(c, l, i, L_UNIT_PRICE, L_CUR);
        ql->line_total = ltc_money_msg_pg(c, l, i, L_TOTAL, L_CUR);
        int64_t net = ltc_pg_i64(l, i, L_TOTAL);
        ql->list_amount = opt_money(c, l, i, L_LIST, cur);
        ql->book_amount = opt_money(c, l, i, L_BOOK, cur);
        ql->line_discount_amount = opt_money(c, l, i, L_LDISC, cur);
        ql->order_discount_amount = opt_money(c, l, i, L_ODISC, cur);
        ql->tax_class = ltc_call_strdup(c, ltc_pg_str(l, i, L_TAX_CLASS));
        ql->tax_rate_bps = (int32_t)ltc_pg_i64(l, i, L_TAX_BPS);
        ql->tax = ltc_money_msg(c, cur, ltc_pg_i64(l, i, L_TAX));
        if (!PQgetisnull(l, i, L_UNIT_COST)) {
            int64_t cost = ltc_pg_i64(l, i, L_UNIT_COST) * ql->quantity;
            ql->cost = ltc_money_msg(c, cur, cost);
            ql->margin = ltc_money_msg(c, cur, net - cost);
            ql->margin_bps = bto_margin_bps(net - cost, net, cost);
        }
        if (!PQgetisnull(l, i, L_BOOK))
            ql->effective_discount_bps = bto_effective_discount_bps(ltc_pg_i64(l, i, L_BOOK), net);
        const char *appr = ltc_pg_str(l, i, L_APPROVAL);
        ql->approval = strcmp(appr, "PENDING") == 0    ? LTC__BTO__V1__LINE_APPROVAL__LINE_APPROVAL_PENDING
                       : strcmp(appr, "APPROVED") == 0 ? LTC__BTO__V1__LINE_APPROVAL__LINE_APPROVAL_APPROVED
                                                       : LTC__BTO__V1__LINE_APPROVAL__LINE_APPROVAL_UNSPECIFIED;
        ql->approval_level = (Ltc__Bto__V1__ApprovalLevel)ltc_pg_i64(l, i, L_LEVEL);
        if (!PQgetisnull(l, i, L_VERSION)) ql->product_version = (int32_t)ltc_pg_i64(l, i, L_VERSION);
        ql->revenue_type = (Ltc__Type__V1__RevenueType)ltc_enum_from_db(&ltc__type__v1__revenue_type__descriptor,
                                                                        "REVENUE_TYPE_", ltc_pg_str(l, i, L_REVENUE));
        ql->service_months = (int32_t)ltc_pg_i64(l, i, L_MONTHS);
        q->lines[i] = ql;
    }
    PGresult *cv = ltc_call_query(c, st, SQL_COVERAGE, 1, params);
    if (!cv) return -1;
    int nc = PQntuples(cv);
    q->coverage = ltc_call_alloc(c, (size_t)(nc ? nc : 1) * sizeof *q->coverage);
    for (int i = 0; i < nc; i++) {
        Ltc__Bto__V1__RequirementCoverage *rc =
            LTC_NEW(c, Ltc__Bto__V1__RequirementCoverage, LTC__BTO__V1__REQUIREMENT_COVERAGE__INIT);
        rc->code = ltc_call_strdup(c, ltc_pg_str(cv, i, 0));
        rc->needed = ltc_pg_i64(cv, i, 1);
        rc->covered = ltc_pg_i64(cv, i, 2);
        rc->met = rc->needed > 0 ? rc->covered >= rc->needed : rc->covered > 0;
        char *list = ltc_call_strdup(c, ltc_pg_str(cv, i, 3));
        size_t np = list[0] ? 1 : 0;
        for (const char *x = list; *x; x++) np += *x == ',';
        rc->products = ltc_call_alloc(c, (np ? np : 1) * sizeof *rc->products);
        for (char *tok = np ? list : NULL; tok;) {
            char *comma = strchr(tok, ',');
            if (comma) *comma = '\0';
            rc->products[rc->n_products++] = bto_name(c, "products", tok);
            tok = comma ? comma + 1 : NULL;
        }
        q->coverage[q->n_coverage++] = rc;
    }
    *out = q;
    return 0;
}

/* Validates the request's fields (lines: 1 to 200, each a distinct product); fills the deal id, the product ids of
 * the lines and valid_until as text. */
static int validate_quote(ltc_call *c, const Ltc__Bto__V1__Quote *q, char deal_id[LTC_UUID_LEN + 1],
                          char (*product_ids)[LTC_UUID_LEN + 1], char valid_until[11], ltc_status *st) {
    if (!q) return ltc_status_bad_field(st, "quote", "required");
    ltc_name_parse(q->deal, "deals", "quote.deal", deal_id, st);
    if (q->n_lines == 0) {
        ltc_status_bad_field(st, "quote.lines", "at least one line is required");
    } else if (q->n_lines > BTO_MAX_QUOTE_LINES) {
        ltc_status_bad_field(st, "quote.lines", "at most %d lines", BTO_MAX_QUOTE_LINES);
    } else {
        for (size_t i = 0; i < q->n_lines; i++) {
            const Ltc__Bto__V1__QuoteLine *l = q->lines[i];
            const char *pfield = ltc_call_printf(c, "quote.lines[%zu].product", i);
            if (ltc_name_parse(l->product, "products", pfield, product_ids[i], st) == 0) {
                /* One line per product (OTD refuses an order naming a product twice). */
                for (size_t j = 0; j < i; j++)
                    if (strcmp(product_ids[j], product_ids[i]) == 0) {
                        ltc_status_bad_field(st, pfield, "duplicate product: quote.lines[%zu] has it already", j);
                        break;
                    }
            }
            if (l->quantity < 1 || l->quantity > 1000000)
                ltc_status_bad_field(st, ltc_call_printf(c, "quote.lines[%zu].quantity", i), "must be 1 to 1000000");
            if (l->discount_bps < 0 || l->discount_bps > 10000)
                ltc_status_bad_field(st, ltc_call_printf(c, "quote.lines[%zu].discount_bps", i), "must be 0 to 10000");
        }
    }
    if (q->order_discount_bps < 0 || q->order_discount_bps > 10000)
        ltc_status_bad_field(st, "quote.order_discount_bps", "must be 0 to 10000");
    if (ltc_date_to_text(q->valid_until, "quote.valid_until", 0, valid_until, st) == 0) {
        const char *params[1] = {valid_until};
        PGresult *r = ltc_call_query(c, st, SQL_DATE_IN_PAST, 1, params);
        if (!r) return -1;
        if (ltc_pg_bool(r, 0, 0)) ltc_status_bad_field(st, "quote.valid_until", "must not be in the past");
    }
    return st->code == LTC_OK ? 0 : -1;
}

/* The deal a quote is priced for: its currency (every quote of the deal is in it, so the cash collected reaches LTB
 * in the deal's currency) and its customer's country (tax). */
typedef struct deal_info {
    char currency[4];
    char country[3];
    char group[33]; /* the deal's customer group, "" for none */
} deal_info;

/* Locks the deal and checks that it is OPEN; fills *d when not NULL. */
static int lock_open_deal(ltc_call *c, ltc_status *st, const char *deal_id, deal_info *d) {
    const char *params[1] = {deal_id};
    PGresult *r = ltc_call_query(c, st, SQL_LOCK_DEAL, 1, params);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "DEAL_NOT_FOUND", "deal deals/%s not found", deal_id);
    const char *state = ltc_pg_str(r, 0, 0);
    if (strcmp(state, "OPEN") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "DEAL_NOT_OPEN", "deal deals/%s is %s, not OPEN", deal_id,
                              state);
    if (d) {
        snprintf(d->currency, sizeof d->currency, "%s", ltc_pg_str(r, 0, 1));
        snprintf(d->country, sizeof d->country, "%s", ltc_pg_str(r, 0, 2));
        snprintf(d->group, sizeof d->group, "%s", ltc_pg_str(r, 0, 3));
    }
    return 0;
}

/* A quote being priced: the engine's input and output per line, and what is stored beside them. */
typedef struct pricing {
    size_t n;
    char book_id[LTC_UUID_LEN + 1]; /* "" when priced from the catalogue */
    bto_price_line_in *in;
    bto_price_line_out *out;
    bto_tier *tiers; /* BTO_MAX_TIERS per line */
    const char **tax_class;
    int *from_book;        /* 1: the line's unit price and tiers are the book's; 0: the catalogue's list price */
    int *level;            /* the approval level each line needs (bto_approval_level) */
    const char **approval; /* NOT_REQUIRED, PENDING, or APPROVED (carried from the revised version) */
    bto_price_totals tot;
} pricing;

/* Row of `id` in column 0 of r, or -1. */
static int row_of_id(const PGresult *r, const char *id) {
    for (int k = 0; k < PQntuples(r); k++)
        if (strcmp(ltc_pg_str(r, k, 0), id) == 0) return k;
    return -1;
}

/* Picks the price book of the deal's currency valid today (the deal's customer group's before the default books)
 * and reads its entries of the lines' products into p->in (unit price and tiers), marking p->from_book. No book:
 * p->book_id "". A product the book does not list keeps the catalogue's list price (Odoo's pricelist fallback). */
static int read_price_book(ltc_call *c, ltc_status *st, const char *const *ids, const char *ids_array,
                           const deal_info *d, pricing *p) {
    const char *bp[1] = {d->currency};
    PGresult *b = ltc_call_query(c, st, SQL_BOOKS, 1, bp);
    if (!b) return -1;
    int nb = PQntuples(b);
    p->book_id[0] = '\0';
    if (nb == 0) return 0;
    bto_book_ref *refs = ltc_call_alloc(c, (size_t)nb * sizeof *refs);
    for (int k = 0; k < nb; k++)
        refs[k] = (bto_book_ref){d->currency, ltc_pg_str(b, k, 1), ltc_pg_str(b, k, 2), ltc_pg_str(b, k, 3)};
    PGresult *today = ltc_call_query(c, st, "SELECT " LTC_SQL_DATE("current_date"), 0, NULL);
    if (!today) return -1;
    long pick = bto_price_book_pick(refs, (size_t)nb, d->currency, d->group, ltc_pg_str(today, 0, 0));
    if (pick < 0) return 0;
    snprintf(p->book_id, sizeof p->book_id, "%s", ltc_pg_str(b, (int)pick, 0));
    const char *ep[2] = {p->book_id, ids_array};
    PGresult *e = ltc_call_query(c, st, SQL_BOOK_ENTRIES, 2, ep);
    if (!e) return -1;
    for (size_t i = 0; i < p->n; i++) {
        const char *pid = ids[i];
        bto_price_line_in *in = &p->in[i];
        in->n_tiers = 0;
        int found = 0;
        for (int k = 0; k < PQntuples(e); k++) {
            if (strcasecmp(ltc_pg_str(e, k, 0), pid) != 0) continue;
            found = 1;
            in->unit_list_minor = ltc_pg_i64(e, k, 1);
            const char *mode = ltc_pg_str(e, k, 2);
            in->tier_mode = strcmp(mode, "RANGE") == 0  ? BTO_TIERS_RANGE
                            : strcmp(mode, "SLAB") == 0 ? BTO_TIERS_SLAB
                                                        : BTO_TIERS_NONE;
            if (!PQgetisnull(e, k, 3) && in->n_tiers < BTO_MAX_TIERS) {
                bto_tier *t = &p->tiers[i * BTO_MAX_TIERS + in->n_tiers++];
                t->min_quantity = ltc_pg_i64(e, k, 3);
                t->unit_minor = ltc_pg_i64(e, k, 4);
            }
        }
        in->tiers = &p->tiers[i * BTO_MAX_TIERS];
        p->from_book[i] = found;
    }
    return 0;
}

/* Prices the lines: the price book of the deal's currency valid today, else the catalogue's list prices (which must
 * then be in the deal's currency); each product's cost in the quote's currency; tax by the product's tax class in the
 * customer's country. Fills *p; INVALID_ARGUMENT naming each bad line, NOT_FOUND "PRODUCT_NOT_FOUND",
 * FAILED_PRECONDITION "TAX_RATE_MISSING". */
static int price_lines(ltc_call *c, ltc_status *st, const Ltc__Bto__V1__Quote *q, char (*product_ids)[LTC_UUID_LEN + 1],
                       const deal_info *d, pricing *p) {
    size_t n = q->n_lines;
    p->n = n;
    p->in = ltc_call_alloc(c, n * sizeof *p->in);
    p->out = ltc_call_alloc(c, n * sizeof *p->out);
    p->tiers = ltc_call_alloc(c, n * BTO_MAX_TIERS * sizeof *p->tiers);
    p->tax_class = ltc_call_alloc(c, n * sizeof *p->tax_class);
    p->from_book = ltc_call_alloc(c, n * sizeof *p->from_book);
    memset(p->in, 0, n * sizeof *p->in);
    memset(p->from_book, 0, n * sizeof *p->from_book);
    const char **ids = ltc_call_alloc(c, n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = product_ids[i];
    const char *ids_array = ltc_sql_array(c, ids, n);
    const char *params[1] = {ids_array};
    PGresult *r = ltc_call_query(c, st, SQL_PRODUCTS, 1, params);
    if (!r) return -1;
    int *row = ltc_call_alloc(c, n * sizeof *row);
    for (size_t i = 0; i < n; i++)
        if ((row[i] = row_of_id(r, ids[i])) < 0)
            return ltc_status_set(st, LTC_NOT_FOUND, "PRODUCT_NOT_FOUND",
                                  "product %s (quote.lines[%zu].product) not found", q->lines[i]->product, i);
    if (read_price_book(c, st, ids, ids_array, d, p) != 0) return -1;
    int any_book = 0;
    for (size_t i = 0; i < n; i++) any_book |= p->from_book[i];
    if (!any_book) p->book_id[0] = '\0'; /* the quote names the book only when a line used it */
    for (size_t i = 0; i < n; i++) {
        const char *pcur = ltc_pg_str(r, row[i], 2);
        const char *field = ltc_call_printf(c, "quote.lines[%zu].product", i);
        if (strcmp(pcur, d->currency) != 0) {
            ltc_status_bad_field(st, field,
                                 "priced and costed in %s, but the deal is in %s: a quote is in its deal's currency "
                                 "(QUOTE_CURRENCY: the cash collected must reach LTB in the deal's currency)",
                                 pcur, d->currency);
            continue;
        }
        bto_price_line_in *in = &p->in[i];
        if (!p->from_book[i]) in->unit_list_minor = ltc_pg_i64(r, row[i], 1);
        in->quantity = q->lines[i]->quantity;
        in->discount_bps = q->lines[i]->discount_bps;
        in->unit_cost_minor = ltc_pg_i64(r, row[i], 3);
        p->tax_class[i] = ltc_pg_str(r, row[i], 4);
    }
    if (st->code != LTC_OK) return -1;
    /* tax rates of the lines' classes; a class without a rate for the country (nor a default) is refused */
    const char *tp[1] = {bto_sql_text_array(c, p->tax_class, n)};
    PGresult *t = ltc_call_query(c, st, SQL_TAX_RATES, 1, tp);
    if (!t) return -1;
    int nt = PQntuples(t);
    bto_tax_ref *rates = ltc_call_alloc(c, (size_t)(nt ? nt : 1) * sizeof *rates);
    for (int k = 0; k < nt; k++)
        rates[k] = (bto_tax_ref){ltc_pg_str(t, k, 0), ltc_pg_str(t, k, 1), (int32_t)ltc_pg_i64(t, k, 2)};
    for (size_t i = 0; i < n; i++) {
        if (!p->tax_class[i][0]) continue; /* not taxed by BTO */
        int32_t rate = bto_tax_rate_pick(rates, (size_t)nt, p->tax_class[i], d->country);
        if (rate < 0)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "TAX_RATE_MISSING",
                                  "no tax rate of class %s for country '%s' nor a default one (quote.lines[%zu]): "
                                  "SetTaxRate first",
                                  p->tax_class[i], d->country, i);
        p->in[i].tax_bps = rate;
    }
    bto_price_error err = {0};
    if (bto_price_quote(p->in, n, q->order_discount_bps, p->out, &p->tot, &err) != 0) {
        const char *field = err.line < 0 ? (err.field[0] ? ltc_call_printf(c, "quote.%s", err.field) : "quote.lines")
                                         : ltc_call_printf(c, "quote.lines[%ld].%s", err.line,
                                                           strcmp(err.field, "tiers") == 0 ? "product" : err.field);
        return ltc_status_bad_field(st, field, "%s", err.message);
    }
    return 0;
}

/* Writes the lines with unnest() of array parameters: one statement for up to 200 lines. */
static int insert_lines(ltc_call *c, ltc_status *st, const char *quote_id, const char *currency,
                        const Ltc__Bto__V1__Quote *q, char (*product_ids)[LTC_UUID_LEN + 1], const pricing *p) {
    size_t n = q->n_lines;
    enum {
        A_ID,
        A_QTY,
        A_BPS,
        A_ULIST,
        A_UNET,
        A_NET,
        A_LIST,
        A_BOOK,
        A_LD,
        A_OD,
        A_TCLASS,
        A_TBPS,
        A_TAX,
        A_COST,
        A_APPROVAL,
        A_LEVEL,
        A_N
    };
    const char **col[A_N];
    for (int k = 0; k < A_N; k++) col[k] = ltc_call_alloc(c, n * sizeof *col[k]);
    for (size_t i = 0; i < n; i++) {
        const bto_price_line_in *in = &p->in[i];
        const bto_price_line_out *o = &p->out[i];
        col[A_ID][i] = product_ids[i];
        col[A_QTY][i] = ltc_sql_i64(c, in->quantity);
        col[A_BPS][i] = ltc_sql_i64(c, in->discount_bps);
        col[A_ULIST][i] = ltc_sql_i64(c, in->unit_list_minor);
        col[A_UNET][i] = ltc_sql_i64(c, o->unit_net);
        col[A_NET][i] = ltc_sql_i64(c, o->net);
        col[A_LIST][i] = ltc_sql_i64(c, o->list_amount);
        col[A_BOOK][i] = ltc_sql_i64(c, o->book_amount);
        col[A_LD][i] = ltc_sql_i64(c, o->line_discount);
        col[A_OD][i] = ltc_sql_i64(c, o->order_discount);
        col[A_TCLASS][i] = p->tax_class[i];
        col[A_TBPS][i] = ltc_sql_i64(c, in->tax_bps);
        col[A_TAX][i] = ltc_sql_i64(c, o->tax);
        col[A_COST][i] = ltc_sql_i64(c, in->unit_cost_minor);
        col[A_APPROVAL][i] = p->approval[i];
        col[A_LEVEL][i] = ltc_sql_i64(c, p->level[i]);
    }
    const char *params[2 + A_N] = {quote_id, currency};
    for (int k = 0; k < A_N; k++) params[2 + k] = bto_sql_text_array(c, col[k], n);
    PGresult *r = ltc_call_query(c, st, SQL_INSERT_LINES, 2 + A_N, params);
    if (!r) return -1;
    if (strcmp(PQcmdTuples(r), ltc_sql_i64(c, (int64_t)n)) != 0)
        return ltc_status_set(st, LTC_ABORTED, "PRODUCT_CHANGED", "the catalogue changed while pricing the quote");
    return 0;
}

/* The configuration rules of the quote's lines (from the request's lines, or the stored lines of quote_id): every
 * broken rule is FAILED_PRECONDITION "CONFIGURATION_INVALID" naming quote.lines[i].product for each. */
static const char SQL_QUOTE_CONFIG[] =
    "SELECT product_id, quantity FROM quote_lines WHERE quote_id = $1 ORDER BY line_no";
static int check_configuration(ltc_call *c, ltc_status *st, char (*product_ids)[LTC_UUID_LEN + 1],
                               const Ltc__Bto__V1__Quote *q, const char *quote_id) {
    size_t n;
    const char **ids;
    int64_t *qty;
    if (quote_id) {
        const char *p[1] = {quote_id};
        PGresult *r = ltc_call_query(c, st, SQL_QUOTE_CONFIG, 1, p);
        if (!r) return -1;
        n = (size_t)PQntuples(r);
        ids = ltc_call_alloc(c, (n ? n : 1) * sizeof *ids);
        qty = ltc_call_alloc(c, (n ? n : 1) * sizeof *qty);
        for (size_t i = 0; i < n; i++) {
            ids[i] = ltc_call_strdup(c, ltc_pg_str(r, (int)i, 0));
            qty[i] = ltc_pg_i64(r, (int)i, 1);
        }
    } else {
        n = q->n_lines;
        ids = ltc_call_alloc(c, n * sizeof *ids);
        qty = ltc_call_alloc(c, n * sizeof *qty);
        for (size_t i = 0; i < n; i++) {
            ids[i] = product_ids[i];
            qty[i] = q->lines[i]->quantity;
        }
    }
    bto_config_violation *v;
    size_t nv;
    if (bto_configuration_check(c, st, ids, qty, n, &v, &nv) != 0) return -1;
    return nv ? bto_configuration_fail(c, st, "quote.lines", v, nv) : 0;
}

/* The discount policy into *pol. 0 or -1. */
static int read_policy(ltc_call *c, ltc_status *st, bto_discount_policy *pol) {
    PGresult *r = ltc_call_query(c, st, SQL_POLICY, 0, NULL);
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_INTERNAL, NULL, "the discount policy row is missing");
    pol->sales_max_bps = (int32_t)ltc_pg_i64(r, 0, 0);
    pol->manager_max_bps = (int32_t)ltc_pg_i64(r, 0, 1);
    pol->minimum_margin_bps = (int32_t)ltc_pg_i64(r, 0, 2);
    pol->escalation_minutes = (int32_t)ltc_pg_i64(r, 0, 3);
    return 0;
}

/* Each line's approval: the level its effective discount and margin need; NOT_REQUIRED at level 0; APPROVED when
 * the revised quote (revision_of, "" for none) of the same deal has the same product, quantity, discount and
 * amount approved (or within authority then); else PENDING. Fills *state ("DRAFT", "PENDING_APPROVAL",
 * "APPROVED") and *pending_level (the highest level pending, 0 when none). */
static int decide_approvals(ltc_call *c, ltc_status *st, const Ltc__Bto__V1__Quote *q,
                            char (*product_ids)[LTC_UUID_LEN + 1], const char *deal_id, const char *revision_of,
                            const bto_discount_policy *pol, pricing *p, const char **state, int *pending_level) {
    size_t n = p->n;
    p->level = ltc_call_alloc(c, n * sizeof *p->level);
    p->approval = ltc_call_alloc(c, n * sizeof *p->approval);
    PGresult *prior = NULL;
    if (revision_of[0]) {
        const char *pp[1] = {revision_of};
        if (!(prior = ltc_call_query(c, st, SQL_PRIOR_LINES, 1, pp))) return -1;
        if (PQntuples(prior) == 0 || strcmp(ltc_pg_str(prior, 0, 5), deal_id) != 0)
            return ltc_status_bad_field(st, "quote.revision_of", "not a quote of deals/%s", deal_id);
    }
    int any_approved = 0;
    *pending_level = 0;
    for (size_t i = 0; i < n; i++) {
        p->level[i] = bto_approval_level(&p->out[i], pol);
        p->approval[i] = "NOT_REQUIRED";
        if (p->level[i] == 0) continue;
        int carried = 0;
        for (int k = 0; prior && k < PQntuples(prior) && !carried; k++)
            carried = strcmp(ltc_pg_str(prior, k, 0), product_ids[i]) == 0 &&
                      ltc_pg_i64(prior, k, 1) == q->lines[i]->quantity &&
                      ltc_pg_i64(prior, k, 2) == q->lines[i]->discount_bps &&
                      ltc_pg_i64(prior, k, 3) == p->out[i].net && strcmp(ltc_pg_str(prior, k, 4), "PENDING") != 0 &&
                      strcmp(ltc_pg_str(prior, k, 4), "NOT_REQUIRED") != 0;
        if (carried) {
            p->approval[i] = "APPROVED";
            any_approved = 1;
        } else {
            p->approval[i] = "PENDING";
            if (p->level[i] > *pending_level) *pending_level = p->level[i];
        }
    }
    *state = *pending_level ? "PENDING_APPROVAL" : any_approved ? "APPROVED" : "DRAFT";
    return 0;
}

/* CreateQuote: prices a new quote version (DRAFT, or PENDING_APPROVAL when a line is beyond the seller's authority,
 * or APPROVED when every such line is carried approved from the version it revises) for an OPEN deal in the deal's currency (pricing.h: price book
 * or catalogue, tiers, line and order discounts, tax, margin), freezing the prices.
 * Errors: INVALID_ARGUMENT (quote.* fields, a product on two lines, a product not in the price book or priced in
 * another currency than the deal's, overflow, valid_until in the past), NOT_FOUND "DEAL_NOT_FOUND" /
 * "PRODUCT_NOT_FOUND", FAILED_PRECONDITION "DEAL_NOT_OPEN", "TAX_RATE_MISSING", "CONFIGURATION_INVALID" (every
 * broken rule named). */
int bto_create_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__CreateQuoteRequest *req = (const void *)m;
    const Ltc__Bto__V1__Quote *q = req->quote;
    char deal_id[LTC_UUID_LEN + 1], valid_until[11];
    size_t n = q && q->n_lines <= BTO_MAX_QUOTE_LINES ? q->n_lines : 0;
    char(*product_ids)[LTC_UUID_LEN + 1] = ltc_call_alloc(c, (n ? n : 1) * sizeof *product_ids);
    if (validate_quote(c, q, deal_id, product_ids, valid_until, st) != 0) return -1;
    deal_info d;
    if (lock_open_deal(c, st, deal_id, &d) != 0) return -1;
    pricing p;
    if (price_lines(c, st, q, product_ids, &d, &p) != 0) return -1;
    if (check_configuration(c, st, product_ids, q, NULL) != 0) return -1;
    char requested[11] = "";
    if (ltc_date_to_text(q->requested_date, "quote.requested_date", 1, requested, st) != 0) return -1;
    if (requested[0]) {
        const char *rp[1] = {requested};
        PGresult *pr = ltc_call_query(c, st, SQL_DATE_IN_PAST, 1, rp);
        if (!pr) return -1;
        if (ltc_pg_bool(pr, 0, 0)) return ltc_status_bad_field(st, "quote.requested_date", "must not be in the past");
    }
    char revision_of[LTC_UUID_LEN + 1] = "";
    if (q->revision_of[0] && ltc_name_parse(q->revision_of, "quotes", "quote.revision_of", revision_of, st) != 0)
        return -1;
    bto_discount_policy pol;
    const char *state = "DRAFT";
    int pending_level = 0;
    if (read_policy(c, st, &pol) != 0 ||
        decide_approvals(c, st, q, product_ids, deal_id, revision_of, &pol, &p, &state, &pending_level) != 0)
        return -1;
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *params[17] = {id,
                              deal_id,
                              ltc_sql_i64(c, p.tot.net),
                              d.currency,
                              valid_until,
                              ltc_sql_i64(c, q->order_discount_bps),
                              p.book_id,
                              ltc_sql_i64(c, p.tot.list_amount),
                              ltc_sql_i64(c, p.tot.book_amount),
                              ltc_sql_i64(c, p.tot.tax),
                              ltc_sql_i64(c, p.tot.cost),
                              state,
                              revision_of,
                              ltc_call_principal(c),
                              ltc_sql_i64(c, pending_level),
                              ltc_sql_i64(c, pol.escalation_minutes),
                              requested};
    if (!ltc_call_query(c, st, SQL_INSERT_QUOTE, 17, params)) return -1;
    if (insert_lines(c, st, id, d.currency, q, product_ids, &p) != 0) return -1;
    Ltc__Bto__V1__CreateQuoteResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__CreateQuoteResponse, LTC__BTO__V1__CREATE_QUOTE_RESPONSE__INIT);
    if (bto_load_quote(c, st, id, &resp->quote) != 0) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "quotes/%s", id), "state", NULL, state);
    ltc_audit_change_money(c, ltc_call_printf(c, "quotes/%s", id), "total", d.currency, 0, 0, p.tot.net, 1);
    ltc_audit_change(c, ltc_call_printf(c, "quotes/%s", id), "valid_until", NULL, valid_until);
    *out = &resp->base;
    return 0;
}

/* GetQuote: returns one quote with its lines. Errors: INVALID_ARGUMENT "name", NOT_FOUND "QUOTE_NOT_FOUND". */
int bto_get_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__GetQuoteRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "quotes", "name", id, st) != 0) return -1;
    Ltc__Bto__V1__GetQuoteResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__GetQuoteResponse, LTC__BTO__V1__GET_QUOTE_RESPONSE__INIT);
    if (bto_load_quote(c, st, id, &resp->quote) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* Parses `name`, locks the quote's deal then the quote (the order CreateQuote uses), and returns the locked row
 * (SQL_LOCK_QUOTE's columns, K_*) in *qr. `open_deal`: the deal must be OPEN. */
static int lock_quote(ltc_call *c, ltc_status *st, const char *name, char id[LTC_UUID_LEN + 1], int open_deal,
                      PGresult **qr) {
    if (ltc_name_parse(name, "quotes", "name", id, st) != 0) return -1;
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_QUOTE_DEAL, 1, params);
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_NOT_FOUND, "QUOTE_NOT_FOUND", "quote %s not found", name);
    const char *deal_id = ltc_call_strdup(c, ltc_pg_str(r, 0, 0));
    if (open_deal) {
        if (lock_open_deal(c, st, deal_id, NULL) != 0) return -1;
    } else {
        const char *dp[1] = {deal_id};
        if (!ltc_call_query(c, st, SQL_LOCK_DEAL, 1, dp)) return -1;
    }
    if (!(*qr = ltc_call_query(c, st, SQL_LOCK_QUOTE, 1, params))) return -1;
    if (PQntuples(*qr) != 1) return ltc_status_set(st, LTC_NOT_FOUND, "QUOTE_NOT_FOUND", "quote %s not found", name);
    return 0;
}

static int expired(ltc_status *st, const char *name, const PGresult *qr) {
    if (!ltc_pg_bool(qr, 0, K_EXPIRED)) return 0;
    return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_EXPIRED",
                          "quote %s expired after %s: revise it into a new version (quote.revision_of)", name,
                          ltc_pg_str(qr, 0, K_VALID));
}

/* Queues a BTO milestone of the quote's deal to LTB (amount: the quote's total; date: valid_until for SENT). */
static int quote_milestone(ltc_call *c, ltc_status *st, const PGresult *qr, const char *id, int kind, const char *date,
                           const char *detail) {
    ltc_money amount;
    snprintf(amount.currency, sizeof amount.currency, "%s", ltc_pg_str(qr, 0, K_CUR));
    amount.minor = ltc_pg_i64(qr, 0, K_TOTAL);
    ltc_milestone ms = {.deal_id = ltc_pg_str(qr, 0, K_DEAL),
                        .stage = LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_BTO,
                        .kind = kind,
                        .record = ltc_call_printf(c, "quotes/%s", id),
                        .amount = &amount,
                        .date = date ? date : "",
                        .detail = detail};
    return ltc_milestone_put(c, st, &ms);
}

/* A response's quote after a state change, the change recorded for the audit trail (from the locked row's state). */
static int respond_quote(ltc_call *c, ltc_status *st, const char *id, const char *old_state,
                         Ltc__Bto__V1__Quote **out) {
    if (bto_load_quote(c, st, id, out) != 0) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "quotes/%s", id), "state", old_state,
                     ltc_enum_to_db(&ltc__bto__v1__quote_state__descriptor, "QUOTE_STATE_", (int)(*out)->state));
    return 0;
}

/* SendQuote: DRAFT or APPROVED -> SENT; milestone QUOTE_SENT. Errors: INVALID_ARGUMENT "name", NOT_FOUND
 * "QUOTE_NOT_FOUND", FAILED_PRECONDITION "QUOTE_NOT_APPROVED", "QUOTE_NOT_SENDABLE", "QUOTE_EXPIRED",
 * "DEAL_NOT_OPEN". */
int bto_send_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__SendQuoteRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    PGresult *qr;
    if (lock_quote(c, st, req->name, id, 1, &qr) != 0) return -1;
    const char *state = ltc_pg_str(qr, 0, K_STATE);
    if (strcmp(state, "PENDING_APPROVAL") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_NOT_APPROVED",
                              "quote %s waits for approval: it cannot be sent before ApproveQuote", req->name);
    if (strcmp(state, "DRAFT") != 0 && strcmp(state, "APPROVED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_NOT_SENDABLE",
                              "quote %s is %s: only a DRAFT or APPROVED quote is sent", req->name, state);
    if (expired(st, req->name, qr) != 0) return -1;
    bto_atp_answer atp;
    if (bto_atp_check(c, st, id, ltc_pg_str(qr, 0, K_DEAL), ltc_pg_str(qr, 0, K_REQUESTED), &atp) != 0) return -1;
    const char *p[5] = {id, atp.known ? "KNOWN" : "UNKNOWN", atp.known ? atp.date : "",
                        atp.known ? (atp.meets ? "true" : "false") : NULL, atp.known ? "" : atp.reason};
    if (!ltc_call_query(c, st, SQL_SEND_QUOTE, 5, p)) return -1;
    if (quote_milestone(c, st, qr, id, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_QUOTE_SENT,
                        ltc_pg_str(qr, 0, K_VALID), NULL) != 0)
        return -1;
    Ltc__Bto__V1__SendQuoteResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__SendQuoteResponse, LTC__BTO__V1__SEND_QUOTE_RESPONSE__INIT);
    if (respond_quote(c, st, id, state, &resp->quote) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* RejectQuote: the customer's rejection of a DRAFT, APPROVED or SENT quote; milestone QUOTE_REJECTED.
 * Errors: INVALID_ARGUMENT "name", "reason"; NOT_FOUND "QUOTE_NOT_FOUND"; FAILED_PRECONDITION "QUOTE_NOT_OPEN". */
int bto_reject_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__RejectQuoteRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_check_text(req->reason, "reason", 1, 500, st);
    if (st->code != LTC_OK) return -1;
    PGresult *qr;
    if (lock_quote(c, st, req->name, id, 0, &qr) != 0) return -1;
    const char *state = ltc_pg_str(qr, 0, K_STATE);
    if (strcmp(state, "DRAFT") != 0 && strcmp(state, "APPROVED") != 0 && strcmp(state, "SENT") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_NOT_OPEN",
                              "quote %s is %s: only a DRAFT, APPROVED or SENT quote can be rejected", req->name, state);
    const char *p[2] = {id, req->reason};
    if (!ltc_call_query(c, st, SQL_REJECT_QUOTE, 2, p)) return -1;
    if (quote_milestone(c, st, qr, id, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_QUOTE_REJECTED, NULL,
                        req->reason) != 0)
        return -1;
    Ltc__Bto__V1__RejectQuoteResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__RejectQuoteResponse, LTC__BTO__V1__REJECT_QUOTE_RESPONSE__INIT);
    if (respond_quote(c, st, id, state, &resp->quote) != 0) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "quotes/%s", id), "reject_reason", NULL, req->reason);
    *out = &resp->base;
    return 0;
}

/* The approver's checks, common to ApproveQuote and DenyQuote: the quote is PENDING_APPROVAL and not expired; the
 * caller is known, is not the author, and has the level the pending lines need now (escalated lazily, here). */
static int check_approver(ltc_call *c, ltc_status *st, const char *name, const PGresult *qr) {
    const char *state = ltc_pg_str(qr, 0, K_STATE);
    if (strcmp(state, "PENDING_APPROVAL") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_NOT_PENDING_APPROVAL",
                              "quote %s is %s, not PENDING_APPROVAL", name, state);
    if (expired(st, name, qr) != 0) return -1;
    const char *who = ltc_call_principal(c);
    if (!who || !who[0])
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "APPROVER_UNKNOWN",
                              "an approval needs an authenticated approver (no principal on this call)");
    if (strcmp(who, ltc_pg_str(qr, 0, K_AUTHOR)) == 0)
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "SELF_APPROVAL",
                              "%s created quote %s and cannot approve it (four eyes)", who, name);
    int level = bto_escalated_level((int)ltc_pg_i64(qr, 0, K_LEVEL), ltc_pg_i64(qr, 0, K_WAITED),
                                    (int32_t)ltc_pg_i64(qr, 0, K_ESCALATION));
    unsigned roles = ltc_call_roles(c);
    int may = level >= 2 ? (roles & LTC_ROLE_ADMIN) != 0 : (roles & (LTC_ROLE_MANAGER | LTC_ROLE_ADMIN)) != 0;
    if (!may)
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "APPROVER_LEVEL_TOO_LOW",
                              "quote %s needs a %s to approve it%s", name, level >= 2 ? "director (admin)" : "manager",
                              level > ltc_pg_i64(qr, 0, K_LEVEL) ? " (escalated: it waited too long)" : "");
    return 0;
}

/* ApproveQuote: PENDING_APPROVAL -> APPROVED, its pending lines approved (frozen). Errors: see check_approver;
 * INVALID_ARGUMENT "name", "comment"; NOT_FOUND "QUOTE_NOT_FOUND". */
int bto_approve_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__ApproveQuoteRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_check_text(req->comment, "comment", 0, 500, st);
    if (st->code != LTC_OK) return -1;
    PGresult *qr;
    if (lock_quote(c, st, req->name, id, 0, &qr) != 0 || check_approver(c, st, req->name, qr) != 0) return -1;
    const char *p[3] = {id, ltc_call_principal(c), req->comment};
    if (!ltc_call_query(c, st, SQL_APPROVE_QUOTE, 3, p) || !ltc_call_query(c, st, SQL_APPROVE_LINES, 1, p)) return -1;
    Ltc__Bto__V1__ApproveQuoteResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__ApproveQuoteResponse, LTC__BTO__V1__APPROVE_QUOTE_RESPONSE__INIT);
    if (respond_quote(c, st, id, ltc_pg_str(qr, 0, K_STATE), &resp->quote) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* DenyQuote: PENDING_APPROVAL -> REJECTED ("approval denied: <comment>"). Errors: as ApproveQuote; "comment" is
 * required. */
int bto_deny_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__DenyQuoteRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_check_text(req->comment, "comment", 1, 500, st);
    if (st->code != LTC_OK) return -1;
    PGresult *qr;
    if (lock_quote(c, st, req->name, id, 0, &qr) != 0 || check_approver(c, st, req->name, qr) != 0) return -1;
    const char *p[3] = {id, ltc_call_principal(c), req->comment};
    if (!ltc_call_query(c, st, SQL_DENY_QUOTE, 3, p)) return -1;
    Ltc__Bto__V1__DenyQuoteResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__DenyQuoteResponse, LTC__BTO__V1__DENY_QUOTE_RESPONSE__INIT);
    if (respond_quote(c, st, id, ltc_pg_str(qr, 0, K_STATE), &resp->quote) != 0) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "quotes/%s", id), "deny_comment", NULL, req->comment);
    *out = &resp->base;
    return 0;
}

static Ltc__Bto__V1__DiscountPolicy *policy_from_row(ltc_call *c, const PGresult *r) {
    Ltc__Bto__V1__DiscountPolicy *p = LTC_NEW(c, Ltc__Bto__V1__DiscountPolicy, LTC__BTO__V1__DISCOUNT_POLICY__INIT);
    p->sales_max_discount_bps = (int32_t)ltc_pg_i64(r, 0, 0);
    p->manager_max_discount_bps = (int32_t)ltc_pg_i64(r, 0, 1);
    p->minimum_margin_bps = (int32_t)ltc_pg_i64(r, 0, 2);
    p->escalation_minutes = (int32_t)ltc_pg_i64(r, 0, 3);
    p->update_time = ltc_ts_from_pg(c, r, 0, 4);
    return p;
}

/* GetDiscountPolicy: the policy. */
int bto_get_discount_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    (void)m;
    PGresult *r = ltc_call_query(c, st, SQL_POLICY, 0, NULL);
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_INTERNAL, NULL, "the discount policy row is missing");
    Ltc__Bto__V1__GetDiscountPolicyResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__GetDiscountPolicyResponse, LTC__BTO__V1__GET_DISCOUNT_POLICY_RESPONSE__INIT);
    resp->policy = policy_from_row(c, r);
    *out = &resp->base;
    return 0;
}

/* SetDiscountPolicy: replaces the policy. Errors: INVALID_ARGUMENT (policy.*). */
int bto_set_discount_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__SetDiscountPolicyRequest *req = (const void *)m;
    const Ltc__Bto__V1__DiscountPolicy *p = req->policy;
    if (!p) return ltc_status_bad_field(st, "policy", "required");
    if (p->sales_max_discount_bps < 0 || p->sales_max_discount_bps > 10000)
        ltc_status_bad_field(st, "policy.sales_max_discount_bps", "must be 0 to 10000");
    if (p->manager_max_discount_bps < p->sales_max_discount_bps || p->manager_max_discount_bps > 10000)
        ltc_status_bad_field(st, "policy.manager_max_discount_bps", "must be sales_max_discount_bps to 10000");
    if (p->minimum_margin_bps < -10000 || p->minimum_margin_bps > 10000)
        ltc_status_bad_field(st, "policy.minimum_margin_bps", "must be -10000 to 10000");
    if (p->escalation_minutes < 1 || p->escalation_minutes > 525600)
        ltc_status_bad_field(st, "policy.escalation_minutes", "must be 1 to 525600");
    if (st->code != LTC_OK) return -1;
    const char *params[4] = {ltc_sql_i64(c, p->sales_max_discount_bps), ltc_sql_i64(c, p->manager_max_discount_bps),
                             ltc_sql_i64(c, p->minimum_margin_bps), ltc_sql_i64(c, p->escalation_minutes)};
    PGresult *before = ltc_call_query(c, st, SQL_POLICY, 0, NULL);
    if (!before) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_SET_POLICY, 4, params);
    if (!r) return -1;
    static const char *const FIELDS[4] = {"sales_max_discount_bps", "manager_max_discount_bps", "minimum_margin_bps",
                                          "escalation_minutes"};
    for (int k = 0; k < 4; k++)
        ltc_audit_change(c, "discountPolicy", FIELDS[k], PQntuples(before) ? ltc_pg_str(before, 0, k) : NULL,
                         ltc_pg_str(r, 0, k));
    Ltc__Bto__V1__SetDiscountPolicyResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__SetDiscountPolicyResponse, LTC__BTO__V1__SET_DISCOUNT_POLICY_RESPONSE__INIT);
    resp->policy = policy_from_row(c, r);
    *out = &resp->base;
    return 0;
}

/* AcceptQuote: records the customer's acceptance of a DRAFT, APPROVED or SENT quote (a DRAFT one needed no
 * approval); a deal has at most one accepted quote; milestone QUOTE_ACCEPTED.
 * Errors: INVALID_ARGUMENT "name", NOT_FOUND "QUOTE_NOT_FOUND", FAILED_PRECONDITION "QUOTE_NOT_APPROVED",
 * "QUOTE_NOT_DRAFT" (ACCEPTED or REJECTED), "QUOTE_EXPIRED" (valid_until before today), "CONFIGURATION_INVALID",
 * "DEAL_NOT_OPEN", "DEAL_HAS_ACCEPTED_QUOTE". */
int bto_accept_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__AcceptQuoteRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    PGresult *qr;
    if (lock_quote(c, st, req->name, id, 1, &qr) != 0) return -1;
    const char *params[1] = {id};
    const char *dp[1] = {ltc_pg_str(qr, 0, K_DEAL)};
    const char *state = ltc_pg_str(qr, 0, K_STATE);
    if (strcmp(state, "PENDING_APPROVAL") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_NOT_APPROVED",
                              "quote %s waits for approval: it cannot be accepted before ApproveQuote", req->name);
    if (strcmp(state, "DRAFT") != 0 && strcmp(state, "APPROVED") != 0 && strcmp(state, "SENT") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_NOT_DRAFT",
                              "quote %s is %s, not DRAFT, APPROVED or SENT", req->name, state);
    if (expired(st, req->name, qr) != 0) return -1;
    /* the rules may have changed since the quote was priced: a quote is never accepted with a broken rule */
    if (check_configuration(c, st, NULL, NULL, id) != 0) return -1;
    PGresult *ar = ltc_call_query(c, st, SQL_ACCEPTED_OF_DEAL, 1, dp);
    if (!ar) return -1;
    if (PQntuples(ar) > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "DEAL_HAS_ACCEPTED_QUOTE",
                              "deal deals/%s already has an accepted quote, quotes/%s", dp[0], ltc_pg_str(ar, 0, 0));
    if (!ltc_call_query(c, st, SQL_ACCEPT_QUOTE, 1, params)) return -1;
    if (quote_milestone(c, st, qr, id, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_QUOTE_ACCEPTED, NULL, NULL) != 0)
        return -1;
    Ltc__Bto__V1__AcceptQuoteResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__AcceptQuoteResponse, LTC__BTO__V1__ACCEPT_QUOTE_RESPONSE__INIT);
    if (respond_quote(c, st, id, state, &resp->quote) != 0) return -1;
    *out = &resp->base;
    return 0;
}
