/* reflection_stream.c - grpc.reflection's ServerReflectionInfo as a bidirectional stream: one answer
 * (reflection.c) per request, until the client half-closes. Every batch is tagged with the context; after
 * grpc_call_start_batch returns, the context is no longer ours. */
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "reflection.h"

/* Reads the next request (state STREAM_RECV). */
static void stream_recv(ltc_call *c) {
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->payload;
    ltc_call__set_state(c, ST_STREAM_RECV);
    if (grpc_call_start_batch(c->call, &op, 1, c, NULL) != GRPC_CALL_OK) ltc_call__end(c);
}

/* Ends the stream with `st` (OK when the client half-closed): state SENDING. */
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
    ltc_call__set_state(c, ST_SENDING);
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK) ltc_call__end(c);
}

/* A request arrived (or the client half-closed, or went away): its answer (state STREAM_SEND), or the end. */
static void stream_on_message(ltc_call *c, int ok) {
    ltc_status st = {0};
    if (!ok || !c->payload) { /* half-closed by the client (or gone) */
        stream_finish(c, &st);
        return;
    }
    size_t len = 0, out_len = 0;
    uint8_t *bytes = ltc_call__read_buffer(c->payload, &len);
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
    ltc_call__set_state(c, ST_STREAM_SEND);
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK) ltc_call__end(c);
}

void ltc_reflection__stream_start(ltc_call *c) { stream_recv(c); }

void ltc_reflection__stream_event(ltc_call *c, int ok) {
    if (c->state == ST_STREAM_RECV) {
        stream_on_message(c, ok);
        return;
    }
    /* STREAM_SEND: the answer went out (or the stream broke) */
    grpc_byte_buffer_destroy(c->reply);
    c->reply = NULL;
    if (!ok) {
        ltc_call__end(c);
    } else {
        stream_recv(c);
    }
}
