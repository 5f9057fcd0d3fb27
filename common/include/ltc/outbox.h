/* ltc/outbox.h - the sending half of a stage hand-off (see docs/handoffs.md).
 *
 * A handler that changes state and must tell the next stage calls ltc_outbox_put inside its (WRITE) transaction:
 * the row commits with the state change or not at all. A hand-off is typed: the sender names the receiver by an
 * ltc_handoff_peer (its peer name and generated service descriptor, declared once in the stage's handoffs.c) and the
 * method by its name; the path comes from the descriptors and the message must be the method's input type.
 * The relay, threads of the same process (one lane per destination, each with its own connection, so a receiver
 * that hangs delays only its own rows), claims due rows with FOR UPDATE SKIP LOCKED (replicas share the work),
 * calls the receiver with a deadline (at most batch_size calls in flight per destination), and marks them delivered
 * on OK. Transient failures retry with capped
 * exponential backoff and jitter; a status that retrying cannot fix parks the row with its reason. Rows of one deal
 * to one destination are delivered in order. The receiver dedups by hand-off id. */
#ifndef LTC_OUTBOX_H
#define LTC_OUTBOX_H

#include <protobuf-c/protobuf-c.h>

#include "ltc/server.h"
#include "ltc/status.h"

/* A receiver of hand-offs, declared once by the sending stage (in its handoffs.c):
 *     static const ltc_handoff_peer BTO = {"bto", &ltc__bto__v1__intake_service__descriptor};
 * `destination` is the peer name the relay knows the receiver by (ltc_relay_peer, the service's peers list);
 * `service` is the receiver's generated service descriptor, from which the method's path and input type come. */
typedef struct ltc_handoff_peer {
    const char *destination;
    const ProtobufCServiceDescriptor *service;
} ltc_handoff_peer;

/* Queues `msg` for method `method` (its name in the service: "AcceptWonBid") of `peer`'s service: the row names the
 * destination peer->destination and the path derived from the descriptors ("/ltc.bto.v1.IntakeService/AcceptWonBid").
 * `deal_id` orders hand-offs of one deal; `handoff_id` (a UUID, also set in the message's handoff_id field) is the
 * receiver's idempotency key. Must run inside the call's transaction.
 * 0, or -1 with st set: INTERNAL (reason INTERNAL, nothing queued) when the service has no such method or
 * msg is not of the method's input type (a programming error, caught before anything is written); the database's
 * status otherwise. */
int ltc_outbox_put(ltc_call *c, ltc_status *st, const ltc_handoff_peer *peer, const char *method, const char *deal_id,
                   const char *handoff_id, const ProtobufCMessage *msg);

/* Deferred puts: between ltc_outbox_defer and ltc_outbox_flush, ltc_outbox_put (and so ltc_milestone_put) of this
 * call checks and packs each hand-off but keeps it in `b` (arena memory of the call); ltc_outbox_flush writes them
 * all with one statement, in the order put (a scheduling run's thousands of promises: one INSERT instead of one per
 * row). The INSERT is sent without waiting (ltc_db_send_now): its failure is what the call's next statement or
 * COMMIT reports. Every ltc_outbox_defer must be followed by ltc_outbox_flush on every path: with st NULL it discards
 * what was kept (the transaction is failing anyway) and only ends the deferral. 0, or -1 with st set. */
typedef struct ltc_outbox_batch {
    size_t n, cap;
    const char **handoff_id, **deal_id, **destination, **path;
    int64_t *payload_len; /* per row: its payload's length in bytes */
    uint8_t *bytes;       /* the payloads, one after another */
    size_t bytes_len, bytes_cap;
} ltc_outbox_batch;
void ltc_outbox_defer(ltc_call *c, ltc_outbox_batch *b);
int ltc_outbox_flush(ltc_call *c, ltc_outbox_batch *b, ltc_status *st);

/* After the call's transaction commits, the relays of this process are woken at once when it put rows (a hook
 * ltc_outbox_put registers on the call: see ltc_call_after_commit for calls outside the server). */
/* Wakes every relay of this process now (cheap: one eventfd write per relay not already woken). */
void ltc_outbox_wake_relays(void);

/* The relay's idle poll: with nothing due it claims again after at most this long. It finds the rows that another
 * replica committed (replicas do not wake each other), including those of a replica that died between its commit and
 * waking its own relay: such a row waits at most this long (plus a claim) for a live relay. */
#define LTC_RELAY_POLL_MS 1000

typedef struct ltc_relay ltc_relay;

typedef struct ltc_relay_peer {
    const char *destination; /* "bto" */
    const char *target;      /* "127.0.0.1:50062" */
} ltc_relay_peer;

typedef struct ltc_relay_options {
    const char *service_name;
    const char *db_dsn;
    const char *db_schema;
    const ltc_relay_peer *peers;
    size_t n_peers;
    int call_deadline_ms; /* per delivery attempt */
    int max_backoff_ms;   /* cap of the exponential backoff */
    int batch_size;       /* rows claimed per transaction of a lane: the calls in flight per destination */
    int poll_ms;          /* idle poll interval; 0: LTC_RELAY_POLL_MS */
} ltc_relay_options;

/* --- the relay's steps, exposed for tests and operators' tools ------------------------------------------- */

/* Claims up to `limit` due rows inside the caller's open transaction: not delivered, not parked, due, and the oldest
 * undelivered row of their deal for their destination; locked FOR UPDATE SKIP LOCKED until the transaction ends. The result's columns:
 * seq, handoff_id, destination, method, payload (bytea, text form), attempts. Caller PQclear()s it. */
PGresult *ltc_outbox_claim(ltc_db *db, int limit, ltc_status *st);
/* The same for one destination only (a relay's lane); NULL: every destination, as ltc_outbox_claim. */
PGresult *ltc_outbox_claim_for(ltc_db *db, const char *destination, int limit, ltc_status *st);
/* Records the outcome of delivering row `seq` (in the claiming transaction). */
int ltc_outbox_mark_delivered(ltc_db *db, const char *seq, ltc_status *st);
int ltc_outbox_mark_retry(ltc_db *db, const char *seq, const char *error, long delay_ms, ltc_status *st);
int ltc_outbox_mark_parked(ltc_db *db, const char *seq, const char *error, ltc_status *st);
/* The backlog per destination with undelivered rows: destination, pending (not parked), age in seconds of the
 * oldest pending (float), parked. Caller PQclear()s it. */
PGresult *ltc_outbox_backlog(ltc_db *db, ltc_status *st);
/* Wakes the relays of this schema in every process (NOTIFY, delivered at commit): for tools and operators; the
 * runtime wakes its own relays in-process (after the commit of a call that put rows) and never calls it on a hot path. */
int ltc_outbox_notify(ltc_db *db, ltc_status *st);
/* Capped exponential backoff with jitter for the attempt that just failed (attempts before it): a value between half
 * and all of min(cap_ms, 200 ms * 2^attempts). */
long ltc_outbox_backoff_ms(int attempts, long cap_ms, unsigned int *seed);

/* Starts one lane (a thread, a database connection and a client) per peer. NULL with st set on failure. */
ltc_relay *ltc_relay_start(const ltc_relay_options *opt, ltc_status *st);
/* Stops claiming, finishes the batches in hand, joins. NULL-safe. */
void ltc_relay_stop(ltc_relay *r);

#endif
