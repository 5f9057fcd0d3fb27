/* audit.c - ltc.audit.v1.AuditService: the stage's audit trail (the audit_log rows server.c writes) read back by
 * auditors, managers and admins through the gateway. */
#include <string.h>

#include "admin.h"
#include "ltc/access.h"
#include "ltc/audit/v1/audit_service.pb-c.h"
#include "ltc/proto.h"

static const char SQL_LIST[] =
    "SELECT seq, (extract(epoch FROM event_time) * 1000000)::bigint, principal, roles, caller, method, target,"
    " request_id, code, reason FROM audit_log"
    " WHERE ($1 = 0 OR seq < $1) AND ($2 = '' OR principal = $2) ORDER BY seq DESC LIMIT $3";

/* ListAuditEvents: newest first. Errors: INVALID_ARGUMENT "stage" (not this stage), "page_size", "page_token". */
static int list_audit_events(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Audit__V1__ListAuditEventsRequest *req = (const void *)m;
    const char *self = ltc_call_service_name(c);
    if (!req->stage || !req->stage[0]) return ltc_status_bad_field(st, "stage", "required: ltb, bto, otd or dtc");
    if (self && strcmp(req->stage, self) != 0)
        return ltc_status_bad_field(st, "stage", "this is the %s stage's audit trail", self);
    if (ltc_check_text(req->principal, "principal", 0, 128, st) != 0) return -1;
    int limit = 0;
    int64_t after = 0;
    if (ltc_page_parse(req->page_size, req->page_token, &limit, &after, st) != 0) return -1;
    const char *params[3] = {ltc_call_printf(c, "%lld", (long long)after), req->principal ? req->principal : "",
                             ltc_call_printf(c, "%d", limit)};
    PGresult *r = ltc_call_query(c, st, SQL_LIST, 3, params);
    if (!r) return -1;
    int n = PQntuples(r);
    Ltc__Audit__V1__ListAuditEventsResponse *resp =
        LTC_NEW(c, Ltc__Audit__V1__ListAuditEventsResponse, LTC__AUDIT__V1__LIST_AUDIT_EVENTS_RESPONSE__INIT);
    int shown = n < limit ? n : limit - 1;
    resp->events = ltc_call_alloc(c, (size_t)(shown ? shown : 1) * sizeof *resp->events);
    for (int i = 0; i < shown; i++) {
        Ltc__Audit__V1__AuditEvent *e = LTC_NEW(c, Ltc__Audit__V1__AuditEvent, LTC__AUDIT__V1__AUDIT_EVENT__INIT);
        e->sequence = ltc_pg_i64(r, i, 0);
        e->event_time = ltc_ts_from_pg(c, r, i, 1);
        e->principal = ltc_call_strdup(c, PQgetvalue(r, i, 2));
        /* roles: "sales,manager" */
        const char *roles = PQgetvalue(r, i, 3);
        size_t nr = roles[0] ? 1 : 0;
        for (const char *p = roles; *p; p++) nr += *p == ',';
        e->roles = ltc_call_alloc(c, (nr ? nr : 1) * sizeof *e->roles);
        char *copy = ltc_call_strdup(c, roles);
        for (char *tok = copy, *next; nr && tok; tok = next) {
            next = strchr(tok, ',');
            if (next) *next++ = 0;
            e->roles[e->n_roles++] = tok;
        }
        e->caller = ltc_call_strdup(c, PQgetvalue(r, i, 4));
        e->method = ltc_call_strdup(c, PQgetvalue(r, i, 5));
        e->target = ltc_call_strdup(c, PQgetvalue(r, i, 6));
        e->request_id = ltc_call_strdup(c, PQgetvalue(r, i, 7));
        e->code = ltc_call_strdup(c, PQgetvalue(r, i, 8));
        e->reason = ltc_call_strdup(c, PQgetvalue(r, i, 9));
        resp->events[resp->n_events++] = e;
    }
    if (n == limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, 0));
    *out = &resp->base;
    return 0;
}

const ltc_method ltc_audit_methods[] = {
    LTC_READ(ltc__audit__v1__audit_service__descriptor, ListAuditEvents, list_audit_events, NULL),
};
const size_t ltc_audit_methods_count = sizeof ltc_audit_methods / sizeof ltc_audit_methods[0];
