/* scheduling.c - production resources (产能) with calendars, routings by SKU, and finite-capacity scheduling
 * (自动排程) of released orders: ScheduleOrder (one order, behind the others), ScheduleOrders (all or a set, from
 * nothing), SetResourceCalendar (a capacity change reschedules), and the available-to-promise answer to BTO
 * (AvailabilityService/CheckAvailability), all from the pure scheduler (scheduler.c; docs/planning.md).
 *
 * A plan is built in the caller's transaction: the resources locked in id order (so that two schedules run one
 * after another and never book the same capacity twice), their calendars as capacity per day of the horizon, less
 * the work booked by the orders that are not being placed; the routings of the SKUs to place (a SKU without a
 * routing goes on any non-dedicated resource, one unit of work per unit, no lead time). Lock order: orders (by id),
 * then resources (by id), then the capacity_load rows the bookings' triggers change (by resource and day). The load
 * is read from capacity_load (migration 007), and a run writes only the bookings and promises that changed, in one
 * statement (the bookings' references are checked by their trigger, once per statement: migration 009). */
#include <stdlib.h>
#include <string.h>

#include "ltc/audit.h"
#include "ltc/milestone.h"
#include "ltc/outbox.h"

#include "ltc/type/v1/milestone.pb-c.h"
#include "ltc/otd/v1/availability_service.pb-c.h"
#include "ltc/proto.h"
#include "otd.h"
#include "scheduler.h"

/* --- SQL ------------------------------------------------------------------------------------------------- */

static const char SQL_RESOURCE_INSERT[] =
    "INSERT INTO resources (id, display_name, daily_capacity, working_days, dedicated) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (display_name) DO NOTHING RETURNING id";
static const char SQL_RESOURCE_GET[] =
    "SELECT id, display_name, daily_capacity, working_days, dedicated, " LTC_SQL_MICROS(
        "create_time") " FROM resources WHERE id = $1";
static const char SQL_RESOURCE_DAYS[] =
    "SELECT " LTC_SQL_DATE("day") ", capacity, note FROM resource_calendar_days "
                                  "WHERE resource_id = $1 AND day >= current_date ORDER BY day";
static const char SQL_RESOURCE_LOCK_ONE[] = "SELECT id FROM resources WHERE id = $1 FOR UPDATE";
static const char SQL_RESOURCE_SET_WEEKDAYS[] =
    "UPDATE resources SET working_days = $2, update_time = now() WHERE id = $1";
static const char SQL_CALENDAR_UPSERT[] =
    "INSERT INTO resource_calendar_days (resource_id, day, capacity, note) "
    "SELECT $1, t.d, t.c, t.n FROM unnest($2::date[], $3::bigint[], $4::text[]) AS t(d, c, n) "
    "ON CONFLICT (resource_id, day) DO UPDATE SET capacity = excluded.capacity, note = excluded.note";
static const char SQL_CALENDAR_CLEAR[] =
    "DELETE FROM resource_calendar_days WHERE resource_id = $1 AND day = ANY($2::date[])";
static const char SQL_TODAY[] = "SELECT " LTC_SQL_DATE("current_date") ", extract(isodow FROM current_date)::int";
/* Ordered by id: every schedule locks the resources in the same order, so two schedules cannot deadlock. */
static const char SQL_RESOURCES_LOCK[] =
    "SELECT id, daily_capacity, working_days, dedicated FROM resources ORDER BY id FOR UPDATE";
static const char SQL_RESOURCES_READ[] =
    "SELECT id, daily_capacity, working_days, dedicated FROM resources ORDER BY id";
/* The resources the open lines of the orders $1 can use: their routings' resources, and the general-purpose ones
 * when a line's SKU has no routing. A plan for a few orders reads (and locks) only these. */
#define RES_OF_ORDERS                                                                                                  \
    "SELECT id, daily_capacity, working_days, dedicated FROM resources WHERE id IN (SELECT s.resource_id "             \
    "FROM order_lines l JOIN routing_steps s USING (sku) WHERE l.order_id = ANY($1::uuid[]) "                          \
    "AND l.quantity > l.shipped_quantity) OR (NOT dedicated AND EXISTS (SELECT 1 FROM order_lines l "                  \
    "WHERE l.order_id = ANY($1::uuid[]) AND l.quantity > l.shipped_quantity "                                          \
    "AND NOT EXISTS (SELECT 1 FROM routings r WHERE r.sku = l.sku))) ORDER BY id"
static const char SQL_RESOURCES_OF_LOCK[] = RES_OF_ORDERS " FOR UPDATE";
static const char SQL_RESOURCES_OF_READ[] = RES_OF_ORDERS;
static const char SQL_RESOURCES_ANY[] = "SELECT EXISTS (SELECT 1 FROM resources)";
/* The days of a plan, in one round trip: kind 0, the calendar overrides; kind 1, the work booked per resource and
 * day (capacity_load, kept by triggers: migration 007); kind 2, what the orders being placed ($4, NULL for none) hold
 * of it, given back to them (through the bookings' (order, resource, day) key). Two forms, so that the overrides and
 * the load can be read through their (resource, day) keys when the plan's resources ($3) are named (a `$3 IS NULL OR`
 * kept the index out): every resource (SQL_PLAN_DAYS_ALL, $3 NULL) or the ones named (SQL_PLAN_DAYS_OF). */
#define PLAN_DAYS(RES)                                                                                                 \
    "SELECT 0, resource_id, (day - $1::date)::int, capacity FROM resource_calendar_days "                              \
    "WHERE day > $1::date AND day < $1::date + $2::int" RES " "                                                        \
    "UNION ALL SELECT 1, resource_id, (day - $1::date)::int, booked FROM capacity_load "                               \
    "WHERE day > $1::date AND day < $1::date + $2::int AND booked > 0" RES " "                                         \
    "UNION ALL SELECT 2, resource_id, (day - $1::date)::int, sum(quantity)::bigint FROM capacity_bookings "            \
    "WHERE $4::uuid[] IS NOT NULL AND order_id = ANY($4::uuid[]) AND day > $1::date AND day < $1::date + $2::int "     \
    "AND ($3::uuid[] IS NULL OR resource_id = ANY($3::uuid[])) GROUP BY 2, 3"
static const char SQL_PLAN_DAYS_ALL[] = PLAN_DAYS("");
static const char SQL_PLAN_DAYS_OF[] = PLAN_DAYS(" AND resource_id = ANY($3::uuid[])");
/* Routings, one row per step: 1, sku, resource, lead time, work per unit (then the step's position); read by SKU
 * (byte order), then position. */
#define ROUTING_ROWS                                                                                                   \
    "SELECT 1, r.sku COLLATE \"C\", s.resource_id::text, r.lead_time_days::bigint, s.work_per_unit, s.position "       \
    "FROM routings r JOIN routing_steps s USING (sku) "
static const char SQL_ROUTINGS_OF[] = ROUTING_ROWS "WHERE r.sku = ANY($1::text[]) ORDER BY 2, 6";
/* The open lines of the orders to place ($1) and the routings of their SKUs, in one round trip: kind 0, a line
 * (0, order id, sku, unshipped quantity), by order id then line number; then kind 1, the routings (ROUTING_ROWS). */
static const char SQL_PLACE_LINES[] =
    "WITH l AS MATERIALIZED (SELECT order_id, line_no, sku, quantity - shipped_quantity AS q FROM order_lines "
    "WHERE order_id = ANY($1::uuid[]) AND quantity > shipped_quantity) "
    "SELECT 0 AS kind, order_id::text COLLATE \"C\" AS a, sku AS b, q::bigint AS c, NULL::bigint AS d, line_no AS pos "
    "FROM l UNION ALL " ROUTING_ROWS "WHERE r.sku IN (SELECT sku FROM l) ORDER BY 1, 2, 6";
/* The orders to place, locked in id order: a set ($1), or every open one (through orders_open_idx, keyed by id on
 * the generated is_open: OTD migration 012). */
#define PLACE_COLS                                                                                                     \
    "id, seq, priority, (requested_delivery_date - current_date)::int, state, deal_id, " LTC_SQL_DATE(                 \
        "promise_date") ", " LTC_SQL_DATE("requested_delivery_date") ", " LTC_SQL_DATE("current_date") ", extract(isodow FROM current_date)::int"
static const char SQL_ORDERS_LOCK_SET[] = "SELECT " PLACE_COLS " FROM orders WHERE id = ANY($1::uuid[]) "
                                          "ORDER BY id FOR UPDATE";
static const char SQL_ORDERS_LOCK_OPEN[] = "SELECT " PLACE_COLS " FROM orders WHERE is_open ORDER BY id FOR UPDATE";
enum {
    PO_ID,
    PO_SEQ,
    PO_PRIORITY,
    PO_DUE,
    PO_STATE,
    PO_DEAL,
    PO_PROMISE,
    PO_REQUESTED,
    PO_TODAY, /* today and its ISO weekday on every row: the plan's day 0 without a round trip of its own */
    PO_DOW
};
/* Writes a run in one statement: the bookings as a diff against the future bookings of the orders placed ($6): the
 * ones no longer made go, new and changed ones are written, the unchanged ones are not touched (a run where nothing
 * moves writes nothing); and the promises of the orders that fit ($8 their positions in $6, $9 finish day, $10 main
 * resource's position in $2), skipping those whose promise, resource and lateness did not change. A booking made is
 * (resource position in $2, day, order position in $6, work): one row per (order, resource, day), summed by the
 * service, and positions rather than ids, so that the statement parses 10,000 ids and not 66,000 (a run of 10,000
 * orders). A booking whose work changed is deleted and written again, not updated in place: the INSERT is then a
 * plain one (ON CONFLICT's speculative insertion cost a first run of 33,000 bookings 50-70 ms more). The DELETE
 * goes first (the INSERT reads its count), so the key it frees is free when the INSERT writes it again; the
 * INSERT's NOT EXISTS sees the table as it was before the statement (every part of a statement shares one
 * snapshot), so it writes the rows made that were not there with that work. NOT IN (a hashed subplan), not NOT
 * EXISTS: the planner cannot estimate `made` and would pick a nested loop over every booking times
 * every booking made (seconds at 33,000 bookings). The INSERT's rows are sorted (in key order) before the first is
 * written: the NOT EXISTS is then done before the table grows. Interleaved, a plan that believes the table empty
 * (analyzed when it was) scanned it for each booking made while the statement itself filled it: 5-12 s for a
 * first run of 10,000 orders. */
static const char SQL_BOOK_DIFF[] =
    "WITH made AS MATERIALIZED (SELECT ($2::uuid[])[t.r] AS r, $1::date + t.d AS day, ($6::uuid[])[t.o] AS o, t.w "
    "FROM unnest($3::int[], $4::int[], $5::int[], $7::bigint[]) AS t(r, d, o, w)), "
    "gone AS (DELETE FROM capacity_bookings b WHERE b.order_id = ANY($6::uuid[]) AND b.day > $1::date "
    "AND (b.order_id, b.resource_id, b.day, b.quantity) NOT IN (SELECT m.o, m.r, m.day, m.w FROM made m) RETURNING 1), "
    "promised AS (UPDATE orders o SET state = CASE WHEN o.state = 'RELEASED' THEN 'SCHEDULED' ELSE o.state END, "
    "promise_date = $1::date + t.f, resource_id = t.r, late = ($1::date + t.f) > o.requested_delivery_date, "
    "first_promise_date = coalesce(o.first_promise_date, $1::date + t.f), update_time = now() "
    "FROM (SELECT ($6::uuid[])[u.o] AS id, u.f, ($2::uuid[])[u.r] AS r FROM unnest($8::int[], $9::int[], $10::int[]) "
    "AS u(o, f, r)) t WHERE o.id = t.id AND (o.state = 'RELEASED' "
    "OR o.promise_date IS DISTINCT FROM $1::date + t.f OR o.resource_id IS DISTINCT FROM t.r "
    "OR o.late IS DISTINCT FROM (($1::date + t.f) > o.requested_delivery_date) OR o.first_promise_date IS NULL)) "
    "INSERT INTO capacity_bookings (resource_id, day, order_id, quantity) SELECT m.r, m.day, m.o, m.w FROM made m "
    "WHERE (SELECT count(*) FROM gone) >= 0 AND NOT EXISTS (SELECT 1 FROM capacity_bookings b "
    "WHERE b.order_id = m.o AND b.resource_id = m.r AND b.day = m.day AND b.quantity = m.w) "
    "ORDER BY m.o, m.r, m.day";
/* Orders that no longer fit: a SCHEDULED one goes back to RELEASED without a promise; a partly shipped one keeps
 * its promise, late. */
static const char SQL_ORDERS_UNFIT[] =
    "UPDATE orders SET state = CASE WHEN state = 'SCHEDULED' THEN 'RELEASED' ELSE state END, "
    "promise_date = CASE WHEN state IN ('SCHEDULED', 'RELEASED') THEN NULL ELSE promise_date END, "
    "resource_id = CASE WHEN state IN ('SCHEDULED', 'RELEASED') THEN NULL ELSE resource_id END, late = true, "
    "update_time = now() WHERE id = ANY($1::uuid[])";
static const char SQL_ROUTING_UPSERT[] =
    "INSERT INTO routings (sku, lead_time_days) VALUES ($1, $2) "
    "ON CONFLICT (sku) DO UPDATE SET lead_time_days = excluded.lead_time_days, update_time = now() "
    "RETURNING " LTC_SQL_MICROS("update_time");
static const char SQL_ROUTING_STEPS_CLEAR[] = "DELETE FROM routing_steps WHERE sku = $1";
static const char SQL_ROUTING_STEPS_INSERT[] =
    "INSERT INTO routing_steps (sku, position, resource_id, work_per_unit) "
    "SELECT $1, t.n, t.r, t.w FROM unnest($2::uuid[], $3::bigint[]) WITH ORDINALITY AS t(r, w, n)";
static const char SQL_RESOURCES_EXIST[] = "SELECT r FROM unnest($1::uuid[]) AS t(r) WHERE NOT EXISTS "
                                          "(SELECT 1 FROM resources x WHERE x.id = t.r)";

/* --- the plan -------------------------------------------------------------------------------------------- */

/* One order to place with its scheduler input and what it had before. */
typedef struct plan_order {
    const char *id, *deal, *state, *old_promise, *requested;
} plan_order;

/* A booking made: positions of the order (in the plan's orders) and of the resource, day, work. */
typedef struct plan_booking {
    int order, resource, day;
    int64_t work;
} plan_booking;

typedef struct plan {
    char today[11];
    int n_res;
    const char **res_ids;
    int *res_dedicated;
    otd_sched_load load;
    /* the orders being placed */
    size_t n_orders;
    plan_order *po;
    otd_sched_order *so;
    /* the bookings made, in the order made (an order's bookings together) */
    size_t n_book, cap_book;
    plan_booking *book;
    int *main_res; /* per order: the resource of its last booked day */
    int *main_day;
    ltc_sql_param placed; /* the orders placed, a uuid[] */
    ltc_call *c;
} plan;

static int res_index(const plan *p, const char *id) {
    for (int i = 0; i < p->n_res; i++)
        if (strcmp(p->res_ids[i], id) == 0) return i;
    return -1;
}

/* Resources (locked or read: every one, or only those the open lines of the orders `of` can use, a uuid[]), their
 * calendars, less the load booked, of which the bookings of the orders `own` (a uuid[], the ones being placed;
 * NULL: none) are given back. `orders`: the orders' rows (PLACE_COLS) when read already, whose first row
 * gives today; NULL or no row: today is asked for. */
static int plan_open(ltc_call *c, ltc_status *st, plan *p, int lock, const ltc_sql_param *own, const ltc_sql_param *of,
                     const PGresult *orders) {
    memset(p, 0, sizeof *p);
    p->c = c;
    int dow;
    if (orders && PQntuples(orders) > 0) {
        snprintf(p->today, sizeof p->today, "%s", ltc_pg_str(orders, 0, PO_TODAY));
        dow = (int)ltc_pg_i64(orders, 0, PO_DOW);
    } else {
        PGresult *t = ltc_call_query(c, st, SQL_TODAY, 0, NULL);
        if (!t) return -1;
        snprintf(p->today, sizeof p->today, "%s", ltc_pg_str(t, 0, 0));
        dow = (int)ltc_pg_i64(t, 0, 1);
    }
    PGresult *r = of ? ltc_call_query_params(c, st, lock ? SQL_RESOURCES_OF_LOCK : SQL_RESOURCES_OF_READ, 1, of)
                     : ltc_call_query(c, st, lock ? SQL_RESOURCES_LOCK : SQL_RESOURCES_READ, 0, NULL);
    if (!r) return -1;
    p->n_res = PQntuples(r);
    size_t n = (size_t)(p->n_res ? p->n_res : 1);
    p->res_ids = ltc_call_alloc(c, n * sizeof *p->res_ids);
    p->res_dedicated = ltc_call_alloc(c, n * sizeof *p->res_dedicated);
    p->load.n_resources = p->n_res;
    p->load.horizon = OTD_SCHED_HORIZON;
    p->load.free = ltc_call_alloc(c, n * OTD_SCHED_HORIZON * sizeof *p->load.free);
    p->load.first_free = ltc_call_alloc(c, n * sizeof *p->load.first_free);
    for (int i = 0; i < p->n_res; i++) {
        p->res_ids[i] = ltc_pg_str(r, i, 0);
        p->res_dedicated[i] = ltc_pg_bool(r, i, 3);
        p->load.first_free[i] = 0;
        otd_sched_calendar(dow, (int)ltc_pg_i64(r, i, 2), ltc_pg_i64(r, i, 1), NULL, 0, OTD_SCHED_HORIZON,
                           p->load.free + (size_t)i * OTD_SCHED_HORIZON);
    }
    if (p->n_res == 0) return 0;
    const ltc_sql_param hp[4] = {ltc_sql_text_param(p->today), ltc_sql_text_param(ltc_sql_i64(c, OTD_SCHED_HORIZON)),
                                 of ? ltc_sql_uuid_array_bin(c, p->res_ids, (size_t)p->n_res)
                                    : ltc_sql_text_param(NULL),
                                 own ? *own : ltc_sql_text_param(NULL)};
    PGresult *o = ltc_call_query_params(c, st, of ? SQL_PLAN_DAYS_OF : SQL_PLAN_DAYS_ALL, 4, hp);
    if (!o) return -1;
    /* booked per resource and day, less what the orders being placed hold (they are placed again) */
    int64_t *booked = ltc_call_alloc(c, (size_t)p->n_res * OTD_SCHED_HORIZON * sizeof *booked);
    memset(booked, 0, (size_t)p->n_res * OTD_SCHED_HORIZON * sizeof *booked);
    for (int i = 0; i < PQntuples(o); i++) {
        int kind = (int)ltc_pg_i64(o, i, 0), ri = res_index(p, ltc_pg_str(o, i, 1)), d = (int)ltc_pg_i64(o, i, 2);
        if (ri < 0 || d <= 0 || d >= OTD_SCHED_HORIZON) continue;
        size_t at = (size_t)ri * OTD_SCHED_HORIZON + (size_t)d;
        int64_t v = ltc_pg_i64(o, i, 3);
        if (kind == 0)
            p->load.free[at] = v;
        else
            booked[at] += kind == 1 ? v : -v;
    }
    for (size_t i = 0; i < (size_t)p->n_res * OTD_SCHED_HORIZON; i++) {
        if (booked[i] <= 0) continue;
        p->load.free[i] -= booked[i];
        if (p->load.free[i] < 0) p->load.free[i] = 0; /* a capacity cut below what is booked: nothing more fits */
    }
    return 0;
}

/* The scheduler's lines of one order: per SKU its routing's alternatives and lead time, or the non-dedicated
 * resources. Built once per plan: the routings' SKUs sorted (byte order), each with its alternatives, shared by
 * every line of that SKU. */
typedef struct routes {
    int n;
    const char **sku;
    int *lead;
    otd_sched_alt **alts;
    size_t *n_alts;
    otd_sched_alt *general; /* the non-dedicated resources: a SKU without a routing */
    size_t n_general;
} routes;

/* Builds the routes from the ROUTING_ROWS rows from..PQntuples(r) (grouped by SKU, in byte order). */
static void routes_from(ltc_call *c, const plan *p, const PGresult *r, int from, routes *out) {
    memset(out, 0, sizeof *out);
    int rows = PQntuples(r) - from;
    size_t m = (size_t)(rows > 0 ? rows : 1);
    out->sku = ltc_call_alloc(c, m * sizeof *out->sku);
    out->lead = ltc_call_alloc(c, m * sizeof *out->lead);
    out->alts = ltc_call_alloc(c, m * sizeof *out->alts);
    out->n_alts = ltc_call_alloc(c, m * sizeof *out->n_alts);
    otd_sched_alt *all = ltc_call_alloc(c, m * sizeof *all);
    size_t used = 0;
    for (int i = from; i < PQntuples(r); i++) {
        const char *sku = ltc_pg_str(r, i, 1);
        if (out->n == 0 || strcmp(out->sku[out->n - 1], sku) != 0) {
            out->sku[out->n] = sku;
            out->lead[out->n] = (int)ltc_pg_i64(r, i, 3);
            out->alts[out->n] = all + used;
            out->n_alts[out->n++] = 0;
        }
        int ri = res_index(p, ltc_pg_str(r, i, 2));
        if (ri < 0) continue;
        all[used++] = (otd_sched_alt){ri, ltc_pg_i64(r, i, 4)};
        out->n_alts[out->n - 1]++;
    }
    out->general = ltc_call_alloc(c, (size_t)(p->n_res ? p->n_res : 1) * sizeof *out->general);
    for (int ri = 0; ri < p->n_res; ri++)
        if (!p->res_dedicated[ri]) out->general[out->n_general++] = (otd_sched_alt){ri, 1};
}

static int routes_load(ltc_call *c, ltc_status *st, const plan *p, const char *const *skus, size_t n, routes *out) {
    const char *q[1] = {ltc_sql_text_array(c, skus, n)};
    PGresult *r = ltc_call_query(c, st, SQL_ROUTINGS_OF, 1, q);
    if (!r) return -1;
    routes_from(c, p, r, 0, out);
    return 0;
}

/* Fills line `l` for `sku`; 0, or -1 when nothing can make it. */
static int line_for(const routes *rt, const char *sku, int64_t qty, otd_sched_line *l) {
    memset(l, 0, sizeof *l);
    l->quantity = qty;
    int lo = 0, hi = rt->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(rt->sku[mid], sku) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < rt->n && strcmp(rt->sku[lo], sku) == 0) {
        l->lead_days = rt->lead[lo];
        l->alts = rt->alts[lo];
        l->n_alts = rt->n_alts[lo];
    } else {
        l->alts = rt->general;
        l->n_alts = rt->n_general;
    }
    return l->n_alts > 0 ? 0 : -1;
}

/* Builds the scheduler's orders for p->po[0..n) from their open lines. Orders with a SKU nothing can make are
 * named in *bad (a comma list, NULL when none) and get no lines. */
static int plan_orders(ltc_call *c, ltc_status *st, plan *p, char **bad) {
    *bad = NULL;
    size_t n = p->n_orders;
    const char **ids = ltc_call_alloc(c, (n ? n : 1) * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = p->po[i].id;
    const ltc_sql_param lp[1] = {ltc_sql_uuid_array_bin(c, ids, n)};
    PGresult *lr = ltc_call_query_params(c, st, SQL_PLACE_LINES, 1, lp);
    if (!lr) return -1;
    int nl = 0; /* the lines come first (kind 0), then their SKUs' routings */
    while (nl < PQntuples(lr) && ltc_pg_i64(lr, nl, 0) == 0) nl++;
    const char **skus = ltc_call_alloc(c, (size_t)(nl ? nl : 1) * sizeof *skus);
    for (int i = 0; i < nl; i++) skus[i] = ltc_pg_str(lr, i, 2);
    routes rt;
    routes_from(c, p, lr, nl, &rt);
    otd_sched_line *lines = ltc_call_alloc(c, (size_t)(nl ? nl : 1) * sizeof *lines);
    for (size_t k = 0; k < n; k++) {
        p->so[k].lines = NULL;
        p->so[k].n_lines = 0;
    }
    /* rows are grouped by order id, in the orders' id order (both sorted by id) */
    size_t k = 0;
    for (int i = 0; i < nl; i++) {
        const char *oid = ltc_pg_str(lr, i, 1);
        while (k < n && strcmp(p->po[k].id, oid) != 0) k++;
        if (k == n) break;
        if (!p->so[k].lines) p->so[k].lines = &lines[i];
        if (line_for(&rt, skus[i], ltc_pg_i64(lr, i, 3), &lines[i]) != 0)
            *bad = *bad ? ltc_call_printf(c, "%s,%s", *bad, skus[i]) : ltc_call_strdup(c, skus[i]);
        p->so[k].n_lines++;
    }
    return 0;
}

static void on_book(void *ctx, size_t order, size_t line, int resource, int day, int64_t work) {
    (void)line;
    plan *p = ctx;
    if (p->n_book == p->cap_book) {
        size_t cap = p->cap_book ? p->cap_book * 2 : 256;
        plan_booking *b = ltc_call_alloc(p->c, cap * sizeof *b);
        if (p->n_book) memcpy(b, p->book, p->n_book * sizeof *b);
        p->book = b, p->cap_book = cap;
    }
    p->book[p->n_book++] = (plan_booking){(int)order, resource, day, work};
    if (day >= p->main_day[order]) {
        p->main_day[order] = day;
        p->main_res[order] = resource;
    }
}

static int booking_cmp(const void *a, const void *b) {
    const plan_booking *x = a, *y = b;
    if (x->order != y->order) return x->order < y->order ? -1 : 1;
    if (x->resource != y->resource) return x->resource < y->resource ? -1 : 1;
    return (x->day > y->day) - (x->day < y->day);
}

/* One booking per (order, resource, day): two lines of an order on the same resource and day are summed. */
static void bookings_merge(plan *p) {
    if (p->n_book < 2) return;
    qsort(p->book, p->n_book, sizeof *p->book, booking_cmp);
    size_t out = 0;
    for (size_t i = 1; i < p->n_book; i++) {
        if (booking_cmp(&p->book[out], &p->book[i]) == 0)
            p->book[out].work += p->book[i].work;
        else
            p->book[++out] = p->book[i];
    }
    p->n_book = out + 1;
}

/* Takes the locked order rows of `r` as the orders to place. */
static void plan_take_orders(ltc_call *c, plan *p, const PGresult *r) {
    size_t n = (size_t)PQntuples(r);
    p->n_orders = n;
    p->po = ltc_call_alloc(c, (n ? n : 1) * sizeof *p->po);
    p->so = ltc_call_alloc(c, (n ? n : 1) * sizeof *p->so);
    p->main_res = ltc_call_alloc(c, (n ? n : 1) * sizeof *p->main_res);
    p->main_day = ltc_call_alloc(c, (n ? n : 1) * sizeof *p->main_day);
    for (size_t i = 0; i < n; i++) {
        int row = (int)i;
        p->po[i] = (plan_order){ltc_pg_str(r, row, PO_ID), ltc_pg_str(r, row, PO_DEAL), ltc_pg_str(r, row, PO_STATE),
                                PQgetisnull(r, row, PO_PROMISE) ? "" : ltc_pg_str(r, row, PO_PROMISE),
                                ltc_pg_str(r, row, PO_REQUESTED)};
        memset(&p->so[i], 0, sizeof p->so[i]);
        p->so[i].priority = (int)ltc_pg_i64(r, row, PO_PRIORITY);
        p->so[i].due = (int)ltc_pg_i64(r, row, PO_DUE);
        p->so[i].seq = ltc_pg_i64(r, row, PO_SEQ);
        p->so[i].finish = -1;
        p->main_res[i] = -1;
        p->main_day[i] = -1;
    }
}

#define date_of otd_date_msg

/* The date `days` after the plan's today, "YYYY-MM-DD", in the arena. */
static const char *date_plus(ltc_call *c, ltc_status *st, const char *today, int days) {
    char *out = ltc_call_alloc(c, 11);
    if (otd_sched_date_add(today, days, out) != 0) {
        ltc_status_set(st, LTC_INTERNAL, NULL, "date %s + %d days out of range", today, days);
        return NULL;
    }
    return out;
}

/* Writes the bookings and promises of a run, hands every moved promise to BTO and LTB, and fills *res. */
static int plan_commit(ltc_call *c, ltc_status *st, plan *p, const char *reason, Ltc__Otd__V1__ScheduleResult *res) {
    size_t n = p->n_orders;
    /* positions (1-based, as SQL arrays count) of the orders that fit and of their main resources */
    int64_t *ok = ltc_call_alloc(c, (n ? n : 1) * sizeof *ok), *mres = ltc_call_alloc(c, (n ? n : 1) * sizeof *mres);
    const char **unfit = ltc_call_alloc(c, (n ? n : 1) * sizeof *unfit);
    int64_t *fin = ltc_call_alloc(c, (n ? n : 1) * sizeof *fin);
    size_t n_ok = 0, n_unfit = 0;
    for (size_t i = 0; i < n; i++) {
        if (p->so[i].n_lines == 0 && strcmp(p->po[i].state, "PARTIALLY_SHIPPED") == 0) continue; /* all shipped */
        if (p->so[i].finish >= 0 && p->main_res[i] >= 0) {
            ok[n_ok] = (int64_t)i + 1;
            mres[n_ok] = p->main_res[i] + 1;
            fin[n_ok++] = p->so[i].finish;
        } else {
            unfit[n_unfit++] = p->po[i].id;
        }
    }
    if (n) {
        bookings_merge(p);
        size_t nb = p->n_book ? p->n_book : 1;
        int64_t *br = ltc_call_alloc(c, nb * sizeof *br), *bd = ltc_call_alloc(c, nb * sizeof *bd),
                *bo = ltc_call_alloc(c, nb * sizeof *bo), *bw = ltc_call_alloc(c, nb * sizeof *bw);
        for (size_t k = 0; k < p->n_book; k++) {
            br[k] = p->book[k].resource + 1;
            bd[k] = p->book[k].day;
            bo[k] = p->book[k].order + 1;
            bw[k] = p->book[k].work;
        }
        const ltc_sql_param bp[10] = {ltc_sql_text_param(p->today),
                                      ltc_sql_uuid_array_bin(c, p->res_ids, (size_t)p->n_res),
                                      ltc_sql_int4_array_bin(c, br, p->n_book),
                                      ltc_sql_int4_array_bin(c, bd, p->n_book),
                                      ltc_sql_int4_array_bin(c, bo, p->n_book),
                                      p->placed,
                                      ltc_sql_int8_array_bin(c, bw, p->n_book),
                                      ltc_sql_int4_array_bin(c, ok, n_ok),
                                      ltc_sql_int4_array_bin(c, fin, n_ok),
                                      ltc_sql_int4_array_bin(c, mres, n_ok)};
        /* sent without waiting: the server writes the bookings and promises while the loop below builds the
         * changes and the hand-offs (a run over every order: 0.4 s of the server's and 0.2 s of ours) */
        if (ltc_call_send_params(c, st, SQL_BOOK_DIFF, 10, bp) != 0) return -1;
    }
    if (n_unfit) {
        const ltc_sql_param fp[1] = {ltc_sql_uuid_array_bin(c, unfit, n_unfit)};
        if (ltc_call_send_params(c, st, SQL_ORDERS_UNFIT, 1, fp) != 0) return -1;
    }
    if (!res) res = LTC_NEW(c, Ltc__Otd__V1__ScheduleResult, LTC__OTD__V1__SCHEDULE_RESULT__INIT);
    res->changes = ltc_call_alloc(c, (n ? n : 1) * sizeof *res->changes);
    res->late_orders = ltc_call_alloc(c, (n ? n : 1) * sizeof *res->late_orders);
    res->unscheduled_orders = ltc_call_alloc(c, (n ? n : 1) * sizeof *res->unscheduled_orders);
    res->scheduled_count = (int32_t)n_ok;
    /* every moved promise's two hand-offs (BTO, LTB's milestone) written with one statement at the end */
    ltc_outbox_batch batch;
    ltc_outbox_defer(c, &batch);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (p->so[i].n_lines == 0 && strcmp(p->po[i].state, "PARTIALLY_SHIPPED") == 0) continue;
        char *name = ltc_call_printf(c, "orders/%s", p->po[i].id);
        const char *now = NULL;
        int fits = p->so[i].finish >= 0 && p->main_res[i] >= 0;
        if (fits && !(now = date_plus(c, st, p->today, p->so[i].finish))) {
            rc = -1;
            break;
        }
        int late = !fits || strcmp(now, p->po[i].requested) > 0;
        if (!fits) res->unscheduled_orders[res->n_unscheduled_orders++] = name;
        if (late) res->late_orders[res->n_late_orders++] = name;
        const char *old = p->po[i].old_promise;
        if (fits ? strcmp(old, now) == 0 : !*old) continue; /* did not move */
        ltc_audit_change(c, name, "promise_date", *old ? old : NULL, fits ? now : NULL);
        Ltc__Otd__V1__PromiseChange *pc = LTC_NEW(c, Ltc__Otd__V1__PromiseChange, LTC__OTD__V1__PROMISE_CHANGE__INIT);
        pc->order = name;
        pc->previous_promise_date = *old ? date_of(c, old) : NULL;
        pc->promise_date = fits ? date_of(c, now) : NULL;
        pc->requested_delivery_date = date_of(c, p->po[i].requested);
        pc->late = late;
        res->changes[res->n_changes++] = pc;
        if (otd_handoff_promise(c, st, p->po[i].id, p->po[i].deal, *old ? old : NULL, fits ? now : NULL, late,
                                *old ? reason : "") != 0)
            rc = -1;
    }
    if (ltc_outbox_flush(c, &batch, rc == 0 ? st : NULL) != 0) return -1;
    return rc;
}

/* Locks the orders named (ids, a SQL uuid[]) or every open one (ids NULL); builds the plan around the others' load
 * (for named orders, on the resources their lines can use only); places them in EDD order; writes what changed.
 * `strict`: a single order must fit (CAPACITY_EXHAUSTED, NO_ROUTING, NO_CAPACITY_RESOURCE). Every order must be
 * RELEASED, SCHEDULED or PARTIALLY_SHIPPED (else FAILED_PRECONDITION ORDER_NOT_RELEASED). */
static int schedule_run(ltc_call *c, ltc_status *st, const char *ids, const char *one, int strict, const char *reason,
                        Ltc__Otd__V1__ScheduleResult *res, plan *p) {
    PGresult *r = ids ? ltc_call_query(c, st, SQL_ORDERS_LOCK_SET, 1, (const char *[]){ids})
                      : ltc_call_query(c, st, SQL_ORDERS_LOCK_OPEN, 0, NULL);
    if (!r) return -1;
    if (one && PQntuples(r) == 0) /* one order named (ScheduleOrders checks each of a set before) */
        return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order %s not found", one);
    for (int i = 0; i < PQntuples(r); i++) {
        const char *s = ltc_pg_str(r, i, PO_STATE);
        if (strcmp(s, "RELEASED") != 0 && strcmp(s, "SCHEDULED") != 0 && strcmp(s, "PARTIALLY_SHIPPED") != 0)
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_NOT_RELEASED",
                                  "order %s is %s; only a RELEASED, SCHEDULED or PARTIALLY_SHIPPED order is scheduled",
                                  ltc_pg_str(r, i, PO_ID), s);
    }
    const char **idv = ltc_call_alloc(c, (size_t)(PQntuples(r) ? PQntuples(r) : 1) * sizeof *idv);
    for (int i = 0; i < PQntuples(r); i++) idv[i] = ltc_pg_str(r, i, PO_ID);
    ltc_sql_param set = ltc_sql_uuid_array_bin(c, idv, (size_t)PQntuples(r));
    /* a set of orders plans on the resources their lines can use; their own bookings are given back to them */
    if (plan_open(c, st, p, 1, &set, ids ? &set : NULL, r) != 0) return -1;
    p->placed = set;
    if (strict && p->n_res == 0) {
        PGresult *any = ltc_call_query(c, st, SQL_RESOURCES_ANY, 0, NULL);
        if (!any) return -1;
        if (!ltc_pg_bool(any, 0, 0))
            return ltc_status_set(st, LTC_FAILED_PRECONDITION, "NO_CAPACITY_RESOURCE",
                                  "no production resource exists; create one first");
    }
    plan_take_orders(c, p, r);
    char *bad = NULL;
    if (plan_orders(c, st, p, &bad) != 0) return -1;
    if (bad && strict)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "NO_ROUTING",
                              "no routing and no general-purpose resource for SKU %s", bad);
    size_t *idx = ltc_call_alloc(c, (p->n_orders ? p->n_orders : 1) * sizeof *idx);
    if (otd_sched_run(&p->load, p->so, p->n_orders, idx, on_book, p) < 0)
        return ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, NULL, "out of memory while scheduling");
    if (strict && p->n_orders == 1 && p->so[0].finish < 0 && p->so[0].n_lines > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CAPACITY_EXHAUSTED",
                              "order %s does not fit in the %d days planned", p->po[0].id, OTD_SCHED_HORIZON - 1);
    return plan_commit(c, st, p, reason, res);
}

/* A plan for one order runs its statements with generic plans (planned once per connection): their custom plans
 * were replanned at each call, about 2 ms of a re-promise's 10 (docs/performance.md, "The scheduler"). Only here: a
 * run over every order keeps custom plans, whose row estimates follow its arrays of thousands. */
static const char SQL_GENERIC_PLANS[] = "SET LOCAL plan_cache_mode = force_generic_plan";

int otd_schedule_one(ltc_call *c, ltc_status *st, const char *id, int strict, const char *reason) {
    plan p;
    const char *idv[1] = {id};
    if (!ltc_call_query(c, st, SQL_GENERIC_PLANS, 0, NULL)) return -1;
    return schedule_run(c, st, ltc_sql_text_array(c, idv, 1), id, strict, reason, NULL, &p);
}

int otd_reschedule_all(ltc_call *c, ltc_status *st, const char *reason, Ltc__Otd__V1__ScheduleResult *res) {
    plan p;
    return schedule_run(c, st, NULL, NULL, 0, reason, res, &p);
}

int otd_capacity_feasible(ltc_call *c, ltc_status *st, const char *id, const char **reason) {
    *reason = NULL;
    plan p;
    const char *idv[1] = {id};
    ltc_sql_param set = ltc_sql_uuid_array_bin(c, idv, 1);
    PGresult *r = ltc_call_query_params(c, st, SQL_ORDERS_LOCK_SET, 1, &set);
    if (!r) return -1;
    if (plan_open(c, st, &p, 0, &set, &set, r) != 0) return -1;
    plan_take_orders(c, &p, r);
    char *bad = NULL;
    if (plan_orders(c, st, &p, &bad) != 0) return -1;
    if (bad) {
        *reason = ltc_call_printf(c, "NO_ROUTING:%s", bad);
        return 0;
    }
    if (p.n_orders != 1 || p.so[0].n_lines == 0) return 0;
    int f = otd_sched_place_order(&p.load, &p.so[0], 0, NULL, NULL);
    if (f == -2) return ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, NULL, "out of memory while scheduling");
    if (f < 0)
        *reason = "CAPACITY_EXHAUSTED";
    else if (f > p.so[0].due)
        *reason = ltc_call_printf(c, "PROMISE_AFTER_REQUESTED_DATE:%s", date_plus(c, st, p.today, f));
    return 0;
}

/* --- Resource loading -------------------------------------------------------------------------------------- */

static int load_resource(ltc_call *c, ltc_status *st, const char *id, Ltc__Otd__V1__Resource **out) {
    const char *p[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_RESOURCE_GET, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "RESOURCE_NOT_FOUND", "resource %s not found", id);
    PGresult *d = ltc_call_query(c, st, SQL_RESOURCE_DAYS, 1, p);
    if (!d) return -1;
    Ltc__Otd__V1__Resource *o = LTC_NEW(c, Ltc__Otd__V1__Resource, LTC__OTD__V1__RESOURCE__INIT);
    o->name = ltc_call_printf(c, "resources/%s", ltc_pg_str(r, 0, 0));
    o->display_name = ltc_call_strdup(c, ltc_pg_str(r, 0, 1));
    o->daily_capacity = ltc_pg_i64(r, 0, 2);
    int mask = (int)ltc_pg_i64(r, 0, 3);
    o->working_weekdays = ltc_call_alloc(c, 7 * sizeof *o->working_weekdays);
    for (int dow = 1; dow <= 7; dow++)
        if (mask & OTD_DOW_BIT(dow)) o->working_weekdays[o->n_working_weekdays++] = dow;
    o->dedicated = ltc_pg_bool(r, 0, 4);
    o->create_time = ltc_ts_from_pg(c, r, 0, 5);
    o->n_calendar_days = (size_t)PQntuples(d);
    o->calendar_days = ltc_call_alloc(c, (o->n_calendar_days ? o->n_calendar_days : 1) * sizeof *o->calendar_days);
    for (int i = 0; i < PQntuples(d); i++) {
        Ltc__Otd__V1__CalendarDay *cd = LTC_NEW(c, Ltc__Otd__V1__CalendarDay, LTC__OTD__V1__CALENDAR_DAY__INIT);
        cd->date = ltc_date_from_pg(c, d, i, 0);
        cd->capacity = ltc_pg_i64(d, i, 1);
        cd->note = ltc_call_strdup(c, ltc_pg_str(d, i, 2));
        o->calendar_days[i] = cd;
    }
    *out = o;
    return 0;
}

/* Working weekdays as a mask; INVALID_ARGUMENT naming field[i] for a bad or repeated day. 0 when none given. */
static int weekdays_mask(ltc_call *c, const int32_t *days, size_t n, const char *field, ltc_status *st) {
    int mask = 0;
    for (size_t i = 0; i < n; i++) {
        if (days[i] < 1 || days[i] > 7) {
            ltc_status_bad_field(st, ltc_call_printf(c, "%s[%zu]", field, i), "must be an ISO weekday, 1 to 7");
            continue;
        }
        if (mask & OTD_DOW_BIT(days[i]))
            ltc_status_bad_field(st, ltc_call_printf(c, "%s[%zu]", field, i), "weekday %d given twice", days[i]);
        mask |= OTD_DOW_BIT(days[i]);
    }
    return mask;
}

/* --- CreateResource -------------------------------------------------------------------------------------- */

/* CreateResource: adds a production resource (working weekdays: Monday to Friday unless given; dedicated: only the
 * routings naming it). Errors: INVALID_ARGUMENT "resource", "resource.display_name" (1 to 200 characters),
 * "resource.daily_capacity" (1 to 1000000000), "resource.working_weekdays[i]"; ALREADY_EXISTS "RESOURCE_EXISTS" for
 * a display name already in use. */
int otd_create_resource(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__CreateResourceRequest *req = (const void *)m;
    const Ltc__Otd__V1__Resource *res = req->resource;
    if (!res) return ltc_status_bad_field(st, "resource", "required");
    ltc_check_text(res->display_name, "resource.display_name", 1, 200, st);
    if (res->daily_capacity < 1 || res->daily_capacity > 1000000000)
        ltc_status_bad_field(st, "resource.daily_capacity", "must be 1 to 1000000000");
    int mask = weekdays_mask(c, res->working_weekdays, res->n_working_weekdays, "resource.working_weekdays", st);
    if (st->code != LTC_OK) return -1;
    if (mask == 0) mask = OTD_WEEKDAYS_MASK;

    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *p[5] = {id, res->display_name, ltc_sql_i64(c, res->daily_capacity), ltc_sql_i64(c, mask),
                        res->dedicated ? "true" : "false"};
    PGresult *r = ltc_call_query(c, st, SQL_RESOURCE_INSERT, 5, p);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "RESOURCE_EXISTS", "a resource named \"%s\" already exists",
                              res->display_name);
    Ltc__Otd__V1__CreateResourceResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__CreateResourceResponse, LTC__OTD__V1__CREATE_RESOURCE_RESPONSE__INIT);
    if (load_resource(c, st, id, &resp->resource) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- ScheduleOrder / ScheduleOrders ------------------------------------------------------------------------ */

/* ScheduleOrder: places one RELEASED order, or re-promises one SCHEDULED or PARTIALLY_SHIPPED order, behind the
 * capacity the other orders hold (they do not move). Errors: INVALID_ARGUMENT "name", NOT_FOUND "ORDER_NOT_FOUND",
 * FAILED_PRECONDITION "ORDER_NOT_RELEASED", "NO_CAPACITY_RESOURCE" (no resource exists), "NO_ROUTING" (a SKU
 * nothing can make), "CAPACITY_EXHAUSTED" (it does not fit in the horizon). */
int otd_schedule_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__ScheduleOrderRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "orders", "name", id, st) != 0) return -1;
    /* schedule_run locks the order (NOT_FOUND when there is none) */
    if (otd_schedule_one(c, st, id, 1, "re-promised on request") != 0) return -1;
    Ltc__Otd__V1__ScheduleOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__ScheduleOrderResponse, LTC__OTD__V1__SCHEDULE_ORDER_RESPONSE__INIT);
    if (otd_load_order(c, st, id, &resp->order) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* ScheduleOrders: every open order, or the ones named, placed again from nothing (EDD within priority classes).
 * Errors: INVALID_ARGUMENT "orders[i]" (malformed, or more than 1000), NOT_FOUND "ORDER_NOT_FOUND",
 * FAILED_PRECONDITION "ORDER_NOT_RELEASED" (a named order that is not open). */
int otd_schedule_orders(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__ScheduleOrdersRequest *req = (const void *)m;
    if (req->n_orders > OTD_MAX_LINES) return ltc_status_bad_field(st, "orders", "at most %d orders", OTD_MAX_LINES);
    const char **ids = ltc_call_alloc(c, (req->n_orders ? req->n_orders : 1) * sizeof *ids);
    for (size_t i = 0; i < req->n_orders; i++) {
        char *id = ltc_call_alloc(c, LTC_UUID_LEN + 1);
        ltc_name_parse(req->orders[i], "orders", ltc_call_printf(c, "orders[%zu]", i), id, st);
        ids[i] = id;
    }
    if (st->code != LTC_OK) return -1;
    Ltc__Otd__V1__ScheduleOrdersResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__ScheduleOrdersResponse, LTC__OTD__V1__SCHEDULE_ORDERS_RESPONSE__INIT);
    resp->result = LTC_NEW(c, Ltc__Otd__V1__ScheduleResult, LTC__OTD__V1__SCHEDULE_RESULT__INIT);
    plan p;
    if (req->n_orders) {
        const char *set = ltc_sql_text_array(c, ids, req->n_orders);
        PGresult *r = ltc_call_query(c, st, SQL_ORDERS_LOCK_SET, 1, (const char *[]){set});
        if (!r) return -1;
        for (size_t i = 0; i < req->n_orders; i++) {
            int found = 0;
            for (int k = 0; k < PQntuples(r) && !found; k++) found = strcmp(ltc_pg_str(r, k, PO_ID), ids[i]) == 0;
            if (!found) return ltc_status_set(st, LTC_NOT_FOUND, "ORDER_NOT_FOUND", "order %s not found", ids[i]);
        }
        if (schedule_run(c, st, set, NULL, 0, "rescheduled", resp->result, &p) != 0) return -1;
    } else if (schedule_run(c, st, NULL, NULL, 0, "rescheduled", resp->result, &p) != 0) {
        return -1;
    }
    *out = &resp->base;
    return 0;
}

/* --- SetResourceCalendar ----------------------------------------------------------------------------------- */

/* SetResourceCalendar: working weekdays and day entries of a resource, then every open order rescheduled.
 * Errors: INVALID_ARGUMENT "name", "working_weekdays[i]", "days" (more than 400), "days[i].date" (missing, invalid,
 * before today), "days[i].capacity" (0 to 1000000000), "days[i].note" (up to 200 characters), "clear_days[i]";
 * NOT_FOUND "RESOURCE_NOT_FOUND". */
int otd_set_resource_calendar(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__SetResourceCalendarRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "resources", "name", id, st);
    int mask = weekdays_mask(c, req->working_weekdays, req->n_working_weekdays, "working_weekdays", st);
    if (req->n_days > 400) ltc_status_bad_field(st, "days", "at most 400 days");
    if (req->n_clear_days > 400) ltc_status_bad_field(st, "clear_days", "at most 400 days");
    if (req->n_days > 400 || req->n_clear_days > 400) return -1;
    size_t n = req->n_days;
    const char **dates = ltc_call_alloc(c, (n ? n : 1) * sizeof *dates),
               **notes = ltc_call_alloc(c, (n ? n : 1) * sizeof *notes);
    int64_t *caps = ltc_call_alloc(c, (n ? n : 1) * sizeof *caps);
    ltc_status tst = {0}; /* today's date even while the fields are being checked */
    PGresult *t = ltc_call_query(c, &tst, SQL_TODAY, 0, NULL);
    if (!t) {
        ltc_status_clear(st);
        *st = tst;
        return -1;
    }
    const char *today = ltc_pg_str(t, 0, 0);
    for (size_t i = 0; i < n; i++) {
        const Ltc__Otd__V1__CalendarDay *d = req->days[i];
        char *txt = ltc_call_alloc(c, 11);
        const char *df = ltc_call_printf(c, "days[%zu].date", i);
        if (ltc_date_to_text(d->date, df, 0, txt, st) == 0 && strcmp(txt, today) < 0)
            ltc_status_bad_field(st, df, "%s is before today (%s)", txt, today);
        if (d->capacity < 0 || d->capacity > 1000000000)
            ltc_status_bad_field(st, ltc_call_printf(c, "days[%zu].capacity", i), "must be 0 to 1000000000");
        ltc_check_text(d->note, ltc_call_printf(c, "days[%zu].note", i), 0, 200, st);
        dates[i] = txt;
        caps[i] = d->capacity;
        notes[i] = d->note ? d->note : "";
    }
    const char **clear = ltc_call_alloc(c, (req->n_clear_days ? req->n_clear_days : 1) * sizeof *clear);
    for (size_t i = 0; i < req->n_clear_days; i++) {
        char *txt = ltc_call_alloc(c, 11);
        ltc_date_to_text(req->clear_days[i], ltc_call_printf(c, "clear_days[%zu]", i), 0, txt, st);
        clear[i] = txt;
    }
    if (st->code != LTC_OK) return -1;

    /* lock order: the open orders, then the resources (as every schedule) */
    PGresult *open = ltc_call_query(c, st, SQL_ORDERS_LOCK_OPEN, 0, NULL);
    if (!open) return -1;
    const char *p1[1] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_RESOURCE_LOCK_ONE, 1, p1);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "RESOURCE_NOT_FOUND", "resource %s not found", id);
    if (mask) {
        const char *wp[2] = {id, ltc_sql_i64(c, mask)};
        if (!ltc_call_query(c, st, SQL_RESOURCE_SET_WEEKDAYS, 2, wp)) return -1;
    }
    if (n) {
        const char *up[4] = {id, ltc_sql_text_array(c, dates, n), ltc_sql_i64_array(c, caps, n),
                             ltc_sql_text_array(c, notes, n)};
        if (!ltc_call_query(c, st, SQL_CALENDAR_UPSERT, 4, up)) return -1;
    }
    if (req->n_clear_days) {
        const char *cp[2] = {id, ltc_sql_text_array(c, clear, req->n_clear_days)};
        if (!ltc_call_query(c, st, SQL_CALENDAR_CLEAR, 2, cp)) return -1;
    }
    Ltc__Otd__V1__SetResourceCalendarResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__SetResourceCalendarResponse, LTC__OTD__V1__SET_RESOURCE_CALENDAR_RESPONSE__INIT);
    resp->result = LTC_NEW(c, Ltc__Otd__V1__ScheduleResult, LTC__OTD__V1__SCHEDULE_RESULT__INIT);
    if (otd_reschedule_all(c, st, ltc_call_printf(c, "capacity change on resources/%s", id), resp->result) != 0)
        return -1;
    if (load_resource(c, st, id, &resp->resource) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* --- SetRouting -------------------------------------------------------------------------------------------- */

/* SetRouting: creates or replaces a SKU's routing. Errors: INVALID_ARGUMENT "routing", "routing.sku" (1 to 64
 * characters), "routing.lead_time_days" (0 to 365), "routing.steps" (1 to 50), "routing.steps[i].resource"
 * (malformed, twice), "routing.steps[i].work_per_unit" (1 to 1000000); NOT_FOUND "RESOURCE_NOT_FOUND". */
int otd_set_routing(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__SetRoutingRequest *req = (const void *)m;
    const Ltc__Otd__V1__Routing *rt = req->routing;
    if (!rt) return ltc_status_bad_field(st, "routing", "required");
    ltc_check_text(rt->sku, "routing.sku", 1, 64, st);
    if (rt->lead_time_days < 0 || rt->lead_time_days > 365)
        ltc_status_bad_field(st, "routing.lead_time_days", "must be 0 to 365");
    size_t n = rt->n_steps;
    if (n < 1 || n > 50) ltc_status_bad_field(st, "routing.steps", "1 to 50 steps");
    const char **res = ltc_call_alloc(c, (n ? n : 1) * sizeof *res);
    int64_t *wpu = ltc_call_alloc(c, (n ? n : 1) * sizeof *wpu);
    for (size_t i = 0; i < n && n <= 50; i++) {
        char *rid = ltc_call_alloc(c, LTC_UUID_LEN + 1);
        const char *f = ltc_call_printf(c, "routing.steps[%zu].resource", i);
        rid[0] = '\0';
        if (ltc_name_parse(rt->steps[i]->resource, "resources", f, rid, st) == 0)
            for (size_t j = 0; j < i; j++)
                if (strcmp(res[j], rid) == 0) {
                    ltc_status_bad_field(st, f, "resource given twice: routing.steps[%zu] has it already", j);
                    break;
                }
        res[i] = rid;
        wpu[i] = rt->steps[i]->work_per_unit;
        if (wpu[i] < 1 || wpu[i] > 1000000)
            ltc_status_bad_field(st, ltc_call_printf(c, "routing.steps[%zu].work_per_unit", i), "must be 1 to 1000000");
    }
    if (st->code != LTC_OK) return -1;
    const char *rarr = ltc_sql_text_array(c, res, n);
    PGresult *missing = ltc_call_query(c, st, SQL_RESOURCES_EXIST, 1, (const char *[]){rarr});
    if (!missing) return -1;
    if (PQntuples(missing) > 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "RESOURCE_NOT_FOUND", "resource %s not found",
                              ltc_pg_str(missing, 0, 0));
    const char *up[2] = {rt->sku, ltc_sql_i64(c, rt->lead_time_days)};
    PGresult *u = ltc_call_query(c, st, SQL_ROUTING_UPSERT, 2, up);
    if (!u) return -1;
    if (!ltc_call_query(c, st, SQL_ROUTING_STEPS_CLEAR, 1, (const char *[]){rt->sku})) return -1;
    const char *sp[3] = {rt->sku, rarr, ltc_sql_i64_array(c, wpu, n)};
    if (!ltc_call_query(c, st, SQL_ROUTING_STEPS_INSERT, 3, sp)) return -1;

    Ltc__Otd__V1__SetRoutingResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__SetRoutingResponse, LTC__OTD__V1__SET_ROUTING_RESPONSE__INIT);
    Ltc__Otd__V1__Routing *o = LTC_NEW(c, Ltc__Otd__V1__Routing, LTC__OTD__V1__ROUTING__INIT);
    o->name = ltc_call_printf(c, "routings/%s", rt->sku);
    o->sku = ltc_call_strdup(c, rt->sku);
    o->lead_time_days = rt->lead_time_days;
    o->n_steps = n;
    o->steps = ltc_call_alloc(c, n * sizeof *o->steps);
    for (size_t i = 0; i < n; i++) {
        Ltc__Otd__V1__RoutingStep *s = LTC_NEW(c, Ltc__Otd__V1__RoutingStep, LTC__OTD__V1__ROUTING_STEP__INIT);
        s->resource = ltc_call_printf(c, "resources/%s", res[i]);
        s->work_per_unit = wpu[i];
        o->steps[i] = s;
    }
    o->update_time = ltc_ts_from_pg(c, u, 0, 0);
    resp->routing = o;
    *out = &resp->base;
    return 0;
}

/* --- AvailabilityService/CheckAvailability ---------------------------------------------------------------- */

/* CheckAvailability: the promise a release of these lines would get now, behind every booking (ScheduleOrder's
 * placement of one order), booking nothing. Each line's date is its own finish when the lines are placed together
 * (in the order asked, as one order's lines are). as_of_date other than today is refused: the load is today's.
 * Errors: INVALID_ARGUMENT "lines", "lines[i].sku", "lines[i].quantity", "requested_date", "as_of_date";
 * FAILED_PRECONDITION "NO_ROUTING" (every such SKU listed), "CAPACITY_EXHAUSTED". */
int otd_check_availability(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__CheckAvailabilityRequest *req = (const void *)m;
    size_t n = req->n_lines;
    if (n == 0) ltc_status_bad_field(st, "lines", "at least one line is required");
    if (n > OTD_MAX_LINES) ltc_status_bad_field(st, "lines", "at most %d lines", OTD_MAX_LINES);
    for (size_t i = 0; i < n && n <= OTD_MAX_LINES; i++) {
        ltc_check_text(req->lines[i]->sku, ltc_call_printf(c, "lines[%zu].sku", i), 1, 64, st);
        if (req->lines[i]->quantity <= 0)
            ltc_status_bad_field(st, ltc_call_printf(c, "lines[%zu].quantity", i), "must be positive");
    }
    char requested[11] = "", as_of[11] = "";
    ltc_date_to_text(req->requested_date, "requested_date", 1, requested, st);
    ltc_date_to_text(req->as_of_date, "as_of_date", 1, as_of, st);
    if (st->code != LTC_OK) return -1;

    plan p;
    if (plan_open(c, st, &p, 0, NULL, NULL, NULL) != 0) return -1;
    if (as_of[0] && strcmp(as_of, p.today) != 0)
        return ltc_status_bad_field(st, "as_of_date", "only today (%s) can be planned from", p.today);
    const char **skus = ltc_call_alloc(c, n * sizeof *skus);
    for (size_t i = 0; i < n; i++) skus[i] = req->lines[i]->sku;
    routes rt;
    if (routes_load(c, st, &p, skus, n, &rt) != 0) return -1;
    otd_sched_line *lines = ltc_call_alloc(c, n * sizeof *lines);
    char *bad = NULL;
    for (size_t i = 0; i < n; i++)
        if (line_for(&rt, skus[i], req->lines[i]->quantity, &lines[i]) != 0)
            bad = bad ? ltc_call_printf(c, "%s,%s", bad, skus[i]) : ltc_call_strdup(c, skus[i]);
    if (bad)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "NO_ROUTING",
                              "no routing and no general-purpose resource for SKU %s", bad);
    otd_sched_order o = {.priority = 2, .due = 0, .seq = 0, .lines = lines, .n_lines = n, .finish = -1};
    int f = otd_sched_place_order(&p.load, &o, 0, NULL, NULL);
    if (f == -2) return ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, NULL, "out of memory while scheduling");
    if (f < 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CAPACITY_EXHAUSTED",
                              "the lines do not fit in the %d days planned", OTD_SCHED_HORIZON - 1);
    Ltc__Otd__V1__CheckAvailabilityResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__CheckAvailabilityResponse, LTC__OTD__V1__CHECK_AVAILABILITY_RESPONSE__INIT);
    const char *promise = date_plus(c, st, p.today, f);
    if (!promise) return -1;
    resp->earliest_promise_date = date_of(c, promise);
    resp->as_of_date = date_of(c, p.today);
    resp->meets_requested_date = !requested[0] || strcmp(promise, requested) <= 0;
    resp->n_lines = n;
    resp->lines = ltc_call_alloc(c, n * sizeof *resp->lines);
    for (size_t i = 0; i < n; i++) {
        Ltc__Otd__V1__LinePromise *lp = LTC_NEW(c, Ltc__Otd__V1__LinePromise, LTC__OTD__V1__LINE_PROMISE__INIT);
        lp->sku = ltc_call_strdup(c, skus[i]);
        const char *d = date_plus(c, st, p.today, lines[i].finish);
        if (!d) return -1;
        lp->earliest_date = date_of(c, d);
        resp->lines[i] = lp;
    }
    *out = &resp->base;
    return 0;
}
