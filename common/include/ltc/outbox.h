/* ltc/outbox.h - the sending half of a stage hand-off (see docs/handoffs.md).
 *
 * A handler that changes state and must tell the next stage calls ltc_outbox_put inside its (WRITE) transaction:
 * the row commits with the state change or not at all. The relay, a thread of the same process, claims due rows with
 * FOR UPDATE SKIP LOCKED (replicas share the work), calls the receiver with a deadline, and marks them delivered on
 * OK. Transient failures retry with capped exponential backoff and jitter; a status that retrying cannot fix
 * parks the row with its reason. Rows of one deal are delivered in order. The receiver dedups by hand-off id. */
#ifndef LTC_OUTBOX_H
#define LTC_OUTBOX_H

#include <protobuf-c/protobuf-c.h>

#include "ltc/server.h"
#include "ltc/status.h"

/* Queues `msg` for `method` ("/ltc.bto.v1.IntakeService/AcceptWonBid") at `destination` (a peer name: "bto").
 * `deal_id` orders hand-offs of one deal; `handoff_id` (a UUID, also set in the message's handoff_id field) is the
 * receiver's idempotency key. Must run inside the call's transaction. 0 or -1. */
int ltc_outbox_put(ltc_call *c, ltc_status *st, const char *destination, const char *method, const char *deal_id,
                   const char *handoff_id, const ProtobufCMessage *msg);

typedef struct ltc_relay ltc_relay;

typedef struct ltc_relay_peer {
    const char *destination;  /* "bto" */
    const char *target;       /* "127.0.0.1:50062" */
} ltc_relay_peer;

typedef struct ltc_relay_options {
    const char *service_name;
    const char *db_dsn;
    const char *db_schema;
    const ltc_relay_peer *peers;
    size_t n_peers;
    int call_deadline_ms;     /* per delivery attempt */
    int max_backoff_ms;       /* cap of the exponential backoff */
    int batch_size;           /* rows claimed per transaction */
} ltc_relay_options;

ltc_relay *ltc_relay_start(const ltc_relay_options *opt, ltc_status *st);
/* Stops claiming, finishes the batch in hand, joins. NULL-safe. */
void ltc_relay_stop(ltc_relay *r);

#endif
