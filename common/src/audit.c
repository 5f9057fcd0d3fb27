/* audit.c - the stage's audit trail: the audit_log row of every state-changing call (written by the transaction
 * runner, dispatch.c, and for refused calls by serve.c) with what the handler recorded it changed (ltc/audit.h:
 * targets and each field's old and new value), and ltc.audit.v1.AuditService, which reads them back for auditors,
 * managers and admins through the gateway, filtered by principal, target, time and outcome. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "internal.h"
#include "ltc/access.h"
#include "ltc/assert.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "ltc/audit.h"
#include "ltc/audit_chain.h"
#include "ltc/audit_sealer.h"
#include "ltc/audit/v1/audit_service.pb-c.h"
#include "ltc/log.h"
#include "ltc/money.h"
#include "ltc/proto.h"
#include "ltc/sqltext.h"

/* $9 the targets; $10..$15 the changes in step: target, field, old, new, has old, has new; $16 the server's own
 * request id. The row is inserted unsealed: the sealer (ltc/audit_sealer.h, runtime migration 011) chains it after the
 * commit. */
static const char SQL_AUDIT[] =
    "INSERT INTO audit_log (principal, roles, caller, method, target, request_id, code, reason, server_request_id,"
    " targets, changes) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $16, $9::text[],"
    " (SELECT COALESCE(jsonb_agg(jsonb_build_object('target', t, 'field', f, 'old', CASE WHEN ho THEN o END,"
    "                                               'new', CASE WHEN hn THEN n END) ORDER BY i), '[]'::jsonb)"
    "  FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::boolean[], $15::boolean[])"
    "       WITH ORDINALITY AS x(t, f, o, n, ho, hn, i)))";

/* --- what the running call changed (ltc/audit.h) ------------------------------------------------------------- */

/* One changed field; old/new NULL: none. */
typedef struct audit_change {
    const char *target, *field, *old_value, *new_value;
} audit_change;

/* The changes of the call running on this thread (a worker runs one call at a time; the strings live in the call's
 * arena). ltc_audit__reset empties it at the start of every transaction attempt; the audit row consumes it. */
static _Thread_local struct {
    const ltc_call *call;
    audit_change changes[LTC_AUDIT_MAX_CHANGES + 1];
    size_t n;
    int truncated;
    const char *targets[LTC_AUDIT_MAX_TARGETS];
    size_t n_targets;
} pending;

void ltc_audit__reset(const ltc_call *c) {
    pending.call = c;
    pending.n = pending.n_targets = 0;
    pending.truncated = 0;
}

/* The pending list of call c (emptied when it belonged to another call). */
static void own(const ltc_call *c) {
    if (pending.call != c) ltc_audit__reset(c);
}

/* A value as kept: control characters '?', at most 500 bytes, valid UTF-8; in the arena. NULL stays NULL. */
static const char *keep(ltc_call *c, const char *v) {
    if (!v) return NULL;
    size_t n = strlen(v);
    char *out = ltc_call_alloc(c, (n > 500 ? 500 : n) + 1);
    size_t k = 0;
    for (; k < n && k < 500; k++) out[k] = ((unsigned char)v[k] < 0x20 || v[k] == 0x7f) ? '?' : v[k];
    out[k] = '\0';
    ltc_utf8_clean(out);
    return out;
}

void ltc_audit_target(ltc_call *c, const char *target) {
    if (!c || !target || !target[0]) return;
    own(c);
    for (size_t i = 0; i < pending.n_targets; i++)
        if (strcmp(pending.targets[i], target) == 0) return;
    if (pending.n_targets < LTC_AUDIT_MAX_TARGETS) pending.targets[pending.n_targets++] = keep(c, target);
}

void ltc_audit_change(ltc_call *c, const char *target, const char *field, const char *old_value,
                      const char *new_value) {
    if (!c || !target || !field) return;
    if (old_value && new_value && strcmp(old_value, new_value) == 0) return;
    if (!old_value && !new_value) return;
    ltc_audit_target(c, target);
    if (pending.n >= LTC_AUDIT_MAX_CHANGES) {
        pending.truncated = 1;
        return;
    }
    audit_change *x = &pending.changes[pending.n++];
    x->target = keep(c, target);
    x->field = keep(c, field);
    x->old_value = keep(c, old_value);
    x->new_value = keep(c, new_value);
}

const char *ltc_audit_money_text(const char *currency, int64_t minor, char out[48]) {
    int digits = currency ? ltc_currency_digits(currency) : -1;
    if (digits < 0 || digits > 9) digits = 2;
    uint64_t mag = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor, p = 1;
    for (int i = 0; i < digits; i++) p *= 10;
    char frac[16] = "";
    if (digits > 0) {
        uint64_t f = mag % p;
        frac[0] = '.';
        for (int i = digits; i >= 1; i--, f /= 10) frac[i] = (char)('0' + f % 10);
        frac[digits + 1] = '\0';
    }
    snprintf(out, 48, "%.3s %s%" PRIu64 "%s", currency ? currency : "", minor < 0 ? "-" : "", mag / p, frac);
    return out;
}

void ltc_audit_change_money(ltc_call *c, const char *target, const char *field, const char *currency, int64_t old_minor,
                            int has_old, int64_t new_minor, int has_new) {
    char a[48], b[48];
    ltc_audit_change(c, target, field, has_old ? ltc_audit_money_text(currency, old_minor, a) : NULL,
                     has_new ? ltc_audit_money_text(currency, new_minor, b) : NULL);
}

void ltc_audit_secret_changed(ltc_call *c, const char *target, const char *field) {
    if (!c || !target || !field) return;
    ltc_audit_target(c, target);
    if (pending.n >= LTC_AUDIT_MAX_CHANGES) {
        pending.truncated = 1;
        return;
    }
    audit_change *x = &pending.changes[pending.n++];
    x->target = keep(c, target);
    x->field = keep(c, field);
    x->old_value = x->new_value = "(secret)";
}

/* Inside the call's transaction when it commits, on its own after a rollback. The target: the owner field, else
 * "name", else the idempotency key. */
int ltc_audit__write(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, const ltc_status *outcome,
                     const char *reason, ltc_status *st) {
    char roles[96];
    ltc_roles_format(c->roles, roles, sizeof roles);
    char who[140];
    if (c->principal[0]) {
        snprintf(who, sizeof who, "%s", c->principal);
    } else if (c->acting_principal[0]) { /* a hand-off caused by this user's call; the caller column: its carrier */
        snprintf(who, sizeof who, "%s", c->acting_principal);
        ltc_roles_format(c->acting_roles, roles, sizeof roles);
    } else if (c->peer[0]) {
        snprintf(who, sizeof who, "service:%s", c->peer);
    } else {
        snprintf(who, sizeof who, "anonymous");
    }
    const char *target = NULL;
    if (req && m->owner) target = ltc_fields__string(req, m->owner->field);
    if (req && !target) target = ltc_fields__string(req, "name");
    if (req && !target && m->idempotency_field) target = ltc_fields__string(req, m->idempotency_field);
    /* what the handler recorded counts only for a call that takes effect */
    own(c);
    if (outcome->code != LTC_OK || (reason && reason[0])) ltc_audit__reset(c);
    if (pending.n_targets > 0) target = pending.targets[0]; /* the first record changed, not a key */
    char tbuf[256];
    snprintf(tbuf, sizeof tbuf, "%s", target ? target : "");
    ltc_utf8_clean(tbuf);
    size_t n = pending.n + (pending.truncated ? 1 : 0);
    if (pending.truncated) {
        audit_change *x = &pending.changes[pending.n];
        x->target = "";
        x->field = "(more changes not recorded)";
        x->old_value = x->new_value = NULL;
    }
    const char **ct = ltc_call_alloc(c, sizeof *ct * (n + 1) * 6);
    const char **cf = ct + (n + 1), **co = cf + (n + 1), **cn = co + (n + 1), **hop = cn + (n + 1),
               **hnp = hop + (n + 1);
    for (size_t i = 0; i < n; i++) {
        ct[i] = pending.changes[i].target;
        cf[i] = pending.changes[i].field;
        co[i] = pending.changes[i].old_value;
        cn[i] = pending.changes[i].new_value;
        hop[i] = pending.changes[i].old_value ? "t" : "f";
        hnp[i] = pending.changes[i].new_value ? "t" : "f";
    }
    const char *params[16] = {who,
                              roles,
                              c->peer,
                              m->path,
                              tbuf,
                              c->request_id,
                              ltc_code_name(outcome->code),
                              reason ? reason : outcome->reason,
                              ltc_sql_text_array(c, pending.targets, pending.n_targets),
                              ltc_sql_text_array(c, ct, n),
                              ltc_sql_text_array(c, cf, n),
                              ltc_sql_text_array(c, co, n),
                              ltc_sql_text_array(c, cn, n),
                              ltc_sql_array(c, hop, n),
                              ltc_sql_array(c, hnp, n),
                              c->server_request_id};
    ltc_audit__reset(c);
    return ltc_db_send_bin(c->w->db, st, SQL_AUDIT, 16, params, NULL, NULL); /* goes out with the COMMIT */
}

/* Written for every write, and for a read refused to its caller (not allowed, not in the iron triangle). */
void ltc_audit__outside(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, const ltc_status *outcome,
                        const char *reason) {
    int refused = outcome->code == LTC_PERMISSION_DENIED || outcome->code == LTC_UNAUTHENTICATED;
    if (!((m->flags & LTC_METHOD_WRITE) || refused) || !c->w->db) return;
    ltc_status st = {0};
    if (ltc_audit__write(c, m, req, outcome, reason, &st) == 0)
        ltc_audit_sealer_nudge(); /* committed (no transaction around it): the sealer chains it */
    else if (ltc_audit_spool__call(c, m, req, outcome, reason) != 0)
        LTC_WARN("audit_failed", c->request_id, "%s: %s", m->path, st.message);
    ltc_status_clear(&st);
}

/* $1 the seq to continue below (0: from the newest), $2 principal, $3 limit, $4 target, $5/$6 from/before (micros,
 * NULL: open), $7 code ('' : all). The targets packed with \x1f; the changes as target \x1e field \x1e old \x1e new,
 * packed with \x1f (the values have no control characters: ltc_audit_change keeps none). */
static const char SQL_LIST[] =
    "SELECT seq, (extract(epoch FROM event_time) * 1000000)::bigint, principal, roles, caller, method, target,"
    " request_id, code, reason, array_to_string(targets, E'\\x1f'),"
    " (SELECT string_agg(COALESCE(e->>'target', '') || E'\\x1e' || COALESCE(e->>'field', '') || E'\\x1e'"
    "   || COALESCE(e->>'old', '') || E'\\x1e' || COALESCE(e->>'new', ''), E'\\x1f' ORDER BY i)"
    "  FROM jsonb_array_elements(changes) WITH ORDINALITY AS x(e, i)),"
    " server_request_id, COALESCE(chain_position, 0), COALESCE(encode(row_hash, 'hex'), '')"
    " FROM audit_log"
    " WHERE ($1 = 0 OR seq < $1) AND ($2 = '' OR principal = $2)"
    " AND ($4 = '' OR target = $4 OR targets @> ARRAY[$4::text])"
    " AND ($5::bigint IS NULL OR event_time >= " LTC_SQL_TS_PARAM(
        "$5") ")"
              " AND ($6::bigint IS NULL OR event_time < " LTC_SQL_TS_PARAM("$6") ")"
                                                                                 " AND ($7 = '' OR code = $7)"
                                                                                 " ORDER BY seq DESC LIMIT $3";

/* The gRPC status code names ListAuditEvents' `code` accepts. */
static int code_name_ok(const char *s) {
    for (int k = 0; k <= 16; k++)
        if (strcmp(ltc_code_name((ltc_code)k), s) == 0) return 1;
    return 0;
}

/* Splits text (in the arena, modified) at sep; "" gives none. */
static size_t split(ltc_call *c, char *text, char sep, char ***out) {
    size_t n = text[0] ? 1 : 0;
    for (const char *p = text; *p; p++) n += *p == sep;
    *out = ltc_call_alloc(c, sizeof **out * (n ? n : 1));
    char *p = text;
    for (size_t k = 0; k < n; k++) {
        char *e = strchr(p, sep);
        if (e) *e = 0;
        (*out)[k] = p;
        p = e ? e + 1 : p + strlen(p);
    }
    return n;
}

static int ts_param(ltc_call *c, const Google__Protobuf__Timestamp *t, const char *field, const char **out,
                    ltc_status *st) {
    *out = NULL;
    if (!t) return 0;
    if (t->seconds < 0 || t->seconds > 253402300799LL || t->nanos < 0 || t->nanos > 999999999)
        return ltc_status_bad_field(st, field, "out of range");
    *out = ltc_sql_i64(c, t->seconds * 1000000 + t->nanos / 1000);
    return 0;
}

/* ListAuditEvents: newest first, filtered. Errors: INVALID_ARGUMENT "stage" (not this stage), "principal",
 * "target", "code", "start_time", "end_time", "page_size", "page_token". */
static int list_audit_events(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Audit__V1__ListAuditEventsRequest *req = (const void *)m;
    const char *self = ltc_call_service_name(c);
    if (!req->stage || !req->stage[0]) return ltc_status_bad_field(st, "stage", "required: ltb, bto, otd or dtc");
    if (self && strcmp(req->stage, self) != 0)
        return ltc_status_bad_field(st, "stage", "this is the %s stage's audit trail", self);
    ltc_check_text(req->principal, "principal", 0, 128, st);
    ltc_check_text(req->target, "target", 0, 250, st);
    if (req->code && req->code[0] && !code_name_ok(req->code))
        ltc_status_bad_field(st, "code", "must be a gRPC status code name such as OK or FAILED_PRECONDITION");
    const char *from = NULL, *before = NULL;
    ts_param(c, req->start_time, "start_time", &from, st);
    ts_param(c, req->end_time, "end_time", &before, st);
    int limit = 0;
    int64_t after = 0;
    ltc_page_parse(req->page_size, req->page_token, &limit, &after, st);
    if (st->code != LTC_OK) return -1;
    const char *params[7] = {ltc_call_printf(c, "%lld", (long long)after),
                             req->principal ? req->principal : "",
                             ltc_call_printf(c, "%d", limit),
                             req->target ? req->target : "",
                             from,
                             before,
                             req->code ? req->code : ""};
    PGresult *r = ltc_call_query(c, st, SQL_LIST, 7, params);
    if (!r) return -1;
    LTC_ASSERT(PQnfields(r) == 15); /* the columns of SQL_LIST, read by index below */
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
        e->n_targets = split(c, ltc_call_strdup(c, PQgetvalue(r, i, 10)), '\x1f', &e->targets);
        char **items;
        size_t nc = split(c, ltc_call_strdup(c, PQgetvalue(r, i, 11)), '\x1f', &items);
        e->changes = ltc_call_alloc(c, sizeof *e->changes * (nc ? nc : 1));
        for (size_t k = 0; k < nc; k++) {
            char **f;
            size_t nf = split(c, items[k], '\x1e', &f);
            Ltc__Audit__V1__FieldChange *x =
                LTC_NEW(c, Ltc__Audit__V1__FieldChange, LTC__AUDIT__V1__FIELD_CHANGE__INIT);
            x->target = nf > 0 ? f[0] : "";
            x->field = nf > 1 ? f[1] : "";
            x->old_value = nf > 2 ? f[2] : "";
            x->new_value = nf > 3 ? f[3] : "";
            e->changes[e->n_changes++] = x;
        }
        e->server_request_id = ltc_call_strdup(c, PQgetvalue(r, i, 12));
        e->chain_position = ltc_pg_i64(r, i, 13);
        e->row_hash = ltc_call_strdup(c, PQgetvalue(r, i, 14));
        resp->events[resp->n_events++] = e;
    }
    if (n == limit && shown > 0) resp->next_page_token = ltc_page_token(c, ltc_pg_i64(r, shown - 1, 0));
    *out = &resp->base;
    return 0;
}

/* --- GetAuditTrailIntegrity: the hash chain (runtime migration 009, ltc/audit_chain.h) ------------------------------ */

#define VERIFY_PAGE 2000
#define MAX_PROBLEMS 100
#define MAX_ANCHORS 100

/* $1 the position to continue after, $2 the page size. The fields in the order of ltc_audit_chain_field, then
 * prev_hash and row_hash as hex. */
static const char SQL_CHAIN_PAGE[] =
    "SELECT chain_position::text, seq::text, ((extract(epoch FROM event_time) * 1000000)::bigint)::text, principal,"
    " roles, caller, method, target, request_id, server_request_id, code, reason, targets::text, changes::text,"
    " COALESCE(spool_id::text, ''), COALESCE(encode(prev_hash, 'hex'), ''), COALESCE(encode(row_hash, 'hex'), '')"
    " FROM audit_log WHERE chain_position > $1 ORDER BY audit_log.chain_position LIMIT $2";
/* The head, the rows from before the chain, and the rows outside it (written with the trigger disabled). */
static const char SQL_CHAIN_HEAD[] =
    "SELECT h.position, encode(h.hash, 'hex'),"
    " (SELECT count(*) FROM audit_log WHERE chain_position IS NULL AND seq <= h.legacy_seq)"
    " FROM audit_chain_head h";
/* The rows written but not sealed yet (runtime migration 011): how many, and the oldest's wait in seconds; then those
 * waiting longer than $1 milliseconds. */
static const char SQL_PENDING[] =
    "SELECT count(*), COALESCE(extract(epoch FROM now() - min(COALESCE(inserted_at, event_time))), 0)::float8"
    " FROM audit_log WHERE chain_position IS NULL AND seq > (SELECT legacy_seq FROM audit_chain_head)";
static const char SQL_PENDING_TOO_LONG[] =
    "SELECT seq, (extract(epoch FROM now() - COALESCE(inserted_at, event_time)) * 1000)::bigint FROM audit_log"
    " WHERE chain_position IS NULL AND seq > (SELECT legacy_seq FROM audit_chain_head)"
    " AND COALESCE(inserted_at, event_time) < now() - $1::bigint * interval '1 millisecond' ORDER BY seq LIMIT 101";
static const char SQL_ANCHOR[] =
    "SELECT COALESCE(encode(row_hash, 'hex'), ''), seq FROM audit_log WHERE chain_position = $1";

typedef struct {
    ltc_call *c;
    Ltc__Audit__V1__GetAuditTrailIntegrityResponse *resp;
} verify_out;

static void problem(verify_out *o, Ltc__Audit__V1__ChainProblemKind kind, int64_t position, int64_t seq,
                    const char *detail) {
    if (o->resp->n_problems >= MAX_PROBLEMS) {
        o->resp->more_problems = 1;
        return;
    }
    Ltc__Audit__V1__AuditChainProblem *p =
        LTC_NEW(o->c, Ltc__Audit__V1__AuditChainProblem, LTC__AUDIT__V1__AUDIT_CHAIN_PROBLEM__INIT);
    p->kind = kind;
    p->chain_position = position;
    p->sequence = seq;
    p->detail = ltc_call_strdup(o->c, detail);
    o->resp->problems[o->resp->n_problems++] = p;
}

/* Walks the chain in one snapshot (REPEATABLE READ, read only). -1 with st set when the database failed. */
static int walk_chain(verify_out *o, ltc_db *db, ltc_audit_chain_walk *w, ltc_status *st) {
    char after[24], limit[16];
    snprintf(limit, sizeof limit, "%d", VERIFY_PAGE);
    for (;;) {
        snprintf(after, sizeof after, "%lld", (long long)w->position);
        const char *params[2] = {after, limit};
        PGresult *r = ltc_db_query(db, st, SQL_CHAIN_PAGE, 2, params);
        if (!r) return -1;
        int n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            const char *f[LTC_CHAIN_FIELDS];
            for (int k = 0; k < LTC_CHAIN_FIELDS; k++) f[k] = PQgetvalue(r, i, k);
            int64_t pos = ltc_pg_i64(r, i, 0), seq = ltc_pg_i64(r, i, 1);
            uint8_t prev[32] = {0}, hash[32] = {0};
            int bad_hex = ltc_audit_chain_unhex(PQgetvalue(r, i, 15), prev) != 0 ||
                          ltc_audit_chain_unhex(PQgetvalue(r, i, 16), hash) != 0;
            ltc_audit_chain_problem found[3];
            int64_t missing = 0;
            int k = ltc_audit_chain_step(w, pos, prev, hash, f, found, &missing);
            for (int j = 0; j < k; j++) {
                char d[160];
                switch (found[j]) {
                    case LTC_CHAIN_GAP:
                        snprintf(d, sizeof d, "positions %lld to %lld are missing (deleted)", (long long)missing,
                                 (long long)pos - 1);
                        problem(o, LTC__AUDIT__V1__CHAIN_PROBLEM_KIND__CHAIN_PROBLEM_KIND_GAP, missing, 0, d);
                        break;
                    case LTC_CHAIN_BROKEN_LINK:
                        snprintf(d, sizeof d, "event %lld does not follow the hash of the event before it",
                                 (long long)seq);
                        problem(o, LTC__AUDIT__V1__CHAIN_PROBLEM_KIND__CHAIN_PROBLEM_KIND_BROKEN_LINK, pos, seq, d);
                        break;
                    default:
                        snprintf(d, sizeof d, "event %lld: its content does not match its hash%s", (long long)seq,
                                 bad_hex ? " (a hash is missing)" : "");
                        problem(o, LTC__AUDIT__V1__CHAIN_PROBLEM_KIND__CHAIN_PROBLEM_KIND_EDITED, pos, seq, d);
                }
            }
        }
        PQclear(r);
        if (n < VERIFY_PAGE) return 0;
    }
}

/* GetAuditTrailIntegrity: recomputes every chained event, walks the positions, compares the head and the anchors,
 * and counts the events not sealed yet (a problem when one waited longer than ltc_audit_max_pending_ms).
 * Errors: INVALID_ARGUMENT "stage", "anchors" (more than 100, a position below 1, a hash not 64 hex digits). */
static int get_audit_trail_integrity(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Audit__V1__GetAuditTrailIntegrityRequest *req = (const void *)m;
    const char *self = ltc_call_service_name(c);
    if (!req->stage || !req->stage[0]) return ltc_status_bad_field(st, "stage", "required: ltb, bto, otd or dtc");
    if (self && strcmp(req->stage, self) != 0)
        return ltc_status_bad_field(st, "stage", "this is the %s stage's audit trail", self);
    if (req->n_anchors > MAX_ANCHORS) return ltc_status_bad_field(st, "anchors", "at most %d", MAX_ANCHORS);
    uint8_t scratch[32];
    for (size_t i = 0; i < req->n_anchors; i++)
        if (req->anchors[i]->chain_position < 1 || ltc_audit_chain_unhex(req->anchors[i]->hash, scratch) != 0)
            return ltc_status_bad_field(st, "anchors",
                                        "anchor %zu: chain_position 1 or more and a hash of 64 hex digits", i + 1);
    Ltc__Audit__V1__GetAuditTrailIntegrityResponse *resp = LTC_NEW(
        c, Ltc__Audit__V1__GetAuditTrailIntegrityResponse, LTC__AUDIT__V1__GET_AUDIT_TRAIL_INTEGRITY_RESPONSE__INIT);
    resp->problems = ltc_call_alloc(c, sizeof *resp->problems * MAX_PROBLEMS);
    verify_out o = {c, resp};
    ltc_db *db = c->w->db;
    if (ltc_db_begin(db, st) != 0) return -1;
    int rc = -1;
    ltc_audit_chain_walk w;
    ltc_audit_chain_walk_init(&w);
    PGresult *r = NULL;
    if (ltc_db_exec_text(db, st, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY") != 0) goto done;
    if (walk_chain(&o, db, &w, st) != 0) goto done;
    resp->events_checked = w.checked;
    char last[65];
    ltc_audit_chain_hex(w.hash, last);
    if (!(r = ltc_db_query(db, st, SQL_CHAIN_HEAD, 0, NULL))) goto done;
    if (PQntuples(r) != 1) {
        problem(&o, LTC__AUDIT__V1__CHAIN_PROBLEM_KIND__CHAIN_PROBLEM_KIND_HEAD_MISMATCH, w.position, 0,
                "the chain head is missing");
    } else {
        resp->events_before_chain = ltc_pg_i64(r, 0, 2);
        int64_t hp = ltc_pg_i64(r, 0, 0);
        if (hp != w.position || strcmp(PQgetvalue(r, 0, 1), last) != 0)
            problem(&o, LTC__AUDIT__V1__CHAIN_PROBLEM_KIND__CHAIN_PROBLEM_KIND_HEAD_MISMATCH, hp, 0,
                    ltc_call_printf(c,
                                    "the head is at position %lld but the last event is at %lld, or their hashes "
                                    "differ: events at the end were deleted, or the head was moved",
                                    (long long)hp, (long long)w.position));
    }
    PQclear(r);
    if (!(r = ltc_db_query(db, st, SQL_PENDING, 0, NULL))) goto done;
    resp->events_pending = ltc_pg_i64(r, 0, 0);
    if (resp->events_pending > 0) {
        double age = strtod(PQgetvalue(r, 0, 1), NULL);
        Google__Protobuf__Duration *d = LTC_NEW(c, Google__Protobuf__Duration, GOOGLE__PROTOBUF__DURATION__INIT);
        d->seconds = (int64_t)age;
        d->nanos = (int32_t)((age - (double)d->seconds) * 1e9);
        resp->oldest_pending_age = d;
    }
    PQclear(r);
    const char *bound = ltc_call_printf(c, "%ld", ltc_audit_max_pending_ms());
    if (!(r = ltc_db_query(db, st, SQL_PENDING_TOO_LONG, 1, &bound))) goto done;
    for (int i = 0; i < PQntuples(r); i++)
        problem(&o, LTC__AUDIT__V1__CHAIN_PROBLEM_KIND__CHAIN_PROBLEM_KIND_PENDING_TOO_LONG, 0, ltc_pg_i64(r, i, 0),
                ltc_call_printf(c,
                                "event %s has waited %s ms to be sealed into the chain (bound %s ms): no sealer runs, "
                                "or it fails; until sealed it can be edited undetected",
                                PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), bound));
    PQclear(r);
    for (size_t i = 0; i < req->n_anchors; i++) {
        const char *pos = ltc_call_printf(c, "%lld", (long long)req->anchors[i]->chain_position);
        if (!(r = ltc_db_query(db, st, SQL_ANCHOR, 1, &pos))) goto done;
        char want[65];
        ltc_audit_chain_unhex(req->anchors[i]->hash, scratch);
        ltc_audit_chain_hex(scratch, want); /* lowercase */
        if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), want) != 0)
            problem(&o, LTC__AUDIT__V1__CHAIN_PROBLEM_KIND__CHAIN_PROBLEM_KIND_ANCHOR_MISMATCH,
                    req->anchors[i]->chain_position, PQntuples(r) == 1 ? ltc_pg_i64(r, 0, 1) : 0,
                    PQntuples(r) == 1 ? "the event at the anchor's position has another hash: the chain was rewritten"
                                      : "no event at the anchor's position: the chain was cut");
        PQclear(r);
    }
    r = NULL;
    resp->head = LTC_NEW(c, Ltc__Audit__V1__AuditAnchor, LTC__AUDIT__V1__AUDIT_ANCHOR__INIT);
    resp->head->chain_position = w.position;
    resp->head->hash = ltc_call_strdup(c, w.position ? last : "");
    resp->intact = resp->n_problems == 0 && !resp->more_problems;
    *out = &resp->base;
    rc = 0;
done:
    ltc_db_rollback(db);
    return rc;
}

const ltc_method ltc_audit_methods[] = {
    LTC_READ(ltc__audit__v1__audit_service__descriptor, ListAuditEvents, list_audit_events, NULL),
    LTC_READ(ltc__audit__v1__audit_service__descriptor, GetAuditTrailIntegrity, get_audit_trail_integrity, NULL),
};
const size_t ltc_audit_methods_count = sizeof ltc_audit_methods / sizeof ltc_audit_methods[0];
