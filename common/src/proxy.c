/* proxy.c - the gateway's asynchronous forwarding: a call the raw handler hands on (LTC_RAW_FORWARD) goes to the
 * peer as received, on the server's queue, and the peer's answer (message, or status with its details) goes back to
 * the caller as is. No thread waits for the peer. The forwarding state exists only while a call is forwarded. */
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "ltc/access.h"
#include "ltc/assert.h"
#include "ltc/metrics.h"

/* The call to the peer and what comes back. */
struct ltc_proxy {
    grpc_call *call;
    grpc_metadata md[6];
    size_t n_md;
    grpc_metadata_array initial, trailing;
    grpc_byte_buffer *resp;
    grpc_status_code status;
    grpc_slice details;
    char peer[32];
    struct timespec t0;
    const char *label; /* the method as a metrics label: a public RPC of the contract, else "unknown" */
    ltc_client *client;
    ltc_channel_ref *channel; /* held until the call is unref'd (a certificate reload does not cut it) */
};

/* Releases c's forwarding state, if any. */
static void proxy_free(ltc_call *c) {
    struct ltc_proxy *p = c->fwd;
    if (!p) return;
    c->fwd = NULL;
    if (p->call) grpc_call_unref(p->call);
    ltc_client__release(p->client, p->channel);
    for (size_t i = 0; i < p->n_md; i++) {
        grpc_slice_unref(p->md[i].key);
        grpc_slice_unref(p->md[i].value);
    }
    grpc_metadata_array_destroy(&p->initial);
    grpc_metadata_array_destroy(&p->trailing);
    if (p->resp) grpc_byte_buffer_destroy(p->resp);
    grpc_slice_unref(p->details);
    free(p);
}

/* Metadata, the request as received, half-close, and the peer's answer: one batch tagged with the context. */
int ltc_proxy__start(ltc_call *c, const ltc_forward *f, ltc_status *st) {
    LTC_ASSERT(c->fwd == NULL && c->state == ST_RECEIVING);
    struct ltc_proxy *p = calloc(1, sizeof *p);
    if (!p) return ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
    c->fwd = p;
    int64_t deadline_ms = f->deadline_ms > 0 ? f->deadline_ms : 30000;
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(deadline_ms, GPR_TIMESPAN));
    snprintf(p->peer, sizeof p->peer, "%s", f->peer_name ? f->peer_name : "peer");
    p->label = ltc_access_roles(c->method_path) != 0 ? c->method_path : "unknown";
    clock_gettime(CLOCK_MONOTONIC, &p->t0);
    p->details = grpc_empty_slice();
    grpc_metadata_array_init(&p->initial);
    grpc_metadata_array_init(&p->trailing);
    p->client = f->client;
    p->channel = ltc_client__acquire(f->client);
    p->call = grpc_channel_create_call(ltc_client__channel_of(p->channel), c->call, GRPC_PROPAGATE_DEFAULTS, c->srv->cq,
                                       c->details.method, NULL, deadline, NULL);
    if (!p->call) {
        ltc_status_set(st, LTC_INTERNAL, "FORWARD_FAILED", "cannot start the call to %s", p->peer);
        proxy_free(c);
        return -1;
    }
    for (size_t i = 0; i < f->n_md && i < sizeof p->md / sizeof p->md[0]; i++) {
        if (!f->md[i].value || !f->md[i].value[0]) continue;
        memset(&p->md[p->n_md], 0, sizeof p->md[0]);
        p->md[p->n_md].key = grpc_slice_from_copied_string(f->md[i].key);
        p->md[p->n_md].value = grpc_slice_from_copied_string(f->md[i].value);
        p->n_md++;
    }
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = p->n_md;
    ops[0].data.send_initial_metadata.metadata = p->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = c->payload;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &p->initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &p->resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &p->trailing;
    ops[5].data.recv_status_on_client.status = &p->status;
    ops[5].data.recv_status_on_client.status_details = &p->details;
    ltc_call__set_state(c, ST_FORWARDING);
    ltc_metrics_client_started(p->label);
    if (grpc_call_start_batch(p->call, ops, 6, c, NULL) != GRPC_CALL_OK) {
        ltc_metrics_client(p->label, LTC_INTERNAL, 0);
        ltc_status_set(st, LTC_INTERNAL, "FORWARD_FAILED", "cannot start the call to %s", p->peer);
        proxy_free(c);
        ltc_call__set_state(c, ST_RECEIVING);
        return -1;
    }
    return 0;
}

void ltc_proxy__done(ltc_call *c, ltc_worker *w) {
    struct ltc_proxy *p = c->fwd;
    LTC_ASSERT(p != NULL && c->state == ST_FORWARDING);
    c->w = w;
    ltc_reply__log_context(c);
    ltc_status st = {0};
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ltc_metrics_client(p->label, (ltc_code)p->status,
                       (double)(now.tv_sec - p->t0.tv_sec) + (double)(now.tv_nsec - p->t0.tv_nsec) / 1e9);
    if (p->status == GRPC_STATUS_OK) {
        if (!p->resp || !(resp = ltc_call__read_buffer(p->resp, &resp_len)))
            ltc_status_set(&st, LTC_INTERNAL, "FORWARD_FAILED", "%s answered OK without a message", p->peer);
    } else {
        st.code = (ltc_code)p->status;
        size_t n = GRPC_SLICE_LENGTH(p->details);
        if (n >= sizeof st.message) n = sizeof st.message - 1;
        memcpy(st.message, GRPC_SLICE_START_PTR(p->details), n);
        st.message[n] = 0;
        ltc_utf8_clean(st.message);
        for (size_t i = 0; i < p->trailing.count; i++) {
            if (grpc_slice_str_cmp(p->trailing.metadata[i].key, "grpc-status-details-bin") != 0) continue;
            size_t dn = GRPC_SLICE_LENGTH(p->trailing.metadata[i].value);
            uint8_t *d = malloc(dn ? dn : 1);
            if (!d) break;
            memcpy(d, GRPC_SLICE_START_PTR(p->trailing.metadata[i].value), dn);
            st.raw_details = d;
            st.raw_details_len = dn;
            ltc_status_unpack_details(&st, d, dn);
            break;
        }
        /* the transport failed, or the peer cancelled the call while stopping: say which, retryable */
        if ((st.code == LTC_UNAVAILABLE || (st.code == LTC_CANCELLED && ltc_call_ms_left(c) > 0)) && !st.raw_details)
            ltc_status_set(&st, LTC_UNAVAILABLE, "SERVICE_UNAVAILABLE", "the %s service is unavailable, retry later",
                           p->peer);
    }
    proxy_free(c);
    ltc_reply__finish(c, &st, resp, resp_len);
}
