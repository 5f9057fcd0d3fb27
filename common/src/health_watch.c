/* health_watch.c - grpc.health.v1.Health/Watch: a server stream that sends the service's status when the call
 * starts and again each time it changes, until the client goes away or the server stops.
 *
 * A watcher thread of the server re-evaluates readiness every second while streams are open (serving flag, a
 * SELECT 1 on a connection of its own, opened only while somebody watches, and the hand-off backlog: the rules of
 * health.c) and starts a send on every stream whose last sent status differs and that has no send in flight. Each
 * stream has two batches at most: RECV_CLOSE_ON_SERVER, started at once and tagged with the context's address + 1
 * (ltc_watch__is_close_tag), which completes when the client cancels or the call ends; and one SEND_MESSAGE at a
 * time, tagged with the context. The stream is over - counted, freed - when the close batch completed and no send
 * is in flight. At stop (ltc_watch__stop_all) every stream is cancelled with UNAVAILABLE. The list is guarded by
 * the server's watch_mu; a context on it is touched only under it. */
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc/health/v1/health.pb-c.h"
#include "internal.h"
#include "ltc/db.h"
#include "ltc/log.h"
#include "ltc/metrics.h"

enum {
    UNKNOWN_SERVICE = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN
};

int ltc_watch__is_close_tag(void *tag) { return ((uintptr_t)tag & 1u) != 0; }

static void *close_tag(ltc_call *c) { return (void *)((uintptr_t)c | 1u); }

/* The status of the stream's service now (watch_mu held). */
static int status_for(struct ltc_server *s, const ltc_call *c) {
    if (c->watch_service == WATCH_UNKNOWN) return UNKNOWN_SERVICE;
    if (c->watch_service == WATCH_LIVENESS) return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    return atomic_load(&s->ready) ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                                  : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
}

/* Starts sending `status` (watch_mu held; no send in flight). */
static void send_status(ltc_call *c, int status) {
    Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    r.status = status;
    uint8_t buf[16];
    size_t n = grpc__health__v1__health_check_response__pack(&r, buf);
    grpc_slice sl = grpc_slice_from_copied_buffer((const char *)buf, n);
    if (c->reply) grpc_byte_buffer_destroy(c->reply);
    c->reply = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t k = 0;
    if (!c->sent_initial) {
        ops[k++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->sent_initial = 1;
    }
    ops[k].op = GRPC_OP_SEND_MESSAGE;
    ops[k].data.send_message.send_message = c->reply;
    k++;
    if (grpc_call_start_batch(c->call, ops, k, c, NULL) == GRPC_CALL_OK) {
        c->watch_in_flight = 1;
        c->watch_last = status;
    }
}

/* Removes c from the list (watch_mu held). */
static void unlink_watch(struct ltc_server *s, ltc_call *c) {
    for (ltc_call **p = &s->watches; *p; p = &(*p)->watch_next) {
        if (*p == c) {
            *p = c->watch_next;
            s->n_watches--;
            return;
        }
    }
}

/* The stream is over when its close batch completed and no send is in flight (watch_mu held): 1 when c is gone. */
static int maybe_end(struct ltc_server *s, ltc_call *c) {
    if (!c->watch_closed || c->watch_in_flight) return 0;
    unlink_watch(s, c);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double secs = (double)(now.tv_sec - c->started.tv_sec) + (double)(now.tv_nsec - c->started.tv_nsec) / 1e9;
    ltc_metrics_rpc(LTC_HEALTH_WATCH, atomic_load(&s->shutting_down) ? LTC_UNAVAILABLE : LTC_CANCELLED, secs);
    ltc_call__end(c);
    return 1;
}

void ltc_watch__start(ltc_call *c) {
    struct ltc_server *s = c->srv;
    ltc_metrics_rpc_started(LTC_HEALTH_WATCH);
    c->watch_service = WATCH_READINESS;
    c->watch_last = -1;
    size_t len = 0;
    uint8_t *bytes = c->payload ? ltc_call__read_buffer(c->payload, &len) : NULL;
    Grpc__Health__V1__HealthCheckRequest *req =
        bytes ? grpc__health__v1__health_check_request__unpack(NULL, len, bytes) : NULL;
    free(bytes);
    if (req && req->service[0]) {
        int known = strcmp(req->service, "liveness") == 0;
        if (known) c->watch_service = WATCH_LIVENESS;
        for (const char *const *n = s->opt.health_services; !known && n && *n; n++)
            known = strcmp(*n, req->service) == 0;
        if (!known) c->watch_service = WATCH_UNKNOWN; /* the protocol: SERVICE_UNKNOWN, and the stream stays */
    }
    if (req) grpc__health__v1__health_check_request__free_unpacked(req, NULL);
    ltc_call__set_state(c, ST_WATCHING);
    pthread_mutex_lock(&s->watch_mu);
    c->watch_next = s->watches;
    s->watches = c;
    s->n_watches++;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->cancelled;
    if (grpc_call_start_batch(c->call, &op, 1, close_tag(c), NULL) != GRPC_CALL_OK) {
        c->watch_closed = 1;
    } else if (atomic_load(&s->shutting_down)) {
        grpc_call_cancel_with_status(c->call, GRPC_STATUS_UNAVAILABLE, "server stopping", NULL);
    } else {
        send_status(c, status_for(s, c));
    }
    maybe_end(s, c);
    pthread_cond_signal(&s->watch_cond); /* the watcher opens its connection, if it has none */
    pthread_mutex_unlock(&s->watch_mu);
}

void ltc_watch__event(ltc_call *c, int ok, int is_close) {
    struct ltc_server *s = c->srv;
    pthread_mutex_lock(&s->watch_mu);
    if (is_close) {
        c->watch_closed = 1;
    } else {
        c->watch_in_flight = 0;
        if (!ok) {
            grpc_call_cancel(c->call, NULL); /* the stream broke: its close batch completes */
        } else if (!c->watch_closed && !atomic_load(&s->shutting_down)) {
            int now = status_for(s, c);
            if (now != c->watch_last) send_status(c, now);
        }
    }
    maybe_end(s, c);
    pthread_mutex_unlock(&s->watch_mu);
}

void ltc_watch__stop_all(struct ltc_server *s) {
    pthread_mutex_lock(&s->watch_mu);
    s->watch_stop = 1;
    for (ltc_call *c = s->watches; c; c = c->watch_next)
        grpc_call_cancel_with_status(c->call, GRPC_STATUS_UNAVAILABLE, "server stopping", NULL);
    pthread_cond_signal(&s->watch_cond);
    pthread_mutex_unlock(&s->watch_mu);
}

void *ltc_watch__thread(void *arg) {
    struct ltc_server *s = arg;
    ltc_db *db = NULL;
    pthread_mutex_lock(&s->watch_mu);
    while (!s->watch_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&s->watch_cond, &s->watch_mu, &until);
        if (s->watch_stop) break;
        if (!s->n_watches) {
            if (db) { /* nobody watches: no connection held */
                pthread_mutex_unlock(&s->watch_mu);
                ltc_db_destroy(db);
                db = NULL;
                pthread_mutex_lock(&s->watch_mu);
            }
            continue;
        }
        pthread_mutex_unlock(&s->watch_mu); /* the database check without the lock */
        int serving = atomic_load(&s->serving), db_ok = 1;
        if (serving && s->opt.db_dsn) {
            if (!db) db = ltc_db_create(s->opt.db_dsn, s->opt.db_schema);
            ltc_status st = {0};
            ltc_db_set_deadline(db, 2000);
            db_ok = db && ltc_db_exec_text(db, &st, "SELECT 1") == 0;
            ltc_status_clear(&st);
        }
        atomic_store(&s->ready, ltc_health_ready(serving, db_ok) ? 1 : 0);
        pthread_mutex_lock(&s->watch_mu);
        for (ltc_call *c = s->watches; c; c = c->watch_next) {
            if (c->watch_closed || c->watch_in_flight || s->watch_stop) continue;
            int now = status_for(s, c);
            if (now != c->watch_last) send_status(c, now);
        }
    }
    pthread_mutex_unlock(&s->watch_mu);
    ltc_db_destroy(db);
    return NULL;
}
