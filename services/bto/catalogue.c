/* catalogue.c - the product catalogue (产品目录): CreateProduct, GetProduct, ListProducts. */
#include <string.h>

#include "bto.h"
#include "ltc/ids.h"
#include "ltc/money.h"
#include "ltc/proto.h"

#define PRODUCT_COLS \
    "id, sku, display_name, list_price_minor, unit_cost_minor, currency, lead_time_days, " \
    BTO_US("create_time") ", seq"

static const char SQL_INSERT_PRODUCT[] =
    "INSERT INTO products (id, sku, display_name, list_price_minor, unit_cost_minor, currency, lead_time_days) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sku) DO NOTHING RETURNING " PRODUCT_COLS;
static const char SQL_GET_PRODUCT[] = "SELECT " PRODUCT_COLS " FROM products WHERE id = $1";
/* By SKU; the page token is the seq of the last product returned, whose SKU is the key to continue after. */
static const char SQL_LIST_PRODUCTS[] =
    "SELECT " PRODUCT_COLS " FROM products "
    "WHERE ($1::bigint = 0 OR sku > (SELECT p.sku FROM products p WHERE p.seq = $1::bigint)) "
    "ORDER BY sku LIMIT $2";

enum { P_ID, P_SKU, P_NAME, P_LIST, P_COST, P_CUR, P_LEAD, P_CTIME, P_SEQ };

static Ltc__Bto__V1__Product *product_from_row(ltc_call *c, const PGresult *r, int row) {
    Ltc__Bto__V1__Product *p = LTC_NEW(c, Ltc__Bto__V1__Product, LTC__BTO__V1__PRODUCT__INIT);
    p->name = bto_name(c, "products", ltc_pg_str(r, row, P_ID));
    p->sku = ltc_call_strdup(c, ltc_pg_str(r, row, P_SKU));
    p->display_name = ltc_call_strdup(c, ltc_pg_str(r, row, P_NAME));
    p->list_price = bto_money_pg(c, r, row, P_LIST, P_CUR);
    p->unit_cost = bto_money_pg(c, r, row, P_COST, P_CUR);
    p->lead_time_days = (int32_t)ltc_pg_i64(r, row, P_LEAD);
    p->create_time = ltc_ts_from_pg(c, r, row, P_CTIME);
    return p;
}

/* 1 to 64 characters of [A-Za-z0-9._-]. */
static int sku_valid(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                 ch == '_' || ch == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

/* Validates a new product; on success fills the list price and the unit cost (0 when not given). */
static int validate_product(const Ltc__Bto__V1__Product *p, ltc_money *list, ltc_money *cost, ltc_status *st) {
    if (!p)
        return ltc_status_bad_field(st, "product", "required");
    if (!sku_valid(p->sku))
        ltc_status_bad_field(st, "product.sku", "required, 1 to 64 characters of [A-Za-z0-9._-]");
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
    return st->code == LTC_OK ? 0 : -1;
}

/* CreateProduct: adds a product to the catalogue.
 * Errors: INVALID_ARGUMENT (product.* fields), ALREADY_EXISTS "SKU_TAKEN" when the SKU is in the catalogue. */
int bto_create_product(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__CreateProductRequest *req = (const void *)m;
    ltc_money list = {{0}, 0}, cost = {{0}, 0};
    if (validate_product(req->product, &list, &cost, st) != 0)
        return -1;
    const Ltc__Bto__V1__Product *p = req->product;
    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *params[7] = {id, p->sku, p->display_name, bto_i64(c, list.minor), bto_i64(c, cost.minor),
                             list.currency, bto_i64(c, p->lead_time_days)};
    PGresult *r = ltc_call_query(c, st, SQL_INSERT_PRODUCT, 7, params);
    if (!r)
        return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "SKU_TAKEN", "a product with SKU %s already exists", p->sku);
    Ltc__Bto__V1__CreateProductResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__CreateProductResponse, LTC__BTO__V1__CREATE_PRODUCT_RESPONSE__INIT);
    resp->product = product_from_row(c, r, 0);
    *out = &resp->base;
    return 0;
}

/* GetProduct: returns one product. Errors: INVALID_ARGUMENT "name", NOT_FOUND "PRODUCT_NOT_FOUND". */
int bto_get_product(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__GetProductRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "products", "name", id, st) != 0)
        return -1;
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_GET_PRODUCT, 1, params);
    if (!r)
        return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_NOT_FOUND, "PRODUCT_NOT_FOUND", "product %s not found", req->name);
    Ltc__Bto__V1__GetProductResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__GetProductResponse, LTC__BTO__V1__GET_PRODUCT_RESPONSE__INIT);
    resp->product = product_from_row(c, r, 0);
    *out = &resp->base;
    return 0;
}

/* ListProducts: the catalogue by SKU, a page at a time. Errors: INVALID_ARGUMENT "page_size" / "page_token". */
int bto_list_products(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__ListProductsRequest *req = (const void *)m;
    int limit = 0;
    int64_t after = 0;
    if (ltc_page_parse(req->page_size, req->page_token, &limit, &after, st) != 0)
        return -1;
    const char *params[2] = {bto_i64(c, after), bto_i64(c, limit)};
    PGresult *r = ltc_call_query(c, st, SQL_LIST_PRODUCTS, 2, params);
    if (!r)
        return -1;
    int n = PQntuples(r);
    int shown = n < limit ? n : limit - 1;
    Ltc__Bto__V1__ListProductsResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__ListProductsResponse, LTC__BTO__V1__LIST_PRODUCTS_RESPONSE__INIT);
    if (shown > 0) {
        resp->products = ltc_call_alloc(c, (size_t)shown * sizeof *resp->products);
        for (int i = 0; i < shown; i++)
            resp->products[i] = product_from_row(c, r, i);
        resp->n_products = (size_t)shown;
    }
    if (n >= limit && shown > 0)
        resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, P_SEQ));
    *out = &resp->base;
    return 0;
}
