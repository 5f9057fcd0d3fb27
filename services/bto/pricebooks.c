/* pricebooks.c - price books (价目表) and tax rates: CreatePriceBook, GetPriceBook, SetTaxRate, ListTaxRates. A quote
 * is priced from the book of its deal's currency valid on the business date (quotes.c, pricing.h). */
#include <string.h>

#include "bto.h"
#include "ltc/audit.h"
#include "ltc/ids.h"
#include "ltc/money.h"
#include "ltc/proto.h"
#include "pricing.h"

#define BTO_MAX_BOOK_ENTRIES 500

static const char SQL_INSERT_BOOK[] =
    "INSERT INTO price_books (id, display_name, currency, customer_group, valid_from, valid_until) "
    "VALUES ($1, $2, $3, $4, $5::date, nullif($6, '')::date)";
static const char SQL_INSERT_ENTRIES[] =
    "INSERT INTO price_book_entries (price_book_id, position, product_id, unit_price_minor, tier_mode, tier_min_qty, "
    "tier_unit_minor) SELECT $1, e.n - 1, e.product_id, e.unit_minor, e.mode, string_to_array(e.qty, ',')::bigint[], string_to_array(e.unit, ',')::bigint[] "
    "FROM unnest($2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY "
    "AS e(product_id, unit_minor, mode, qty, unit, n) JOIN products p ON p.id = e.product_id";
static const char SQL_GET_BOOK[] = "SELECT id, display_name, currency, customer_group, " LTC_SQL_DATE(
    "valid_from") ", " LTC_SQL_DATE("valid_until") ", " LTC_SQL_MICROS("create_time") " FROM price_books WHERE id = $1";
static const char SQL_GET_ENTRIES[] =
    "SELECT e.product_id, e.unit_price_minor, e.tier_mode, t.q, t.u FROM price_book_entries e "
    "LEFT JOIN LATERAL unnest(e.tier_min_qty, e.tier_unit_minor) AS t(q, u) ON true "
    "WHERE e.price_book_id = $1 ORDER BY e.position, t.q";
static const char SQL_UPSERT_TAX[] =
    "INSERT INTO tax_rates (tax_class, country, rate_bps) VALUES ($1, $2, $3) ON CONFLICT (tax_class, country) "
    "DO UPDATE SET rate_bps = EXCLUDED.rate_bps, update_time = now() "
    "RETURNING tax_class, country, rate_bps, " LTC_SQL_MICROS("update_time");
static const char SQL_LIST_TAX[] = "SELECT tax_class, country, rate_bps, " LTC_SQL_MICROS(
    "update_time") ", seq FROM tax_rates WHERE ($1 = '' OR tax_class = $1) AND seq > $2::bigint ORDER BY seq LIMIT $3";

/* "a,b,c" of n int64s (string_to_array in SQL), in the arena. */
static char *int_list(ltc_call *c, const int64_t *v, size_t n) {
    char *s = ltc_call_strdup(c, "");
    for (size_t i = 0; i < n; i++) s = ltc_call_printf(c, "%s%s%lld", s, i ? "," : "", (long long)v[i]);
    return s;
}

/* Validates one entry (its product's id into `pid`); adds every violation to st. */
static void check_entry(ltc_call *c, const Ltc__Bto__V1__PriceBookEntry *e, size_t i, const char *currency,
                        char pid[LTC_UUID_LEN + 1], int64_t *unit, int64_t *qty, int64_t *tier_unit, ltc_status *st) {
    const char *f = ltc_call_printf(c, "price_book.entries[%zu]", i);
    ltc_name_parse(e->product, "products", ltc_call_printf(c, "%s.product", f), pid, st);
    ltc_money m;
    const char *uf = ltc_call_printf(c, "%s.unit_price", f);
    if (ltc_money_from_proto(e->unit_price, uf, 0, &m, st) == 0) {
        if (currency && strcmp(m.currency, currency) != 0)
            ltc_status_bad_field(st, uf, "currency %s differs from the book's %s", m.currency, currency);
        *unit = m.minor;
    }
    int tiered = e->tier_mode != LTC__BTO__V1__TIER_MODE__TIER_MODE_UNSPECIFIED;
    if (e->tier_mode != LTC__BTO__V1__TIER_MODE__TIER_MODE_UNSPECIFIED &&
        e->tier_mode != LTC__BTO__V1__TIER_MODE__TIER_MODE_RANGE &&
        e->tier_mode != LTC__BTO__V1__TIER_MODE__TIER_MODE_SLAB)
        ltc_status_bad_field(st, ltc_call_printf(c, "%s.tier_mode", f), "unknown tier mode");
    if (!tiered && e->n_tiers > 0)
        ltc_status_bad_field(st, ltc_call_printf(c, "%s.tiers", f), "tiers need a tier_mode (RANGE or SLAB)");
    if (tiered && (e->n_tiers == 0 || e->n_tiers > BTO_MAX_TIERS))
        ltc_status_bad_field(st, ltc_call_printf(c, "%s.tiers", f), "1 to %d tiers with a tier_mode", BTO_MAX_TIERS);
    if (e->n_tiers > BTO_MAX_TIERS) return;
    for (size_t k = 0; k < e->n_tiers; k++) {
        const Ltc__Bto__V1__PriceTier *t = e->tiers[k];
        const char *tf = ltc_call_printf(c, "%s.tiers[%zu]", f, k);
        qty[k] = t->min_quantity;
        if (k == 0 && t->min_quantity != 1)
            ltc_status_bad_field(st, ltc_call_printf(c, "%s.min_quantity", tf), "the first tier starts at 1");
        else if (k > 0 && t->min_quantity <= e->tiers[k - 1]->min_quantity)
            ltc_status_bad_field(st, ltc_call_printf(c, "%s.min_quantity", tf), "must be above the previous tier's");
        else if (t->min_quantity > BTO_MAX_QUANTITY)
            ltc_status_bad_field(st, ltc_call_printf(c, "%s.min_quantity", tf), "at most %d", BTO_MAX_QUANTITY);
        const char *tuf = ltc_call_printf(c, "%s.unit_price", tf);
        if (ltc_money_from_proto(t->unit_price, tuf, 0, &m, st) == 0) {
            if (currency && strcmp(m.currency, currency) != 0)
                ltc_status_bad_field(st, tuf, "currency %s differs from the book's %s", m.currency, currency);
            tier_unit[k] = m.minor;
        }
    }
}

static const char *tier_mode_db(Ltc__Bto__V1__TierMode m) {
    return m == LTC__BTO__V1__TIER_MODE__TIER_MODE_RANGE  ? "RANGE"
           : m == LTC__BTO__V1__TIER_MODE__TIER_MODE_SLAB ? "SLAB"
                                                          : "NONE";
}

static int load_price_book(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__PriceBook **out) {
    const char *p[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_GET_BOOK, 1, p);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "PRICE_BOOK_NOT_FOUND", "price book priceBooks/%s not found", id);
    Ltc__Bto__V1__PriceBook *b = LTC_NEW(c, Ltc__Bto__V1__PriceBook, LTC__BTO__V1__PRICE_BOOK__INIT);
    b->name = bto_name(c, "priceBooks", ltc_pg_str(r, 0, 0));
    b->display_name = ltc_call_strdup(c, ltc_pg_str(r, 0, 1));
    const char *cur = ltc_call_strdup(c, ltc_pg_str(r, 0, 2));
    b->currency_code = (char *)cur;
    b->customer_group = ltc_call_strdup(c, ltc_pg_str(r, 0, 3));
    b->valid_from = ltc_date_from_pg(c, r, 0, 4);
    b->valid_until = ltc_date_from_pg(c, r, 0, 5);
    b->create_time = ltc_ts_from_pg(c, r, 0, 6);
    PGresult *e = ltc_call_query(c, st, SQL_GET_ENTRIES, 1, p);
    if (!e) return -1;
    int ne = PQntuples(e);
    b->entries = ltc_call_alloc(c, (size_t)(ne ? ne : 1) * sizeof *b->entries);
    Ltc__Bto__V1__PriceBookEntry *cur_e = NULL;
    for (int k = 0; k < ne; k++) {
        if (!cur_e || strcmp(cur_e->product + strlen("products/"), ltc_pg_str(e, k, 0)) != 0) {
            cur_e = LTC_NEW(c, Ltc__Bto__V1__PriceBookEntry, LTC__BTO__V1__PRICE_BOOK_ENTRY__INIT);
            cur_e->product = bto_name(c, "products", ltc_pg_str(e, k, 0));
            cur_e->unit_price = ltc_money_msg(c, cur, ltc_pg_i64(e, k, 1));
            const char *mode = ltc_pg_str(e, k, 2);
            cur_e->tier_mode = strcmp(mode, "RANGE") == 0  ? LTC__BTO__V1__TIER_MODE__TIER_MODE_RANGE
                               : strcmp(mode, "SLAB") == 0 ? LTC__BTO__V1__TIER_MODE__TIER_MODE_SLAB
                                                           : LTC__BTO__V1__TIER_MODE__TIER_MODE_UNSPECIFIED;
            cur_e->tiers = ltc_call_alloc(c, BTO_MAX_TIERS * sizeof *cur_e->tiers);
            b->entries[b->n_entries++] = cur_e;
        }
        if (!PQgetisnull(e, k, 3) && cur_e->n_tiers < BTO_MAX_TIERS) {
            Ltc__Bto__V1__PriceTier *t = LTC_NEW(c, Ltc__Bto__V1__PriceTier, LTC__BTO__V1__PRICE_TIER__INIT);
            t->min_quantity = ltc_pg_i64(e, k, 3);
            t->unit_price = ltc_money_msg(c, cur, ltc_pg_i64(e, k, 4));
            cur_e->tiers[cur_e->n_tiers++] = t;
        }
    }
    *out = b;
    return 0;
}

/* CreatePriceBook: a price book with its entries and tiers.
 * Errors: INVALID_ARGUMENT (price_book.* fields, named each), NOT_FOUND "PRODUCT_NOT_FOUND". */
int bto_create_price_book(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__CreatePriceBookRequest *req = (const void *)m;
    const Ltc__Bto__V1__PriceBook *b = req->price_book;
    if (!b) return ltc_status_bad_field(st, "price_book", "required");
    ltc_check_text(b->display_name, "price_book.display_name", 1, 200, st);
    int cur_ok = ltc_currency_digits(b->currency_code) >= 0;
    if (!cur_ok) ltc_status_bad_field(st, "price_book.currency_code", "required, an ISO 4217 currency code");
    if (b->customer_group[0] && !bto_code_valid(b->customer_group, 32))
        ltc_status_bad_field(st, "price_book.customer_group", "1 to 32 characters of [A-Z0-9_], or empty (everyone)");
    char from[11], until[11];
    int from_ok = ltc_date_to_text(b->valid_from, "price_book.valid_from", 0, from, st) == 0;
    if (ltc_date_to_text(b->valid_until, "price_book.valid_until", 1, until, st) == 0 && from_ok && until[0] &&
        strcmp(until, from) < 0)
        ltc_status_bad_field(st, "price_book.valid_until", "must not be before valid_from");
    size_t n = b->n_entries;
    if (n == 0 || n > BTO_MAX_BOOK_ENTRIES) {
        ltc_status_bad_field(st, "price_book.entries", "1 to %d entries", BTO_MAX_BOOK_ENTRIES);
        return -1;
    }
    char(*pid)[LTC_UUID_LEN + 1] = ltc_call_alloc(c, n * sizeof *pid);
    const char **ids = ltc_call_alloc(c, n * sizeof *ids), **units = ltc_call_alloc(c, n * sizeof *units);
    const char **modes = ltc_call_alloc(c, n * sizeof *modes), **qtys = ltc_call_alloc(c, n * sizeof *qtys);
    const char **tunits = ltc_call_alloc(c, n * sizeof *tunits);
    for (size_t i = 0; i < n; i++) {
        int64_t unit = 0, qty[BTO_MAX_TIERS] = {0}, tu[BTO_MAX_TIERS] = {0};
        pid[i][0] = '\0';
        check_entry(c, b->entries[i], i, cur_ok ? b->currency_code : NULL, pid[i], &unit, qty, tu, st);
        for (size_t j = 0; j < i && pid[i][0]; j++)
            if (strcmp(pid[i], pid[j]) == 0) {
                ltc_status_bad_field(st, ltc_call_printf(c, "price_book.entries[%zu].product", i),
                                     "duplicate product: price_book.entries[%zu] has it already", j);
                break;
            }
        size_t nt = b->entries[i]->n_tiers <= BTO_MAX_TIERS ? b->entries[i]->n_tiers : 0;
        ids[i] = pid[i];
        units[i] = ltc_sql_i64(c, unit);
        modes[i] = tier_mode_db(b->entries[i]->tier_mode);
        qtys[i] = int_list(c, qty, nt);
        tunits[i] = int_list(c, tu, nt);
    }
    if (st->code != LTC_OK) return -1;
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *bp[6] = {id, b->display_name, b->currency_code, b->customer_group, from, until};
    if (!ltc_call_query(c, st, SQL_INSERT_BOOK, 6, bp)) return -1;
    const char *ep[6] = {id,
                         ltc_sql_array(c, ids, n),
                         ltc_sql_array(c, units, n),
                         ltc_sql_array(c, modes, n),
                         bto_sql_text_array(c, qtys, n),
                         bto_sql_text_array(c, tunits, n)};
    PGresult *r = ltc_call_query(c, st, SQL_INSERT_ENTRIES, 6, ep);
    if (!r) return -1;
    if (strcmp(PQcmdTuples(r), ltc_sql_i64(c, (int64_t)n)) != 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "PRODUCT_NOT_FOUND", "a product of price_book.entries not found");
    ltc_audit_change(c, ltc_call_printf(c, "priceBooks/%s", id), "entries", NULL, ltc_sql_i64(c, (int64_t)n));
    Ltc__Bto__V1__CreatePriceBookResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__CreatePriceBookResponse, LTC__BTO__V1__CREATE_PRICE_BOOK_RESPONSE__INIT);
    if (load_price_book(c, st, id, &resp->price_book) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* GetPriceBook: one price book with its entries. Errors: INVALID_ARGUMENT "name", NOT_FOUND
 * "PRICE_BOOK_NOT_FOUND". */
int bto_get_price_book(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__GetPriceBookRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "priceBooks", "name", id, st) != 0) return -1;
    Ltc__Bto__V1__GetPriceBookResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__GetPriceBookResponse, LTC__BTO__V1__GET_PRICE_BOOK_RESPONSE__INIT);
    if (load_price_book(c, st, id, &resp->price_book) != 0) return -1;
    *out = &resp->base;
    return 0;
}

static Ltc__Bto__V1__TaxRate *tax_from_row(ltc_call *c, const PGresult *r, int row) {
    Ltc__Bto__V1__TaxRate *t = LTC_NEW(c, Ltc__Bto__V1__TaxRate, LTC__BTO__V1__TAX_RATE__INIT);
    t->tax_class = ltc_call_strdup(c, ltc_pg_str(r, row, 0));
    t->country_code = ltc_call_strdup(c, ltc_pg_str(r, row, 1));
    t->rate_bps = (int32_t)ltc_pg_i64(r, row, 2);
    t->update_time = ltc_ts_from_pg(c, r, row, 3);
    return t;
}

/* SetTaxRate: creates or replaces the rate of a tax class in a country (or its default, country "").
 * Errors: INVALID_ARGUMENT (tax_rate.*). */
int bto_set_tax_rate(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__SetTaxRateRequest *req = (const void *)m;
    const Ltc__Bto__V1__TaxRate *t = req->tax_rate;
    if (!t) return ltc_status_bad_field(st, "tax_rate", "required");
    if (!bto_code_valid(t->tax_class, 32))
        ltc_status_bad_field(st, "tax_rate.tax_class", "required, 1 to 32 characters of [A-Z0-9_]");
    const char *cc = t->country_code;
    if (cc[0] && !(strlen(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z'))
        ltc_status_bad_field(st, "tax_rate.country_code", "an ISO 3166-1 alpha-2 code, or empty (the default)");
    if (t->rate_bps < 0 || t->rate_bps > BTO_MAX_TAX_BPS)
        ltc_status_bad_field(st, "tax_rate.rate_bps", "must be 0 to %d", BTO_MAX_TAX_BPS);
    if (st->code != LTC_OK) return -1;
    const char *p[3] = {t->tax_class, cc, ltc_sql_i64(c, t->rate_bps)};
    PGresult *was = ltc_call_query(c, st,
                                   "SELECT rate_bps FROM tax_rates WHERE tax_class = $1 AND country = $2 "
                                   "FOR UPDATE",
                                   2, p);
    if (!was) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_UPSERT_TAX, 3, p);
    if (!r) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "taxRates/%s/%s", t->tax_class, cc[0] ? cc : "default"), "rate_bps",
                     PQntuples(was) ? ltc_pg_str(was, 0, 0) : NULL, ltc_pg_str(r, 0, 2));
    Ltc__Bto__V1__SetTaxRateResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__SetTaxRateResponse, LTC__BTO__V1__SET_TAX_RATE_RESPONSE__INIT);
    resp->tax_rate = tax_from_row(c, r, 0);
    *out = &resp->base;
    return 0;
}

/* ListTaxRates: the rates in the order first set, a page at a time. Errors: INVALID_ARGUMENT "tax_class",
 * "page_size", "page_token". */
int bto_list_tax_rates(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__ListTaxRatesRequest *req = (const void *)m;
    if (req->tax_class[0] && !bto_code_valid(req->tax_class, 32))
        ltc_status_bad_field(st, "tax_class", "1 to 32 characters of [A-Z0-9_], or empty (all)");
    int limit = 0;
    int64_t after = 0;
    if (ltc_page_parse(req->page_size, req->page_token, &limit, &after, st) != 0 || st->code != LTC_OK) return -1;
    const char *p[3] = {req->tax_class, ltc_sql_i64(c, after), ltc_sql_i64(c, limit)};
    PGresult *r = ltc_call_query(c, st, SQL_LIST_TAX, 3, p);
    if (!r) return -1;
    Ltc__Bto__V1__ListTaxRatesResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__ListTaxRatesResponse, LTC__BTO__V1__LIST_TAX_RATES_RESPONSE__INIT);
    int n = PQntuples(r);
    int shown = n < limit ? n : limit - 1;
    resp->tax_rates = ltc_call_alloc(c, (size_t)(shown > 0 ? shown : 1) * sizeof *resp->tax_rates);
    for (int i = 0; i < shown; i++) resp->tax_rates[i] = tax_from_row(c, r, i);
    resp->n_tax_rates = (size_t)(shown > 0 ? shown : 0);
    if (n >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, 4));
    *out = &resp->base;
    return 0;
}
