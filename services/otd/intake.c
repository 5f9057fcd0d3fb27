/* intake.c - what OTD receives (ltc.otd.v1.IntakeService): BTO's placed orders (AcceptOrder), stored RECEIVED with
 * their lines and payment terms. The runtime dedups by handoff_id before calling us; a hand-off is validated like
 * client input (a malformed one is INVALID_ARGUMENT, which the sender parks) and applied in the server's
 * transaction. (LTB's AcceptCustomerChanged is in customers.c.) */
#include <string.h>

#include "otd.h"

/* --- SQL ------------------------------------------------------------------------------------------------- */

/* The customer id resolves through the merges OTD was told of (an order placed before a merge, handed over after). */
static const char SQL_ORDER_INSERT[] =
    "INSERT INTO orders (id, contract_id, deal_id, customer_name, account_owner, solution_owner, fulfilment_owner, "
    "total_minor, currency, requested_delivery_date, state, " OTD_CUSTOMER_COLS(
        "") ") "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::date, 'RECEIVED', "
            "(WITH RECURSIVE m(id, depth) AS (SELECT $11::uuid, 0 UNION ALL SELECT x.survivor_id, m.depth + 1 "
            "FROM m CROSS JOIN LATERAL (SELECT survivor_id FROM customer_changes WHERE customer_id = m.id "
            "AND change = 'MERGED' ORDER BY seq DESC LIMIT 1) x WHERE m.depth < 16) SELECT id FROM m ORDER BY depth DESC LIMIT 1)"
            ", $12, $13, $14, $15, $16) "
            "ON CONFLICT (id) DO NOTHING RETURNING id";
static const char SQL_LINES_INSERT[] =
    "INSERT INTO order_lines (order_id, line_no, product_id, sku, quantity, unit_price_minor, currency, net_minor) "
    "SELECT $1, t.n, t.p, t.s, t.q, t.u, $2, t.a "
    "FROM unnest($3::uuid[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[]) WITH ORDINALITY "
    "AS t(p, s, q, u, a, n)";
static const char SQL_TERMS_INSERT[] =
    "INSERT INTO order_payment_terms (order_id, position, kind, share_bps, due_days, milestone) "
    "SELECT $1, t.n, t.k, t.b, t.d, nullif(t.m, '') FROM unnest($2::text[], $3::int[], $4::int[], $5::text[]) "
    "WITH ORDINALITY AS t(k, b, d, m, n)";

/* --- AcceptOrder -------------------------------------------------------------------------------------------------- */

/* The validated content of an AcceptOrderRequest, as SQL text parameters. */
typedef struct order_input {
    char id[LTC_UUID_LEN + 1], contract[LTC_UUID_LEN + 1], deal[LTC_UUID_LEN + 1], customer[LTC_UUID_LEN + 1];
    char requested[11];
    ltc_money total;
    const char **products, **skus;
    int64_t *quantities, *prices, *nets;
    const char **kinds, **milestones;
    int64_t *shares, *due_days;
} order_input;

/* Lines: at least one, each a distinct product, quantity > 0, unit price >= 0 in the total's currency; each line's
 * amount is its net_amount when it has one (>= 0, in the total's currency), else quantity x unit_price (older
 * senders); the total must be the sum of the line amounts. Adds violations to st. */
static void check_order_lines(ltc_call *c, const Ltc__Otd__V1__AcceptOrderRequest *req, int total_ok, order_input *in,
                              ltc_status *st) {
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
    in->nets = ltc_call_alloc(c, n * sizeof *in->nets);
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
        int64_t amount = 0;
        if (l->net_amount) {
            ltc_money net;
            const char *nfield = ltc_call_printf(c, "lines[%zu].net_amount", i);
            if (ltc_money_from_proto(l->net_amount, nfield, 0, &net, st) != 0) {
                lines_ok = 0;
                continue;
            }
            if (net.minor < 0) {
                ltc_status_bad_field(st, nfield, "must not be negative");
                lines_ok = 0;
            } else if (total_ok && strcmp(net.currency, in->total.currency) != 0) {
                ltc_status_bad_field(st, nfield, "currency %s differs from the total's %s", net.currency,
                                     in->total.currency);
                lines_ok = 0;
            }
            amount = net.minor;
        } else if (ltc_i64_mul(l->quantity, price.minor, &amount) != 0) {
            ltc_status_bad_field(st, "total", "quantity x unit_price of lines[%zu] overflows", i);
            lines_ok = 0;
        }
        in->nets[i] = amount;
        if (lines_ok && ltc_i64_add(sum, amount, &sum) != 0) {
            ltc_status_bad_field(st, "total", "sum of the line amounts overflows");
            lines_ok = 0;
        }
    }
    if (lines_ok && total_ok && sum != in->total.minor)
        ltc_status_bad_field(st, "total",
                             "must equal the sum of the line amounts (net_amount, else quantity x unit_price: %lld "
                             "minor units)",
                             (long long)sum);
}

/* Payment terms (ltc_check_payment_terms), as the SQL arrays of their kinds, shares and due days. */
static void check_terms(ltc_call *c, const Ltc__Otd__V1__AcceptOrderRequest *req, order_input *in, ltc_status *st) {
    size_t n = req->n_payment_terms;
    if (ltc_check_payment_terms(c, req->payment_terms, n, "payment_terms", OTD_MAX_TERMS, st) != 0) return;
    in->kinds = ltc_call_alloc(c, n * sizeof *in->kinds);
    in->milestones = ltc_call_alloc(c, n * sizeof *in->milestones);
    in->shares = ltc_call_alloc(c, n * sizeof *in->shares);
    in->due_days = ltc_call_alloc(c, n * sizeof *in->due_days);
    for (size_t i = 0; i < n; i++) {
        in->kinds[i] = ltc_term_kind_to_db(req->payment_terms[i]->kind);
        in->milestones[i] = req->payment_terms[i]->milestone ? req->payment_terms[i]->milestone : "";
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
    ltc_customer_check(req->customer, "customer", 1, in->customer, st);
    ltc_check_triangle(req->iron_triangle, "iron_triangle", 0, st);
    int total_ok = ltc_money_from_proto(req->total, "total", 0, &in->total, st) == 0;
    check_order_lines(c, req, total_ok, in, st);
    check_terms(c, req, in, st);
    ltc_date_to_text(req->requested_delivery_date, "requested_delivery_date", 0, in->requested, st);
    return st->code == LTC_OK ? 0 : -1;
}

/* IntakeService/AcceptOrder: BTO hands over a placed order; it is stored RECEIVED with its lines, payment terms and
 * customer snapshot (required: "customer").
 * Errors: INVALID_ARGUMENT (every bad field named; "total" when it is not the sum of the lines),
 * ALREADY_EXISTS "ORDER_EXISTS" when an order with that id came with another hand-off. */
int otd_accept_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__AcceptOrderRequest *req = (const void *)m;
    order_input in;
    memset(&in, 0, sizeof in);
    if (check_accept_order(c, req, &in, st) != 0) return -1;

    const Ltc__Type__V1__IronTriangle *t = req->iron_triangle;
    const Ltc__Type__V1__CustomerSnapshot *cs = req->customer;
    const char *p[16] = {in.id,
                         in.contract,
                         in.deal,
                         req->customer_name,
                         t ? t->account_owner : "",
                         t ? t->solution_owner : "",
                         t ? t->fulfilment_owner : "",
                         ltc_sql_i64(c, in.total.minor),
                         in.total.currency,
                         in.requested,
                         in.customer,
                         cs->legal_name,
                         cs->tax_id ? cs->tax_id : "",
                         cs->country_code ? cs->country_code : "",
                         cs->billing_currency ? cs->billing_currency : "",
                         cs->account_owner ? cs->account_owner : ""};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_INSERT, 16, p);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "ORDER_EXISTS", "order %s was already received", in.id);

    const char *lp[7] = {in.id,
                         in.total.currency,
                         ltc_sql_text_array(c, in.products, req->n_lines),
                         ltc_sql_text_array(c, in.skus, req->n_lines),
                         ltc_sql_i64_array(c, in.quantities, req->n_lines),
                         ltc_sql_i64_array(c, in.prices, req->n_lines),
                         ltc_sql_i64_array(c, in.nets, req->n_lines)};
    if (!ltc_call_query(c, st, SQL_LINES_INSERT, 7, lp)) return -1;
    const char *tp[5] = {in.id, ltc_sql_text_array(c, in.kinds, req->n_payment_terms),
                         ltc_sql_i64_array(c, in.shares, req->n_payment_terms),
                         ltc_sql_i64_array(c, in.due_days, req->n_payment_terms),
                         ltc_sql_text_array(c, in.milestones, req->n_payment_terms)};
    if (!ltc_call_query(c, st, SQL_TERMS_INSERT, 5, tp)) return -1;

    Ltc__Otd__V1__AcceptOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__AcceptOrderResponse, LTC__OTD__V1__ACCEPT_ORDER_RESPONSE__INIT);
    resp->order = ltc_call_printf(c, "orders/%s", in.id);
    *out = &resp->base;
    return 0;
}
