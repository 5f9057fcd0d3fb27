/* server.c - unary gRPC services on gRPC core: one shared completion queue served by a pool of worker threads, each
 * worker owning a database connection and a scratch arena; transactions and idempotency around WRITE handlers;
 * rich error details; grpc.health.v1 Check; graceful shutdown.
 *
 * Life of a call context (ctx): REQUESTED (posted to gRPC, waiting for a call) -> [RECEIVING (generic calls read
 * their message with a second batch)] -> SENDING (reply batch in flight) -> freed. A ctx is owned by whichever
 * thread takes its tag from the queue; after grpc_call_start_batch returns, it is no longer ours to touch. */
#include "ltc/server.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grpc/health/v1/health.pb-c.h"
#include "ltc/access.h"
#include "ltc/ids.h"
#include "ltc/tls.h"
#include "ltc/fault.h"
#include "ltc/log.h"
#include "ltc/metrics.h"
#include "ltc/outbox.h"
#include "reflection.h"

enum ctx_kind { CTX_REGISTERED, CTX_GENERIC, CTX_REFLECTION };
enum ctx_state { ST_REQUESTED, ST_RECEIVING, ST_FORWARDING, ST_SENDING, ST_STREAM_RECV, ST_STREAM_SEND };

grpc_channel *ltc__client_channel(ltc_client *c); /* client.c */

typedef struct worker {
    ltc_db *db;
    ltc_arena *arena;
    PGresult **results;
    size_t n_results, cap_results;
} worker;

struct ltc_call {
    ltc_server *srv;
    enum ctx_kind kind;
    enum ctx_state state;
    int method;                    /* index into srv->methods (registered) */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload;     /* request */
    grpc_call_details details;     /* generic calls */
    /* reply */
    grpc_byte_buffer *reply;
    grpc_metadata initial_md[1];
    grpc_metadata trailing_md[1];
    size_t n_trailing;
    grpc_slice status_msg;
    int has_status_msg;
    int cancelled;
    int sent_initial;              /* streams: initial metadata went out with the first message */
    /* while being handled */
    worker *w;
    char request_id[LTC_UUID_LEN + 1 + 32];
    char traceparent[56];          /* "00-" trace id (32) "-" span id (16) "-" flags (2) */
    char method_path[160];
    struct timespec started;
    /* who: set by identify() and authorize() before the handler runs */
    char peer[65];                 /* internal identity (certificate Common Name), "" in plaintext */
    char principal[129];           /* the user or service account, from the gateway; "" for hand-offs */
    unsigned roles;
    int deal_scoped;               /* principal sees only deals whose iron triangle names it */
    /* forwarding (raw handler returned LTC_RAW_FORWARD): the call to the peer and what comes back */
    grpc_call *fwd_call;
    grpc_metadata fwd_md[6];
    size_t n_fwd_md;
    grpc_metadata_array fwd_initial, fwd_trailing;
    grpc_byte_buffer *fwd_resp;
    grpc_status_code fwd_status;
    grpc_slice fwd_details;
    char fwd_peer[32];
};

struct ltc_server {
    ltc_server_options opt;
    char domain[64];
    grpc_server *server;
    grpc_completion_queue *cq;
    void **handles;                /* registered method handles, by index (last: health) */
    void *refl_handles[2];         /* grpc.reflection.v1 and v1alpha ServerReflectionInfo (bidi streams) */
    ltc_reflection *reflection;
    ltc_method *methods;           /* the service's methods plus grpc.health.v1 Check */
    size_t n_methods;
    pthread_t *threads;
    int n_threads;
    ltc_db **worker_dbs;           /* each worker's connection, for cancelling statements at shutdown */
    pthread_mutex_t workers_mu;
    atomic_int serving;
    atomic_int shutting_down;
    atomic_int ctx_alive;          /* contexts allocated and not yet freed */
    atomic_int busy;               /* calls received and not yet answered */
    atomic_int shutdown_done;
    int shutdown_tag;
};

/* ---- helpers for handlers ---- */

ltc_db *ltc_call_db(ltc_call *c) { return c->w->db; }
ltc_arena *ltc_call_arena(ltc_call *c) { return c->w->arena; }
void *ltc_call_alloc(ltc_call *c, size_t n) { return ltc_arena_alloc(c->w->arena, n); }
char *ltc_call_strdup(ltc_call *c, const char *s) { return ltc_arena_strdup(c->w->arena, s); }
const char *ltc_call_request_id(const ltc_call *c) { return c->request_id; }
const char *ltc_call_traceparent(const ltc_call *c) { return c->traceparent; }
const char *ltc_call_method(const ltc_call *c) { return c->method_path; }

char *ltc_call_printf(ltc_call *c, const char *fmt, ...) {
    char stack[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    if (n < 0) return ltc_arena_strdup(c->w->arena, "");
    char *out = ltc_arena_alloc(c->w->arena, (size_t)n + 1);
    if ((size_t)n < sizeof stack) {
        memcpy(out, stack, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(out, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return out;
}

void *ltc_call_new_msg(ltc_call *c, size_t size, const void *init) {
    void *m = ltc_arena_alloc(c->w->arena, size);
    memcpy(m, init, size);
    return m;
}

static void track_result(worker *w, PGresult *r) {
    if (w->n_results == w->cap_results) {
        size_t cap = w->cap_results ? w->cap_results * 2 : 16;
        PGresult **p = realloc(w->results, cap * sizeof *p);
        if (!p) abort();
        w->results = p;
        w->cap_results = cap;
    }
    w->results[w->n_results++] = r;
}

PGresult *ltc_call_query(ltc_call *c, ltc_status *st, const char *sql, int nparams, const char *const *params) {
    PGresult *r = ltc_db_query(c->w->db, st, sql, nparams, params);
    if (r) track_result(c->w, r);
    return r;
}

static void clear_results(worker *w) {
    for (size_t i = 0; i < w->n_results; i++) PQclear(w->results[i]);
    w->n_results = 0;
}

int64_t ltc_call_ms_left(const ltc_call *c) {
    gpr_timespec d = gpr_convert_clock_type(c->deadline, GPR_CLOCK_MONOTONIC);
    if (gpr_time_cmp(d, gpr_inf_future(GPR_CLOCK_MONOTONIC)) == 0 || d.tv_sec >= INT64_MAX / 2000) return INT64_MAX;
    gpr_timespec left = gpr_time_sub(d, gpr_now(GPR_CLOCK_MONOTONIC));
    return (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;
}

const char *ltc_call_metadata(ltc_call *c, const char *key) {
    for (size_t i = 0; i < c->md.count; i++) {
        if (grpc_slice_str_cmp(c->md.metadata[i].key, key) == 0) {
            const grpc_slice v = c->md.metadata[i].value;
            size_t n = GRPC_SLICE_LENGTH(v);
            char *s = ltc_arena_alloc(c->w->arena, n + 1);
            memcpy(s, GRPC_SLICE_START_PTR(v), n);
            s[n] = 0;
            return s;
        }
    }
    return NULL;
}

const char *ltc_call_principal(const ltc_call *c) { return c->principal; }
unsigned ltc_call_roles(const ltc_call *c) { return c->roles; }
const char *ltc_call_peer(const ltc_call *c) { return c->peer; }
const char *ltc_call_service_name(const ltc_call *c) { return c->srv ? c->srv->opt.service_name : NULL; }
const char *ltc_call_deal_scope(const ltc_call *c) { return c->deal_scoped ? c->principal : NULL; }

/* ---- authentication and authorisation of a call (docs/security.md) ---- */

/* The caller's internal identity: the Common Name of its verified client certificate (mTLS servers only). */
static void identify(ltc_call *c) {
    c->peer[0] = 0;
    c->principal[0] = 0;
    c->roles = 0;
    c->deal_scoped = 0;
    if (!c->srv->opt.tls || !c->srv->opt.client_cert_required || !c->call) return;
    grpc_auth_context *ctx = grpc_call_auth_context(c->call);
    if (!ctx) return;
    grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(ctx, GRPC_X509_CN_PROPERTY_NAME);
    const grpc_auth_property *p = grpc_auth_property_iterator_next(&it);
    if (p && p->value_length > 0 && p->value_length < sizeof c->peer) {
        memcpy(c->peer, p->value, p->value_length);
        c->peer[p->value_length] = 0;
    }
    grpc_auth_context_release(ctx);
}

static int name_in_list(const char *name, const char *list) {
    size_t n = strlen(name);
    if (n == 0) return 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static int principal_valid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 128) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p == 0x7f) return 0;
    return 1;
}

/* Who may call this method: the internal identity against the method's allow-list; for public methods the
 * principal the gateway forwards (x-ltc-principal, x-ltc-roles), trusted only from the gateway, against the
 * permission table. In plaintext (development) the identity is unknown: forwarded principals are taken as given
 * and calls without one are not restricted. */
static int authorize(ltc_call *c, const ltc_method *m, ltc_status *st) {
    if (strcmp(m->path, "/grpc.health.v1.Health/Check") == 0) return 0;
    const int mtls = c->srv->opt.tls && c->srv->opt.client_cert_required;
    const char *callers = m->callers ? m->callers : "gateway";
    if (mtls && !name_in_list(c->peer, callers))
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "CALLER_NOT_ALLOWED", "%s may not call %s",
                              c->peer[0] ? c->peer : "this caller", m->path);
    const int public_method = m->callers == NULL;
    if (!public_method || (mtls && strcmp(c->peer, "gateway") != 0)) return 0;
    const char *principal = ltc_call_metadata(c, "x-ltc-principal");
    if (!principal) {
        if (!mtls) return 0; /* plaintext development without authentication at the gateway */
        return ltc_status_set(st, LTC_UNAUTHENTICATED, "NO_PRINCIPAL", "the gateway forwarded no principal");
    }
    if (!principal_valid(principal))
        return ltc_status_set(st, LTC_UNAUTHENTICATED, "BAD_PRINCIPAL", "the forwarded principal is malformed");
    snprintf(c->principal, sizeof c->principal, "%s", principal);
    c->roles = ltc_roles_parse(ltc_call_metadata(c, "x-ltc-roles"));
    if (!(ltc_access_roles(m->path) & c->roles))
        return ltc_status_set(st, LTC_PERMISSION_DENIED, "ROLE_NOT_ALLOWED", "no role of %s may call %s",
                              c->principal, m->path);
    c->deal_scoped = !ltc_access_all_deals(c->roles);
    return 0;
}

/* The string at a dotted field path of a message ("quote.deal"), or NULL. */
static const char *field_string(const ProtobufCMessage *m, const char *path) {
    char part[64];
    while (m) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part) return NULL;
        memcpy(part, path, n);
        part[n] = 0;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, part);
        if (!f || f->label == PROTOBUF_C_LABEL_REPEATED) return NULL;
        const char *at = (const char *)m + f->offset;
        if (!dot) return f->type == PROTOBUF_C_TYPE_STRING ? *(const char *const *)at : NULL;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) return NULL;
        m = *(const ProtobufCMessage *const *)at;
        path = dot + 1;
    }
    return NULL;
}

/* OWASP API1: a deal-scoped caller acts on a record only when its principal is in that deal's iron triangle. A
 * name that is malformed or not found is left to the handler (INVALID_ARGUMENT, NOT_FOUND). */
static int check_owner(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, ltc_status *st) {
    if (!m->owner || !c->deal_scoped) return 0;
    const char *name = field_string(req, m->owner->field);
    if (!name || !name[0]) return 0;
    const char *slash = strrchr(name, '/');
    const char *id = slash ? slash + 1 : name;
    if (!ltc_uuid_valid(id)) return 0;
    PGresult *r = ltc_call_query(c, st, m->owner->sql, 1, &id);
    if (!r) return -1;
    if (PQntuples(r) == 0) return 0;
    for (int i = 0; i < PQnfields(r); i++)
        if (strcmp(PQgetvalue(r, 0, i), c->principal) == 0) return 0;
    return ltc_status_set(st, LTC_PERMISSION_DENIED, "NOT_IN_IRON_TRIANGLE",
                          "%s is not in the iron triangle of the deal of %.200s", c->principal, name);
}

static const char SQL_AUDIT[] =
    "INSERT INTO audit_log (principal, roles, caller, method, target, request_id, code, reason) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/* One row of the audit trail for a state-changing call: inside the call's transaction when it commits, on its own
 * after a rollback. */
static int audit(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, const ltc_status *outcome,
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
    if (req && m->owner) target = field_string(req, m->owner->field);
    if (req && !target) target = field_string(req, "name");
    if (req && !target && m->idempotency_field) target = field_string(req, m->idempotency_field);
    char tbuf[256];
    snprintf(tbuf, sizeof tbuf, "%s", target ? target : "");
    ltc_utf8_clean(tbuf);
    const char *params[8] = {who, roles, c->peer, m->path, tbuf, c->request_id, ltc_code_name(outcome->code),
                             reason ? reason : outcome->reason};
    PGresult *r = ltc_db_query(c->w->db, st, SQL_AUDIT, 8, params);
    if (!r) return -1;
    PQclear(r);
    return 0;
}

/* The audit row of a call that changed nothing (refused, failed, or a replay): best effort, on its own. */
static void audit_outside(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, const ltc_status *outcome,
                          const char *reason) {
    if (!(m->flags & LTC_METHOD_WRITE) || !c->w->db) return;
    ltc_status st = {0};
    if (audit(c, m, req, outcome, reason, &st) != 0)
        LTC_WARN("audit_failed", c->request_id, "%s: %s", m->path, st.message);
    ltc_status_clear(&st);
}

/* ---- health ---- */

static int health_check(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Grpc__Health__V1__HealthCheckRequest *req = (const void *)m;
    ltc_server *s = c->srv;
    int known = req->service[0] == 0;
    for (const char *const *n = s->opt.health_services; !known && n && *n; n++) known = strcmp(*n, req->service) == 0;
    if (!known) return ltc_status_set(st, LTC_NOT_FOUND, "UNKNOWN_SERVICE", "unknown service %.100s", req->service);
    Grpc__Health__V1__HealthCheckResponse *resp =
        LTC_NEW(c, Grpc__Health__V1__HealthCheckResponse, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT);
    resp->status = atomic_load(&s->serving) ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                                            : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    *out = &resp->base;
    return 0;
}

/* ---- call contexts ---- */

static ltc_call *ctx_new(ltc_server *s, enum ctx_kind kind, int method) {
    ltc_call *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->srv = s;
    c->kind = kind;
    c->method = method;
    c->state = ST_REQUESTED;
    grpc_metadata_array_init(&c->md);
    grpc_call_details_init(&c->details);
    atomic_fetch_add(&s->ctx_alive, 1);
    return c;
}

static void forward_cleanup(ltc_call *c) {
    if (!c->fwd_call) return;
    grpc_call_unref(c->fwd_call);
    c->fwd_call = NULL;
    for (size_t i = 0; i < c->n_fwd_md; i++) {
        grpc_slice_unref(c->fwd_md[i].key);
        grpc_slice_unref(c->fwd_md[i].value);
    }
    c->n_fwd_md = 0;
    grpc_metadata_array_destroy(&c->fwd_initial);
    grpc_metadata_array_destroy(&c->fwd_trailing);
    if (c->fwd_resp) grpc_byte_buffer_destroy(c->fwd_resp);
    c->fwd_resp = NULL;
    grpc_slice_unref(c->fwd_details);
}

static void ctx_free(ltc_call *c) {
    forward_cleanup(c);
    ltc_server *s = c->srv;
    if (c->payload) grpc_byte_buffer_destroy(c->payload);
    if (c->reply) grpc_byte_buffer_destroy(c->reply);
    for (size_t i = 0; i < c->n_trailing; i++) grpc_slice_unref(c->trailing_md[i].value);
    if (c->has_status_msg) grpc_slice_unref(c->status_msg);
    grpc_metadata_array_destroy(&c->md);
    grpc_call_details_destroy(&c->details);
    if (c->call) grpc_call_unref(c->call);
    free(c);
    atomic_fetch_sub(&s->ctx_alive, 1);
}

static void post_request(ltc_server *s, enum ctx_kind kind, int method) {
    if (atomic_load(&s->shutting_down)) return;
    ltc_call *c = ctx_new(s, kind, method);
    grpc_call_error e;
    if (kind == CTX_REGISTERED) {
        e = grpc_server_request_registered_call(s->server, s->handles[method], &c->call, &c->deadline, &c->md,
                                                &c->payload, s->cq, s->cq, c);
    } else if (kind == CTX_REFLECTION) {
        e = grpc_server_request_registered_call(s->server, s->refl_handles[method], &c->call, &c->deadline, &c->md,
                                                NULL, s->cq, s->cq, c);
    } else {
        e = grpc_server_request_call(s->server, &c->call, &c->details, &c->md, s->cq, s->cq, c);
    }
    if (e != GRPC_CALL_OK) {
        LTC_ERROR("request_call_failed", NULL, "grpc_call_error %d", (int)e);
        ctx_free(c);
    }
}

/* Reads a whole byte buffer into malloc'd memory. */
static uint8_t *read_buffer(grpc_byte_buffer *bb, size_t *len) {
    grpc_byte_buffer_reader rd;
    if (!grpc_byte_buffer_reader_init(&rd, bb)) return NULL;
    grpc_slice sl = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    size_t n = GRPC_SLICE_LENGTH(sl);
    uint8_t *out = malloc(n ? n : 1);
    if (out) memcpy(out, GRPC_SLICE_START_PTR(sl), n);
    grpc_slice_unref(sl);
    *len = n;
    return out;
}

/* Starts the reply batch. resp may be NULL for a non-OK status. Takes ownership of nothing; copies. */
static void send_reply(ltc_call *c, const uint8_t *resp, size_t resp_len, const ltc_status *st) {
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    c->initial_md[0].key = grpc_slice_from_static_string("x-request-id");
    c->initial_md[0].value = grpc_slice_from_static_string(c->request_id); /* lives in c */
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].data.send_initial_metadata.count = c->request_id[0] ? 1 : 0;
    ops[n].data.send_initial_metadata.metadata = c->initial_md;
    n++;
    if (st->code == LTC_OK) {
        grpc_slice sl = grpc_slice_from_copied_buffer((const char *)resp, resp_len);
        c->reply = grpc_raw_byte_buffer_create(&sl, 1);
        grpc_slice_unref(sl);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = c->reply;
        n++;
    } else {
        size_t dlen = 0;
        uint8_t *details = ltc_status_pack_details(st, c->srv->domain, c->request_id, &dlen);
        if (details) {
            c->trailing_md[0].key = grpc_slice_from_static_string("grpc-status-details-bin");
            c->trailing_md[0].value = grpc_slice_from_copied_buffer((const char *)details, dlen);
            c->n_trailing = 1;
            free(details);
        }
    }
    c->status_msg = grpc_slice_from_copied_string(st->code == LTC_OK ? "" : st->message);
    c->has_status_msg = 1;
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)st->code;
    ops[n].data.send_status_from_server.status_details = &c->status_msg;
    ops[n].data.send_status_from_server.trailing_metadata_count = c->n_trailing;
    ops[n].data.send_status_from_server.trailing_metadata = c->trailing_md;
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n].data.recv_close_on_server.cancelled = &c->cancelled;
    n++;
    c->state = ST_SENDING;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, c, NULL);
    if (e != GRPC_CALL_OK) {
        LTC_ERROR("send_failed", c->request_id, "grpc_call_error %d", (int)e);
        atomic_fetch_sub(&c->srv->busy, 1);
        ltc_metrics_busy(-1);
        ctx_free(c);
    }
}

static int hex_run(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return 0;
    return 1;
}

static void random_hex(char *out, size_t n_hex) {
    unsigned char b[16];
    ltc_random_bytes(b, n_hex / 2);
    ltc_hex(b, n_hex / 2, out);
}

/* Takes the caller's traceparent when valid (version 00, non-zero trace id), else starts a new trace. Either way
 * this hop gets a span id of its own, so the header passed on names this process as the parent. */
static void set_traceparent(ltc_call *c) {
    const char *tp = ltc_call_metadata(c, "traceparent");
    int ok = tp && strlen(tp) == 55 && strncmp(tp, "00-", 3) == 0 && tp[35] == '-' && tp[52] == '-' &&
             hex_run(tp + 3, 32) && hex_run(tp + 36, 16) && hex_run(tp + 53, 2) &&
             strncmp(tp + 3, "00000000000000000000000000000000", 32) != 0;
    char trace[33], span[17];
    if (ok) {
        memcpy(trace, tp + 3, 32);
        trace[32] = 0;
    } else {
        random_hex(trace, 32);
    }
    random_hex(span, 16);
    char *o = c->traceparent; /* "00-" trace "-" span "-" flags: 55 characters */
    memcpy(o, "00-", 3);
    memcpy(o + 3, trace, 32);
    o[35] = '-';
    memcpy(o + 36, span, 16);
    o[52] = '-';
    memcpy(o + 53, ok ? tp + 53 : "01", 2);
    o[55] = 0;
}

/* Every line this thread logs while serving the call carries its request id and trace id. */
static void log_context(const ltc_call *c) {
    char trace[33];
    memcpy(trace, c->traceparent + 3, 32);
    trace[32] = 0;
    ltc_log_set_context(c->request_id, trace);
}

static void set_request_id(ltc_call *c) {
    const char *rid = ltc_call_metadata(c, "x-request-id");
    int ok = rid && rid[0] && strlen(rid) < sizeof c->request_id;
    for (const char *p = rid; ok && *p; p++) ok = *p > 0x20 && *p < 0x7f;
    if (ok) {
        snprintf(c->request_id, sizeof c->request_id, "%s", rid);
    } else {
        ltc_uuid_new(c->request_id);
    }
}

/* The string value of a request's idempotency field, or NULL when the message has no such field. */
static const char *key_field(const ProtobufCMessage *m, const char *field) {
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, field);
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED) return NULL;
    return *(const char *const *)((const char *)m + f->offset);
}

static const char SQL_KEY_CLAIM[] =
    "INSERT INTO idempotency_keys (method, key, fingerprint) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
static const char SQL_KEY_READ[] = "SELECT fingerprint, response FROM idempotency_keys WHERE method = $1 AND key = $2";
static const char SQL_KEY_STORE[] = "UPDATE idempotency_keys SET response = $3 WHERE method = $1 AND key = $2";

/* Claims (method, key) inside the open transaction. Returns 1 when new (run the handler), 0 when this is a repeat
 * of a stored request (*stored set, malloc'd), -1 on error. */
static int claim_key(ltc_call *c, const ltc_method *m, const char *key, const uint8_t fp[32], uint8_t **stored,
                     size_t *stored_len, ltc_status *st) {
    const char *params[3] = {m->path, key, (const char *)fp};
    const int lens[3] = {0, 0, 32};
    const int fmts[3] = {0, 0, 1};
    PGresult *r = ltc_db_query_bin(c->w->db, st, SQL_KEY_CLAIM, 3, params, lens, fmts);
    if (!r) return -1;
    int inserted = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    if (inserted) return 1;
    r = ltc_call_query(c, st, SQL_KEY_READ, 2, params);
    if (!r) return -1;
    if (PQntuples(r) != 1) return ltc_status_set(st, LTC_ABORTED, "CONCURRENT_UPDATE", "retry");
    size_t flen = 0;
    unsigned char *f = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &flen);
    int same = f && flen == 32 && memcmp(f, fp, 32) == 0;
    PQfreemem(f);
    if (!same) {
        if (m->flags & LTC_METHOD_KEY_REQUIRED)
            return ltc_status_set(st, LTC_ALREADY_EXISTS, "HANDOFF_PAYLOAD_MISMATCH",
                                  "hand-off %s was already applied with a different payload", key);
        return ltc_status_set(st, LTC_ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED",
                              "request_id %s was already used for a different request", key);
    }
    if (PQgetisnull(r, 0, 1)) return ltc_status_set(st, LTC_ABORTED, "CONCURRENT_UPDATE", "retry");
    size_t n = 0;
    unsigned char *resp = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 1), &n);
    if (!resp) return ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
    *stored = malloc(n ? n : 1);
    if (*stored) memcpy(*stored, resp, n);
    PQfreemem(resp);
    *stored_len = n;
    return 0;
}

static uint8_t *pack_message(const ProtobufCMessage *m, size_t *len) {
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf) protobuf_c_message_pack(m, buf);
    *len = n;
    return buf;
}

static int db_lost(const ltc_status *st) {
    return st->code == LTC_UNAVAILABLE && strcmp(st->reason, "DATABASE_UNAVAILABLE") == 0;
}

/* A oneof member's storage is shared: it holds a message only when the oneof's case names this field. */
static int oneof_active(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
    if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) return 1;
    return *(const uint32_t *)((const char *)m + f->quantifier_offset) == f->id;
}

/* Sets (hide) or restores the unknown-field counts of m and every message inside it. `saved` walks in the same
 * order both times. */
static void hide_unknown(ProtobufCMessage *m, size_t **saved, int hide) {
    if (!m) return;
    if (hide) {
        *(*saved)++ = m->n_unknown_fields;
        m->n_unknown_fields = 0;
    } else {
        m->n_unknown_fields = *(*saved)++;
    }
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || !oneof_active(m, f)) continue;
        char *base = (char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(size_t *)((char *)m + f->quantifier_offset);
            ProtobufCMessage **items = *(ProtobufCMessage ***)base;
            for (size_t k = 0; k < count; k++) hide_unknown(items[k], saved, hide);
        } else {
            hide_unknown(*(ProtobufCMessage **)base, saved, hide);
        }
    }
}

static size_t count_messages(const ProtobufCMessage *m) {
    if (!m) return 0;
    size_t n = 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || !oneof_active(m, f)) continue;
        const char *base = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)base;
            for (size_t k = 0; k < count; k++) n += count_messages(items[k]);
        } else {
            n += count_messages(*(ProtobufCMessage *const *)base);
        }
    }
    return n;
}

/* The request packed without unknown fields (which proto3 ignores), so a retry that carries extra fields a newer
 * client knows of is still the same request. */
static uint8_t *pack_known_fields(ltc_call *c, const ProtobufCMessage *req, size_t *len) {
    ProtobufCMessage *m = (ProtobufCMessage *)req; /* restored before returning */
    size_t *saved = ltc_call_alloc(c, count_messages(m) * sizeof *saved);
    size_t *p = saved;
    hide_unknown(m, &p, 1);
    uint8_t *out = pack_message(m, len);
    p = saved;
    hide_unknown(m, &p, 0);
    return out;
}

/* Runs a table method on a decoded request: transaction and idempotency for WRITE methods. On success returns 0
 * with the packed response in *out (malloc'd). */
static int run_method(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, uint8_t **out, size_t *out_len,
                      ltc_status *st) {
    const char *key = m->idempotency_field ? key_field(req, m->idempotency_field) : NULL;
    if (key && key[0] == 0) key = NULL;
    if (!key && (m->flags & LTC_METHOD_KEY_REQUIRED))
        return ltc_status_bad_field(st, m->idempotency_field, "required");
    if (key && (strlen(key) > 128 || ltc_uuid_valid(key) == 0) && (m->flags & LTC_METHOD_KEY_REQUIRED))
        return ltc_status_bad_field(st, m->idempotency_field, "must be a UUID");
    if (key && strlen(key) > 128) return ltc_status_bad_field(st, m->idempotency_field, "at most 128 characters");

    if (!(m->flags & LTC_METHOD_WRITE)) {
        for (int attempt = 0;; attempt++) {
            ProtobufCMessage *resp = NULL;
            if (check_owner(c, m, req, st) == 0 && m->handler(c, req, &resp, st) == 0) {
                *out = pack_message(resp, out_len);
                return *out ? 0 : ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
            }
            /* a connection that died while idle (database restarted) is noticed by its first query: reads are
             * safe to run again once on a new connection */
            if (attempt > 0 || !db_lost(st)) return -1;
            ltc_status_clear(st);
            clear_results(c->w);
        }
    }

    uint8_t fp[32];
    if (key) {
        size_t n = 0;
        uint8_t *canon = pack_known_fields(c, req, &n); /* canonical: field order, unknown fields left out */
        unsigned int fl = 0;
        int ok = canon && EVP_Digest(canon, n, fp, &fl, EVP_sha256(), NULL) == 1;
        free(canon);
        if (!ok) return ltc_status_set(st, LTC_INTERNAL, "DIGEST_FAILED", "fingerprint failed");
    }
    ltc_db *db = c->w->db;
    for (int attempt = 0;; attempt++) {
        ltc_status_clear(st);
        clear_results(c->w);
        ProtobufCMessage *resp = NULL;
        int committing = 0;
        if (ltc_db_begin(db, st) != 0) goto failed;
        if (check_owner(c, m, req, st) != 0) goto failed;
        if (key) {
            uint8_t *stored = NULL;
            size_t stored_len = 0;
            int claimed = claim_key(c, m, key, fp, &stored, &stored_len, st);
            if (claimed == 0) {
                ltc_db_rollback(db);
                *out = stored;
                *out_len = stored_len;
                if (!stored) return ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
                const ltc_status ok = {0};
                audit_outside(c, m, req, &ok, "IDEMPOTENT_REPLAY");
                return 0;
            }
            if (claimed < 0) goto failed;
        }
        if (m->handler(c, req, &resp, st) != 0) goto failed;
        if (!resp) {
            ltc_status_set(st, LTC_INTERNAL, "NO_RESPONSE", "handler returned no response");
            goto failed;
        }
        *out = pack_message(resp, out_len);
        if (!*out) {
            ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
            goto failed;
        }
        {
            const ltc_status ok = {0};
            if (audit(c, m, req, &ok, NULL, st) != 0) goto failed_packed;
        }
        if (key) {
            const char *params[3] = {m->path, key, (const char *)*out};
            const int lens[3] = {0, 0, (int)*out_len};
            const int fmts[3] = {0, 0, 1};
            PGresult *r = ltc_db_query_bin(db, st, SQL_KEY_STORE, 3, params, lens, fmts);
            if (!r) goto failed_packed;
            PQclear(r);
        }
        committing = 1;
        ltc_fault_crash_point("server.before_commit", m->path);
        if (ltc_db_commit(db, st) != 0) goto failed_packed;
        ltc_outbox_after_commit();
        ltc_fault_crash_point("server.after_commit", m->path);
        return 0;
    failed_packed:
        free(*out);
        *out = NULL;
    failed:
        ltc_db_rollback(db);
        ltc_outbox_after_rollback();
        if (st->code == LTC_OK) ltc_status_set(st, LTC_INTERNAL, "HANDLER_FAILED", "handler failed without a status");
        if (st->code == LTC_ABORTED && strcmp(st->reason, "CONCURRENT_UPDATE") == 0 && attempt < 2) continue;
        /* the transaction never committed (a lost COMMIT's outcome is unknown: the caller retries with its key) */
        if (db_lost(st) && !committing && attempt == 0) continue;
        audit_outside(c, m, req, st, NULL);
        return -1;
    }
}

/* One log line and the metrics of a finished call. Unknown methods share one metrics label (bounded cardinality). */
static void log_call(ltc_call *c, const ltc_status *st) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double ms = (double)(now.tv_sec - c->started.tv_sec) * 1e3 + (double)(now.tv_nsec - c->started.tv_nsec) / 1e6;
    int unknown = st->code == LTC_UNIMPLEMENTED && c->kind == CTX_GENERIC;
    ltc_metrics_rpc(unknown ? "unknown" : c->method_path, st->code, ms / 1e3);
    ltc_log_level lvl = st->code == LTC_OK ? LTC_LOG_INFO
                        : (st->code == LTC_INTERNAL || st->code == LTC_UNKNOWN || st->code == LTC_DATA_LOSS)
                            ? LTC_LOG_ERROR
                            : LTC_LOG_WARN;
    if (!ltc_log_enabled(lvl)) return;
    ltc_log(lvl, "rpc", c->request_id, "%s %s %.3fms%s%s", c->method_path, ltc_code_name(st->code), ms,
            st->code == LTC_OK ? "" : " ", st->code == LTC_OK ? "" : st->reason);
}

/* Logs the call, records its metrics and starts the reply; frees the response and the call's scratch memory. */
static void finish_call(ltc_call *c, worker *w, ltc_status *st, uint8_t *resp, size_t resp_len) {
    log_call(c, st);
    ltc_log_set_context(NULL, NULL);
    send_reply(c, resp, resp_len, st);
    free(resp);
    ltc_status_clear(st);
    ltc_arena_reset(w->arena);
}

/* Handles a call whose request is in c->payload (registered) and answers it. */
static void handle_registered(ltc_call *c, worker *w) {
    ltc_server *s = c->srv;
    const ltc_method *m = &s->methods[c->method];
    c->w = w;
    snprintf(c->method_path, sizeof c->method_path, "%s", m->path);
    set_request_id(c);
    set_traceparent(c);
    log_context(c);
    ltc_status st = {0};
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    identify(c);
    if (ltc_call_ms_left(c) <= 0) {
        ltc_status_set(&st, LTC_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "deadline passed before the call was served");
    } else if (authorize(c, m, &st) != 0) {
        audit_outside(c, m, NULL, &st, NULL);
    } else if (!c->payload) {
        ltc_status_set(&st, LTC_INVALID_ARGUMENT, "MISSING_MESSAGE", "the request carries no message");
    } else {
        size_t len = 0;
        uint8_t *bytes = read_buffer(c->payload, &len);
        if (!bytes) {
            ltc_status_set(&st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        } else {
            ltc_call_run(c, m, bytes, len, (size_t)s->opt.max_message_bytes, &resp, &resp_len, &st);
            free(bytes);
        }
    }
    finish_call(c, w, &st, resp, resp_len);
}

int ltc_call_run(ltc_call *c, const ltc_method *m, const uint8_t *bytes, size_t len, size_t max_bytes, uint8_t **out,
                 size_t *out_len, ltc_status *st) {
    worker *w = c->w;
    *out = NULL;
    *out_len = 0;
    int rc = -1;
    if (len > max_bytes) {
        ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "MESSAGE_TOO_LARGE", "request of %zu bytes exceeds %zu", len,
                       max_bytes);
    } else {
        ProtobufCMessage *req = protobuf_c_message_unpack(m->request, NULL, len, bytes);
        if (!req) {
            ltc_status_set(st, LTC_INVALID_ARGUMENT, "MALFORMED_REQUEST", "the request could not be decoded as %s",
                           m->request->name);
        } else {
            rc = run_method(c, m, req, out, out_len, st);
            protobuf_c_message_free_unpacked(req, NULL);
        }
    }
    if (w->db && ltc_db_in_transaction(w->db)) ltc_db_rollback(w->db); /* never leave a transaction open */
    clear_results(w);
    ltc_arena_reset(w->arena);
    return rc;
}

ltc_call *ltc_call_create_detached(ltc_db *db) {
    ltc_call *c = calloc(1, sizeof *c);
    worker *w = calloc(1, sizeof *w);
    if (!c || !w) abort();
    w->db = db;
    w->arena = ltc_arena_create(16 * 1024);
    c->w = w;
    c->deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
    grpc_metadata_array_init(&c->md);
    snprintf(c->request_id, sizeof c->request_id, "detached");
    return c;
}

void ltc_call_destroy_detached(ltc_call *c) {
    if (!c) return;
    clear_results(c->w);
    free(c->w->results);
    ltc_arena_destroy(c->w->arena);
    free(c->w);
    grpc_metadata_array_destroy(&c->md);
    free(c);
}

static int start_forward(ltc_call *c, const ltc_forward *f, ltc_status *st);

/* Generic (unregistered) call: its message has been received into c->payload. */
static void handle_generic(ltc_call *c, worker *w) {
    ltc_server *s = c->srv;
    c->w = w;
    size_t ml = GRPC_SLICE_LENGTH(c->details.method);
    if (ml >= sizeof c->method_path) ml = sizeof c->method_path - 1;
    memcpy(c->method_path, GRPC_SLICE_START_PTR(c->details.method), ml);
    c->method_path[ml] = 0;
    set_request_id(c);
    set_traceparent(c);
    log_context(c);
    ltc_status st = {0};
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    if (!s->opt.raw_handler) {
        ltc_status_set(&st, LTC_UNIMPLEMENTED, "UNKNOWN_METHOD", "method %s is not implemented", c->method_path);
    } else if (!c->payload) {
        ltc_status_set(&st, LTC_INVALID_ARGUMENT, "MISSING_MESSAGE", "the request carries no message");
    } else {
        size_t len = 0;
        uint8_t *bytes = read_buffer(c->payload, &len);
        if (!bytes) {
            ltc_status_set(&st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        } else if (len > (size_t)s->opt.max_message_bytes) {
            ltc_status_set(&st, LTC_RESOURCE_EXHAUSTED, "MESSAGE_TOO_LARGE", "request of %zu bytes exceeds %d", len,
                           s->opt.max_message_bytes);
            free(bytes);
        } else {
            ltc_forward fwd = {0};
            int rc = s->opt.raw_handler(c, c->method_path, bytes, len, &resp, &resp_len, &st, &fwd, s->opt.raw_user);
            free(bytes);
            if (rc == LTC_RAW_FORWARD && start_forward(c, &fwd, &st) == 0) {
                /* answered when the peer answers (forward_done); the worker goes on with other calls */
                ltc_log_set_context(NULL, NULL);
                ltc_arena_reset(w->arena);
                return;
            }
        }
    }
    finish_call(c, w, &st, resp, resp_len);
}

/* Starts the call to the peer: metadata, the request as received, half-close, and the peer's answer; one batch on
 * the server's queue, tagged with the context (state ST_FORWARDING). 0, or -1 with st set. */
static int start_forward(ltc_call *c, const ltc_forward *f, ltc_status *st) {
    int64_t deadline_ms = f->deadline_ms > 0 ? f->deadline_ms : 30000;
    gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(deadline_ms, GPR_TIMESPAN));
    snprintf(c->fwd_peer, sizeof c->fwd_peer, "%s", f->peer_name ? f->peer_name : "peer");
    c->fwd_details = grpc_empty_slice();
    grpc_metadata_array_init(&c->fwd_initial);
    grpc_metadata_array_init(&c->fwd_trailing);
    c->fwd_call = grpc_channel_create_call(ltc__client_channel(f->client), c->call, GRPC_PROPAGATE_DEFAULTS,
                                           c->srv->cq, c->details.method, NULL, deadline, NULL);
    if (!c->fwd_call) {
        forward_cleanup(c);
        return ltc_status_set(st, LTC_INTERNAL, "FORWARD_FAILED", "cannot start the call to %s", c->fwd_peer);
    }
    for (size_t i = 0; i < f->n_md && i < sizeof c->fwd_md / sizeof c->fwd_md[0]; i++) {
        if (!f->md[i].value || !f->md[i].value[0]) continue;
        memset(&c->fwd_md[c->n_fwd_md], 0, sizeof c->fwd_md[0]);
        c->fwd_md[c->n_fwd_md].key = grpc_slice_from_copied_string(f->md[i].key);
        c->fwd_md[c->n_fwd_md].value = grpc_slice_from_copied_string(f->md[i].value);
        c->n_fwd_md++;
    }
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = c->n_fwd_md;
    ops[0].data.send_initial_metadata.metadata = c->fwd_md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = c->payload;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->fwd_initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &c->fwd_resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &c->fwd_trailing;
    ops[5].data.recv_status_on_client.status = &c->fwd_status;
    ops[5].data.recv_status_on_client.status_details = &c->fwd_details;
    c->state = ST_FORWARDING;
    if (grpc_call_start_batch(c->fwd_call, ops, 6, c, NULL) != GRPC_CALL_OK) {
        forward_cleanup(c);
        c->state = ST_RECEIVING;
        return ltc_status_set(st, LTC_INTERNAL, "FORWARD_FAILED", "cannot start the call to %s", c->fwd_peer);
    }
    return 0;
}

/* The peer answered (or the call failed): the same answer to our caller. */
static void forward_done(ltc_call *c, worker *w) {
    c->w = w;
    log_context(c);
    ltc_status st = {0};
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    if (c->fwd_status == GRPC_STATUS_OK) {
        if (!c->fwd_resp || !(resp = read_buffer(c->fwd_resp, &resp_len)))
            ltc_status_set(&st, LTC_INTERNAL, "FORWARD_FAILED", "%s answered OK without a message", c->fwd_peer);
    } else {
        st.code = (ltc_code)c->fwd_status;
        size_t n = GRPC_SLICE_LENGTH(c->fwd_details);
        if (n >= sizeof st.message) n = sizeof st.message - 1;
        memcpy(st.message, GRPC_SLICE_START_PTR(c->fwd_details), n);
        st.message[n] = 0;
        ltc_utf8_clean(st.message);
        for (size_t i = 0; i < c->fwd_trailing.count; i++) {
            if (grpc_slice_str_cmp(c->fwd_trailing.metadata[i].key, "grpc-status-details-bin") != 0) continue;
            size_t dn = GRPC_SLICE_LENGTH(c->fwd_trailing.metadata[i].value);
            uint8_t *d = malloc(dn ? dn : 1);
            if (!d) break;
            memcpy(d, GRPC_SLICE_START_PTR(c->fwd_trailing.metadata[i].value), dn);
            st.raw_details = d;
            st.raw_details_len = dn;
            ltc_status_unpack_details(&st, d, dn);
            break;
        }
        /* the transport failed, or the peer cancelled the call while stopping: say which, retryable */
        if ((st.code == LTC_UNAVAILABLE || (st.code == LTC_CANCELLED && ltc_call_ms_left(c) > 0)) &&
            !st.raw_details)
            ltc_status_set(&st, LTC_UNAVAILABLE, "SERVICE_UNAVAILABLE", "the %s service is unavailable, retry later",
                           c->fwd_peer);
    }
    forward_cleanup(c);
    finish_call(c, w, &st, resp, resp_len);
}

/* ---- server reflection: a bidirectional stream, one answer per request ---- */

static void stream_recv(ltc_call *c) {
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->payload;
    c->state = ST_STREAM_RECV;
    if (grpc_call_start_batch(c->call, &op, 1, c, NULL) != GRPC_CALL_OK) {
        atomic_fetch_sub(&c->srv->busy, 1);
        ltc_metrics_busy(-1);
        ctx_free(c);
    }
}

/* Ends the stream with `st` (OK when the client half-closed). */
static void stream_finish(ltc_call *c, const ltc_status *st) {
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (!c->sent_initial) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
    }
    c->status_msg = grpc_slice_from_copied_string(st->message);
    c->has_status_msg = 1;
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)st->code;
    ops[n].data.send_status_from_server.status_details = &c->status_msg;
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n].data.recv_close_on_server.cancelled = &c->cancelled;
    n++;
    c->state = ST_SENDING;
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK) {
        atomic_fetch_sub(&c->srv->busy, 1);
        ltc_metrics_busy(-1);
        ctx_free(c);
    }
}

static void stream_on_message(ltc_call *c, int ok) {
    ltc_status st = {0};
    if (!ok || !c->payload) { /* half-closed by the client (or gone) */
        stream_finish(c, &st);
        return;
    }
    size_t len = 0, out_len = 0;
    uint8_t *bytes = read_buffer(c->payload, &len);
    grpc_byte_buffer_destroy(c->payload);
    c->payload = NULL;
    uint8_t *out = bytes ? ltc_reflection_answer(c->srv->reflection, bytes, len, &out_len) : NULL;
    free(bytes);
    if (!out) {
        ltc_status_set(&st, LTC_INVALID_ARGUMENT, "MALFORMED_REQUEST", "not a ServerReflectionRequest");
        stream_finish(c, &st);
        return;
    }
    grpc_slice sl = grpc_slice_from_copied_buffer((const char *)out, out_len);
    free(out);
    c->reply = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (!c->sent_initial) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
        c->sent_initial = 1;
    }
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = c->reply;
    n++;
    c->state = ST_STREAM_SEND;
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK) {
        atomic_fetch_sub(&c->srv->busy, 1);
        ltc_metrics_busy(-1);
        ctx_free(c);
    }
}

static void on_event(ltc_server *s, ltc_call *c, int ok, worker *w) {
    switch (c->state) {
    case ST_REQUESTED:
        if (!ok) { /* server shutting down: the request is returned unused */
            ctx_free(c);
            return;
        }
        post_request(s, c->kind, c->method); /* keep a request outstanding for the next call */
        atomic_fetch_add(&s->busy, 1);
        ltc_metrics_busy(1);
        clock_gettime(CLOCK_MONOTONIC, &c->started);
        if (c->kind == CTX_REGISTERED) {
            handle_registered(c, w);
        } else if (c->kind == CTX_REFLECTION) {
            stream_recv(c);
        } else {
            c->deadline = c->details.deadline;
            if (!s->opt.raw_handler) {
                handle_generic(c, w);
                return;
            }
            grpc_op op;
            memset(&op, 0, sizeof op);
            op.op = GRPC_OP_RECV_MESSAGE;
            op.data.recv_message.recv_message = &c->payload;
            c->state = ST_RECEIVING;
            if (grpc_call_start_batch(c->call, &op, 1, c, NULL) != GRPC_CALL_OK) {
                atomic_fetch_sub(&s->busy, 1);
        ltc_metrics_busy(-1);
                ctx_free(c);
            }
        }
        return;
    case ST_RECEIVING:
        handle_generic(c, w); /* !ok or no payload: answered as MISSING_MESSAGE (the peer may be gone) */
        return;
    case ST_FORWARDING:
        forward_done(c, w); /* RECV_STATUS_ON_CLIENT always completes, ok or not */
        return;
    case ST_SENDING:
        atomic_fetch_sub(&s->busy, 1);
        ltc_metrics_busy(-1);
        ctx_free(c);
        return;
    case ST_STREAM_RECV:
        stream_on_message(c, ok);
        return;
    case ST_STREAM_SEND:
        grpc_byte_buffer_destroy(c->reply);
        c->reply = NULL;
        if (!ok) {
            atomic_fetch_sub(&s->busy, 1);
        ltc_metrics_busy(-1);
            ctx_free(c);
        } else {
            stream_recv(c);
        }
        return;
    }
}

static void *worker_main(void *arg) {
    ltc_server *s = arg;
    worker w = {0};
    w.arena = ltc_arena_create(16 * 1024);
    if (s->opt.db_dsn) w.db = ltc_db_create(s->opt.db_dsn, s->opt.db_schema);
    pthread_mutex_lock(&s->workers_mu);
    for (int k = 0; k < s->opt.workers; k++) {
        if (!s->worker_dbs[k]) {
            s->worker_dbs[k] = w.db;
            break;
        }
    }
    pthread_mutex_unlock(&s->workers_mu);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        if (ev.tag == &s->shutdown_tag) {
            atomic_store(&s->shutdown_done, 1);
            continue;
        }
        on_event(s, ev.tag, ev.success, &w);
    }
    clear_results(&w);
    free(w.results);
    pthread_mutex_lock(&s->workers_mu);
    for (int k = 0; k < s->opt.workers; k++)
        if (s->worker_dbs[k] == w.db) s->worker_dbs[k] = NULL;
    pthread_mutex_unlock(&s->workers_mu);
    ltc_db_destroy(w.db);
    ltc_arena_destroy(w.arena);
    return NULL;
}

ltc_server *ltc_server_start(const ltc_server_options *opt, ltc_status *st) {
    ltc_server *s = calloc(1, sizeof *s);
    if (!s) {
        ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        return NULL;
    }
    s->opt = *opt;
    snprintf(s->domain, sizeof s->domain, "%s.ltc", opt->service_name ? opt->service_name : "ltc");
    if (s->opt.workers < 1) s->opt.workers = 1;
    if (s->opt.max_message_bytes <= 0) s->opt.max_message_bytes = 4 * 1024 * 1024;
    s->n_methods = opt->n_methods + 1;
    s->methods = calloc(s->n_methods, sizeof *s->methods);
    s->handles = calloc(s->n_methods, sizeof *s->handles);
    if (!s->methods || !s->handles) abort();
    if (opt->n_methods) memcpy(s->methods, opt->methods, opt->n_methods * sizeof *opt->methods);
    s->methods[opt->n_methods] = (ltc_method){"/grpc.health.v1.Health/Check",
                                              &grpc__health__v1__health_check_request__descriptor,
                                              &grpc__health__v1__health_check_response__descriptor, health_check,
                                              LTC_METHOD_READ, NULL};
    grpc_init();
    grpc_arg args[6];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    /* gRPC's own limit is a little above ours, so a request just over the limit gets our RESOURCE_EXHAUSTED with
     * details (MESSAGE_TOO_LARGE); far larger ones are cut by gRPC itself. */
    args[0].value.integer = s->opt.max_message_bytes + 64 * 1024;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = s->opt.max_message_bytes;
    /* Connections are closed gracefully after 5 minutes, so long-lived callers re-resolve and spread over
     * replicas that started since (round_robin on the client side). */
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = GRPC_ARG_MAX_CONNECTION_AGE_MS;
    args[2].value.integer = 5 * 60 * 1000;
    args[3].type = GRPC_ARG_INTEGER;
    args[3].key = GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS;
    args[3].value.integer = 30 * 1000;
    /* OWASP API4: bounded request headers and streams per connection */
    args[4].type = GRPC_ARG_INTEGER;
    args[4].key = GRPC_ARG_MAX_METADATA_SIZE;
    args[4].value.integer = s->opt.max_metadata_bytes > 0 ? s->opt.max_metadata_bytes : 8 * 1024;
    args[5].type = GRPC_ARG_INTEGER;
    args[5].key = GRPC_ARG_MAX_CONCURRENT_STREAMS;
    args[5].value.integer = s->opt.max_concurrent_streams > 0 ? s->opt.max_concurrent_streams : 100;
    grpc_channel_args cargs = {6, args};
    s->server = grpc_server_create(&cargs, NULL);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    for (size_t i = 0; i < s->n_methods; i++) {
        s->handles[i] = grpc_server_register_method(s->server, s->methods[i].path, NULL,
                                                    GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        if (!s->handles[i]) {
            ltc_status_set(st, LTC_INTERNAL, "BAD_METHOD_TABLE", "cannot register %s", s->methods[i].path);
            goto fail;
        }
    }
    {
        /* reflection lists the process's services and the standard ones */
        const char *names[40];
        size_t k = 0;
        for (const char *const *n = opt->health_services; n && *n && k < 36; n++) names[k++] = *n;
        names[k++] = "grpc.health.v1.Health";
        names[k++] = "grpc.reflection.v1.ServerReflection";
        names[k++] = "grpc.reflection.v1alpha.ServerReflection";
        names[k] = NULL;
        s->reflection = ltc_reflection_create(names);
        if (!s->reflection) {
            ltc_status_set(st, LTC_INTERNAL, "BAD_DESCRIPTORS", "embedded descriptor set is corrupt");
            goto fail;
        }
        s->refl_handles[0] = grpc_server_register_method(s->server, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                                         NULL, GRPC_SRM_PAYLOAD_NONE, 0);
        s->refl_handles[1] = grpc_server_register_method(
            s->server, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", NULL, GRPC_SRM_PAYLOAD_NONE, 0);
    }
    grpc_server_credentials *creds;
    if (s->opt.tls) {
        grpc_ssl_pem_key_cert_pair pair = {s->opt.tls->key_pem, s->opt.tls->cert_pem};
        creds = grpc_ssl_server_credentials_create_ex(
            s->opt.client_cert_required ? s->opt.tls->ca_pem : NULL, &pair, 1,
            s->opt.client_cert_required ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                        : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
    } else {
        creds = grpc_insecure_server_credentials_create();
    }
    int port = grpc_server_add_http2_port(s->server, opt->listen_addr, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) {
        ltc_status_set(st, LTC_UNAVAILABLE, "LISTEN_FAILED", "cannot listen on %s", opt->listen_addr);
        goto fail;
    }
    grpc_server_start(s->server);
    atomic_store(&s->serving, 1);
    ltc_metrics_workers(s->opt.workers);
    int per_method = s->opt.workers < 2 ? 1 : 2;
    for (size_t i = 0; i < s->n_methods; i++)
        for (int k = 0; k < per_method; k++) post_request(s, CTX_REGISTERED, (int)i);
    for (int k = 0; k < s->opt.workers; k++) post_request(s, CTX_GENERIC, 0);
    post_request(s, CTX_REFLECTION, 0);
    post_request(s, CTX_REFLECTION, 1);
    s->threads = calloc((size_t)s->opt.workers, sizeof *s->threads);
    s->worker_dbs = calloc((size_t)s->opt.workers, sizeof *s->worker_dbs);
    if (!s->threads || !s->worker_dbs) abort();
    pthread_mutex_init(&s->workers_mu, NULL);
    for (int k = 0; k < s->opt.workers; k++) {
        if (pthread_create(&s->threads[k], NULL, worker_main, s) != 0) abort();
        s->n_threads++;
    }
    return s;
fail:
    grpc_server_destroy(s->server);
    grpc_completion_queue_shutdown(s->cq);
    while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(s->cq);
    ltc_reflection_destroy(s->reflection);
    free(s->methods);
    free(s->handles);
    free(s);
    grpc_shutdown();
    return NULL;
}

void ltc_server_set_serving(ltc_server *s, int serving) { atomic_store(&s->serving, serving ? 1 : 0); }

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void ltc_server_stop(ltc_server *s) {
    if (!s) return;
    atomic_store(&s->serving, 0);
    atomic_store(&s->shutting_down, 1);
    grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
    /* in-flight calls get the grace period to finish */
    for (int waited = 0; atomic_load(&s->busy) > 0 && waited < s->opt.shutdown_grace_ms; waited += 10) sleep_ms(10);
    if (atomic_load(&s->busy) > 0) LTC_WARN("shutdown_cancel", NULL, "%d calls still running after the grace period",
                                            atomic_load(&s->busy));
    grpc_server_cancel_all_calls(s->server);
    if (atomic_load(&s->busy) > 0) { /* calls stuck in the database: cancel their statements so they end now */
        pthread_mutex_lock(&s->workers_mu);
        for (int k = 0; k < s->opt.workers; k++) ltc_db_cancel(s->worker_dbs[k]);
        pthread_mutex_unlock(&s->workers_mu);
    }
    while (!atomic_load(&s->shutdown_done) || atomic_load(&s->ctx_alive) > 0) sleep_ms(5);
    grpc_server_destroy(s->server);
    grpc_completion_queue_shutdown(s->cq);
    for (int k = 0; k < s->n_threads; k++) pthread_join(s->threads[k], NULL);
    grpc_completion_queue_destroy(s->cq);
    ltc_reflection_destroy(s->reflection);
    pthread_mutex_destroy(&s->workers_mu);
    free(s->worker_dbs);
    free(s->threads);
    free(s->methods);
    free(s->handles);
    free(s);
    grpc_shutdown();
}

/* For client.c: the gRPC call behind a context, to propagate deadline and cancellation to outgoing calls. */
grpc_call *ltc__call_grpc(ltc_call *c);
grpc_call *ltc__call_grpc(ltc_call *c) { return c->call; }
