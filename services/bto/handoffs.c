/* handoffs.c - what BTO sends: a signed contract to DTC (ltc.dtc.v1.IntakeService/AcceptContractSigned; a signed
 * contract cancelled before its order: AcceptOrderCancelled), a placed order to OTD
 * (ltc.otd.v1.IntakeService/AcceptOrder) and to DTC (ltc.dtc.v1.IntakeService/AcceptOrderPlaced), both with the deal's customer snapshot and, per line, the product
 * version, revenue type and service months, list price, net amount and tax as the quote priced them. (A quote is
 * always in its deal's currency, so no exchange rate travels: the cash collected reaches LTB in that currency.)
 *
 * Each hand-off's message is built here from BTO's own rows, read inside the transaction that changed them (never
 * copied out of the public response), and queued with ltc_outbox_put in that transaction: it commits with the state
 * change or not at all. The receivers are declared once, below; ltc_outbox_put derives the method's path from the
 * receiver's service descriptor and refuses a message of another type. */
#include "bto.h"
#include "ltc/dtc/v1/intake_service.pb-c.h"
#include "ltc/ids.h"
#include "ltc/otd/v1/intake_service.pb-c.h"
#include "ltc/outbox.h"

/* --- receivers ------------------------------------------------------------------------------------------- */

static const ltc_handoff_peer OTD = {"otd", &ltc__otd__v1__intake_service__descriptor};
static const ltc_handoff_peer DTC = {"dtc", &ltc__dtc__v1__intake_service__descriptor};

/* --- SQL ------------------------------------------------------------------------------------------------- */

/* The order with what OTD and DTC need of its deal (customer, iron triangle) and of its contract (requested date). */
static const char SQL_ORDER[] =
    "SELECT o.contract_id, o.deal_id, o.total_minor, o.currency, d.customer_name, d.account_owner, d.solution_owner,"
    " d.fulfilment_owner, " LTC_SQL_DATE("k.requested_delivery_date") ", " LTC_SQL_MICROS(
        "o.create_time") ", o.credit_decision_id, " BTO_CUSTOMER_COLS
                         " FROM orders o JOIN deals d ON d.id = o.deal_id JOIN contracts k ON k.id = o.contract_id"
                         " WHERE o.id = $1";
enum {
    O_CONTRACT,
    O_DEAL,
    O_TOTAL,
    O_CURRENCY,
    O_CUSTOMER,
    O_AR,
    O_SR,
    O_FR,
    O_REQUESTED,
    O_PLACED,
    O_DECISION,
    O_CUSTOMER_ID /* then the rest of BTO_CUSTOMER_COLS */
};
/* The order's lines with what OTD and DTC need of their quote lines (version, revenue type, list price, tax). */
static const char SQL_ORDER_LINES[] =
    "SELECT ol.product_id, ol.sku, ol.quantity, ol.unit_price_minor, ol.currency, ql.product_version, "
    "ql.revenue_type, ql.service_months, ql.unit_list_minor, ol.line_total_minor, ql.tax_minor "
    "FROM order_lines ol JOIN orders o ON o.id = ol.order_id JOIN contracts k ON k.id = o.contract_id "
    "JOIN quote_lines ql ON ql.quote_id = k.quote_id AND ql.line_no = ol.line_no "
    "WHERE ol.order_id = $1 ORDER BY ol.line_no";
enum {
    OL_PRODUCT,
    OL_SKU,
    OL_QTY,
    OL_UNIT,
    OL_CUR,
    OL_VERSION,
    OL_REVENUE,
    OL_MONTHS,
    OL_LIST,
    OL_NET,
    OL_TAX
};
static const char SQL_CONTRACT_TERMS[] =
    "SELECT kind, share_bps, due_days, milestone FROM contract_payment_terms WHERE contract_id = $1 ORDER BY position";

/* The signed contract with what DTC needs of its deal (customer, iron triangle). */
static const char SQL_SIGNED_CONTRACT[] =
    "SELECT k.order_id, k.deal_id, k.total_minor, k.currency, d.account_owner, d.solution_owner, d.fulfilment_owner, "
    "" LTC_SQL_MICROS("k.sign_time") ", " BTO_CUSTOMER_COLS
                                     " FROM contracts k JOIN deals d ON d.id = k.deal_id WHERE k.id = $1";
enum {
    S_ORDER,
    S_DEAL,
    S_TOTAL,
    S_CURRENCY,
    S_AR,
    S_SR,
    S_FR,
    S_SIGNED,
    S_CUSTOMER_ID
};

/* --- hand-offs ------------------------------------------------------------------------------------------- */

int bto_handoff_order(ltc_call *c, ltc_status *st, const char *order_id) {
    const char *p[] = {order_id};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER, 1, p);
    if (!r) return -1;
    if (PQntuples(r) != 1)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "order %s vanished before its hand-off", order_id);
    const char *contract_id = ltc_pg_str(r, 0, O_CONTRACT), *deal_id = ltc_pg_str(r, 0, O_DEAL);
    PGresult *l = ltc_call_query(c, st, SQL_ORDER_LINES, 1, p);
    if (!l) return -1;
    const char *kp[] = {contract_id};
    PGresult *t = ltc_call_query(c, st, SQL_CONTRACT_TERMS, 1, kp);
    if (!t) return -1;

    char handoff_id[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(handoff_id);
    Ltc__Otd__V1__AcceptOrderRequest *msg =
        LTC_NEW(c, Ltc__Otd__V1__AcceptOrderRequest, LTC__OTD__V1__ACCEPT_ORDER_REQUEST__INIT);
    msg->handoff_id = ltc_call_strdup(c, handoff_id);
    msg->order = ltc_call_printf(c, "orders/%s", order_id);
    msg->contract = ltc_call_printf(c, "contracts/%s", contract_id);
    msg->deal = ltc_call_printf(c, "deals/%s", deal_id);
    msg->customer_name = ltc_call_strdup(c, ltc_pg_str(r, 0, O_CUSTOMER));
    msg->iron_triangle = ltc_triangle_from_pg(c, r, 0, O_AR);
    msg->total = ltc_money_msg(c, ltc_pg_str(r, 0, O_CURRENCY), ltc_pg_i64(r, 0, O_TOTAL));
    msg->requested_delivery_date = ltc_date_from_pg(c, r, 0, O_REQUESTED);
    msg->n_payment_terms = (size_t)PQntuples(t);
    msg->payment_terms = ltc_terms_from_pg(c, t, 0, PQntuples(t), 0);
    msg->n_lines = (size_t)PQntuples(l);
    msg->lines = ltc_call_alloc(c, sizeof *msg->lines * (msg->n_lines ? msg->n_lines : 1));
    int64_t tax_total = 0;
    for (size_t i = 0; i < msg->n_lines; i++) {
        Ltc__Otd__V1__HandoffOrderLine *hl =
            LTC_NEW(c, Ltc__Otd__V1__HandoffOrderLine, LTC__OTD__V1__HANDOFF_ORDER_LINE__INIT);
        hl->product = ltc_call_printf(c, "products/%s", ltc_pg_str(l, (int)i, 0));
        hl->sku = ltc_call_strdup(c, ltc_pg_str(l, (int)i, 1));
        hl->quantity = ltc_pg_i64(l, (int)i, 2);
        hl->unit_price = ltc_money_msg(c, ltc_pg_str(l, (int)i, 4), ltc_pg_i64(l, (int)i, 3));
        const char *cur = ltc_pg_str(l, (int)i, OL_CUR);
        hl->product_version = ltc_pg_isnull(l, (int)i, OL_VERSION) ? 0 : (int32_t)ltc_pg_i64(l, (int)i, OL_VERSION);
        hl->revenue_type = (Ltc__Type__V1__RevenueType)ltc_enum_from_db(
            &ltc__type__v1__revenue_type__descriptor, "REVENUE_TYPE_", ltc_pg_str(l, (int)i, OL_REVENUE));
        hl->service_months = (int32_t)ltc_pg_i64(l, (int)i, OL_MONTHS);
        hl->list_price = ltc_money_msg(c, cur, ltc_pg_i64(l, (int)i, OL_LIST));
        hl->net_amount = ltc_money_msg(c, cur, ltc_pg_i64(l, (int)i, OL_NET));
        hl->tax = ltc_money_msg(c, cur, ltc_pg_i64(l, (int)i, OL_TAX));
        tax_total += ltc_pg_i64(l, (int)i, OL_TAX);
        msg->lines[i] = hl;
    }
    msg->customer = ltc_customer_from_pg(c, r, 0, O_CUSTOMER_ID);
    if (ltc_outbox_put(c, st, &OTD, "AcceptOrder", deal_id, handoff_id, &msg->base) != 0) return -1;

    /* DTC opens the order's account at once: the placed order counts in the customer's exposure */
    char placed_id[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(placed_id);
    Ltc__Dtc__V1__AcceptOrderPlacedRequest *p2 =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptOrderPlacedRequest, LTC__DTC__V1__ACCEPT_ORDER_PLACED_REQUEST__INIT);
    p2->handoff_id = ltc_call_strdup(c, placed_id);
    p2->order = msg->order;
    p2->contract = msg->contract;
    p2->deal = msg->deal;
    p2->customer = msg->customer;
    p2->iron_triangle = msg->iron_triangle;
    p2->order_total = msg->total;
    p2->n_payment_terms = msg->n_payment_terms;
    p2->payment_terms = msg->payment_terms;
    p2->place_time = ltc_ts_from_pg(c, r, 0, O_PLACED);
    p2->credit_decision = PQgetisnull(r, 0, O_DECISION)
                              ? ltc_call_strdup(c, "")
                              : ltc_call_printf(c, "creditDecisions/%s", ltc_pg_str(r, 0, O_DECISION));
    p2->n_lines = msg->n_lines;
    p2->lines = ltc_call_alloc(c, sizeof *p2->lines * (msg->n_lines ? msg->n_lines : 1));
    for (size_t i = 0; i < msg->n_lines; i++) {
        const Ltc__Otd__V1__HandoffOrderLine *hl = msg->lines[i];
        Ltc__Dtc__V1__PlacedOrderLine *pl =
            LTC_NEW(c, Ltc__Dtc__V1__PlacedOrderLine, LTC__DTC__V1__PLACED_ORDER_LINE__INIT);
        pl->product = hl->product;
        pl->sku = hl->sku;
        pl->quantity = hl->quantity;
        pl->product_version = hl->product_version;
        pl->revenue_type = hl->revenue_type;
        pl->service_months = hl->service_months;
        pl->list_price = hl->list_price;
        pl->net_amount = hl->net_amount;
        pl->tax = hl->tax;
        p2->lines[i] = pl;
    }
    p2->tax_total = ltc_money_msg(c, ltc_pg_str(r, 0, O_CURRENCY), tax_total);
    return ltc_outbox_put(c, st, &DTC, "AcceptOrderPlaced", deal_id, placed_id, &p2->base);
}

int bto_handoff_contract_signed(ltc_call *c, ltc_status *st, const char *contract_id) {
    const char *p[] = {contract_id};
    PGresult *r = ltc_call_query(c, st, SQL_SIGNED_CONTRACT, 1, p);
    if (!r) return -1;
    if (PQntuples(r) != 1 || ltc_pg_isnull(r, 0, S_ORDER))
        return ltc_status_set(st, LTC_INTERNAL, NULL, "contract %s vanished before its hand-off", contract_id);
    PGresult *t = ltc_call_query(c, st, SQL_CONTRACT_TERMS, 1, p);
    if (!t) return -1;
    const char *deal_id = ltc_pg_str(r, 0, S_DEAL);
    char handoff_id[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(handoff_id);
    Ltc__Dtc__V1__AcceptContractSignedRequest *m =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptContractSignedRequest, LTC__DTC__V1__ACCEPT_CONTRACT_SIGNED_REQUEST__INIT);
    m->handoff_id = ltc_call_strdup(c, handoff_id);
    m->contract = ltc_call_printf(c, "contracts/%s", contract_id);
    m->order = ltc_call_printf(c, "orders/%s", ltc_pg_str(r, 0, S_ORDER));
    m->deal = ltc_call_printf(c, "deals/%s", deal_id);
    m->customer = ltc_customer_from_pg(c, r, 0, S_CUSTOMER_ID);
    m->iron_triangle = ltc_triangle_from_pg(c, r, 0, S_AR);
    m->contract_total = ltc_money_msg(c, ltc_pg_str(r, 0, S_CURRENCY), ltc_pg_i64(r, 0, S_TOTAL));
    m->n_payment_terms = (size_t)PQntuples(t);
    m->payment_terms = ltc_terms_from_pg(c, t, 0, PQntuples(t), 0);
    m->sign_time = ltc_ts_from_pg(c, r, 0, S_SIGNED);
    return ltc_outbox_put(c, st, &DTC, "AcceptContractSigned", deal_id, handoff_id, &m->base);
}

int bto_handoff_contract_cancelled(ltc_call *c, ltc_status *st, const char *contract_id, const char *order_id,
                                   const char *deal_id, const char *reason) {
    char handoff_id[LTC_UUID_LEN + 1];
    ltc_uuid_new_v7(handoff_id);
    Ltc__Dtc__V1__AcceptOrderCancelledRequest *m =
        LTC_NEW(c, Ltc__Dtc__V1__AcceptOrderCancelledRequest, LTC__DTC__V1__ACCEPT_ORDER_CANCELLED_REQUEST__INIT);
    m->handoff_id = ltc_call_strdup(c, handoff_id);
    m->order = ltc_call_printf(c, "orders/%s", order_id);
    m->contract = ltc_call_printf(c, "contracts/%s", contract_id);
    m->deal = ltc_call_printf(c, "deals/%s", deal_id);
    m->reason = ltc_call_printf(c, "contract cancelled before its order: %s", reason);
    m->cancelled_by = ltc_call_strdup(c, "bto");
    return ltc_outbox_put(c, st, &DTC, "AcceptOrderCancelled", deal_id, handoff_id, &m->base);
}
