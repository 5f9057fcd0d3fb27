/* call.c - the call context: its life (new, state steps, the one teardown), the worker's resources it uses, the
 * handler API of ltc/server.h (accessors, arena, queries, metadata), detached calls for tests and fuzz targets, and
 * the hooks run when the call's transaction ends. The rest of the runtime builds on this file; it calls none of it. */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ltc/assert.h"
#include "ltc/metrics.h"

/* ---- life of a context ---- */

ltc_call *ltc_call__new(struct ltc_server *s, enum ctx_kind kind, int method) {
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

void ltc_call__free(ltc_call *c) {
    if (!c) return;
    LTC_ASSERT(c->fwd == NULL); /* proxy.c releases its state before the call is answered */
    struct ltc_server *s = c->srv;
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

void ltc_call__end(ltc_call *c) {
    if (!c) return;
    LTC_ASSERT(c->srv != NULL); /* a served call; detached ones end with ltc_call_destroy_detached */
    atomic_fetch_sub(&c->srv->busy, 1);
    ltc_metrics_busy(-1);
    ltc_call__free(c);
}

/* The steps of enum ctx_state's life cycle, as bits of the states each state may move to. */
static unsigned allowed_steps(enum ctx_state from) {
    switch (from) {
        case ST_REQUESTED: return 1u << ST_RECEIVING | 1u << ST_SENDING | 1u << ST_STREAM_RECV | 1u << ST_WATCHING;
        case ST_RECEIVING: return 1u << ST_FORWARDING | 1u << ST_SENDING;
        case ST_FORWARDING: return 1u << ST_SENDING | 1u << ST_RECEIVING; /* back when the forward cannot start */
        case ST_STREAM_RECV: return 1u << ST_STREAM_SEND | 1u << ST_SENDING;
        case ST_STREAM_SEND: return 1u << ST_STREAM_RECV;
        case ST_SENDING: return 0;
        case ST_WATCHING: return 0; /* ended by health_watch.c */
    }
    return 0;
}

void ltc_call__set_state(ltc_call *c, enum ctx_state to) {
    LTC_ASSERT(allowed_steps(c->state) & (1u << to));
    c->state = to;
}

grpc_call *ltc_call__grpc(const ltc_call *c) { return c ? c->call : NULL; }

uint8_t *ltc_call__read_buffer(grpc_byte_buffer *bb, size_t *len) {
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

/* ---- helpers for handlers ---- */

ltc_db *ltc_call_db(ltc_call *c) { return c->w->db; }
ltc_arena *ltc_call_arena(ltc_call *c) { return c->w->arena; }
void *ltc_call_alloc(ltc_call *c, size_t n) { return ltc_arena_alloc(c->w->arena, n); }
char *ltc_call_strdup(ltc_call *c, const char *s) { return ltc_arena_strdup(c->w->arena, s); }
const char *ltc_call_request_id(const ltc_call *c) { return c->request_id; }
const char *ltc_call_server_request_id(const ltc_call *c) { return c->server_request_id; }
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

static void track_result(ltc_worker *w, PGresult *r) {
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

int ltc_call_send(ltc_call *c, ltc_status *st, const char *sql, int nparams, const char *const *params) {
    return ltc_db_send_now(c->w->db, st, sql, nparams, params, NULL, NULL);
}

/* Spreads p into libpq's three arrays (in the arena); -1 with st set when a binary parameter could not be built. */
static int split_params(ltc_call *c, ltc_status *st, int n, const ltc_sql_param *p, const char ***values, int **lens,
                        int **fmts) {
    size_t k = n > 0 ? (size_t)n : 1;
    *values = ltc_call_alloc(c, k * sizeof **values);
    *lens = ltc_call_alloc(c, k * sizeof **lens);
    *fmts = ltc_call_alloc(c, k * sizeof **fmts);
    for (int i = 0; i < n; i++) {
        if (p[i].format == 1 && !p[i].value)
            return ltc_status_set(st, LTC_INTERNAL, NULL, "statement parameter $%d could not be encoded", i + 1);
        (*values)[i] = p[i].value;
        (*lens)[i] = p[i].len;
        (*fmts)[i] = p[i].format;
    }
    return 0;
}

PGresult *ltc_call_query_params(ltc_call *c, ltc_status *st, const char *sql, int nparams, const ltc_sql_param *p) {
    const char **v;
    int *l, *f;
    if (split_params(c, st, nparams, p, &v, &l, &f) != 0) return NULL;
    PGresult *r = ltc_db_query_bin(c->w->db, st, sql, nparams, v, l, f);
    if (r) track_result(c->w, r);
    return r;
}

int ltc_call_send_params(ltc_call *c, ltc_status *st, const char *sql, int nparams, const ltc_sql_param *p) {
    const char **v;
    int *l, *f;
    if (split_params(c, st, nparams, p, &v, &l, &f) != 0) return -1;
    return ltc_db_send_now(c->w->db, st, sql, nparams, v, l, f);
}

void ltc_call__clear_results(ltc_worker *w) {
    if (!w) return;
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
void ltc_call_set_principal(ltc_call *c, const char *principal) {
    snprintf(c->principal, sizeof c->principal, "%s", principal ? principal : "");
}
size_t ltc_call_max_message_bytes(const ltc_call *c) {
    return c->srv && c->srv->opt.max_message_bytes > 0 ? (size_t)c->srv->opt.max_message_bytes : 4u * 1024 * 1024;
}
const char *ltc_call_service_name(const ltc_call *c) { return c->srv ? c->srv->opt.service_name : NULL; }
const char *ltc_call_deal_scope(const ltc_call *c) { return c->deal_scoped ? c->principal : NULL; }

/* ---- transaction hooks ---- */

int ltc_call__on_commit(ltc_call *c, const ltc_txn_hook *hook, ltc_status *st) {
    ltc_worker *w = c->w;
    for (size_t i = 0; i < w->n_hooks; i++) {
        const ltc_txn_hook *h = &w->hooks[i];
        if (h->after_commit == hook->after_commit && h->after_rollback == hook->after_rollback && h->arg == hook->arg)
            return 0;
    }
    if (w->n_hooks == LTC_TXN_HOOKS_MAX)
        return ltc_status_set(st, LTC_INTERNAL, "TOO_MANY_TXN_HOOKS", "more than %d transaction hooks",
                              LTC_TXN_HOOKS_MAX);
    w->hooks[w->n_hooks++] = *hook;
    return 0;
}

void ltc_call__txn_ended(ltc_worker *w, int committed) {
    if (!w) return;
    size_t n = w->n_hooks;
    w->n_hooks = 0; /* forgotten first: a hook that registers again belongs to the next transaction */
    for (size_t i = 0; i < n; i++) {
        ltc_txn_hook_fn fn = committed ? w->hooks[i].after_commit : w->hooks[i].after_rollback;
        if (fn) fn(w->hooks[i].arg);
    }
}

void ltc_call_after_commit(ltc_call *c) {
    if (c) ltc_call__txn_ended(c->w, 1);
}

void ltc_call_after_rollback(ltc_call *c) {
    if (c) ltc_call__txn_ended(c->w, 0);
}

/* ---- calls outside gRPC ---- */

ltc_call *ltc_call_create_detached(ltc_db *db) {
    ltc_call *c = calloc(1, sizeof *c);
    ltc_worker *w = calloc(1, sizeof *w);
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
    ltc_call__clear_results(c->w);
    free(c->w->results);
    ltc_arena_destroy(c->w->arena);
    free(c->w);
    for (size_t i = 0; i < c->md.count; i++) { /* only ltc_call__add_metadata fills a detached call's array */
        grpc_slice_unref(c->md.metadata[i].key);
        grpc_slice_unref(c->md.metadata[i].value);
    }
    grpc_metadata_array_destroy(&c->md);
    free(c);
}

void ltc_call__set_identity(ltc_call *c, const char *peer, const char *principal, unsigned roles, int deal_scoped) {
    snprintf(c->peer, sizeof c->peer, "%s", peer ? peer : "");
    snprintf(c->principal, sizeof c->principal, "%s", principal ? principal : "");
    c->roles = roles;
    c->deal_scoped = deal_scoped;
}

void ltc_call__add_metadata(ltc_call *c, const char *key, const char *value) {
    if (c->md.count == c->md.capacity) {
        size_t cap = c->md.capacity ? c->md.capacity * 2 : 4;
        grpc_metadata *p = gpr_realloc(c->md.metadata, cap * sizeof *p);
        if (!p) abort();
        c->md.metadata = p;
        c->md.capacity = cap;
    }
    grpc_metadata *m = &c->md.metadata[c->md.count++];
    memset(m, 0, sizeof *m);
    m->key = grpc_slice_from_copied_string(key);
    m->value = grpc_slice_from_copied_string(value);
}
