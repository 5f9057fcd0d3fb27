/* quotes.c - quotes (报价) priced from the catalogue: CreateQuote, GetQuote, AcceptQuote.
 * A deal's quotes are versions 1, 2, ...; prices are frozen on the quote lines when the quote is created. */
#include <string.h>

#include "bto.h"
#include "ltc/ids.h"
#include "ltc/money.h"
#include "ltc/proto.h"

static const char SQL_DATE_IN_PAST[] = "SELECT $1::date < current_date";
static const char SQL_LOCK_DEAL[] = "SELECT state FROM deals WHERE id = $1 FOR UPDATE";
static const char SQL_PRODUCTS[] = "SELECT id, list_price_minor, currency FROM products WHERE id = ANY($1::uuid[])";
/* The next version of the deal (its row is locked, so versions are serialised). */
static const char SQL_INSERT_QUOTE[] =
    "INSERT INTO quotes (id, deal_id, version, total_minor, currency, valid_until, state) "
    "SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5::date, 'DRAFT' FROM quotes WHERE deal_id = $2";
static const char SQL_INSERT_LINES[] =
    "INSERT INTO quote_lines (quote_id, line_no, product_id, sku, quantity, discount_bps, unit_list_minor, "
    "unit_price_minor, line_total_minor, currency) "
    "SELECT $1, l.n - 1, l.product_id, p.sku, l.quantity, l.bps, l.list_minor, l.price_minor, l.total_minor, $2 "
    "FROM unnest($3::uuid[], $4::bigint[], $5::int[], $6::bigint[], $7::bigint[], $8::bigint[]) "
    "WITH ORDINALITY AS l(product_id, quantity, bps, list_minor, price_minor, total_minor, n) "
    "JOIN products p ON p.id = l.product_id";
static const char SQL_GET_QUOTE[] = "SELECT id, deal_id, version, total_minor, currency, " LTC_SQL_DATE(
    "valid_until") ", state, " LTC_SQL_MICROS("create_time") " FROM quotes WHERE id = $1";
static const char SQL_GET_LINES[] =
    "SELECT product_id, quantity, unit_list_minor, discount_bps, unit_price_minor, line_total_minor, currency "
    "FROM quote_lines WHERE quote_id = $1 ORDER BY line_no";
static const char SQL_QUOTE_DEAL[] = "SELECT deal_id FROM quotes WHERE id = $1";
static const char SQL_LOCK_QUOTE[] =
    "SELECT state, valid_until < current_date, " LTC_SQL_DATE("valid_until") " FROM quotes WHERE id = $1 FOR UPDATE";
static const char SQL_ACCEPTED_OF_DEAL[] = "SELECT id FROM quotes WHERE deal_id = $1 AND state = 'ACCEPTED' LIMIT 1";
static const char SQL_ACCEPT_QUOTE[] =
    "UPDATE quotes SET state = 'ACCEPTED', accept_time = now(), update_time = now() WHERE id = $1";

int bto_load_quote(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Quote **out) {
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_GET_QUOTE, 1, params);
    if (!r) return -1;
    if (PQntuples(r) != 1) {
        ltc_status_set(st, LTC_NOT_FOUND, "QUOTE_NOT_FOUND", "quote quotes/%s not found", id);
        return -1;
    }
    Ltc__Bto__V1__Quote *q = LTC_NEW(c, Ltc__Bto__V1__Quote, LTC__BTO__V1__QUOTE__INIT);
    q->name = bto_name(c, "quotes", ltc_pg_str(r, 0, 0));
    q->deal = bto_name(c, "deals", ltc_pg_str(r, 0, 1));
    q->version = (int32_t)ltc_pg_i64(r, 0, 2);
    q->total = ltc_money_msg_pg(c, r, 0, 3, 4);
    q->valid_until = ltc_date_from_pg(c, r, 0, 5);
    q->state = (Ltc__Bto__V1__QuoteState)ltc_enum_from_db(&ltc__bto__v1__quote_state__descriptor, "QUOTE_STATE_",
                                                          ltc_pg_str(r, 0, 6));
    q->create_time = ltc_ts_from_pg(c, r, 0, 7);
    PGresult *l = ltc_call_query(c, st, SQL_GET_LINES, 1, params);
    if (!l) return -1;
    int n = PQntuples(l);
    if (n > 0) {
        q->lines = ltc_call_alloc(c, (size_t)n * sizeof *q->lines);
        q->n_lines = (size_t)n;
    }
    for (int i = 0; i < n; i++) {
        Ltc__Bto__V1__QuoteLine *ql = LTC_NEW(c, Ltc__Bto__V1__QuoteLine, LTC__BTO__V1__QUOTE_LINE__INIT);
        ql->product = bto_name(c, "products", ltc_pg_str(l, i, 0));
        ql->quantity = ltc_pg_i64(l, i, 1);
        ql->unit_list_price = ltc_money_msg_pg(c, l, i, 2, 6);
        ql->discount_bps = (int32_t)ltc_pg_i64(l, i, 3);
        ql->unit_price = ltc_money_msg_pg(c, l, i, 4, 6);
        ql->line_total = ltc_money_msg_pg(c, l, i, 5, 6);
        q->lines[i] = ql;
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
    if (ltc_date_to_text(q->valid_until, "quote.valid_until", 0, valid_until, st) == 0) {
        const char *params[1] = {valid_until};
        PGresult *r = ltc_call_query(c, st, SQL_DATE_IN_PAST, 1, params);
        if (!r) return -1;
        if (ltc_pg_bool(r, 0, 0)) ltc_status_bad_field(st, "quote.valid_until", "must not be in the past");
    }
    return st->code == LTC_OK ? 0 : -1;
}

/* Locks the deal and checks that it is OPEN. */
static int lock_open_deal(ltc_call *c, ltc_status *st, const char *deal_id) {
    const char *params[1] = {deal_id};
    PGresult *r = ltc_call_query(c, st, SQL_LOCK_DEAL, 1, params);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "DEAL_NOT_FOUND", "deal deals/%s not found", deal_id);
    const char *state = ltc_pg_str(r, 0, 0);
    if (strcmp(state, "OPEN") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "DEAL_NOT_OPEN", "deal deals/%s is %s, not OPEN", deal_id,
                              state);
    return 0;
}

/* One priced line. */
typedef struct priced_line {
    int64_t list, price, total;
} priced_line;

/* Prices the lines from the catalogue: every product must exist and all be in one currency. Fills lines, the
 * currency (4 bytes) and the total. */
static int price_lines(ltc_call *c, ltc_status *st, const Ltc__Bto__V1__Quote *q, char (*product_ids)[LTC_UUID_LEN + 1],
                       priced_line *lines, char *currency, int64_t *total) {
    size_t n = q->n_lines;
    const char **ids = ltc_call_alloc(c, n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = product_ids[i];
    const char *params[1] = {ltc_sql_array(c, ids, n)};
    PGresult *r = ltc_call_query(c, st, SQL_PRODUCTS, 1, params);
    if (!r) return -1;
    int np = PQntuples(r);
    int *row_of = ltc_call_alloc(c, n * sizeof *row_of);
    for (size_t i = 0; i < n; i++) {
        row_of[i] = -1;
        for (int k = 0; k < np && row_of[i] < 0; k++)
            if (strcmp(ltc_pg_str(r, k, 0), ids[i]) == 0) row_of[i] = k;
        if (row_of[i] < 0)
            return ltc_status_set(st, LTC_NOT_FOUND, "PRODUCT_NOT_FOUND",
                                  "product %s (quote.lines[%zu].product) "
                                  "not found",
                                  q->lines[i]->product, i);
    }
    const char *cur0 = ltc_pg_str(r, row_of[0], 2);
    *total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *cur = ltc_pg_str(r, row_of[i], 2);
        if (strcmp(cur, cur0) != 0) {
            ltc_status_bad_field(st, ltc_call_printf(c, "quote.lines[%zu].product", i),
                                 "priced in %s, but quote.lines[0] in %s: a quote has one currency", cur, cur0);
            continue;
        }
        priced_line *pl = &lines[i];
        pl->list = ltc_pg_i64(r, row_of[i], 1);
        pl->price = pl->list - ltc_apply_bps(pl->list, q->lines[i]->discount_bps);
        if (ltc_i64_mul(q->lines[i]->quantity, pl->price, &pl->total) != 0 || ltc_i64_add(*total, pl->total, total))
            ltc_status_bad_field(st, ltc_call_printf(c, "quote.lines[%zu].quantity", i), "the amount overflows");
    }
    memcpy(currency, cur0, 3);
    currency[3] = '\0';
    return st->code == LTC_OK ? 0 : -1;
}

/* Writes the lines with unnest() of array parameters: one statement for up to 200 lines. */
static int insert_lines(ltc_call *c, ltc_status *st, const char *quote_id, const char *currency,
                        const Ltc__Bto__V1__Quote *q, char (*product_ids)[LTC_UUID_LEN + 1], const priced_line *lines) {
    size_t n = q->n_lines;
    const char **ids = ltc_call_alloc(c, n * sizeof *ids);
    const char **qty = ltc_call_alloc(c, n * sizeof *qty), **bps = ltc_call_alloc(c, n * sizeof *bps);
    const char **list = ltc_call_alloc(c, n * sizeof *list), **price = ltc_call_alloc(c, n * sizeof *price);
    const char **tot = ltc_call_alloc(c, n * sizeof *tot);
    for (size_t i = 0; i < n; i++) {
        ids[i] = product_ids[i];
        qty[i] = ltc_sql_i64(c, q->lines[i]->quantity);
        bps[i] = ltc_sql_i64(c, q->lines[i]->discount_bps);
        list[i] = ltc_sql_i64(c, lines[i].list);
        price[i] = ltc_sql_i64(c, lines[i].price);
        tot[i] = ltc_sql_i64(c, lines[i].total);
    }
    const char *params[8] = {quote_id,
                             currency,
                             ltc_sql_array(c, ids, n),
                             ltc_sql_array(c, qty, n),
                             ltc_sql_array(c, bps, n),
                             ltc_sql_array(c, list, n),
                             ltc_sql_array(c, price, n),
                             ltc_sql_array(c, tot, n)};
    PGresult *r = ltc_call_query(c, st, SQL_INSERT_LINES, 8, params);
    if (!r) return -1;
    if (strcmp(PQcmdTuples(r), ltc_sql_i64(c, (int64_t)n)) != 0)
        return ltc_status_set(st, LTC_ABORTED, "PRODUCT_CHANGED", "the catalogue changed while pricing the quote");
    return 0;
}

/* CreateQuote: prices a new quote version (DRAFT) for an OPEN deal from the catalogue, freezing the prices.
 * Errors: INVALID_ARGUMENT (quote.* fields, a product on two lines, mixed currencies, overflow, valid_until in the
 * past), NOT_FOUND "DEAL_NOT_FOUND" / "PRODUCT_NOT_FOUND", FAILED_PRECONDITION "DEAL_NOT_OPEN". */
int bto_create_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__CreateQuoteRequest *req = (const void *)m;
    const Ltc__Bto__V1__Quote *q = req->quote;
    char deal_id[LTC_UUID_LEN + 1], valid_until[11];
    size_t n = q && q->n_lines <= BTO_MAX_QUOTE_LINES ? q->n_lines : 0;
    char(*product_ids)[LTC_UUID_LEN + 1] = ltc_call_alloc(c, (n ? n : 1) * sizeof *product_ids);
    if (validate_quote(c, q, deal_id, product_ids, valid_until, st) != 0) return -1;
    if (lock_open_deal(c, st, deal_id) != 0) return -1;
    priced_line *lines = ltc_call_alloc(c, n * sizeof *lines);
    char currency[4];
    int64_t total = 0;
    if (price_lines(c, st, q, product_ids, lines, currency, &total) != 0) return -1;
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *params[5] = {id, deal_id, ltc_sql_i64(c, total), currency, valid_until};
    if (!ltc_call_query(c, st, SQL_INSERT_QUOTE, 5, params)) return -1;
    if (insert_lines(c, st, id, currency, q, product_ids, lines) != 0) return -1;
    Ltc__Bto__V1__CreateQuoteResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__CreateQuoteResponse, LTC__BTO__V1__CREATE_QUOTE_RESPONSE__INIT);
    if (bto_load_quote(c, st, id, &resp->quote) != 0) return -1;
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

/* AcceptQuote: records the customer's acceptance of a DRAFT quote; a deal has at most one accepted quote.
 * Errors: INVALID_ARGUMENT "name", NOT_FOUND "QUOTE_NOT_FOUND", FAILED_PRECONDITION "QUOTE_NOT_DRAFT",
 * "QUOTE_EXPIRED" (valid_until before today), "DEAL_HAS_ACCEPTED_QUOTE". */
int bto_accept_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__AcceptQuoteRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "quotes", "name", id, st) != 0) return -1;
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_QUOTE_DEAL, 1, params);
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_NOT_FOUND, "QUOTE_NOT_FOUND", "quote %s not found", req->name);
    /* Lock order deal -> quote, as CreateQuote: acceptances of one deal are serialised. */
    const char *dp[1] = {ltc_pg_str(r, 0, 0)};
    if (!ltc_call_query(c, st, SQL_LOCK_DEAL, 1, dp)) return -1;
    PGresult *qr = ltc_call_query(c, st, SQL_LOCK_QUOTE, 1, params);
    if (!qr) return -1;
    if (PQntuples(qr) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "QUOTE_NOT_FOUND", "quote %s not found", req->name);
    const char *state = ltc_pg_str(qr, 0, 0);
    if (strcmp(state, "DRAFT") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_NOT_DRAFT", "quote %s is %s, not DRAFT", req->name,
                              state);
    if (ltc_pg_bool(qr, 0, 1))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "QUOTE_EXPIRED", "quote %s expired after %s", req->name,
                              ltc_pg_str(qr, 0, 2));
    PGresult *ar = ltc_call_query(c, st, SQL_ACCEPTED_OF_DEAL, 1, dp);
    if (!ar) return -1;
    if (PQntuples(ar) > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "DEAL_HAS_ACCEPTED_QUOTE",
                              "deal deals/%s already has an accepted quote, quotes/%s", dp[0], ltc_pg_str(ar, 0, 0));
    if (!ltc_call_query(c, st, SQL_ACCEPT_QUOTE, 1, params)) return -1;
    Ltc__Bto__V1__AcceptQuoteResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__AcceptQuoteResponse, LTC__BTO__V1__ACCEPT_QUOTE_RESPONSE__INIT);
    if (bto_load_quote(c, st, id, &resp->quote) != 0) return -1;
    *out = &resp->base;
    return 0;
}
