/* reply.c - the two ends of serving a unary call: its request id and trace context when it starts, and when it is
 * done the log line, the metrics and the reply batch (initial metadata with x-request-id, the message or the status
 * with its details, close). */
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ltc/access.h"
#include "ltc/log.h"
#include "ltc/metrics.h"

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

void ltc_reply__log_context(const ltc_call *c) {
    char trace[33];
    memcpy(trace, c->traceparent + 3, 32);
    trace[32] = 0;
    ltc_log_set_context(c->request_id, trace);
    char span[17];
    memcpy(span, c->traceparent + 36, 16);
    span[16] = 0;
    ltc_log_set_span(span);
}

void ltc_reply__begin(ltc_call *c) {
    ltc_metrics_rpc_started(c->kind != CTX_GENERIC || ltc_access_roles(c->method_path) != 0 ? c->method_path
                                                                                            : "unknown");
    set_request_id(c);
    ltc_uuid_new(c->server_request_id);
    set_traceparent(c);
    ltc_reply__log_context(c);
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
    ltc_call__set_state(c, ST_SENDING);
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, c, NULL);
    if (e != GRPC_CALL_OK) {
        LTC_ERROR("send_failed", c->request_id, "grpc_call_error %d", (int)e);
        ltc_call__end(c);
    }
}

/* One log line and the metrics of a finished call. A path is a metrics label only when it names a method this
 * server registered or a public RPC of the contract (the permission table); anything else a caller sent, refused
 * for whatever reason (no token, unknown method), shares the one label "unknown": a stranger can neither forge a
 * series nor fill the per-method slots (bounded cardinality). */
static void log_call(ltc_call *c, const ltc_status *st) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double ms = (double)(now.tv_sec - c->started.tv_sec) * 1e3 + (double)(now.tv_nsec - c->started.tv_nsec) / 1e6;
    int known = c->kind != CTX_GENERIC || ltc_access_roles(c->method_path) != 0;
    ltc_metrics_rpc(known ? c->method_path : "unknown", st->code, ms / 1e3);
    ltc_log_level lvl = ltc_log_level_for_code(st->code);
    if (!ltc_log_enabled(lvl)) return;
    /* method: what the caller asked for, as JSON (escaped); the metrics label above is the bounded one */
    ltc_log_field f[] = {
        {.key = "method", .str = c->method_path},
        {.key = "code", .str = ltc_code_name(st->code)},
        {.key = "reason", .str = st->code == LTC_OK ? "" : st->reason},
        {.key = "duration_ms", .num = (double)(long long)(ms * 1000.0) / 1000.0},
        {.key = "principal", .str = c->principal},
        {.key = "peer", .str = c->peer}, /* internal identity (URI SAN spiffe://ltc/<name>) */
        {.key = "remote", .str = c->call ? ltc_call_remote(c) : ""}, /* the client's address */
    };
    ltc_log_fields(lvl, "rpc", c->request_id, f, sizeof f / sizeof f[0], "%s %s", c->method_path,
                   ltc_code_name(st->code));
}

void ltc_reply__finish(ltc_call *c, ltc_status *st, uint8_t *resp, size_t resp_len) {
    ltc_arena *arena = c->w->arena; /* c may be gone once the batch is started */
    log_call(c, st);
    ltc_log_set_context(NULL, NULL);
    send_reply(c, resp, resp_len, st);
    free(resp);
    ltc_status_clear(st);
    ltc_arena_reset(arena);
}
