/* audit.c - the stage's audit trail: the audit_log row of every state-changing call (written by the transaction
 * runner, dispatch.c, and for refused calls by serve.c), and ltc.audit.v1.AuditService, which reads them back for
 * auditors, managers and admins through the gateway. */
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "internal.h"
#include "ltc/access.h"
#include "ltc/assert.h"
#include "ltc/audit/v1/audit_service.pb-c.h"
#include "ltc/log.h"
#include "ltc/proto.h"

static const char SQL_AUDIT[] =
    "INSERT INTO audit_log (principal, roles, caller, method, target, request_id, code, reason) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/* Inside the call's transaction when it commits, on its own after a rollback. The target: the owner field, else
 * "name", else the idempotency key. */
int ltc_audit__write(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, const ltc_status *outcome,
                     const char *reason, ltc_status *st) {
    char roles[96];
    ltc_roles_format(c->roles, roles, sizeof roles);
    char who[140];
    if (c->principal[0])
        snprintf(who, sizeof who, "%s", c->principal);
    else if (c->peer[0])
        snprintf(who, sizeof who, "service:%s", c->peer);
    else
        snprintf(who, sizeof who, "anonymous");
    const char *target = NULL;
    if (req && m->owner) target = ltc_fields__string(req, m->owner->field);
    if (req && !target) target = ltc_fields__string(req, "name");
    if (req && !target && m->idempotency_field) target = ltc_fields__string(req, m->idempotency_field);
    char tbuf[256];
    snprintf(tbuf, sizeof tbuf, "%s", target ? target : "");
    ltc_utf8_clean(tbuf);
    const char *params[8] = {who,
                             roles,
                             c->peer,
                             m->path,
                             tbuf,
                             c->request_id,
                             ltc_code_name(outcome->code),
                             reason ? reason : outcome->reason};
    PGresult *r = ltc_db_query(c->w->db, st, SQL_AUDIT, 8, params);
    if (!r) return -1;
    PQclear(r);
    return 0;
}

void ltc_audit__outside(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, const ltc_status *outcome,
                        const char *reason) {
    if (!(m->flags & LTC_METHOD_WRITE) || !c->w->db) return;
    ltc_status st = {0};
    if (ltc_audit__write(c, m, req, outcome, reason, &st) != 0 &&
        ltc_audit_spool__call(c, m, req, outcome, reason) != 0)
        LTC_WARN("audit_failed", c->request_id, "%s: %s", m->path, st.message);
    ltc_status_clear(&st);
}

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
    LTC_ASSERT(PQnfields(r) == 10); /* the columns of SQL_LIST, read by index below */
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
