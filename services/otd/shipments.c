/* shipments.c - shipments (发货) of scheduled orders and the customer's acceptance (验收) of each; an accepted
 * shipment is handed to DTC (IntakeService/AcceptDelivery, handoffs.c) in the same transaction. DTC is asked before
 * each shipment (credit.c): a customer on credit hold gets nothing shipped.
 * Lock order everywhere: the order first, then the shipment. */
#include <stdio.h>
#include <string.h>

#include "ltc/audit.h"
#include "ltc/money.h"
#include "ltc/proto.h"
#include "ltc/type/v1/milestone.pb-c.h"
#include "otd.h"

/* --- SQL ------------------------------------------------------------------------------------------------- */

/* What CreateShipment asks DTC about, read before the question (no lock held across it). */
static const char SQL_ORDER_FOR_CREDIT[] =
    "SELECT state, deal_id, currency, " OTD_CUSTOMER_COLS("") " FROM orders WHERE id = $1";
static const char SQL_ORDER_LINES_OF[] =
    "SELECT id, product_id, quantity, shipped_quantity, accepted_quantity, unit_price_minor, currency, "
    "over_delivery_bps, coalesce(net_minor, quantity * unit_price_minor) FROM order_lines WHERE order_id = $1 "
    "ORDER BY line_no";
static const char SQL_SHIPMENT_INSERT[] =
    "INSERT INTO shipments (id, order_id, state, amount_minor, currency) VALUES ($1, $2, 'SHIPPED', $3, $4)";
static const char SQL_SHIPMENT_LINES_INSERT[] =
    "INSERT INTO shipment_lines (shipment_id, line_no, order_line_id, quantity) "
    "SELECT $1, t.n, t.l, t.q FROM unnest($2::uuid[], $3::bigint[]) WITH ORDINALITY AS t(l, q, n)";
static const char SQL_LINES_SHIP[] =
    "UPDATE order_lines ol SET shipped_quantity = ol.shipped_quantity + t.q, update_time = now() "
    "FROM unnest($1::uuid[], $2::bigint[]) AS t(l, q) WHERE ol.id = t.l";
static const char SQL_SHIPMENT_GET[] =
    "SELECT id, order_id, state, amount_minor, currency, acceptance_note, " LTC_SQL_MICROS(
        "create_time") ", " LTC_SQL_MICROS("decide_time") " "
                                                          "FROM shipments WHERE id = $1";
static const char SQL_SHIPMENT_LINES_GET[] =
    "SELECT ol.product_id, sl.quantity FROM shipment_lines sl JOIN order_lines ol ON ol.id = sl.order_line_id "
    "WHERE sl.shipment_id = $1 ORDER BY sl.line_no";
static const char SQL_SHIPMENT_ORDER[] = "SELECT order_id FROM shipments WHERE id = $1";
static const char SQL_SHIPMENT_LOCK[] = "SELECT state, order_id FROM shipments WHERE id = $1 FOR UPDATE";
static const char SQL_SHIPMENT_DECIDE[] =
    "UPDATE shipments SET state = $2, acceptance_note = $3, handoff_id = $4, decide_time = now(), "
    "update_time = now() WHERE id = $1";
static const char SQL_LINES_ACCEPT[] =
    "UPDATE order_lines ol SET accepted_quantity = ol.accepted_quantity + sl.quantity, update_time = now() "
    "FROM shipment_lines sl WHERE sl.shipment_id = $1 AND ol.id = sl.order_line_id";
static const char SQL_LINES_UNSHIP[] =
    "UPDATE order_lines ol SET shipped_quantity = ol.shipped_quantity - sl.quantity, update_time = now() "
    "FROM shipment_lines sl WHERE sl.shipment_id = $1 AND ol.id = sl.order_line_id";
static const char SQL_ORDER_PROGRESS[] =
    "SELECT bool_and(accepted_quantity >= quantity), bool_or(shipped_quantity > 0), "
    "bool_and(shipped_quantity >= quantity) FROM order_lines WHERE order_id = $1";
static const char SQL_ORDER_CLOSE[] =
    "UPDATE orders SET state = 'CLOSED', close_time = now(), late = false, update_time = now() WHERE id = $1 "
    "RETURNING deal_id";
static const char SQL_SHIPMENT_DEAL[] =
    "SELECT o.deal_id, s.amount_minor, s.currency, EXISTS (SELECT 1 FROM order_payment_terms t WHERE "
    "t.order_id = o.id AND t.kind = 'ON_DELIVERY') FROM shipments s JOIN orders o ON o.id = s.order_id WHERE s.id = $1";
static const char SQL_TOLERANCE_SET[] =
    "UPDATE order_lines SET over_delivery_bps = $3, update_time = now() WHERE order_id = $1 AND product_id = $2 "
    "RETURNING shipped_quantity <= quantity + quantity * $3::int / 10000";

/* --- loading --------------------------------------------------------------------------------------------- */

int otd_load_shipment(ltc_call *c, ltc_status *st, const char *id, Ltc__Otd__V1__Shipment **out) {
    const char *p[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_SHIPMENT_GET, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "SHIPMENT_NOT_FOUND", "shipment %s not found", id);
    PGresult *l = ltc_call_query(c, st, SQL_SHIPMENT_LINES_GET, 1, p);
    if (!l) return -1;
    Ltc__Otd__V1__Shipment *s = LTC_NEW(c, Ltc__Otd__V1__Shipment, LTC__OTD__V1__SHIPMENT__INIT);
    s->name = ltc_call_printf(c, "shipments/%s", ltc_pg_str(r, 0, 0));
    s->order = ltc_call_printf(c, "orders/%s", ltc_pg_str(r, 0, 1));
    s->state = (Ltc__Otd__V1__ShipmentState)ltc_enum_from_db(&ltc__otd__v1__shipment_state__descriptor,
                                                             "SHIPMENT_STATE_", ltc_pg_str(r, 0, 2));
    s->amount = ltc_money_msg(c, ltc_pg_str(r, 0, 4), ltc_pg_i64(r, 0, 3));
    s->acceptance_note = ltc_call_strdup(c, ltc_pg_str(r, 0, 5));
    s->create_time = ltc_ts_from_pg(c, r, 0, 6);
    s->decide_time = ltc_ts_from_pg(c, r, 0, 7);
    s->n_lines = (size_t)PQntuples(l);
    s->lines = ltc_call_alloc(c, (s->n_lines ? s->n_lines : 1) * sizeof *s->lines);
    for (size_t i = 0; i < s->n_lines; i++) {
        Ltc__Otd__V1__ShipmentLine *sl = LTC_NEW(c, Ltc__Otd__V1__ShipmentLine, LTC__OTD__V1__SHIPMENT_LINE__INIT);
        sl->product = ltc_call_printf(c, "products/%s", ltc_pg_str(l, (int)i, 0));
        sl->quantity = ltc_pg_i64(l, (int)i, 1);
        s->lines[i] = sl;
    }
    *out = s;
    return 0;
}

/* --- CreateShipment -------------------------------------------------------------------------------------- */

/* The validated request: product ids and quantities per shipment line. */
typedef struct ship_input {
    char order[LTC_UUID_LEN + 1];
    size_t n;
    char (*products)[LTC_UUID_LEN + 1];
    int64_t *quantities;
} ship_input;

static int check_shipment(ltc_call *c, const Ltc__Otd__V1__Shipment *s, ship_input *in, ltc_status *st) {
    if (!s) return ltc_status_bad_field(st, "shipment", "required");
    ltc_name_parse(s->order, "orders", "shipment.order", in->order, st);
    in->n = s->n_lines;
    if (in->n == 0) return ltc_status_bad_field(st, "shipment.lines", "at least one line is required");
    if (in->n > OTD_MAX_LINES) return ltc_status_bad_field(st, "shipment.lines", "at most %d lines", OTD_MAX_LINES);
    in->products = ltc_call_alloc(c, in->n * sizeof *in->products);
    in->quantities = ltc_call_alloc(c, in->n * sizeof *in->quantities);
    for (size_t i = 0; i < in->n; i++) {
        const Ltc__Otd__V1__ShipmentLine *l = s->lines[i];
        const char *pfield = ltc_call_printf(c, "shipment.lines[%zu].product", i);
        if (ltc_name_parse(l->product, "products", pfield, in->products[i], st) == 0) {
            for (size_t j = 0; j < i; j++)
                if (strcmp(in->products[j], in->products[i]) == 0) {
                    ltc_status_bad_field(st, pfield, "duplicate product: shipment.lines[%zu] has it already", j);
                    break;
                }
        }
        if (l->quantity <= 0)
            ltc_status_bad_field(st, ltc_call_printf(c, "shipment.lines[%zu].quantity", i), "must be positive");
        in->quantities[i] = l->quantity;
    }
    return st->code == LTC_OK ? 0 : -1;
}

/* Matches the shipment lines to the order's lines (rows of `lines`): line_of[i] = row. Each product must be a line
 * of the order (INVALID_ARGUMENT), each quantity at most the line's unshipped quantity (FAILED_PRECONDITION
 * "OVER_SHIPMENT"). Computes the amount: each line's part of its net amount (otd_line_value, after what shipped). */
static int match_lines(ltc_call *c, const PGresult *lines, const ship_input *in, int *line_of, int64_t *amount,
                       ltc_status *st) {
    for (size_t i = 0; i < in->n; i++) {
        line_of[i] = -1;
        for (int row = 0; row < PQntuples(lines); row++)
            if (strcmp(ltc_pg_str(lines, row, 1), in->products[i]) == 0) line_of[i] = row;
        if (line_of[i] < 0)
            ltc_status_bad_field(st, ltc_call_printf(c, "shipment.lines[%zu].product", i),
                                 "products/%s is not a line of order %s", in->products[i], in->order);
    }
    if (st->code != LTC_OK) return -1;
    *amount = 0;
    for (size_t i = 0; i < in->n; i++) {
        int row = line_of[i];
        int64_t qty = ltc_pg_i64(lines, row, 2), bps = ltc_pg_i64(lines, row, 7), value;
        int64_t allowed = otd_shippable(qty, ltc_pg_i64(lines, row, 3), bps);
        if (in->quantities[i] > allowed)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OVER_SHIPMENT",
                                  "shipment.lines[%zu]: %lld units of products/%s asked, only %lld may ship (ordered "
                                  "%lld, over-delivery tolerance %lld bps)",
                                  i, (long long)in->quantities[i], in->products[i], (long long)allowed, (long long)qty,
                                  (long long)bps);
        if (otd_line_value(ltc_pg_i64(lines, row, 8), qty, ltc_pg_i64(lines, row, 3), in->quantities[i], &value) != 0 ||
            ltc_i64_add(*amount, value, amount) != 0)
            return ltc_status_set(st, LTC_OUT_OF_RANGE, "AMOUNT_OVERFLOW", "the shipment's amount overflows");
    }
    return 0;
}

/* A shipment left: milestone SHIPPED to LTB, and when the order bills on delivery (an ON_DELIVERY term) the shipment
 * to DTC (AcceptShipment) so that it raises that share. Orders without such a term send nothing to DTC until
 * acceptance (AcceptDelivery). */
static int shipment_left(ltc_call *c, ltc_status *st, const char *sid, const char *oid, int all_shipped) {
    const char *p[1] = {sid};
    PGresult *r = ltc_call_query(c, st, SQL_SHIPMENT_DEAL, 1, p);
    if (!r) return -1;
    ltc_money amount = {.minor = ltc_pg_i64(r, 0, 1)};
    snprintf(amount.currency, sizeof amount.currency, "%s", ltc_pg_str(r, 0, 2));
    if (otd_milestone(c, st, ltc_pg_str(r, 0, 0), oid, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_SHIPPED, &amount,
                      ltc_call_printf(c, "shipments/%s", sid)) != 0)
        return -1;
    if (!ltc_pg_bool(r, 0, 3)) return 0;
    return otd_handoff_shipment(c, st, sid, all_shipped);
}

/* Writes the shipment, its lines, the shipped quantities and the order's new state. */
static int write_shipment(ltc_call *c, ltc_status *st, const char *sid, const ship_input *in, const PGresult *lines,
                          const int *line_of, int64_t amount) {
    const char *currency = ltc_pg_str(lines, 0, 6);
    const char *sp[4] = {sid, in->order, ltc_sql_i64(c, amount), currency};
    if (!ltc_call_query(c, st, SQL_SHIPMENT_INSERT, 4, sp)) return -1;
    const char **line_ids = ltc_call_alloc(c, in->n * sizeof *line_ids);
    for (size_t i = 0; i < in->n; i++) line_ids[i] = ltc_pg_str(lines, line_of[i], 0);
    const char *ids = ltc_sql_text_array(c, line_ids, in->n), *qty = ltc_sql_i64_array(c, in->quantities, in->n);
    const char *lp[3] = {sid, ids, qty};
    if (!ltc_call_query(c, st, SQL_SHIPMENT_LINES_INSERT, 3, lp)) return -1;
    const char *up[2] = {ids, qty};
    if (!ltc_call_query(c, st, SQL_LINES_SHIP, 2, up)) return -1;

    int all_shipped = 1;
    for (int row = 0; row < PQntuples(lines); row++) {
        int64_t shipped = ltc_pg_i64(lines, row, 3);
        for (size_t i = 0; i < in->n; i++)
            if (line_of[i] == row) shipped += in->quantities[i];
        if (shipped < ltc_pg_i64(lines, row, 2)) all_shipped = 0;
    }
    if (otd_order_set_state(c, st, in->order, all_shipped ? "SHIPPED" : "PARTIALLY_SHIPPED") != 0) return -1;
    return shipment_left(c, st, sid, in->order, all_shipped);
}

static int not_scheduled(ltc_status *st, const char *order, const char *state) {
    return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_NOT_SCHEDULED",
                          "order %s is %s; only a SCHEDULED or PARTIALLY_SHIPPED order can ship", order, state);
}

/* Asks DTC whether the order's customer may be shipped to (stage SHIPMENT, amount 0: holds and blocks only), before
 * any row is locked. 0 with *a APPROVED, or -1: NOT_FOUND "ORDER_NOT_FOUND", FAILED_PRECONDITION
 * "ORDER_NOT_SCHEDULED", "CREDIT_ON_HOLD" (DTC refused: its decision and reasons in the message and the ErrorInfo
 * metadata "credit_decision", "credit_reasons"), UNAVAILABLE
 * "CREDIT_SERVICE_UNAVAILABLE" (no answer: fail closed). */
static int ask_shipment_credit(ltc_call *c, ltc_status *st, const char *order, otd_credit_answer *a) {
    const char *p[1] = {order};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_FOR_CREDIT, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order %s not found", order);
    const char *state = ltc_pg_str(r, 0, 0);
    if (strcmp(state, "SCHEDULED") != 0 && strcmp(state, "PARTIALLY_SHIPPED") != 0)
        return not_scheduled(st, order, state);
    otd_credit_check(c, LTC__DTC__V1__CREDIT_STAGE__CREDIT_STAGE_SHIPMENT, ltc_customer_from_pg(c, r, 0, 3), order,
                     ltc_pg_str(r, 0, 1), ltc_pg_str(r, 0, 2), 0, a);
    if (a->outcome == OTD_CREDIT_APPROVED) return 0;
    if (a->outcome == OTD_CREDIT_REFUSED) {
        char reasons[256] = "";
        for (size_t i = 0, used = 0; i < a->n_reasons && used < sizeof reasons; i++) {
            int n = snprintf(reasons + used, sizeof reasons - used, "%s%s", i ? "," : "", a->reasons[i]);
            if (n < 0) break;
            used += (size_t)n;
        }
        ltc_status_set(st, LTC_FAILED_PRECONDITION, "CREDIT_ON_HOLD",
                       "DTC holds the credit of order %s's customer (creditDecisions/%s): %s; nothing shipped", order,
                       a->decision_id, reasons);
        ltc_status_meta(st, "credit_decision", "creditDecisions/%s", a->decision_id);
        return ltc_status_meta(st, "credit_reasons", "%s", reasons);
    }
    return ltc_status_set(st, LTC_UNAVAILABLE, "CREDIT_SERVICE_UNAVAILABLE",
                          "DTC did not answer the credit check for order %s; nothing shipped, retry with the same "
                          "request_id",
                          order);
}

/* CreateShipment: ships quantities of a SCHEDULED or PARTIALLY_SHIPPED order once DTC approves (stage SHIPMENT: a hold
 * or a block refuses; the approval is recorded in credit_checks); the order becomes SHIPPED when every line is fully
 * shipped, else PARTIALLY_SHIPPED. Errors: INVALID_ARGUMENT "shipment", "shipment.order", "shipment.lines",
 * "shipment.lines[i].product" (malformed, twice in the shipment, not a line of the order),
 * "shipment.lines[i].quantity"; NOT_FOUND "ORDER_NOT_FOUND"; FAILED_PRECONDITION "ORDER_NOT_SCHEDULED",
 * "OVER_SHIPMENT" (more than the line's unshipped quantity), "CREDIT_ON_HOLD" (nothing shipped); UNAVAILABLE
 * "CREDIT_SERVICE_UNAVAILABLE" (DTC did not answer: nothing shipped). */
int otd_create_shipment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__CreateShipmentRequest *req = (const void *)m;
    ship_input in;
    memset(&in, 0, sizeof in);
    if (check_shipment(c, req->shipment, &in, st) != 0) return -1;
    otd_credit_answer credit;
    if (ask_shipment_credit(c, st, in.order, &credit) != 0) return -1;

    const char *state = "";
    if (otd_order_lock(c, st, in.order, &state) != 0) return -1;
    if (strcmp(state, "SCHEDULED") != 0 && strcmp(state, "PARTIALLY_SHIPPED") != 0)
        return not_scheduled(st, in.order, state);
    if (otd_credit_record(c, st, in.order, "SHIPMENT", &credit) != 0) return -1;
    const char *p[1] = {in.order};
    PGresult *lines = ltc_call_query(c, st, SQL_ORDER_LINES_OF, 1, p);
    if (!lines) return -1;
    int *line_of = ltc_call_alloc(c, in.n * sizeof *line_of);
    int64_t amount;
    if (match_lines(c, lines, &in, line_of, &amount, st) != 0) return -1;

    char sid[LTC_UUID_LEN + 1];
    ltc_uuid_new(sid);
    if (write_shipment(c, st, sid, &in, lines, line_of, amount) != 0) return -1;
    const char *now_state = "";
    if (otd_order_lock(c, st, in.order, &now_state) != 0) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "orders/%s", in.order), "state", state, now_state);
    ltc_audit_change(c, ltc_call_printf(c, "shipments/%s", sid), "state", NULL, "SHIPPED");
    ltc_audit_change_money(c, ltc_call_printf(c, "shipments/%s", sid), "amount", ltc_pg_str(lines, 0, 6), 0, 0, amount,
                           1);
    Ltc__Otd__V1__CreateShipmentResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__CreateShipmentResponse, LTC__OTD__V1__CREATE_SHIPMENT_RESPONSE__INIT);
    if (otd_load_shipment(c, st, sid, &resp->shipment) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* GetShipment: one shipment. Errors: INVALID_ARGUMENT "name", NOT_FOUND "SHIPMENT_NOT_FOUND". */
int otd_get_shipment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__GetShipmentRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "shipments", "name", id, st) != 0) return -1;
    Ltc__Otd__V1__GetShipmentResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__GetShipmentResponse, LTC__OTD__V1__GET_SHIPMENT_RESPONSE__INIT);
    if (otd_load_shipment(c, st, id, &resp->shipment) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- RecordAcceptance ------------------------------------------------------------------------------------ */

/* Applies the decision to the order's lines and state: accepted adds to accepted quantities (order ACCEPTED when
 * all is accepted); rejected returns the quantities to unshipped (order PARTIALLY_SHIPPED or SCHEDULED). */
static int apply_decision(ltc_call *c, ltc_status *st, const char *sid, const char *oid, int accepted) {
    const char *p[1] = {sid};
    if (!ltc_call_query(c, st, accepted ? SQL_LINES_ACCEPT : SQL_LINES_UNSHIP, 1, p)) return -1;
    const char *op[1] = {oid};
    PGresult *r = ltc_call_query(c, st, SQL_ORDER_PROGRESS, 1, op);
    if (!r) return -1;
    PGresult *d = ltc_call_query(c, st, SQL_SHIPMENT_DEAL, 1, p);
    if (!d) return -1;
    const char *deal = ltc_call_strdup(c, ltc_pg_str(d, 0, 0));
    if (accepted) {
        ltc_money amount = {.minor = ltc_pg_i64(d, 0, 1)};
        snprintf(amount.currency, sizeof amount.currency, "%s", ltc_pg_str(d, 0, 2));
        if (otd_milestone(c, st, deal, oid, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_ACCEPTED, &amount,
                          ltc_call_printf(c, "shipments/%s", sid)) != 0)
            return -1;
        if (!ltc_pg_bool(r, 0, 0)) return 0;
        if (!ltc_call_query(c, st, SQL_ORDER_CLOSE, 1, op)) return -1; /* every line accepted in full */
        return otd_milestone(c, st, deal, oid, LTC__TYPE__V1__MILESTONE_KIND__MILESTONE_KIND_ORDER_CLOSED, NULL,
                             "delivered and accepted");
    }
    if (otd_order_set_state(c, st, oid, ltc_pg_bool(r, 0, 1) ? "PARTIALLY_SHIPPED" : "SCHEDULED") != 0) return -1;
    return otd_schedule_one(c, st, oid, 0, "shipment rejected"); /* the rest re-promised */
}

/* RecordAcceptance: the customer's decision on a SHIPPED shipment. Accepted -> ACCEPTED, the accepted quantities
 * grow, the order becomes ACCEPTED when every line is fully accepted, and the shipment is handed to DTC
 * (AcceptDelivery) in the same transaction. Rejected -> REJECTED and its quantities can be shipped again.
 * Errors: INVALID_ARGUMENT "name", "note" (required when rejected, up to 500 characters); NOT_FOUND
 * "SHIPMENT_NOT_FOUND"; FAILED_PRECONDITION "SHIPMENT_ALREADY_DECIDED". */
int otd_record_acceptance(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__RecordAcceptanceRequest *req = (const void *)m;
    char sid[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "shipments", "name", sid, st);
    ltc_check_text(req->note, "note", !req->accepted, 500, st);
    if (st->code != LTC_OK) return -1;

    const char *p[1] = {sid};
    PGresult *r = ltc_call_query(c, st, SQL_SHIPMENT_ORDER, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "SHIPMENT_NOT_FOUND", "shipment %s not found", sid);
    const char *oid = ltc_call_strdup(c, ltc_pg_str(r, 0, 0)), *order_state = "";
    if (otd_order_lock(c, st, oid, &order_state) != 0) return -1; /* the order first, then the shipment */
    PGresult *s = ltc_call_query(c, st, SQL_SHIPMENT_LOCK, 1, p);
    if (!s) return -1;
    if (strcmp(ltc_pg_str(s, 0, 0), "SHIPPED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "SHIPMENT_ALREADY_DECIDED", "shipment %s is already %s", sid,
                              ltc_pg_str(s, 0, 0));

    char handoff_id[LTC_UUID_LEN + 1];
    ltc_uuid_new(handoff_id);
    const char *dp[4] = {sid, req->accepted ? "ACCEPTED" : "REJECTED", req->note, req->accepted ? handoff_id : NULL};
    if (!ltc_call_query(c, st, SQL_SHIPMENT_DECIDE, 4, dp)) return -1;
    if (apply_decision(c, st, sid, oid, req->accepted) != 0) return -1;

    Ltc__Otd__V1__RecordAcceptanceResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__RecordAcceptanceResponse, LTC__OTD__V1__RECORD_ACCEPTANCE_RESPONSE__INIT);
    if (otd_load_shipment(c, st, sid, &resp->shipment) != 0 || otd_load_order(c, st, oid, &resp->order) != 0) return -1;
    ltc_audit_change(c, ltc_call_printf(c, "shipments/%s", sid), "state", "SHIPPED",
                     req->accepted ? "ACCEPTED" : "REJECTED");
    if (req->note[0]) ltc_audit_change(c, ltc_call_printf(c, "shipments/%s", sid), "acceptance_note", NULL, req->note);
    otd_audit_order_state(c, oid, order_state, resp->order);
    if (req->accepted && otd_handoff_delivery(c, st, sid, handoff_id) != 0) return -1;
    *out = &resp->base;
    return 0;
}

int64_t otd_shippable(int64_t quantity, int64_t shipped, int64_t bps) {
    if (quantity <= 0 || bps < 0) return 0;
    int64_t extra = quantity / 10000 * bps + quantity % 10000 * bps / 10000, cap; /* floor(q * bps / 10000) */
    if (ltc_i64_add(quantity, extra, &cap) != 0) cap = INT64_MAX;
    return cap > shipped ? cap - shipped : 0;
}

__extension__ typedef __int128 otd_i128;

/* round(net x k / quantity), half away from zero (net >= 0, k >= 0, quantity > 0). */
static otd_i128 line_cumulative(int64_t net, int64_t quantity, int64_t k) {
    otd_i128 num = (otd_i128)net * k, whole = num / quantity, rest = num % quantity;
    return 2 * rest >= quantity ? whole + 1 : whole;
}

int otd_line_value(int64_t net, int64_t quantity, int64_t done, int64_t q, int64_t *value) {
    if (quantity <= 0 || done < 0 || q < 0 || net < 0 || done > INT64_MAX - q) return -1;
    otd_i128 v = line_cumulative(net, quantity, done + q) - line_cumulative(net, quantity, done);
    if (v > INT64_MAX) return -1;
    *value = (int64_t)v;
    return 0;
}

/* SetDeliveryTolerance: a line's over-delivery tolerance. Errors: INVALID_ARGUMENT "name", "product",
 * "over_delivery_bps" (0 to 10000), "product" not a line of the order; NOT_FOUND "ORDER_NOT_FOUND";
 * FAILED_PRECONDITION "ORDER_NOT_OPEN" (cancelled, closed or accepted), "TOLERANCE_BELOW_SHIPPED". */
int otd_set_delivery_tolerance(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__SetDeliveryToleranceRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1], product[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "orders", "name", id, st);
    ltc_name_parse(req->product, "products", "product", product, st);
    if (req->over_delivery_bps < 0 || req->over_delivery_bps > 10000)
        ltc_status_bad_field(st, "over_delivery_bps", "must be 0 to 10000");
    if (st->code != LTC_OK) return -1;
    const char *state = "";
    if (otd_order_lock(c, st, id, &state) != 0) return -1;
    if (strcmp(state, "CANCELLED") == 0 || strcmp(state, "CLOSED") == 0 || strcmp(state, "ACCEPTED") == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_NOT_OPEN", "order %s is %s", id, state);
    const char *p[3] = {id, product, ltc_sql_i64(c, req->over_delivery_bps)};
    PGresult *r = ltc_call_query(c, st, SQL_TOLERANCE_SET, 3, p);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_bad_field(st, "product", "products/%s is not a line of order %s", product, id);
    if (!ltc_pg_bool(r, 0, 0))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "TOLERANCE_BELOW_SHIPPED",
                              "more of products/%s has shipped than %d bps over its quantity allow", product,
                              req->over_delivery_bps);
    Ltc__Otd__V1__SetDeliveryToleranceResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__SetDeliveryToleranceResponse, LTC__OTD__V1__SET_DELIVERY_TOLERANCE_RESPONSE__INIT);
    if (otd_load_order(c, st, id, &resp->order) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- CreateReturn -------------------------------------------------------------------------------------------- */

static const char SQL_SHIPMENT_FOR_RETURN[] = "SELECT state, order_id FROM shipments WHERE id = $1 FOR UPDATE";
/* Per line of the shipment: what it delivered, what came back from it already, the order line, its price (for
 * reading), what of the line came back before, its quantity and its net amount. */
static const char SQL_RETURNABLE[] =
    "SELECT ol.product_id, sl.quantity - coalesce((SELECT sum(rl.quantity) FROM return_lines rl JOIN returns r "
    "ON r.id = rl.return_id WHERE r.shipment_id = sl.shipment_id AND rl.order_line_id = sl.order_line_id), 0), "
    "ol.id, ol.unit_price_minor, ol.currency, ol.returned_quantity, ol.quantity, "
    "coalesce(ol.net_minor, ol.quantity * ol.unit_price_minor) FROM shipment_lines sl "
    "JOIN order_lines ol ON ol.id = sl.order_line_id WHERE sl.shipment_id = $1";
static const char SQL_RETURN_INSERT[] =
    "INSERT INTO returns (id, order_id, shipment_id, reason, amount_minor, currency, handoff_id, received_by) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
static const char SQL_RETURN_LINES_INSERT[] =
    "INSERT INTO return_lines (return_id, line_no, order_line_id, quantity) "
    "SELECT $1, t.n, t.l, t.q FROM unnest($2::uuid[], $3::bigint[]) WITH ORDINALITY AS t(l, q, n)";
static const char SQL_LINES_RETURNED[] =
    "UPDATE order_lines ol SET returned_quantity = ol.returned_quantity + t.q, update_time = now() "
    "FROM unnest($1::uuid[], $2::bigint[]) AS t(l, q) WHERE ol.id = t.l";
static const char SQL_RETURN_GET[] =
    "SELECT id, order_id, shipment_id, reason, amount_minor, currency, " LTC_SQL_MICROS("create_time") " FROM returns "
                                                                                                       "WHERE id = $1";
static const char SQL_RETURN_LINES_GET[] =
    "SELECT ol.product_id, rl.quantity FROM return_lines rl JOIN order_lines ol ON ol.id = rl.order_line_id "
    "WHERE rl.return_id = $1 ORDER BY rl.line_no";

static int load_return(ltc_call *c, ltc_status *st, const char *id, Ltc__Otd__V1__Return **out) {
    const char *p[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_RETURN_GET, 1, p);
    if (!r) return -1;
    PGresult *l = ltc_call_query(c, st, SQL_RETURN_LINES_GET, 1, p);
    if (!l) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_INTERNAL, NULL, "return %s vanished", id);
    Ltc__Otd__V1__Return *o = LTC_NEW(c, Ltc__Otd__V1__Return, LTC__OTD__V1__RETURN__INIT);
    o->name = ltc_call_printf(c, "returns/%s", ltc_pg_str(r, 0, 0));
    o->order = ltc_call_printf(c, "orders/%s", ltc_pg_str(r, 0, 1));
    o->shipment = ltc_call_printf(c, "shipments/%s", ltc_pg_str(r, 0, 2));
    o->reason = ltc_call_strdup(c, ltc_pg_str(r, 0, 3));
    o->amount = ltc_money_msg(c, ltc_pg_str(r, 0, 5), ltc_pg_i64(r, 0, 4));
    o->create_time = ltc_ts_from_pg(c, r, 0, 6);
    o->n_lines = (size_t)PQntuples(l);
    o->lines = ltc_call_alloc(c, (o->n_lines ? o->n_lines : 1) * sizeof *o->lines);
    for (int i = 0; i < PQntuples(l); i++) {
        Ltc__Otd__V1__ShipmentLine *x = LTC_NEW(c, Ltc__Otd__V1__ShipmentLine, LTC__OTD__V1__SHIPMENT_LINE__INIT);
        x->product = ltc_call_printf(c, "products/%s", ltc_pg_str(l, i, 0));
        x->quantity = ltc_pg_i64(l, i, 1);
        o->lines[i] = x;
    }
    *out = o;
    return 0;
}

/* CreateReturn: goods back from an ACCEPTED shipment (an RMA), at most what it delivered less what came back from it
 * already, per line; handed to DTC (AcceptReturn: a credit note for their value at the order's prices) and reported
 * to LTB (RETURNED) in the same transaction. Errors: INVALID_ARGUMENT "rma", "rma.shipment", "rma.lines",
 * "rma.lines[i].product" (malformed, twice, not a line of the shipment), "rma.lines[i].quantity", "rma.reason" (1 to
 * 1000 characters); NOT_FOUND "SHIPMENT_NOT_FOUND"; FAILED_PRECONDITION "SHIPMENT_NOT_ACCEPTED",
 * "RETURN_EXCEEDS_ACCEPTED"; OUT_OF_RANGE "AMOUNT_OVERFLOW". */
int otd_create_return(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__CreateReturnRequest *req = (const void *)m;
    const Ltc__Otd__V1__Return *rma = req->rma;
    if (!rma) return ltc_status_bad_field(st, "rma", "required");
    char sid[LTC_UUID_LEN + 1];
    ltc_name_parse(rma->shipment, "shipments", "rma.shipment", sid, st);
    ltc_check_text(rma->reason, "rma.reason", 1, 1000, st);
    size_t n = rma->n_lines;
    if (n == 0) ltc_status_bad_field(st, "rma.lines", "at least one line is required");
    if (n > OTD_MAX_LINES) return ltc_status_bad_field(st, "rma.lines", "at most %d lines", OTD_MAX_LINES);
    char(*products)[LTC_UUID_LEN + 1] = ltc_call_alloc(c, (n ? n : 1) * sizeof *products);
    for (size_t i = 0; i < n; i++) {
        const char *f = ltc_call_printf(c, "rma.lines[%zu].product", i);
        if (ltc_name_parse(rma->lines[i]->product, "products", f, products[i], st) == 0)
            for (size_t j = 0; j < i; j++)
                if (strcmp(products[j], products[i]) == 0) {
                    ltc_status_bad_field(st, f, "duplicate product: rma.lines[%zu] has it already", j);
                    break;
                }
        if (rma->lines[i]->quantity <= 0)
            ltc_status_bad_field(st, ltc_call_printf(c, "rma.lines[%zu].quantity", i), "must be positive");
    }
    if (st->code != LTC_OK) return -1;

    const char *p[1] = {sid};
    PGresult *so = ltc_call_query(c, st, SQL_SHIPMENT_ORDER, 1, p);
    if (!so) return -1;
    if (PQntuples(so) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "SHIPMENT_NOT_FOUND", "shipment %s not found", sid);
    const char *oid = ltc_call_strdup(c, ltc_pg_str(so, 0, 0)), *order_state = "";
    if (otd_order_lock(c, st, oid, &order_state) != 0) return -1; /* the order first, then the shipment */
    PGresult *s = ltc_call_query(c, st, SQL_SHIPMENT_FOR_RETURN, 1, p);
    if (!s) return -1;
    if (strcmp(ltc_pg_str(s, 0, 0), "ACCEPTED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "SHIPMENT_NOT_ACCEPTED",
                              "shipment %s is %s; only goods of an accepted shipment are returned", sid,
                              ltc_pg_str(s, 0, 0));
    PGresult *lines = ltc_call_query(c, st, SQL_RETURNABLE, 1, p);
    if (!lines) return -1;
    const char **line_ids = ltc_call_alloc(c, n * sizeof *line_ids);
    int64_t *qty = ltc_call_alloc(c, n * sizeof *qty), amount = 0;
    const char *currency = "";
    for (size_t i = 0; i < n; i++) {
        int row = -1;
        for (int k = 0; k < PQntuples(lines); k++)
            if (strcmp(ltc_pg_str(lines, k, 0), products[i]) == 0) row = k;
        if (row < 0) {
            ltc_status_bad_field(st, ltc_call_printf(c, "rma.lines[%zu].product", i),
                                 "products/%s is not in shipment %s", products[i], sid);
            continue;
        }
        int64_t left = ltc_pg_i64(lines, row, 1), value;
        if (rma->lines[i]->quantity > left)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "RETURN_EXCEEDS_ACCEPTED",
                                  "rma.lines[%zu]: %lld units of products/%s returned, only %lld delivered by shipment "
                                  "%s and not returned yet",
                                  i, (long long)rma->lines[i]->quantity, products[i], (long long)left, sid);
        line_ids[i] = ltc_pg_str(lines, row, 2);
        qty[i] = rma->lines[i]->quantity;
        currency = ltc_pg_str(lines, row, 4);
        if (otd_line_value(ltc_pg_i64(lines, row, 7), ltc_pg_i64(lines, row, 6), ltc_pg_i64(lines, row, 5), qty[i],
                           &value) != 0 ||
            ltc_i64_add(amount, value, &amount) != 0)
            return ltc_status_set(st, LTC_OUT_OF_RANGE, "AMOUNT_OVERFLOW", "the return's value overflows");
    }
    if (st->code != LTC_OK) return -1;

    char id[LTC_UUID_LEN + 1], hid[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    ltc_uuid_new(hid);
    const char *by = ltc_call_principal(c);
    const char *ip[8] = {id, oid, sid, rma->reason, ltc_sql_i64(c, amount), currency, hid, by ? by : ""};
    if (!ltc_call_query(c, st, SQL_RETURN_INSERT, 8, ip)) return -1;
    const char *ids = ltc_sql_text_array(c, line_ids, n), *qs = ltc_sql_i64_array(c, qty, n);
    const char *lp[3] = {id, ids, qs};
    if (!ltc_call_query(c, st, SQL_RETURN_LINES_INSERT, 3, lp)) return -1;
    const char *up[2] = {ids, qs};
    if (!ltc_call_query(c, st, SQL_LINES_RETURNED, 2, up)) return -1;
    if (otd_handoff_return(c, st, id, hid) != 0) return -1;

    Ltc__Otd__V1__CreateReturnResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__CreateReturnResponse, LTC__OTD__V1__CREATE_RETURN_RESPONSE__INIT);
    if (load_return(c, st, id, &resp->rma) != 0 || otd_load_order(c, st, oid, &resp->order) != 0) return -1;
    ltc_audit_change_money(c, ltc_call_printf(c, "returns/%s", id), "amount", currency, 0, 0, amount, 1);
    ltc_audit_change(c, ltc_call_printf(c, "returns/%s", id), "reason", NULL, rma->reason);
    *out = &resp->base;
    return 0;
}
