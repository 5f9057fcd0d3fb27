/* serve.c - serving one unary call once its request is in: the method table's calls (identity, authorization,
 * dispatch) and the others (the raw handler: an answer, or the gateway's forwarding). Each ends in ltc_reply__finish
 * or, forwarded, in proxy.c; after either the context may belong to another worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ltc/assert.h"
#include "ltc/log.h"

void ltc_serve__registered(ltc_call *c, ltc_worker *w) {
    struct ltc_server *s = c->srv;
    LTC_ASSERT(c->kind == CTX_REGISTERED && c->method >= 0 && (size_t)c->method < s->n_methods);
    const ltc_method *m = &s->methods[c->method];
    c->w = w;
    snprintf(c->method_path, sizeof c->method_path, "%s", m->path);
    ltc_reply__begin(c);
    ltc_status st = {0};
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    ltc_authz__identify(c);
    if (ltc_call_ms_left(c) <= 0) {
        ltc_status_set(&st, LTC_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "deadline passed before the call was served");
    } else if (ltc_authz__authorize(c, m, &st) != 0) {
        ltc_audit__outside(c, m, NULL, &st, NULL);
    } else if (!c->payload) {
        ltc_status_set(&st, LTC_INVALID_ARGUMENT, "MISSING_MESSAGE", "the request carries no message");
    } else {
        size_t len = 0;
        uint8_t *bytes = ltc_call__read_buffer(c->payload, &len);
        if (!bytes) {
            ltc_status_set(&st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        } else {
            ltc_call_run(c, m, bytes, len, (size_t)s->opt.max_message_bytes, &resp, &resp_len, &st);
            free(bytes);
        }
    }
    ltc_reply__finish(c, &st, resp, resp_len);
}

void ltc_serve__generic(ltc_call *c, ltc_worker *w) {
    struct ltc_server *s = c->srv;
    c->w = w;
    size_t ml = GRPC_SLICE_LENGTH(c->details.method);
    if (ml >= sizeof c->method_path) ml = sizeof c->method_path - 1;
    memcpy(c->method_path, GRPC_SLICE_START_PTR(c->details.method), ml);
    c->method_path[ml] = 0;
    ltc_reply__begin(c);
    ltc_status st = {0};
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    if (!s->opt.raw_handler) {
        ltc_status_set(&st, LTC_UNIMPLEMENTED, "UNKNOWN_METHOD", "method %s is not implemented", c->method_path);
    } else if (!c->payload) {
        ltc_status_set(&st, LTC_INVALID_ARGUMENT, "MISSING_MESSAGE", "the request carries no message");
    } else {
        size_t len = 0;
        uint8_t *bytes = ltc_call__read_buffer(c->payload, &len);
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
            if (rc == LTC_RAW_FORWARD && ltc_proxy__start(c, &fwd, &st) == 0) {
                /* answered when the peer answers (ltc_proxy__done); the worker goes on with other calls. c is no
                 * longer ours: only the worker's own state is touched from here. */
                ltc_log_set_context(NULL, NULL);
                ltc_arena_reset(w->arena);
                return;
            }
        }
    }
    ltc_reply__finish(c, &st, resp, resp_len);
}
