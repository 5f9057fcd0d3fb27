/* scheduling.c - production resources (产能) and finite-capacity scheduling (自动排程) of released orders.
 *
 * An order's work is the sum of its line quantities (one unit of capacity per unit of product). Scheduling locks
 * every resource (so that concurrent schedules run one after another and never book the same capacity twice),
 * computes for each the earliest day the work can finish when it fills, from tomorrow on, each working day
 * (Monday to Friday) with the capacity not yet booked, within OTD_HORIZON_DAYS days, and books the order on the
 * resource that finishes first (ties: the oldest resource). The finish day is the order's promise date. The fill and
 * the working days are pure (capacity.c). */
#include <string.h>

#include "ltc/proto.h"
#include "otd.h"

/* --- SQL ------------------------------------------------------------------------------------------------- */

static const char SQL_RESOURCE_INSERT[] =
    "INSERT INTO resources (id, display_name, daily_capacity) VALUES ($1, $2, $3) "
    "ON CONFLICT (display_name) DO NOTHING "
    "RETURNING " LTC_SQL_MICROS("create_time");
static const char SQL_SCHEDULE_ORDER[] =
    "SELECT o.state, count(l.id), sum(l.quantity)::text, "
    "       coalesce(sum(l.quantity) > 9223372036854775807, false) "
    "FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id WHERE o.id = $1 GROUP BY o.id";
static const char SQL_TODAY[] = "SELECT " LTC_SQL_DATE("current_date") ", extract(isodow FROM current_date)::int";
/* Ordered by id: every schedule locks the resources in the same order, so two schedules cannot deadlock. */
static const char SQL_RESOURCES_LOCK[] = "SELECT id, seq, daily_capacity FROM resources ORDER BY id FOR UPDATE";
/* Capacity already booked on one resource per day of the horizon: (day offset from today 1..366, units). */
static const char SQL_BOOKED[] = "SELECT (day - $2::date)::int, sum(quantity)::bigint FROM capacity_bookings "
                                 "WHERE resource_id = $1 AND day > $2::date AND day <= $2::date + $3::int GROUP BY day";
static const char SQL_BOOK[] = "INSERT INTO capacity_bookings (resource_id, day, order_id, quantity) "
                               "SELECT $1, $2::date + t.o, $3, t.q FROM unnest($4::int[], $5::bigint[]) AS t(o, q)";
static const char SQL_ORDER_SCHEDULED[] =
    "UPDATE orders SET state = 'SCHEDULED', resource_id = $2, promise_date = $3::date + $4::int, "
    "late = ($3::date + $4::int) > requested_delivery_date, update_time = now() WHERE id = $1";

/* --- CreateResource -------------------------------------------------------------------------------------- */

/* CreateResource: adds a production resource. Errors: INVALID_ARGUMENT "resource", "resource.display_name" (1 to
 * 200 characters), "resource.daily_capacity" (1 to 1000000000); ALREADY_EXISTS "RESOURCE_EXISTS" for a display
 * name already in use. */
int otd_create_resource(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__CreateResourceRequest *req = (const void *)m;
    const Ltc__Otd__V1__Resource *res = req->resource;
    if (!res) return ltc_status_bad_field(st, "resource", "required");
    ltc_check_text(res->display_name, "resource.display_name", 1, 200, st);
    if (res->daily_capacity < 1 || res->daily_capacity > 1000000000)
        ltc_status_bad_field(st, "resource.daily_capacity", "must be 1 to 1000000000");
    if (st->code != LTC_OK) return -1;

    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *p[3] = {id, res->display_name, ltc_sql_i64(c, res->daily_capacity)};
    PGresult *r = ltc_call_query(c, st, SQL_RESOURCE_INSERT, 3, p);
    if (!r) return -1;
    if (PQntuples(r) == 0)
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "RESOURCE_EXISTS", "a resource named \"%s\" already exists",
                              res->display_name);
    Ltc__Otd__V1__CreateResourceResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__CreateResourceResponse, LTC__OTD__V1__CREATE_RESOURCE_RESPONSE__INIT);
    Ltc__Otd__V1__Resource *o = LTC_NEW(c, Ltc__Otd__V1__Resource, LTC__OTD__V1__RESOURCE__INIT);
    o->name = ltc_call_printf(c, "resources/%s", id);
    o->display_name = ltc_call_strdup(c, res->display_name);
    o->daily_capacity = res->daily_capacity;
    o->create_time = ltc_ts_from_pg(c, r, 0, 0);
    resp->resource = o;
    *out = &resp->base;
    return 0;
}

/* --- ScheduleOrder --------------------------------------------------------------------------------------- */

/* The best placement found so far. */
typedef struct placement {
    int finish;           /* day index, -1 none */
    int64_t seq;          /* the resource's seq (tie-break) */
    const char *resource; /* its id */
    int64_t alloc[OTD_HORIZON_DAYS];
} placement;

/* Fills `booked` (OTD_HORIZON_DAYS days from tomorrow) with the capacity booked on `resource`. */
static int load_booked(ltc_call *c, ltc_status *st, const char *resource, const char *today, int64_t *booked) {
    const char *p[3] = {resource, today, ltc_sql_i64(c, OTD_HORIZON_DAYS)};
    PGresult *r = ltc_call_query(c, st, SQL_BOOKED, 3, p);
    if (!r) return -1;
    memset(booked, 0, OTD_HORIZON_DAYS * sizeof *booked);
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t off = ltc_pg_i64(r, i, 0);
        if (off >= 1 && off <= OTD_HORIZON_DAYS) booked[off - 1] = ltc_pg_i64(r, i, 1);
    }
    return 0;
}

/* Tries every resource (already locked, rows of `res`) and keeps the earliest finish in *best. */
static int place_work(ltc_call *c, ltc_status *st, const PGresult *res, int64_t work, const char *today,
                      const int *working, placement *best) {
    int64_t *booked = ltc_call_alloc(c, OTD_HORIZON_DAYS * sizeof *booked);
    int64_t *alloc = ltc_call_alloc(c, OTD_HORIZON_DAYS * sizeof *alloc);
    best->finish = -1;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *rid = ltc_pg_str(res, i, 0);
        int64_t seq = ltc_pg_i64(res, i, 1), cap = ltc_pg_i64(res, i, 2);
        if (load_booked(c, st, rid, today, booked) != 0) return -1;
        int finish = otd_fill_capacity(work, cap, booked, OTD_HORIZON_DAYS, working, alloc);
        if (finish < 0) continue;
        if (best->finish < 0 || finish < best->finish || (finish == best->finish && seq < best->seq)) {
            best->finish = finish;
            best->seq = seq;
            best->resource = rid;
            memcpy(best->alloc, alloc, sizeof best->alloc);
        }
    }
    return 0;
}

/* Writes the bookings of `best` for order `id` and marks the order SCHEDULED with its promise date. */
static int book(ltc_call *c, ltc_status *st, const char *id, const char *today, const placement *best) {
    int64_t offs[OTD_HORIZON_DAYS], qty[OTD_HORIZON_DAYS];
    size_t n = 0;
    for (int i = 0; i <= best->finish; i++)
        if (best->alloc[i] > 0) {
            offs[n] = i + 1;
            qty[n++] = best->alloc[i];
        }
    const char *bp[5] = {best->resource, today, id, ltc_sql_i64_array(c, offs, n), ltc_sql_i64_array(c, qty, n)};
    if (!ltc_call_query(c, st, SQL_BOOK, 5, bp)) return -1;
    const char *up[4] = {id, best->resource, today, ltc_sql_i64(c, best->finish + 1)};
    return ltc_call_query(c, st, SQL_ORDER_SCHEDULED, 4, up) ? 0 : -1;
}

/* ScheduleOrder: books a RELEASED order's work on the resource that finishes it first (finite capacity, working
 * days from tomorrow, within 366 days); the finish day is the promise date, late when after the requested date;
 * the order becomes SCHEDULED. Errors: INVALID_ARGUMENT "name", NOT_FOUND "ORDER_NOT_FOUND", FAILED_PRECONDITION
 * "ORDER_NOT_RELEASED", "NO_CAPACITY_RESOURCE" (no resource exists), "CAPACITY_EXHAUSTED" (none can finish within
 * the horizon). */
int otd_schedule_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Otd__V1__ScheduleOrderRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "orders", "name", id, st) != 0) return -1;
    const char *state = "";
    if (otd_order_lock(c, st, id, &state) != 0) return -1;
    if (strcmp(state, "RELEASED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "ORDER_NOT_RELEASED",
                              "order %s is %s, only a RELEASED order can be scheduled", id, state);
    const char *p[1] = {id};
    PGresult *o = ltc_call_query(c, st, SQL_SCHEDULE_ORDER, 1, p);
    if (!o) return -1;
    if (PQntuples(o) != 1 || ltc_pg_i64(o, 0, 1) < 1)
        return ltc_status_set(st, LTC_INTERNAL, NULL, "order %s has no lines", id);
    int too_big = ltc_pg_bool(o, 0, 3);
    int64_t work = too_big ? 0 : ltc_pg_i64(o, 0, 2);

    PGresult *t = ltc_call_query(c, st, SQL_TODAY, 0, NULL);
    if (!t) return -1;
    const char *today = ltc_call_strdup(c, ltc_pg_str(t, 0, 0));
    int dow0 = (int)ltc_pg_i64(t, 0, 1); /* ISO: Monday 1 .. Sunday 7 */
    int working[OTD_HORIZON_DAYS];
    otd_working_days(dow0, OTD_HORIZON_DAYS, working);

    PGresult *res = ltc_call_query(c, st, SQL_RESOURCES_LOCK, 0, NULL);
    if (!res) return -1;
    if (PQntuples(res) == 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "NO_CAPACITY_RESOURCE",
                              "no production resource exists; create one first");
    placement *best = ltc_call_alloc(c, sizeof *best);
    best->finish = -1;
    if (!too_big && place_work(c, st, res, work, today, working, best) != 0) return -1;
    if (best->finish < 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "CAPACITY_EXHAUSTED",
                              "no resource can finish %s units of work within %d days", ltc_pg_str(o, 0, 2),
                              OTD_HORIZON_DAYS);
    if (book(c, st, id, today, best) != 0) return -1;

    Ltc__Otd__V1__ScheduleOrderResponse *resp =
        LTC_NEW(c, Ltc__Otd__V1__ScheduleOrderResponse, LTC__OTD__V1__SCHEDULE_ORDER_RESPONSE__INIT);
    if (otd_load_order(c, st, id, &resp->order) != 0) return -1;
    *out = &resp->base;
    return 0;
}
