/* orders.c - orders in OTD: the hand-off from BTO (IntakeService/AcceptOrder), reading and listing orders, the
 * order review (订单评审) and the release to production. */
#include <stdio.h>
#include <string.h>

#include "ltc/money.h"
#include "ltc/proto.h"
#include "otd.h"

/* --- SQL ------------------------------------------------------------------------------------------------- */

#define ORDER_COLUMNS                                                                                          \
    "id, contract_id, deal_id, customer_name, account_owner, solution_owner, fulfilment_owner, total_minor, " \
    "currency, " LTC_SQL_DATE("requested_delivery_date") ", " LTC_SQL_DATE("promise_date") ", late, "   \
    "state, hold_reason, " LTC_SQL_MICROS("create_time") ", "                              \
    LTC_SQL_MICROS("update_time") ", seq"
enum {
    OC_ID, OC_CONTRACT, OC_DEAL, OC_CUSTOMER, OC_AR, OC_SR, OC_FR, OC_TOTAL, OC_CURRENCY, OC_REQUESTED,
    OC_PROMISE, OC_LATE, OC_STATE, OC_HOLD, OC_CREATE, OC_UPDATE, OC_SEQ
};

static const char SQL_ORDER_GET[] = "SELECT " ORDER_COLUMNS " FROM orders WHERE id = $1";
static const char SQL_ORDER_LIST[] =
    "SELECT " ORDER_COLUMNS " FROM orders WHERE ($1::bigint = 0 OR seq < $1) "
    "AND ($3::text IS NULL OR $3 IN (account_owner, solution_owner, fulfilment_owner)) " /* deal scope */
    "ORDER BY seq DESC LIMIT $2";
static const char SQL_LINES_OF[] =
    "SELECT order_id, product_id, sku, quantity, unit_price_minor, currency, shipped_quantity, accepted_quantity "
    "FROM order_lines WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, line_no";
static const char SQL_TERMS_OF[] =
    "SELECT order_id, kind, share_bps, due_days FROM order_payment_terms WHERE order_id = ANY($1::uuid[]) "
    "ORDER BY order_id, position";
static const char SQL_ORDER_LOCK[] = "SELECT state FROM orders WHERE id = $1 FOR UPDATE";
static const char SQL_ORDER_SET_STATE[] = "UPDATE orders SET state = $2, update_time = now() WHERE id = $1";
static const char SQL_ORDER_INSERT[] =
    "INSERT INTO orders (id, contract_id, deal_id, customer_name, account_owner, solution_owner, fulfilment_owner, "
    "total_minor, currency, requested_delivery_date, state) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::date, 'RECEIVED') ON CONFLICT (id) DO NOTHING RETURNING id";
static const char SQL_LINES_INSERT[] =
    "INSERT INTO order_lines (order_id, line_no, product_id, sku, quantity, unit_price_minor, currency) "
    "SELECT $1, t.n, t.p, t.s, t.q, t.u, $2 "
    "FROM unnest($3::uuid[], $4::text[], $5::bigint[], $6::bigint[]) WITH ORDINALITY AS t(p, s, q, u, n)";
static const char SQL_TERMS_INSERT[] =
    "INSERT INTO order_payment_terms (order_id, position, kind, share_bps, due_days) "
    "SELECT $1, t.n, t.k, t.b, t.d FROM unnest($2::text[], $3::int[], $4::int[]) WITH ORDINALITY AS t(k, b, d, n)";
static const char SQL_REVIEW_INSERT[] =
    "INSERT INTO reviews (id, order_id, approved, comment) VALUES ($1, $2, $3::boolean, $4)";
static const char SQL_ORDER_HOLD[] =
    "UPDATE orders SET state = 'ON_HOLD', hold_reason = $2, update_time = now() WHERE id = $1";

/* --- enums ----------------------------------------------------------------------------------------------- */

#define ORDER_STATE_PREFIX "ORDER_STATE_"

Ltc__Otd__V1__OrderState otd_order_state_from_text(const char *s) {
    return (Ltc__Otd__V1__OrderState)ltc_enum_from_db(&ltc__otd__v1__order_state__descriptor, ORDER_STATE_PREFIX, s);
}

const char *otd_order_state_text(Ltc__Otd__V1__OrderState s) {
    const char *text = ltc_enum_to_db(&ltc__otd__v1__order_state__descriptor, ORDER_STATE_PREFIX, (int)s);
    return text ? text : "UNSPECIFIED";
}

/* --- loading orders -------------------------------------------------------------------------------------- */

/* One Order message from row `row` of an ORDER_COLUMNS result, without lines and terms. */
static Ltc__Otd__V1__Order *order_from_row(ltc_call *c, const PGresult *r, int row) {
    Ltc__Otd__V1__Order *o = LTC_NEW(c, Ltc__Otd__V1__Order, LTC__OTD__V1__ORDER__INIT);
    o->name = ltc_call_printf(c, "orders/%s", ltc_pg_str(r, row, OC_ID));
    o->contract = ltc_call_printf(c, "contracts/%s", ltc_pg_str(r, row, OC_CONTRACT));
    o->deal = ltc_call_printf(c, "deals/%s", ltc_pg_str(r, row, OC_DEAL));
    o->customer_name = ltc_call_strdup(c, ltc_pg_str(r, row, OC_CUSTOMER));
    o->iron_triangle = ltc_triangle_from_pg(c, r, row, OC_AR);
    o->total = ltc_money_msg(c, ltc_pg_str(r, row, OC_CURRENCY), ltc_pg_i64(r, row, OC_TOTAL));
    o->requested_delivery_date = ltc_date_from_pg(c, r, row, OC_REQUESTED);
    o->promise_date = ltc_date_from_pg(c, r, row, OC_PROMISE);
    o->late = ltc_pg_bool(r, row, OC_LATE);
    o->state = otd_order_state_from_text(ltc_pg_str(r, row, OC_STATE));
    o->hold_reason = ltc_call_strdup(c, ltc_pg_str(r, row, OC_HOLD));
    o->create_time = ltc_ts_from_pg(c, r, row, OC_CREATE);
    o->update_time = ltc_ts_from_pg(c, r, row, OC_UPDATE);
    return o;
}

/* Index of the order whose id is `id` among ids[0..n), or -1. */
static int find_id(const char *const *ids, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0) return (int)i;
    return -1;
}

/* Rows [from, to) of r hold lines of one order: the index range of the group starting at `from`. */
static int group_end(const PGresult *r, int from) {
    int n = PQntuples(r), to = from + 1;
    while (to < n && strcmp(ltc_pg_str(r, to, 0), ltc_pg_str(r, from, 0)) == 0) to++;
    return to;
}

static void attach_lines(ltc_call *c, const PGresult *r, Ltc__Otd__V1__Order **orders, const char *const *ids,
                         size_t n) {
    for (int g = 0, end; g < PQntuples(r); g = end) {
        end = group_end(r, g);
        int k = find_id(ids, n, ltc_pg_str(r, g, 0));
        if (k < 0) continue;
        Ltc__Otd__V1__Order *o = orders[k];
        o->n_lines = (size_t)(end - g);
        o->lines = ltc_call_alloc(c, o->n_lines * sizeof *o->lines);
        for (int row = g; row < end; row++) {
            Ltc__Otd__V1__OrderLine *l = LTC_NEW(c, Ltc__Otd__V1__OrderLine, LTC__OTD__V1__ORDER_LINE__INIT);
            l->product = ltc_call_printf(c, "products/%s", ltc_pg_str(r, row, 1));
            l->sku = ltc_call_strdup(c, ltc_pg_str(r, row, 2));
            l->quantity = ltc_pg_i64(r, row, 3);
            l->unit_price = ltc_money_msg(c, ltc_pg_str(r, row, 5), ltc_pg_i64(r, row, 4));
            l->shipped_quantity = ltc_pg_i64(r, row, 6);
            l->accepted_quantity = ltc_pg_i64(r, row, 7);
            o->lines[row - g] = l;
        }
    }
}

static void attach_terms(ltc_call *c, const PGresult *r, Ltc__Otd__V1__Order **orders, const char *const *ids,
                         size_t n) {
    for (int g = 0, end; g < PQntuples(r); g = end) {
        end = group_end(r, g);
        int k = find_id(ids, n, ltc_pg_str(r, g, 0));
        if (k < 0) continue;
        Ltc__Otd__V1__Order *o = orders[k];
        o->n_payment_terms = (size_t)(end - g);
        o->payment_terms = ltc_call_alloc(c, o->n_payment_terms * sizeof *o->payment_terms);
        for (int row = g; row < end; row++) {
            Ltc__Type__V1__PaymentTerm *t =
                LTC_NEW(c, Ltc__Type__V1__PaymentTerm, LTC__TYPE__V1__PAYMENT_TERM__INIT);
            t->kind = ltc_term_kind_from_db(ltc_pg_str(r, row, 1));
            t->share_bps = (int32_t)ltc_pg_i64(r, row, 2);
            t->due_days = (int32_t)ltc_pg_i64(r, row, 3);
            o->payment_terms[row - g] = t;
        }
    }
}

/* Builds the orders of rows [0, n) of an ORDER_COLUMNS result, with their lines and terms (two queries). */
static int orders_from_rows(ltc_call *c, ltc_status *st, const PGresult *r, int n, Ltc__Otd__V1__Order **out) {
    if (n <= 0) return 0;
    const char **ids = ltc_call_alloc(c, (size_t)n * sizeof *ids);
    for (int i = 0; i < n; i++) {
        out[i] = order_from_row(c, r, i);
        ids[i] = ltc_pg_str(r, i, OC_ID);
    }
    const char *params[1] = {ltc_sql_text_array(c, ids, (size_t)n)};
    PGresult *lines = ltc_call_query(c, st, SQL_LINES_OF, 1, params);
    if (!lines) return -1;
    PGresult *terms = ltc_call_query(c, st, SQL_TERMS_OF, 1, params);
    if (!terms) return -1;
    attach_lines(c, lines, out, ids, (size_t)n);
    attach_terms(c, terms, out, ids, (size_t)n);
    return 0;
}

int otd_order_load(ltc_call *c, ltc_status *st, const char *id, Ltc__Otd__V1__Order **out) {
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_GET, 1, params);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order %s not found", id);
    return orders_from_rows(c, st, r, 1, out);
}

int otd_order_lock(ltc_call *c, ltc_status *st, const char *id, const char **state) {
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_LOCK, 1, params);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order %s not found", id);
    *state = ltc_call_strdup(c, ltc_pg_str(r, 0, 0));
    return 0;
}

int otd_order_set_state(ltc_call *c, ltc_status *st, const char *id, const char *state) {
    const char *params[2] = {id, state};
    return ltc_call_query(c, st, SQL_ORDER_SET_STATE, 2, params) ? 0 : -1;
}

/* --- AcceptOrder (hand-off from BTO) --------------------------------------------------------------------- */

/* The validated content of an AcceptOrderRequest, as SQL text parameters. */
typedef struct order_input {
    char id[LTC_UUID_LEN + 1], contract[LTC_UUID_LEN + 1], deal[LTC_UUID_LEN + 1];
    char requested[11];
    ltc_money total;
    const char **products, **skus;
    int64_t *quantities, *prices;
    const char **kinds;
    int64_t *shares, *due_days;
} order_input;

/* Lines: at least one, each a distinct product, quantity > 0, unit price >= 0 in the total's currency; the total
 * must be the sum of quantity x unit_price. Adds violations to st. */
static void check_order_lines(ltc_call *c, const Ltc__Otd__V1__AcceptOrderRequest *req, int total_ok,
                              order_input *in, ltc_status *st) {
    size_t n = req->n_lines;
    if (n == 0) {
        ltc_status_bad_field(st, "lines", "at least one line is required");
        return;
    }
    if (n > OTD_MAX_LINES) {
        ltc_status_bad_field(st, "lines", "at most %d lines", OTD_MAX_LINES);
        return;
    }
    in->products = ltc_call_alloc(c, n * sizeof *in->products);
    in->skus = ltc_call_alloc(c, n * sizeof *in->skus);
    in->quantities = ltc_call_alloc(c, n * sizeof *in->quantities);
    in->prices = ltc_call_alloc(c, n * sizeof *in->prices);
    int lines_ok = 1;
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        const Ltc__Otd__V1__HandoffOrderLine *l = req->lines[i];
        char *pid = ltc_call_alloc(c, LTC_UUID_LEN + 1);
        in->products[i] = pid;
        in->skus[i] = l->sku;
        in->quantities[i] = l->quantity;
        if (ltc_name_parse(l->product, "products", ltc_call_printf(c, "lines[%zu].product", i), pid, st) != 0) {
            lines_ok = 0;
        } else {
            for (size_t j = 0; j < i; j++)
                if (strcmp(in->products[j], pid) == 0) {
                    ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu].product", i),
                                         "duplicate product: lines[%zu] has it already", j);
                    lines_ok = 0;
                    break;
                }
        }
        if (ltc_check_text(l->sku, ltc_call_printf(c, "lines[%zu].sku", i), 1, 64, st) != 0) lines_ok = 0;
        if (l->quantity <= 0) {
            ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu].quantity", i), "must be positive");
            lines_ok = 0;
        }
        ltc_money price;
        const char *pfield = ltc_call_printf(c, "lines[%zu].unit_price", i);
        if (ltc_money_from_proto(l->unit_price, pfield, 0, &price, st) != 0) {
            lines_ok = 0;
            continue;
        }
        in->prices[i] = price.minor;
        if (total_ok && strcmp(price.currency, in->total.currency) != 0) {
            ltc_status_bad_field(st, pfield, "currency %s differs from the total's %s", price.currency,
                                 in->total.currency);
            lines_ok = 0;
        }
        int64_t amount;
        if (lines_ok && (ltc_i64_mul(l->quantity, price.minor, &amount) != 0 || ltc_i64_add(sum, amount, &sum) != 0)) {
            ltc_status_bad_field(st, "total", "sum of quantity x unit_price overflows");
            lines_ok = 0;
        }
    }
    if (lines_ok && total_ok && sum != in->total.minor)
        ltc_status_bad_field(st, "total", "must equal the sum of quantity x unit_price (%lld minor units)",
                             (long long)sum);
}

/* Payment terms (ltc_check_payment_terms), as the SQL arrays of their kinds, shares and due days. */
static void check_terms(ltc_call *c, const Ltc__Otd__V1__AcceptOrderRequest *req, order_input *in, ltc_status *st) {
    size_t n = req->n_payment_terms;
    if (ltc_check_payment_terms(c, req->payment_terms, n, "payment_terms", OTD_MAX_TERMS, st) != 0) return;
    in->kinds = ltc_call_alloc(c, n * sizeof *in->kinds);
    in->shares = ltc_call_alloc(c, n * sizeof *in->shares);
    in->due_days = ltc_call_alloc(c, n * sizeof *in->due_days);
    for (size_t i = 0; i < n; i++) {
        in->kinds[i] = ltc_term_kind_to_db(req->payment_terms[i]->kind);
        in->shares[i] = req->payment_terms[i]->share_bps;
        in->due_days[i] = req->payment_terms[i]->due_days;
    }
}

static int check_accept_order(ltc_call *c, const Ltc__Otd__V1__AcceptOrderRequest *req, order_input *in,
                              ltc_status *st) {
    ltc_name_parse(req->order, "orders", "order", in->id, st);
    ltc_name_parse(req->contract, "contracts", "contract", in->contract, st);
    ltc_name_parse(req->deal, "deals", "deal", in->deal, st);
    ltc_check_text(req->customer_name, "customer_name", 1, 200, st);
    ltc_check_triangle(req->iron_triangle, "iron_triangle", 0, st);
    int total_ok = ltc_money_from_proto(req->total, "total", 0, &in->total, st) == 0;
    check_order_lines(c, req, total_ok, in, st);
    check_terms(c, req, in, st);
    ltc_date_to_text(req->requested_delivery_date, "requested_delivery_date", 0, in->requested, st);
    return st->code == LTC_OK ? 0 : -1;
}

/* IntakeService/AcceptOrder: BTO hands over a placed order; it is stored RECEIVED with its lines and payment terms.
 * Errors: INVALID_ARGUMENT (every bad field named; "total" when it is not the sum of the lines),
 * ALREADY_EXISTS "ORDER_EXISTS" when an order with that id came with another hand-off. */
int otd_accept_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__AcceptOrderRequest *req = (const void *)m;
    order_input in;
    memset(&in, 0, sizeof in);
    if (check_accept_order(c, req, &in, st) != 0) return -1;

    const Ltc__Type__V1__IronTriangle *t = req->iron_triangle;
    const char *p[10] = {in.id, in.contract, in.deal, req->customer_name,
                         t ? t->account_owner : "", t ? t->solution_owner : "", t ? t->fulfilment_owner : "",
                         ltc_sql_i64(c, in.total.minor), in.total.currency, in.requested};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_INSERT, 10, p);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "ORDER_EXISTS", "order %s was already received", in.id);

    const char *lp[6] = {in.id, in.total.currency, ltc_sql_text_array(c, in.products, req->n_lines),
                         ltc_sql_text_array(c, in.skus, req->n_lines),
                         ltc_sql_i64_array(c, in.quantities, req->n_lines),
                         ltc_sql_i64_array(c, in.prices, req->n_lines)};
    if (!ltc_call_query(c, st, SQL_LINES_INSERT, 6, lp)) return -1;
    const char *tp[4] = {in.id, ltc_sql_text_array(c, in.kinds, req->n_payment_terms),
                         ltc_sql_i64_array(c, in.shares, req->n_payment_terms),
                         ltc_sql_i64_array(c, in.due_days, req->n_payment_terms)};
    if (!ltc_call_query(c, st, SQL_TERMS_INSERT, 4, tp)) return -1;

    Ltc__Otd__V1__AcceptOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__AcceptOrderResponse, LTC__OTD__V1__ACCEPT_ORDER_RESPONSE__INIT);
    resp->order = ltc_call_printf(c, "orders/%s", in.id);
    *out = &resp->base;
    return 0;
}

/* --- GetOrder / ListOrders ------------------------------------------------------------------------------- */

/* GetOrder: one order with its lines (shipped and accepted quantities), promise date and late flag.
 * Errors: INVALID_ARGUMENT "name", NOT_FOUND "ORDER_NOT_FOUND". */
int otd_get_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__GetOrderRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "orders", "name", id, st) != 0) return -1;
    Ltc__Otd__V1__GetOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__GetOrderResponse, LTC__OTD__V1__GET_ORDER_RESPONSE__INIT);
    if (otd_order_load(c, st, id, &resp->order) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ListOrders: orders newest first, paginated. Errors: INVALID_ARGUMENT "page_size" / "page_token". */
int otd_list_orders(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__ListOrdersRequest *req = (const void *)m;
    int limit;
    int64_t after;
    if (ltc_page_parse(req->page_size, req->page_token, &limit, &after, st) != 0) return -1;
    const char *p[3] = {ltc_sql_i64(c, after), ltc_call_printf(c, "%d", limit),
                        ltc_call_deal_scope(c)};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_LIST, 3, p);
    if (!r) return -1;
    int n = PQntuples(r), more = n >= limit;
    if (more) n = limit - 1;
    Ltc__Otd__V1__ListOrdersResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__ListOrdersResponse, LTC__OTD__V1__LIST_ORDERS_RESPONSE__INIT);
    resp->orders = ltc_call_alloc(c, (size_t)(n > 0 ? n : 1) * sizeof *resp->orders);
    if (orders_from_rows(c, st, r, n, resp->orders) != 0) return -1;
    resp->n_orders = (size_t)n;
    if (more && n > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, n - 1, OC_SEQ));
    *out = &resp->base;
    return 0;
}

/* --- ReviewOrder / ReleaseOrder -------------------------------------------------------------------------- */

/* ReviewOrder: records the review of a RECEIVED order; approved -> REVIEWED, refused -> ON_HOLD with the comment
 * as hold reason. Errors: INVALID_ARGUMENT "name" / "comment" (required when refused, up to 500 characters),
 * NOT_FOUND "ORDER_NOT_FOUND", FAILED_PRECONDITION "ORDER_NOT_RECEIVED". */
int otd_review_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__ReviewOrderRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "orders", "name", id, st);
    ltc_check_text(req->comment, "comment", !req->approved, 500, st);
    if (st->code != LTC_OK) return -1;

    const char *state = "";
    if (otd_order_lock(c, st, id, &state) != 0) return -1;
    if (strcmp(state, "RECEIVED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_NOT_RECEIVED",
                              "order %s is %s, only a RECEIVED order can be reviewed", id, state);
    char review_id[LTC_UUID_LEN + 1];
    ltc_uuid_new(review_id);
    const char *rp[4] = {review_id, id, req->approved ? "true" : "false", req->comment};
    if (!ltc_call_query(c, st, SQL_REVIEW_INSERT, 4, rp)) return -1;
    if (req->approved) {
        if (otd_order_set_state(c, st, id, "REVIEWED") != 0) return -1;
    } else {
        const char *hp[2] = {id, req->comment};
        if (!ltc_call_query(c, st, SQL_ORDER_HOLD, 2, hp)) return -1;
    }
    Ltc__Otd__V1__ReviewOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__ReviewOrderResponse, LTC__OTD__V1__REVIEW_ORDER_RESPONSE__INIT);
    if (otd_order_load(c, st, id, &resp->order) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ReleaseOrder: REVIEWED -> RELEASED. Errors: INVALID_ARGUMENT "name", NOT_FOUND "ORDER_NOT_FOUND",
 * FAILED_PRECONDITION "ORDER_NOT_REVIEWED". */
int otd_release_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__ReleaseOrderRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "orders", "name", id, st) != 0) return -1;
    const char *state = "";
    if (otd_order_lock(c, st, id, &state) != 0) return -1;
    if (strcmp(state, "REVIEWED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_NOT_REVIEWED",
                              "order %s is %s, only a REVIEWED order can be released", id, state);
    if (otd_order_set_state(c, st, id, "RELEASED") != 0) return -1;
    Ltc__Otd__V1__ReleaseOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__ReleaseOrderResponse, LTC__OTD__V1__RELEASE_ORDER_RESPONSE__INIT);
    if (otd_order_load(c, st, id, &resp->order) != 0) return -1;
    *out = &resp->base;
    return 0;
}
