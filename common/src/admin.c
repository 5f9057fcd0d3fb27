/* admin.c - ltc.admin.v1.HandoffAdminService: the outbox seen and steered by an operator (see the proto). */
#include "admin.h"

#include <stdlib.h>
#include <string.h>

#include "google/protobuf/duration.pb-c.h"
#include "internal.h"
#include "ltc/admin/v1/handoff_admin_service.pb-c.h"
#include "ltc/assert.h"
#include "ltc/ids.h"
#include "ltc/outbox.h"
#include "ltc/proto.h"

#define MICROS(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

static const char SQL_LIST[] =
    "SELECT seq, handoff_id, deal_id, destination, method, attempts, coalesce(last_error, ''), " MICROS("create_time") ", " MICROS(
        "next_attempt_time") ", " MICROS("delivered_time") ", " MICROS("parked_time") " FROM outbox WHERE seq > $1 AND CASE $2"
                                                                                      "   WHEN 'PARKED' THEN delivered_time IS NULL AND parked_time IS NOT NULL"
                                                                                      "   WHEN 'DELIVERED' THEN delivered_time IS NOT NULL"
                                                                                      "   ELSE delivered_time IS NULL AND parked_time IS NULL END"
                                                                                      " ORDER BY seq LIMIT $3";
static const char SQL_RETRY[] =
    "UPDATE outbox SET parked_time = NULL, next_attempt_time = now()"
    " WHERE handoff_id = $1 AND parked_time IS NOT NULL AND delivered_time IS NULL"
    " RETURNING seq, handoff_id, deal_id, destination, method, attempts, coalesce(last_error, ''), " MICROS(
        "create_time") ", " MICROS("next_attempt_time") ", " MICROS("delivered_time") ", " MICROS("parked_time");
static const char SQL_EXISTS[] = "SELECT delivered_time IS NOT NULL FROM outbox WHERE handoff_id = $1";

static Ltc__Admin__V1__Handoff *handoff_from_row(ltc_call *c, const PGresult *r, int i) {
    LTC_ASSERT(PQnfields(r) == 11); /* the columns of SQL_LIST and SQL_RETRY's RETURNING, read by index */
    Ltc__Admin__V1__Handoff *h = LTC_NEW(c, Ltc__Admin__V1__Handoff, LTC__ADMIN__V1__HANDOFF__INIT);
    h->handoff_id = ltc_call_strdup(c, PQgetvalue(r, i, 1));
    h->deal_id = ltc_call_strdup(c, PQgetvalue(r, i, 2));
    h->destination = ltc_call_strdup(c, PQgetvalue(r, i, 3));
    h->method = ltc_call_strdup(c, PQgetvalue(r, i, 4));
    h->attempts = (int32_t)ltc_pg_i64(r, i, 5);
    h->last_error = ltc_call_strdup(c, PQgetvalue(r, i, 6));
    h->create_time = ltc_ts_from_pg(c, r, i, 7);
    h->state = !ltc_pg_isnull(r, i, 9)    ? LTC__ADMIN__V1__HANDOFF_STATE__HANDOFF_STATE_DELIVERED
               : !ltc_pg_isnull(r, i, 10) ? LTC__ADMIN__V1__HANDOFF_STATE__HANDOFF_STATE_PARKED
                                          : LTC__ADMIN__V1__HANDOFF_STATE__HANDOFF_STATE_PENDING;
    if (h->state == LTC__ADMIN__V1__HANDOFF_STATE__HANDOFF_STATE_PENDING)
        h->next_attempt_time = ltc_ts_from_pg(c, r, i, 8);
    h->deliver_time = ltc_ts_from_pg(c, r, i, 9);
    h->park_time = ltc_ts_from_pg(c, r, i, 10);
    return h;
}

/* GetHandoffBacklog: pending/parked counts and the oldest pending age per destination. */
static int get_backlog(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    (void)m;
    PGresult *r = ltc_outbox_backlog(ltc_call_db(c), st);
    if (!r) return -1;
    LTC_ASSERT(PQnfields(r) == 4); /* destination, pending, oldest pending age, parked */
    int n = PQntuples(r);
    Ltc__Admin__V1__GetHandoffBacklogResponse *resp =
        LTC_NEW(c, Ltc__Admin__V1__GetHandoffBacklogResponse, LTC__ADMIN__V1__GET_HANDOFF_BACKLOG_RESPONSE__INIT);
    resp->destinations = ltc_call_alloc(c, (size_t)(n ? n : 1) * sizeof *resp->destinations);
    for (int i = 0; i < n; i++) {
        Ltc__Admin__V1__DestinationBacklog *d =
            LTC_NEW(c, Ltc__Admin__V1__DestinationBacklog, LTC__ADMIN__V1__DESTINATION_BACKLOG__INIT);
        d->destination = ltc_call_strdup(c, PQgetvalue(r, i, 0));
        d->pending = ltc_pg_i64(r, i, 1);
        d->parked = ltc_pg_i64(r, i, 3);
        double age = strtod(PQgetvalue(r, i, 2), NULL);
        Google__Protobuf__Duration *dur = LTC_NEW(c, Google__Protobuf__Duration, GOOGLE__PROTOBUF__DURATION__INIT);
        dur->seconds = (int64_t)age;
        dur->nanos = (int32_t)((age - (double)dur->seconds) * 1e9);
        d->oldest_pending_age = dur;
        resp->destinations[resp->n_destinations++] = d;
    }
    PQclear(r);
    *out = &resp->base;
    return 0;
}

/* ListHandoffs: one state's hand-offs, oldest first, paginated by outbox sequence. */
static int list_handoffs(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Admin__V1__ListHandoffsRequest *req = (const void *)m;
    const char *state;
    switch (req->state) {
        case LTC__ADMIN__V1__HANDOFF_STATE__HANDOFF_STATE_UNSPECIFIED:
        case LTC__ADMIN__V1__HANDOFF_STATE__HANDOFF_STATE_PENDING: state = "PENDING"; break;
        case LTC__ADMIN__V1__HANDOFF_STATE__HANDOFF_STATE_PARKED: state = "PARKED"; break;
        case LTC__ADMIN__V1__HANDOFF_STATE__HANDOFF_STATE_DELIVERED: state = "DELIVERED"; break;
        default: return ltc_status_bad_field(st, "state", "unknown HandoffState %d", (int)req->state);
    }
    int limit;
    int64_t after;
    if (ltc_page_parse(req->page_size, req->page_token, &limit, &after, st) != 0) return -1;
    const char *p[3] = {ltc_call_printf(c, "%lld", (long long)after), state, ltc_call_printf(c, "%d", limit)};
    PGresult *r = ltc_call_query(c, st, SQL_LIST, 3, p);
    if (!r) return -1;
    int n = PQntuples(r);
    int shown = n < limit ? n : limit - 1;
    Ltc__Admin__V1__ListHandoffsResponse *resp =
        LTC_NEW(c, Ltc__Admin__V1__ListHandoffsResponse, LTC__ADMIN__V1__LIST_HANDOFFS_RESPONSE__INIT);
    resp->handoffs = ltc_call_alloc(c, (size_t)(shown ? shown : 1) * sizeof *resp->handoffs);
    for (int i = 0; i < shown; i++) resp->handoffs[resp->n_handoffs++] = handoff_from_row(c, r, i);
    if (n == limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, 0));
    *out = &resp->base;
    return 0;
}

/* RetryHandoff: a parked hand-off back in the queue, due now. */
static int retry_handoff(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Admin__V1__RetryHandoffRequest *req = (const void *)m;
    if (!ltc_uuid_valid(req->handoff_id)) return ltc_status_bad_field(st, "handoff_id", "must be a UUID");
    const char *p[1] = {req->handoff_id};
    PGresult *r = ltc_call_query(c, st, SQL_RETRY, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) {
        PGresult *e = ltc_call_query(c, st, SQL_EXISTS, 1, p);
        if (!e) return -1;
        LTC_ASSERT(PQnfields(e) == 1);
        if (PQntuples(e) == 0)
            return ltc_status_set(st, LTC_NOT_FOUND, "HANDOFF_NOT_FOUND", "no hand-off %s", req->handoff_id);
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "HANDOFF_NOT_PARKED", "hand-off %s is %s, not PARKED",
                              req->handoff_id, ltc_pg_bool(e, 0, 0) ? "DELIVERED" : "PENDING");
    }
    /* this process's relays after the commit; other replicas' find it by their poll */
    if (ltc_outbox__wake_after_commit(c, st) != 0) return -1;
    Ltc__Admin__V1__RetryHandoffResponse *resp =
        LTC_NEW(c, Ltc__Admin__V1__RetryHandoffResponse, LTC__ADMIN__V1__RETRY_HANDOFF_RESPONSE__INIT);
    resp->handoff = handoff_from_row(c, r, 0);
    *out = &resp->base;
    return 0;
}

#define ADMIN ltc__admin__v1__handoff_admin_service__descriptor

const ltc_method ltc_admin_methods[] = {
    /* operators only: the "ops" internal identity (a client certificate of the internal CA) */
    {.service = &ADMIN, .rpc = "GetHandoffBacklog", .handler = get_backlog, .flags = LTC_METHOD_READ, .callers = "ops"},
    {.service = &ADMIN, .rpc = "ListHandoffs", .handler = list_handoffs, .flags = LTC_METHOD_READ, .callers = "ops"},
    {.service = &ADMIN,
     .rpc = "RetryHandoff",
     .handler = retry_handoff,
     .flags = LTC_METHOD_WRITE,
     .idempotency_field = "request_id",
     .callers = "ops"},
};
const size_t ltc_admin_methods_count = sizeof ltc_admin_methods / sizeof ltc_admin_methods[0];
