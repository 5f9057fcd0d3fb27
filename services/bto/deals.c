/* deals.c - deals won in LTB (opened by the AcceptWonBid hand-off, intake.c): the deal loader, GetDeal and
 * ListDeals. */
#include <string.h>

#include "bto.h"
#include "ltc/audit.h"
#include "ltc/ids.h"
#include "ltc/money.h"
#include "ltc/proto.h"

#define DEAL_COLS                                                                                                      \
    "d.id, d.opportunity_id, d.bid_id, d.customer_name, d.account_owner, d.solution_owner, d.fulfilment_owner, "       \
    "d.expected_minor, d.currency, d.state, " LTC_SQL_MICROS("d.create_time") ", d.seq, " BTO_CUSTOMER_COLS            \
                                                                              ", d.customer_group"

static const char SQL_GET_DEAL[] = "SELECT " DEAL_COLS " FROM deals d WHERE d.id = $1";
/* $4, a customer, resolves through the merges BTO was told of (customer_changes) to its survivor. */
static const char SQL_LIST_DEALS[] =
    "WITH RECURSIVE m(id, depth) AS (SELECT $4::uuid, 0 UNION ALL SELECT x.survivor_id, m.depth + 1 FROM m "
    "CROSS JOIN LATERAL (SELECT survivor_id FROM customer_changes WHERE customer_id = m.id AND change = 'MERGED' "
    "ORDER BY seq DESC LIMIT 1) x WHERE m.depth < 16) "
    "SELECT " DEAL_COLS " FROM deals d WHERE ($1::bigint = 0 OR d.seq < $1::bigint)"
    " AND ($3::text IS NULL OR $3 IN (d.account_owner, d.solution_owner, d.fulfilment_owner))" /* deal scope */
    " AND ($4::uuid IS NULL OR d.customer_id = (SELECT id FROM m ORDER BY depth DESC LIMIT 1))"
    " ORDER BY d.seq DESC LIMIT $2";
/* The requirements of a set of deals, in the deals' list order (seq descending), then by position. */
static const char SQL_REQUIREMENTS[] =
    "SELECT r.deal_id, r.code, r.description, r.quantity FROM deal_requirements r JOIN deals d ON d.id = r.deal_id "
    "WHERE r.deal_id = ANY($1::uuid[]) ORDER BY d.seq DESC, r.position";

enum {
    D_ID,
    D_OPP,
    D_BID,
    D_CUSTOMER,
    D_AR,
    D_SR,
    D_FR,
    D_EXP,
    D_CUR,
    D_STATE,
    D_CTIME,
    D_SEQ,
    D_CUSTOMER_ID, /* then the rest of BTO_CUSTOMER_COLS */
    D_GROUP = D_CUSTOMER_ID + 6
};

static Ltc__Bto__V1__Deal *deal_from_row(ltc_call *c, const PGresult *r, int row) {
    Ltc__Bto__V1__Deal *d = LTC_NEW(c, Ltc__Bto__V1__Deal, LTC__BTO__V1__DEAL__INIT);
    d->name = bto_name(c, "deals", ltc_pg_str(r, row, D_ID));
    d->opportunity = bto_name(c, "opportunities", ltc_pg_str(r, row, D_OPP));
    d->bid = bto_name(c, "bids", ltc_pg_str(r, row, D_BID));
    d->customer_name = ltc_call_strdup(c, ltc_pg_str(r, row, D_CUSTOMER));
    d->iron_triangle = ltc_triangle_from_pg(c, r, row, D_AR);
    d->expected_amount = ltc_money_msg_pg(c, r, row, D_EXP, D_CUR);
    d->state = (Ltc__Bto__V1__DealState)ltc_enum_from_db(&ltc__bto__v1__deal_state__descriptor, "DEAL_STATE_",
                                                         ltc_pg_str(r, row, D_STATE));
    d->create_time = ltc_ts_from_pg(c, r, row, D_CTIME);
    d->customer = ltc_customer_from_pg(c, r, row, D_CUSTOMER_ID);
    d->customer_group = ltc_call_strdup(c, ltc_pg_str(r, row, D_GROUP));
    return d;
}

/* Attaches the requirements of `deals` (in the order SQL_LIST_DEALS returned them). 0 or -1. */
static int attach_requirements(ltc_call *c, ltc_status *st, Ltc__Bto__V1__Deal **deals, const PGresult *dr, int n) {
    if (n <= 0) return 0;
    const char **ids = ltc_call_alloc(c, (size_t)n * sizeof *ids);
    for (int i = 0; i < n; i++) ids[i] = ltc_pg_str(dr, i, D_ID);
    const char *params[1] = {ltc_sql_array(c, ids, (size_t)n)};
    PGresult *r = ltc_call_query(c, st, SQL_REQUIREMENTS, 1, params);
    if (!r) return -1;
    int nr = PQntuples(r), k = 0;
    for (int i = 0; i < n && k < nr; i++) {
        int first = k;
        while (k < nr && strcmp(ltc_pg_str(r, k, 0), ids[i]) == 0) k++;
        if (k == first) continue;
        Ltc__Bto__V1__Deal *d = deals[i];
        d->n_requirements = (size_t)(k - first);
        d->requirements = ltc_call_alloc(c, d->n_requirements * sizeof *d->requirements);
        for (int j = first; j < k; j++) {
            Ltc__Bto__V1__Requirement *q = LTC_NEW(c, Ltc__Bto__V1__Requirement, LTC__BTO__V1__REQUIREMENT__INIT);
            q->code = ltc_call_strdup(c, ltc_pg_str(r, j, 1));
            q->description = ltc_call_strdup(c, ltc_pg_str(r, j, 2));
            q->quantity = ltc_pg_i64(r, j, 3);
            d->requirements[j - first] = q;
        }
    }
    return 0;
}

int bto_load_deal(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Deal **out) {
    const char *params[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_GET_DEAL, 1, params);
    if (!r) return -1;
    if (PQntuples(r) != 1) {
        ltc_status_set(st, LTC_NOT_FOUND, "DEAL_NOT_FOUND", "deal deals/%s not found", id);
        return -1;
    }
    Ltc__Bto__V1__Deal *d = deal_from_row(c, r, 0);
    if (attach_requirements(c, st, &d, r, 1) != 0) return -1;
    *out = d;
    return 0;
}

/* GetDeal: returns one deal with its requirements; its owners are checked on the deal read (by_handler,
 * service.c). Errors: INVALID_ARGUMENT "name", NOT_FOUND "DEAL_NOT_FOUND", PERMISSION_DENIED NOT_IN_IRON_TRIANGLE. */
int bto_get_deal(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__GetDealRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "deals", "name", id, st) != 0) return -1;
    Ltc__Bto__V1__Deal *d;
    if (bto_load_deal(c, st, id, &d) != 0 || ltc_call_check_triangle(c, d->iron_triangle, req->name, st) != 0)
        return -1;
    Ltc__Bto__V1__GetDealResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__GetDealResponse, LTC__BTO__V1__GET_DEAL_RESPONSE__INIT);
    resp->deal = d;
    *out = &resp->base;
    return 0;
}

/* ListDeals: deals newest first, a page at a time, optionally only those of one customer (BTO moves a merged
 * customer's deals to the survivor, and a merged customer's name resolves to its survivor). Errors: INVALID_ARGUMENT "page_size" /
 * "page_token" / "customer". */
int bto_list_deals(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__ListDealsRequest *req = (const void *)m;
    int limit = 0;
    int64_t after = 0;
    char cust[LTC_UUID_LEN + 1] = "";
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (req->customer && *req->customer) ltc_name_parse(req->customer, "customers", "customer", cust, st);
    if (st->code != LTC_OK) return -1;
    const char *params[4] = {ltc_sql_i64(c, after), ltc_sql_i64(c, limit), ltc_call_deal_scope(c),
                             cust[0] ? cust : NULL};
    PGresult *r = ltc_call_query(c, st, SQL_LIST_DEALS, 4, params);
    if (!r) return -1;
    int n = PQntuples(r);
    int shown = n < limit ? n : limit - 1;
    Ltc__Bto__V1__ListDealsResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__ListDealsResponse, LTC__BTO__V1__LIST_DEALS_RESPONSE__INIT);
    if (shown > 0) {
        resp->deals = ltc_call_alloc(c, (size_t)shown * sizeof *resp->deals);
        for (int i = 0; i < shown; i++) resp->deals[i] = deal_from_row(c, r, i);
        resp->n_deals = (size_t)shown;
        if (attach_requirements(c, st, resp->deals, r, shown) != 0) return -1;
        if (n >= limit) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, D_SEQ));
    }
    *out = &resp->base;
    return 0;
}

static const char SQL_LOCK_DEAL_GROUP[] = "SELECT state, customer_group FROM deals WHERE id = $1 FOR UPDATE";
static const char SQL_SET_GROUP[] = "UPDATE deals SET customer_group = $2, update_time = now() WHERE id = $1";

/* SetDealCustomerGroup: see the proto. The change is audited (ltc_audit_change) when the group changes. */
int bto_set_deal_customer_group(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Bto__V1__SetDealCustomerGroupRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "deals", "name", id, st);
    if (req->customer_group[0] && !bto_code_valid(req->customer_group, 32))
        ltc_status_bad_field(st, "customer_group", "1 to 32 characters of [A-Z0-9_], or empty (the default books)");
    if (!req->request_id[0]) ltc_status_bad_field(st, "request_id", "required");
    if (st->code != LTC_OK) return -1;
    PGresult *r = ltc_call_query(c, st, SQL_LOCK_DEAL_GROUP, 1, (const char *[]){id});
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_NOT_FOUND, "DEAL_NOT_FOUND", "deal %s not found", req->name);
    if (strcmp(ltc_pg_str(r, 0, 0), "OPEN") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "DEAL_NOT_OPEN",
                              "deal %s is %s: its quotes are priced already", req->name, ltc_pg_str(r, 0, 0));
    const char *target = ltc_call_printf(c, "deals/%s", id);
    ltc_audit_target(c, target);
    if (strcmp(ltc_pg_str(r, 0, 1), req->customer_group) != 0) {
        if (!ltc_call_query(c, st, SQL_SET_GROUP, 2, (const char *[]){id, req->customer_group})) return -1;
        ltc_audit_change(c, target, "customer_group", ltc_pg_str(r, 0, 1), req->customer_group);
    }
    Ltc__Bto__V1__SetDealCustomerGroupResponse *resp =
        LTC_NEW(c, Ltc__Bto__V1__SetDealCustomerGroupResponse, LTC__BTO__V1__SET_DEAL_CUSTOMER_GROUP_RESPONSE__INIT);
    if (bto_load_deal(c, st, id, &resp->deal) != 0) return -1;
    *out = &resp->base;
    return 0;
}
