/* client.c - unary calls to a peer over one shared channel (gRPC multiplexes concurrent calls on it). */
#include "ltc/client.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "ltc/config.h"
#include "ltc/log.h"
#include "ltc/metrics.h"
#include "ltc/tls.h"

/* One channel and the calls using it. When the process's certificates are reloaded the client builds a new channel
 * for the calls that start from then on; the old one is destroyed when its last call has ended, so calls in flight
 * finish on the connection they started on. */
struct ltc_channel_ref {
    grpc_channel *channel;
    unsigned long generation; /* of the internal TLS source it was built with (0: plaintext) */
    int refs;                 /* the client's own (while current) and one for every call on it */
};

struct ltc_client {
    pthread_mutex_t mu;
    ltc_channel_ref *current;
    char *target;
    char peer_name[80]; /* "ltc-otd"; "" without a peer */
    int max_message_bytes;
};

/* How long one connection attempt may take before it counts as failed (gRPC's own default is 20 s). A peer that
 * refuses the connection fails at once whatever this is; this bounds only a peer that accepts and stays silent. */
#define CONNECT_TIMEOUT_MS 5000

static grpc_channel *build_channel(ltc_client *c, const ltc_tls *tls) {
    /* round_robin over every address the target resolves to (a headless Service's pods), so new replicas get
     * traffic; reconnect quickly after a peer restarts (the default backoff grows to two minutes). gRPC core takes
     * GRPC_ARG_MIN_RECONNECT_BACKOFF_MS as the time a connection attempt (TCP, TLS, the peer's HTTP/2 SETTINGS) may
     * take: at 100 ms a peer slow to greet (a loaded host, a sanitizer build) timed the attempt out, the channel went
     * to transient failure, and every call on it failed UNAVAILABLE at once although its deadline had seconds left. */
    grpc_arg args[7] = {
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = c->max_message_bytes}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = c->max_message_bytes}},
        {GRPC_ARG_INTEGER, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, {.integer = 100}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, {.integer = CONNECT_TIMEOUT_MS}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, {.integer = 2000}},
        {GRPC_ARG_STRING, GRPC_ARG_LB_POLICY_NAME, {.string = "round_robin"}},
        /* mTLS: the peer's certificate must name it ("ltc-otd"), whatever address reaches it */
        {GRPC_ARG_STRING, GRPC_SSL_TARGET_NAME_OVERRIDE_ARG, {.string = c->peer_name}},
    };
    grpc_channel_args cargs = {tls && c->peer_name[0] ? 7 : 6, args};
    grpc_channel_credentials *creds;
    if (tls) {
        grpc_ssl_pem_key_cert_pair pair = {tls->key_pem, tls->cert_pem};
        creds = grpc_ssl_credentials_create_ex(tls->ca_pem, &pair, NULL, NULL);
    } else {
        creds = grpc_insecure_credentials_create();
    }
    grpc_channel *ch = grpc_channel_create(c->target, creds, &cargs);
    grpc_channel_credentials_release(creds);
    return ch;
}

/* A new channel reference (refs 1) with the current internal material, or NULL. */
static ltc_channel_ref *new_ref(ltc_client *c) {
    ltc_channel_ref *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    ltc_tls_source *src = ltc_tls_internal();
    const ltc_tls *tls = src ? ltc_tls_source_acquire(src) : NULL;
    r->generation = src ? ltc_tls_source_generation(src) : 0;
    r->channel = build_channel(c, tls);
    if (src) ltc_tls_source_release(src, tls);
    if (!r->channel) {
        free(r);
        return NULL;
    }
    r->refs = 1;
    return r;
}

static void unref_locked(ltc_channel_ref *r) {
    if (--r->refs == 0) {
        grpc_channel_destroy(r->channel);
        free(r);
    }
}

ltc_client *ltc_client_create(const char *target, const char *peer, int max_message_bytes) {
    if (ltc_target_valid(target) != 0) return NULL;
    ltc_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    grpc_init();
    c->max_message_bytes = max_message_bytes > 0 ? max_message_bytes : 4 * 1024 * 1024;
    if (peer) snprintf(c->peer_name, sizeof c->peer_name, "ltc-%s", peer);
    c->target = strdup(target);
    pthread_mutex_init(&c->mu, NULL);
    if (!c->target || !(c->current = new_ref(c))) {
        pthread_mutex_destroy(&c->mu);
        free(c->target);
        free(c);
        grpc_shutdown();
        return NULL;
    }
    return c;
}

ltc_channel_ref *ltc_client__acquire(ltc_client *c) {
    if (!c) return NULL;
    ltc_tls_source *src = ltc_tls_internal();
    unsigned long g = src ? ltc_tls_source_generation(src) : 0;
    pthread_mutex_lock(&c->mu);
    if (c->current->generation != g) {
        ltc_channel_ref *fresh = new_ref(c);
        if (fresh) { /* else: keep the old channel (it still works until its certificate expires) */
            unref_locked(c->current);
            c->current = fresh;
            LTC_INFO("channel_renewed", NULL, "%s: new connections with the certificates of generation %lu", c->target,
                     fresh->generation);
        }
    }
    ltc_channel_ref *r = c->current;
    r->refs++;
    pthread_mutex_unlock(&c->mu);
    return r;
}

grpc_channel *ltc_client__channel_of(ltc_channel_ref *r) { return r ? r->channel : NULL; }

void ltc_client__release(ltc_client *c, ltc_channel_ref *r) {
    if (!c || !r) return;
    pthread_mutex_lock(&c->mu);
    unref_locked(r);
    pthread_mutex_unlock(&c->mu);
}

void ltc_client_destroy(ltc_client *c) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    unref_locked(c->current); /* calls still under way hold theirs */
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_destroy(&c->mu);
    free(c->target);
    free(c);
    grpc_shutdown();
}

static void copy_details(const grpc_metadata_array *trailing, ltc_status *st) {
    for (size_t i = 0; i < trailing->count; i++) {
        if (grpc_slice_str_cmp(trailing->metadata[i].key, "grpc-status-details-bin") != 0) continue;
        size_t n = GRPC_SLICE_LENGTH(trailing->metadata[i].value);
        uint8_t *d = malloc(n ? n : 1);
        if (!d) return;
        memcpy(d, GRPC_SLICE_START_PTR(trailing->metadata[i].value), n);
        free(st->raw_details);
        st->raw_details = d;
        st->raw_details_len = n;
        ltc_status_unpack_details(st, d, n);
        return;
    }
}

/* One call in flight: what was sent and where the answer lands. */
typedef struct one_call {
    grpc_call *call;
    grpc_metadata send_md[8];
    size_t n_send;
    grpc_byte_buffer *req_bb, *resp_bb;
    grpc_metadata_array initial, trailing;
    grpc_status_code code;
    grpc_slice details;
    int started;
    struct timespec t0; /* for grpc_client_handling_seconds */
    ltc_client *client;
    ltc_channel_ref *channel; /* held until the call is unref'd */
} one_call;

static double seconds_since(const struct timespec *t0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Starts the call (tag on cq). 0, or -1 with st set (nothing to wait for). */
static int start_one(one_call *o, ltc_client *c, ltc_call *parent, grpc_completion_queue *cq, void *tag,
                     const char *method, const uint8_t *req, size_t req_len, int deadline_ms, const ltc_metadata_kv *md,
                     size_t n_md, ltc_status *st) {
    memset(o, 0, sizeof *o);
    o->code = GRPC_STATUS_UNKNOWN;
    o->details = grpc_empty_slice();
    grpc_metadata_array_init(&o->initial);
    grpc_metadata_array_init(&o->trailing);
    gpr_timespec deadline =
        deadline_ms > 0 ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(deadline_ms, GPR_TIMESPAN))
                        : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    grpc_slice method_slice = grpc_slice_from_copied_string(method);
    o->client = c;
    o->channel = ltc_client__acquire(c);
    o->call = grpc_channel_create_call(o->channel->channel, ltc_call__grpc(parent), GRPC_PROPAGATE_DEFAULTS, cq,
                                       method_slice, NULL, deadline, NULL);
    grpc_slice_unref(method_slice);
    for (size_t i = 0; i < n_md && o->n_send < 8; i++) {
        if (!md[i].value) continue;
        o->send_md[o->n_send].key = grpc_slice_from_copied_string(md[i].key);
        o->send_md[o->n_send].value = grpc_slice_from_copied_string(md[i].value);
        o->n_send++;
    }
    grpc_slice req_slice = grpc_slice_from_copied_buffer((const char *)req, req_len);
    o->req_bb = grpc_raw_byte_buffer_create(&req_slice, 1);
    grpc_slice_unref(req_slice);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = o->n_send;
    ops[0].data.send_initial_metadata.metadata = o->send_md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = o->req_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &o->initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &o->resp_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &o->trailing;
    ops[5].data.recv_status_on_client.status = &o->code;
    ops[5].data.recv_status_on_client.status_details = &o->details;
    grpc_call_error e = o->call ? grpc_call_start_batch(o->call, ops, 6, tag, NULL) : GRPC_CALL_ERROR;
    if (e != GRPC_CALL_OK) return ltc_status_set(st, LTC_INTERNAL, "CALL_FAILED", "cannot start call (%d)", (int)e);
    o->started = 1;
    clock_gettime(CLOCK_MONOTONIC, &o->t0);
    ltc_metrics_client_started(method);
    return 0;
}

/* After its completion (ok: the event's success): the answer into resp or st, and everything released. */
static int finish_one(one_call *o, int ok, const char *method, uint8_t **resp, size_t *resp_len, ltc_status *st) {
    int rc = -1;
    if (o->started)
        ltc_metrics_client(method, !ok ? LTC_UNAVAILABLE : (ltc_code)o->code, seconds_since(&o->t0)); /* path: ours */
    if (!o->started) {
        /* st already says why */
    } else if (!ok) {
        ltc_status_set(st, LTC_UNAVAILABLE, "PEER_UNAVAILABLE", "call to %s failed", method);
    } else if (o->code != GRPC_STATUS_OK) {
        char *msg = grpc_slice_to_c_string(o->details);
        ltc_status_set(st, (ltc_code)o->code, NULL, "%s", msg);
        gpr_free(msg);
        copy_details(&o->trailing, st);
    } else if (!o->resp_bb) {
        ltc_status_set(st, LTC_INTERNAL, "EMPTY_RESPONSE", "peer returned OK without a message");
    } else {
        grpc_byte_buffer_reader rd;
        if (grpc_byte_buffer_reader_init(&rd, o->resp_bb)) {
            grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
            grpc_byte_buffer_reader_destroy(&rd);
            size_t n = GRPC_SLICE_LENGTH(all);
            *resp = malloc(n ? n : 1);
            if (*resp) {
                memcpy(*resp, GRPC_SLICE_START_PTR(all), n);
                *resp_len = n;
                rc = 0;
            } else {
                ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
            }
            grpc_slice_unref(all);
        } else {
            ltc_status_set(st, LTC_INTERNAL, "BAD_RESPONSE", "unreadable response");
        }
    }
    grpc_slice_unref(o->details);
    if (o->resp_bb) grpc_byte_buffer_destroy(o->resp_bb);
    if (o->req_bb) grpc_byte_buffer_destroy(o->req_bb);
    grpc_metadata_array_destroy(&o->initial);
    grpc_metadata_array_destroy(&o->trailing);
    for (size_t i = 0; i < o->n_send; i++) {
        grpc_slice_unref(o->send_md[i].key);
        grpc_slice_unref(o->send_md[i].value);
    }
    if (o->call) grpc_call_unref(o->call);
    ltc_client__release(o->client, o->channel);
    return rc;
}

static void drain_and_destroy(grpc_completion_queue *cq) {
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {}
    grpc_completion_queue_destroy(cq);
}

int ltc_client_call(ltc_client *c, ltc_call *parent, const char *method, const uint8_t *req, size_t req_len,
                    int deadline_ms, const ltc_metadata_kv *md, size_t n_md, uint8_t **resp, size_t *resp_len,
                    ltc_status *st) {
    *resp = NULL;
    *resp_len = 0;
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    one_call o;
    int ok = 0;
    if (start_one(&o, c, parent, cq, (void *)1, method, req, req_len, deadline_ms, md, n_md, st) == 0) {
        grpc_event ev = grpc_completion_queue_pluck(cq, (void *)1, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        ok = ev.type == GRPC_OP_COMPLETE && ev.success;
    }
    int rc = finish_one(&o, ok, method, resp, resp_len, st);
    drain_and_destroy(cq);
    return rc;
}

void ltc_client_call_many(ltc_client_request *reqs, size_t n) {
    if (n == 0) return;
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    one_call *calls = calloc(n, sizeof *calls);
    if (!calls) {
        for (size_t i = 0; i < n; i++)
            ltc_status_set(&reqs[i].st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        drain_and_destroy(cq);
        return;
    }
    for (size_t i = 0; i < n; i++) { /* all in flight at once */
        ltc_client_request *r = &reqs[i];
        r->resp = NULL;
        r->resp_len = 0;
        start_one(&calls[i], r->client, NULL, cq, (void *)(i + 1), r->method, r->req, r->req_len, r->deadline_ms, r->md,
                  r->n_md, &r->st);
    }
    for (size_t i = 0; i < n; i++) { /* then each answer (the others complete meanwhile) */
        ltc_client_request *r = &reqs[i];
        int ok = 0;
        if (calls[i].started) {
            grpc_event ev = grpc_completion_queue_pluck(cq, (void *)(i + 1), gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
            ok = ev.type == GRPC_OP_COMPLETE && ev.success;
        }
        finish_one(&calls[i], ok, r->method, &r->resp, &r->resp_len, &r->st);
    }
    free(calls);
    drain_and_destroy(cq);
}
