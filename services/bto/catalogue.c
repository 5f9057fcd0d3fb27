/* catalogue.c - the product catalogue (产品目录): CreateProduct, GetProduct, ListProducts, UpdateProduct. */
#include <stdio.h>
#include <string.h>

#include "bto.h"
#include "ltc/audit.h"
#include "ltc/fieldmask.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "ltc/ids.h"
#include "ltc/money.h"
#include "ltc/proto.h"

#define PRODUCT_COLS                                                                                                   \
    "id, sku, display_name, list_price_minor, unit_cost_minor, currency, lead_time_days, " LTC_SQL_MICROS(             \
        "create_time") ", seq, " LTC_SQL_MICROS("update_time") ", version, tax_class, revenue_type, service_months"

static const char SQL_INSERT_PRODUCT[] =
    "INSERT INTO products (id, sku, display_name, list_price_minor, unit_cost_minor, currency, lead_time_days, "
    "tax_class, revenue_type, service_months) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (sku) DO NOTHING RETURNING " PRODUCT_COLS;
static const char SQL_GET_PRODUCT[] = "SELECT " PRODUCT_COLS " FROM products WHERE id = $1";
/* By SKU; the page token is the seq of the last product returned, whose SKU is the key to continue after. */
static const char SQL_LIST_PRODUCTS[] =
    "SELECT " PRODUCT_COLS " FROM products "
    "WHERE ($1::bigint = 0 OR sku > (SELECT p.sku FROM products p WHERE p.seq = $1::bigint)) "
    "ORDER BY sku LIMIT $2";

static const char SQL_LOCK_PRODUCT[] = "SELECT currency, version FROM products WHERE id = $1 FOR UPDATE";
/* $2..$5: whether to write display_name, list_price_minor, unit_cost_minor, lead_time_days; $6..$9 the values;
 * $10 the currency (both prices share it; unchanged unless a price is written). */
static const char SQL_UPDATE_PRODUCT[] =
    "UPDATE products SET display_name = CASE WHEN $2::boolean THEN $6 ELSE display_name END, "
    "list_price_minor = CASE WHEN $3::boolean THEN $7::bigint ELSE list_price_minor END, "
    "unit_cost_minor = CASE WHEN $4::boolean THEN $8::bigint ELSE unit_cost_minor END, "
    "lead_time_days = CASE WHEN $5::boolean THEN $9::integer ELSE lead_time_days END, "
    "currency = $10, version = version + 1, update_time = now() WHERE id = $1 RETURNING " PRODUCT_COLS;

static const char SQL_INSERT_CAPS[] = "INSERT INTO product_capabilities (product_id, code, quantity_per_unit) "
                                      "SELECT $1, c.code, c.qpu FROM unnest($2::text[], $3::bigint[]) AS c(code, qpu)";
static const char SQL_CAPS_OF[] = "SELECT product_id, code, quantity_per_unit FROM product_capabilities "
                                  "WHERE product_id = ANY($1::uuid[]) ORDER BY product_id, code";
#define BTO_MAX_CAPABILITIES 20

enum {
    P_ID,
    P_SKU,
    P_NAME,
    P_LIST,
    P_COST,
    P_CUR,
    P_LEAD,
    P_CTIME,
    P_SEQ,
    P_UTIME,
    P_VERSION,
    P_TAX_CLASS,
    P_REVENUE,
    P_MONTHS
};

static Ltc__Bto__V1__Product *product_from_row(ltc_call *c, const PGresult *r, int row) {
    Ltc__Bto__V1__Product *p = LTC_NEW(c, Ltc__Bto__V1__Product, LTC__BTO__V1__PRODUCT__INIT);
    p->name = bto_name(c, "products", ltc_pg_str(r, row, P_ID));
    p->sku = ltc_call_strdup(c, ltc_pg_str(r, row, P_SKU));
    p->display_name = ltc_call_strdup(c, ltc_pg_str(r, row, P_NAME));
    p->list_price = ltc_money_msg_pg(c, r, row, P_LIST, P_CUR);
    p->unit_cost = ltc_money_msg_pg(c, r, row, P_COST, P_CUR);
    p->lead_time_days = (int32_t)ltc_pg_i64(r, row, P_LEAD);
    p->create_time = ltc_ts_from_pg(c, r, row, P_CTIME);
    p->update_time = ltc_ts_from_pg(c, r, row, P_UTIME);
    p->etag = ltc_call_printf(c, "%llx", (unsigned long long)ltc_pg_i64(r, row, P_VERSION));
    p->tax_class = ltc_call_strdup(c, ltc_pg_str(r, row, P_TAX_CLASS));
    p->revenue_type = (Ltc__Type__V1__RevenueType)ltc_enum_from_db(&ltc__type__v1__revenue_type__descriptor,
                                                                   "REVENUE_TYPE_", ltc_pg_str(r, row, P_REVENUE));
    p->service_months = (int32_t)ltc_pg_i64(r, row, P_MONTHS);
    p->version = (int32_t)ltc_pg_i64(r, row, P_VERSION);
    return p;
}

/* Attaches each product's capabilities (one query for all of them). 0 or -1. */
static int attach_capabilities(ltc_call *c, ltc_status *st, Ltc__Bto__V1__Product **ps, size_t n) {
    if (n == 0) return 0;
    const char **ids = ltc_call_alloc(c, n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = ps[i]->name + strlen("products/");
    const char *p[1] = {ltc_sql_array(c, ids, n)};
    PGresult *r = ltc_call_query(c, st, SQL_CAPS_OF, 1, p);
    if (!r) return -1;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        for (int j = 0; j < PQntuples(r); j++) k += strcmp(ltc_pg_str(r, j, 0), ids[i]) == 0;
        if (k == 0) continue;
        ps[i]->capabilities = ltc_call_alloc(c, k * sizeof *ps[i]->capabilities);
        for (int j = 0; j < PQntuples(r); j++) {
            if (strcmp(ltc_pg_str(r, j, 0), ids[i]) != 0) continue;
            Ltc__Bto__V1__ProductCapability *cap =
                LTC_NEW(c, Ltc__Bto__V1__ProductCapability, LTC__BTO__V1__PRODUCT_CAPABILITY__INIT);
            cap->code = ltc_call_strdup(c, ltc_pg_str(r, j, 1));
            cap->quantity_per_unit = ltc_pg_i64(r, j, 2);
            ps[i]->capabilities[ps[i]->n_capabilities++] = cap;
        }
    }
    return 0;
}

/* 1 to 64 characters of [A-Za-z0-9._-]. */
static int sku_valid(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                 ch == '_' || ch == '-';
        if (!ok) return 0;
    }
    return 1;
}

/* Validates a new product; on success fills the list price and the unit cost (0 when not given). */
static int validate_product(const Ltc__Bto__V1__Product *p, ltc_money *list, ltc_money *cost, ltc_status *st) {
    if (!p) return ltc_status_bad_field(st, "product", "required");
    if (!sku_valid(p->sku)) ltc_status_bad_field(st, "product.sku", "required, 1 to 64 characters of [A-Za-z0-9._-]");
    ltc_check_text(p->display_name, "product.display_name", 1, 200, st);
    int list_ok = 0;
    if (!p->list_price)
        ltc_status_bad_field(st, "product.list_price", "required");
    else if (ltc_money_from_proto(p->list_price, "product.list_price", 0, list, st) == 0) {
        if (list->minor <= 0)
            ltc_status_bad_field(st, "product.list_price", "must be positive");
        else
            list_ok = 1;
    }
    if (p->unit_cost) {
        if (ltc_money_from_proto(p->unit_cost, "product.unit_cost", 0, cost, st) == 0 && list_ok &&
            strcmp(cost->currency, list->currency) != 0)
            ltc_status_bad_field(st, "product.unit_cost", "currency %s differs from the list price's %s",
                                 cost->currency, list->currency);
    } else if (list_ok) {
        memcpy(cost->currency, list->currency, sizeof cost->currency);
        cost->minor = 0;
    }
    if (p->lead_time_days < 0 || p->lead_time_days > 3650)
        ltc_status_bad_field(st, "product.lead_time_days", "must be 0 to 3650");
    if (p->tax_class[0] && !bto_code_valid(p->tax_class, 32))
        ltc_status_bad_field(st, "product.tax_class", "1 to 32 characters of [A-Z0-9_], or empty (not taxed)");
    if (p->n_capabilities > BTO_MAX_CAPABILITIES)
        ltc_status_bad_field(st, "product.capabilities", "at most %d", BTO_MAX_CAPABILITIES);
    for (size_t i = 0; i < p->n_capabilities && i < BTO_MAX_CAPABILITIES; i++) {
        char f[64];
        snprintf(f, sizeof f, "product.capabilities[%zu].code", i);
        if (ltc_check_text(p->capabilities[i]->code, f, 1, 64, st) == 0)
            for (size_t j = 0; j < i; j++)
                if (strcmp(p->capabilities[i]->code, p->capabilities[j]->code) == 0) {
                    ltc_status_bad_field(st, f, "duplicate of product.capabilities[%zu].code", j);
                    break;
                }
        if (p->capabilities[i]->quantity_per_unit < 1 || p->capabilities[i]->quantity_per_unit > 1000000) {
            snprintf(f, sizeof f, "product.capabilities[%zu].quantity_per_unit", i);
            ltc_status_bad_field(st, f, "must be 1 to 1000000");
        }
    }
    if (p->revenue_type == LTC__TYPE__V1__REVENUE_TYPE__REVENUE_TYPE_OVER_TIME) {
        if (p->service_months < 1 || p->service_months > 600)
            ltc_status_bad_field(st, "product.service_months", "1 to 600 for an OVER_TIME product");
    } else if (p->revenue_type != LTC__TYPE__V1__REVENUE_TYPE__REVENUE_TYPE_UNSPECIFIED &&
               p->revenue_type != LTC__TYPE__V1__REVENUE_TYPE__REVENUE_TYPE_POINT_IN_TIME) {
        ltc_status_bad_field(st, "product.revenue_type", "unknown revenue type");
    } else if (p->service_months != 0) {
        ltc_status_bad_field(st, "product.service_months", "must be 0 unless revenue_type is OVER_TIME");
    }
    return st->code == LTC_OK ? 0 : -1;
}

/* CreateProduct: adds a product to the catalogue.
 * Errors: INVALID_ARGUMENT (product.* fields), ALREADY_EXISTS "SKU_TAKEN" when the SKU is in the catalogue. */
int bto_create_product(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__CreateProductRequest *req = (const void *)m;
    ltc_money list = {{0}, 0}, cost = {{0}, 0};
    if (validate_product(req->product, &list, &cost, st) != 0) return -1;
    const Ltc__Bto__V1__Product *p = req->product;
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *params[10] = {id,
                              p->sku,
                              p->display_name,
                              ltc_sql_i64(c, list.minor),
                              ltc_sql_i64(c, cost.minor),
                              list.currency,
                              ltc_sql_i64(c, p->lead_time_days),
                              p->tax_class,
                              p->revenue_type == LTC__TYPE__V1__REVENUE_TYPE__REVENUE_TYPE_OVER_TIME ? "OVER_TIME"
                                                                                                     : "POINT_IN_TIME",
                              ltc_sql_i64(c, p->service_months)};
    PGresult *r = ltc_call_query(c, st, SQL_INSERT_PRODUCT, 10, params);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "SKU_TAKEN", "a product with SKU %s already exists", p->sku);
    const char *target = ltc_call_printf(c, "products/%s", id);
    ltc_audit_change(c, target, "sku", NULL, p->sku);
    ltc_audit_change_money(c, target, "list_price", list.currency, 0, 0, list.minor, 1);
    ltc_audit_change_money(c, target, "unit_cost", list.currency, 0, 0, cost.minor, 1);
    if (p->n_capabilities > 0) {
        const char **codes = ltc_call_alloc(c, p->n_capabilities * sizeof *codes);
        const char **qpu = ltc_call_alloc(c, p->n_capabilities * sizeof *qpu);
        for (size_t i = 0; i < p->n_capabilities; i++) {
            codes[i] = p->capabilities[i]->code;
            qpu[i] = ltc_sql_i64(c, p->capabilities[i]->quantity_per_unit);
        }
        const char *cp[3] = {id, bto_sql_text_array(c, codes, p->n_capabilities),
                             ltc_sql_array(c, qpu, p->n_capabilities)};
        if (!ltc_call_query(c, st, SQL_INSERT_CAPS, 3, cp)) return -1;
    }
    Ltc__Bto__V1__CreateProductResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__CreateProductResponse, LTC__BTO__V1__CREATE_PRODUCT_RESPONSE__INIT);
    resp->product = product_from_row(c, r, 0);
    if (attach_capabilities(c, st, &resp->product, 1) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* GetProduct: returns one product. Errors: INVALID_ARGUMENT "name", NOT_FOUND "PRODUCT_NOT_FOUND". */
int bto_get_product(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__GetProductRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "products", "name", id, st) != 0) return -1;
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_GET_PRODUCT, 1, params);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "PRODUCT_NOT_FOUND", "product %s not found", req->name);
    Ltc__Bto__V1__GetProductResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__GetProductResponse, LTC__BTO__V1__GET_PRODUCT_RESPONSE__INIT);
    resp->product = product_from_row(c, r, 0);
    if (attach_capabilities(c, st, &resp->product, 1) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ListProducts: the catalogue by SKU, a page at a time. Errors: INVALID_ARGUMENT "page_size" / "page_token". */
int bto_list_products(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__ListProductsRequest *req = (const void *)m;
    int limit = 0;
    int64_t after = 0;
    if (ltc_page_parse(req->page_size, req->page_token, &limit, &after, st) != 0) return -1;
    const char *params[2] = {ltc_sql_i64(c, after), ltc_sql_i64(c, limit)};
    PGresult *r = ltc_call_query(c, st, SQL_LIST_PRODUCTS, 2, params);
    if (!r) return -1;
    int n = PQntuples(r);
    int shown = n < limit ? n : limit - 1;
    Ltc__Bto__V1__ListProductsResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__ListProductsResponse, LTC__BTO__V1__LIST_PRODUCTS_RESPONSE__INIT);
    if (shown > 0) {
        resp->products = ltc_call_alloc(c, (size_t)shown * sizeof *resp->products);
        for (int i = 0; i < shown; i++) resp->products[i] = product_from_row(c, r, i);
        if (attach_capabilities(c, st, resp->products, (size_t)shown) != 0) return -1;
        resp->n_products = (size_t)shown;
    }
    if (n >= limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, P_SEQ));
    *out = &resp->base;
    return 0;
}

/* --- UpdateProduct (AIP-134, etag AIP-154) ---------------------------------------------------------------- */

enum {
    U_NAME,
    U_LIST,
    U_COST,
    U_LEAD,
    U_N
};
static const char *const UPDATABLE[U_N] = {"display_name", "list_price", "unit_cost", "lead_time_days"};
#define MASKED(bits, i) (((bits) >> (i)) & 1u)

/* Validates the masked fields of `p`; fills the prices written (an absent unit cost is 0 in the list price's
 * currency, or in the stored currency when only the cost is written: checked after the lock). */
static void check_update(const Ltc__Bto__V1__Product *p, unsigned bits, ltc_money *list, ltc_money *cost,
                         ltc_status *st) {
    if (MASKED(bits, U_NAME)) ltc_check_text(p->display_name, "product.display_name", 1, 200, st);
    if (MASKED(bits, U_LIST)) {
        if (!p->list_price)
            ltc_status_bad_field(st, "product.list_price", "required");
        else if (ltc_money_from_proto(p->list_price, "product.list_price", 0, list, st) == 0 && list->minor <= 0)
            ltc_status_bad_field(st, "product.list_price", "must be positive");
    }
    if (MASKED(bits, U_COST) && p->unit_cost) ltc_money_from_proto(p->unit_cost, "product.unit_cost", 0, cost, st);
    if (MASKED(bits, U_LEAD) && (p->lead_time_days < 0 || p->lead_time_days > 3650))
        ltc_status_bad_field(st, "product.lead_time_days", "must be 0 to 3650");
}

/* The currency of the product after the update, or NULL with INVALID_ARGUMENT when the written prices disagree
 * with each other or with the stored price that is not written. */
static const char *new_currency(const Ltc__Bto__V1__Product *p, unsigned bits, const ltc_money *list, ltc_money *cost,
                                const char *stored, ltc_status *st) {
    int w_list = MASKED(bits, U_LIST), w_cost = MASKED(bits, U_COST) && p->unit_cost;
    const char *cur = w_list ? list->currency : w_cost ? cost->currency : stored;
    if (MASKED(bits, U_COST) && !p->unit_cost)
        memcpy(cost->currency, cur, sizeof cost->currency); /* absent cost: 0 in the product's currency */
    if (w_cost && strcmp(cost->currency, cur) != 0)
        ltc_status_bad_field(st, "product.unit_cost", "currency %s differs from the list price's %s", cost->currency,
                             cur);
    else if (w_list && !MASKED(bits, U_COST) && strcmp(cur, stored) != 0)
        ltc_status_bad_field(st, "product.list_price", "currency %s differs from the unit cost's %s: write both", cur,
                             stored);
    else if (!w_list && w_cost && strcmp(cur, stored) != 0)
        ltc_status_bad_field(st, "product.unit_cost", "currency %s differs from the list price's %s: write both", cur,
                             stored);
    return st->code == LTC_OK ? cur : NULL;
}

/* UpdateProduct: writes the masked display name, list price, unit cost and lead time of a product; the SKU never
 * changes, and quotes already priced keep their prices. Errors: INVALID_ARGUMENT (product, product.name,
 * update_mask, product.<field>), NOT_FOUND "PRODUCT_NOT_FOUND", ABORTED "ETAG_MISMATCH" when product.etag is set
 * and stale. */
int bto_update_product(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__UpdateProductRequest *req = (const void *)m;
    const Ltc__Bto__V1__Product *p = req->product;
    char id[LTC_UUID_LEN + 1];
    ltc_money list = {{0}, 0}, cost = {{0}, 0};
    if (!p) return ltc_status_bad_field(st, "product", "required: the product with its name and the fields to write");
    ltc_name_parse(p->name, "products", "product.name", id, st);
    unsigned bits = ltc_update_mask_bits(req->update_mask, &ltc__bto__v1__product__descriptor, UPDATABLE, U_N, st);
    check_update(p, bits, &list, &cost, st);
    if (st->code != LTC_OK) return -1;

    const char *pl[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_LOCK_PRODUCT, 1, pl);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "PRODUCT_NOT_FOUND", "product %s not found", p->name);
    const char *stored = ltc_call_strdup(c, ltc_pg_str(r, 0, 0));
    const char *etag = ltc_call_printf(c, "%llx", (unsigned long long)ltc_pg_i64(r, 0, 1));
    const char *currency = new_currency(p, bits, &list, &cost, stored, st);
    if (!currency) return -1;
    if (p->etag[0] && strcmp(p->etag, etag) != 0)
        return ltc_status_set(st, LTC_ABORTED, "ETAG_MISMATCH",
                              "product %s changed since etag %.40s (now %s): read it "
                              "again",
                              p->name, p->etag, etag);

    const char *pu[10] = {id,
                          MASKED(bits, U_NAME) ? "true" : "false",
                          MASKED(bits, U_LIST) ? "true" : "false",
                          MASKED(bits, U_COST) ? "true" : "false",
                          MASKED(bits, U_LEAD) ? "true" : "false",
                          p->display_name,
                          ltc_sql_i64(c, list.minor),
                          ltc_sql_i64(c, cost.minor),
                          ltc_sql_i64(c, p->lead_time_days),
                          currency};
    PGresult *was = ltc_call_query(c, st, SQL_GET_PRODUCT, 1, pl);
    if (!was) return -1;
    if (!(r = ltc_call_query(c, st, SQL_UPDATE_PRODUCT, 10, pu))) return -1;
    const char *target = ltc_call_printf(c, "products/%s", id);
    ltc_audit_change(c, target, "display_name", ltc_pg_str(was, 0, P_NAME), ltc_pg_str(r, 0, P_NAME));
    for (int k = 0; k < 2; k++) { /* a price written in another currency moves both: each value in its own */
        int col = k ? P_COST : P_LIST;
        char before[48], after[48];
        ltc_audit_change(c, target, k ? "unit_cost" : "list_price",
                         ltc_audit_money_text(ltc_pg_str(was, 0, P_CUR), ltc_pg_i64(was, 0, col), before),
                         ltc_audit_money_text(ltc_pg_str(r, 0, P_CUR), ltc_pg_i64(r, 0, col), after));
    }
    ltc_audit_change(c, target, "lead_time_days", ltc_pg_str(was, 0, P_LEAD), ltc_pg_str(r, 0, P_LEAD));
    Ltc__Bto__V1__UpdateProductResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__UpdateProductResponse, LTC__BTO__V1__UPDATE_PRODUCT_RESPONSE__INIT);
    resp->product = product_from_row(c, r, 0);
    if (attach_capabilities(c, st, &resp->product, 1) != 0) return -1;
    *out = &resp->base;
    return 0;
}
