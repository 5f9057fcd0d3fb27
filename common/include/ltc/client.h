/* ltc/client.h - unary gRPC calls to a peer over one reusable channel, with a deadline. Thread-safe: any number
 * of threads may call through one client at once. */
#ifndef LTC_CLIENT_H
#define LTC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "ltc/status.h"

typedef struct ltc_client ltc_client;
typedef struct ltc_call ltc_call;

/* A channel to "host:port" (or "dns:///host:port") of the process whose internal identity is `peer` ("otd").
 * With the process's internal identity loaded (ltc/tls.h) the channel is mTLS: it presents our certificate and
 * accepts only a server certificate from our CA naming "ltc-<peer>"; otherwise plaintext. NULL on a malformed
 * target. */
ltc_client *ltc_client_create(const char *target, const char *peer, int max_message_bytes);
void ltc_client_destroy(ltc_client *c); /* NULL-safe */

typedef struct ltc_metadata_kv {
    const char *key;
    const char *value;
} ltc_metadata_kv;

/* Calls `method` with the request bytes and waits at most deadline_ms (or until `parent`'s deadline, when parent is
 * an incoming call being served: its deadline and cancellation propagate). On OK returns 0 with *resp (malloc'd,
 * caller frees) and *resp_len. Otherwise -1 with st holding the peer's code, message and raw details; a peer that
 * cannot be reached gives UNAVAILABLE. */
int ltc_client_call(ltc_client *c, ltc_call *parent, const char *method, const uint8_t *req, size_t req_len,
                    int deadline_ms, const ltc_metadata_kv *md, size_t n_md, uint8_t **resp, size_t *resp_len,
                    ltc_status *st);

/* One call of a batch for ltc_client_call_many. In: client .. n_md; out: resp (malloc'd, caller frees) and
 * resp_len on OK (st.code LTC_OK), else st as ltc_client_call sets it (caller clears it). */
typedef struct ltc_client_request {
    ltc_client *client;
    const char *method;
    const uint8_t *req;
    size_t req_len;
    int deadline_ms;
    const ltc_metadata_kv *md;
    size_t n_md;
    uint8_t *resp;
    size_t resp_len;
    ltc_status st;
} ltc_client_request;

/* Makes every call at once (all in flight together, over each client's shared connection) and returns when all
 * have answered or failed: a batch costs about its slowest call, not the sum. */
void ltc_client_call_many(ltc_client_request *reqs, size_t n);

#endif
