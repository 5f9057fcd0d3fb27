/* internal.h (private to common/src) - what the runtime's modules share with each other and with nothing else: the
 * call context, the worker, the server's state, and the functions one module of common/src calls in another. Names
 * are ltc_<module>__<verb> (module = the file: ltc_call__end lives in call.c); the public API keeps ltc_<name>.
 *
 * Modules and who calls whom (an arrow: "calls into"; there is no circle):
 *
 *   server     start/stop, workers, the event loop and the call state machine
 *     -> serve, proxy, reflection_stream, health, health_watch, call
 *   serve      one unary call: request id, trace, identity, authorization, dispatch, the answer
 *     -> dispatch, authz, audit, proxy, reply, call
 *   proxy      the gateway's asynchronous forwarding of a call to a peer     -> reply, client, call
 *   reflection_stream   the grpc.reflection bidirectional stream             -> reflection, call
 *   dispatch   a method on a decoded request: transaction, retries, idempotency, ownership, audit; ltc_call_run
 *     -> authz, idempotency, audit, fields, call
 *   reply      the answer of a unary call: log line, metrics, reply batch    -> call
 *   authz, idempotency, audit   who may call, keys and fingerprints, the audit trail       -> fields, call
 *     (audit -> audit_spool: the rows the database did not take, durably in a local file; -> fields, db)
 *   health     grpc.health.v1 Check: readiness and liveness                   -> call, db, metrics
 *   health_watch   grpc.health.v1 Watch streams and their watcher thread     -> health, call, db, metrics
 *   fields     request fields by name, packing without unknown fields        (leaf)
 *   client     calls to peers                                                -> call
 *   outbox     hand-offs: registers a transaction hook on the call           -> call, client
 *   admin      HandoffAdminService (RetryHandoff wakes the relays after its commit)   -> outbox, call
 *   call       the call context, its worker, the handler API, transaction hooks   -> arena, db, metrics
 *
 * The server knows nothing of the outbox: the transaction runner (dispatch) runs the hooks that handlers registered
 * on the call (ltc_call__on_commit) after the commit or the rollback.
 *
 * Ownership (see server.c): a call context is owned by whichever worker took its tag from the completion queue;
 * after grpc_call_start_batch returns, it is no longer ours to touch. */
#ifndef LTC_INTERNAL_H
#define LTC_INTERNAL_H

#include <grpc/grpc.h>
#include <grpc/support/time.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <protobuf-c/protobuf-c.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ltc/ids.h"
#include "ltc/server.h"
#include "ltc/status.h"

struct ltc_reflection;
struct ltc_proxy;

/* ---- the call context (call.c) ---- */

enum ctx_kind {
    CTX_REGISTERED,
    CTX_GENERIC,
    CTX_REFLECTION,
    CTX_WATCH /* grpc.health.v1.Health/Watch (health_watch.c) */
};
/* REQUESTED (posted to gRPC, waiting for a call) -> [RECEIVING (generic calls read their message with a second
 * batch) -> [FORWARDING (the gateway's call to a peer in flight)]] -> SENDING (reply batch in flight) -> freed.
 * Reflection streams: REQUESTED -> STREAM_RECV <-> STREAM_SEND -> SENDING. ltc_call__set_state checks each step. */
enum ctx_state {
    ST_REQUESTED,
    ST_RECEIVING,
    ST_FORWARDING,
    ST_SENDING,
    ST_STREAM_RECV,
    ST_STREAM_SEND,
    ST_WATCHING /* a Health/Watch stream: health_watch.c sends and ends it */
};
/* What a Health/Watch stream watches. */
enum watch_service {
    WATCH_READINESS,
    WATCH_LIVENESS,
    WATCH_UNKNOWN
};

/* Run after the transaction a handler ran in ends: after_commit when it committed, after_rollback when it did not
 * (either may be NULL). Both run on the worker's thread, outside the transaction, and must not fail. */
typedef void (*ltc_txn_hook_fn)(void *arg);
typedef struct ltc_txn_hook {
    ltc_txn_hook_fn after_commit;
    ltc_txn_hook_fn after_rollback;
    void *arg;
} ltc_txn_hook;
#define LTC_TXN_HOOKS_MAX 8

/* A worker thread's resources (one transaction at a time): its connection, scratch arena, the results its calls'
 * queries return (cleared when the call ends) and the hooks of the open transaction. Detached calls own one. */
typedef struct ltc_worker {
    ltc_db *db;
    ltc_arena *arena;
    PGresult **results;
    size_t n_results, cap_results;
    ltc_txn_hook hooks[LTC_TXN_HOOKS_MAX];
    size_t n_hooks;
} ltc_worker;

struct ltc_call {
    struct ltc_server *srv; /* NULL for a detached call */
    enum ctx_kind kind;
    enum ctx_state state;
    int method; /* index into srv->methods (registered) */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_byte_buffer *payload; /* request */
    grpc_call_details details; /* generic calls */
    /* reply */
    grpc_byte_buffer *reply;
    grpc_metadata initial_md[1];
    grpc_metadata trailing_md[1];
    size_t n_trailing;
    grpc_slice status_msg;
    int has_status_msg;
    int cancelled;
    int sent_initial; /* streams: initial metadata went out with the first message */
    /* while being handled */
    ltc_worker *w;
    char request_id[LTC_UUID_LEN + 1 + 32];
    char server_request_id[LTC_UUID_LEN + 1]; /* this process's own id of the call (the audit row records both) */
    char traceparent[56];                     /* "00-" trace id (32) "-" span id (16) "-" flags (2) */
    char method_path[160];
    struct timespec started;
    /* who: set by ltc_authz__identify and ltc_authz__authorize before the handler runs */
    char peer[65];       /* internal identity (the certificate's URI SAN spiffe://ltc/<name>), "" in plaintext */
    char principal[129]; /* the user or service account, from the gateway; "" for hand-offs */
    /* the user whose call caused this work, in a verifiable form: the gateway's assertion of a public call, or the
     * x-ltc-acting of a hand-off (verified); NULL when none (plaintext, jobs). Written into the outbox rows the call
     * puts, so the hand-offs it causes carry it on. */
    const char *acting;
    char acting_principal[129]; /* a hand-off's: the assertion's subject and roles (audit only, grants nothing) */
    unsigned acting_roles;
    char remote[72]; /* the client's host ("ipv4:127.0.0.1"), found on first ask; "" until then */
    unsigned roles;
    int deal_scoped;    /* principal sees only deals whose iron triangle names it */
    int owners_checked; /* a by_handler READ: 0 not yet, 1 the caller is an owner, -1 refused (ltc_call_check_owners) */
    struct ltc_outbox_batch *outbox_batch; /* ltc_outbox_defer: hand-offs kept until ltc_outbox_flush */
    /* forwarding (raw handler returned LTC_RAW_FORWARD): owned by proxy.c, NULL otherwise */
    struct ltc_proxy *fwd;
    /* Health/Watch streams (health_watch.c; under the server's watch_mu) */
    struct ltc_call *watch_next;
    enum watch_service watch_service;
    int watch_last; /* the status last sent, -1 before the first */
    int watch_in_flight, watch_closed;
};

/* ---- the server (server.c writes it; the call modules read its settings and count through ltc_call__*) ---- */

struct ltc_server {
    ltc_server_options opt;
    char domain[64]; /* error domain of the status details: "ltb.ltc" */
    grpc_server *server;
    grpc_completion_queue *cq;
    void **handles;        /* registered method handles, by index (last: health) */
    void *refl_handles[2]; /* grpc.reflection.v1 and v1alpha ServerReflectionInfo (bidi streams) */
    struct ltc_reflection *reflection;
    ltc_method *methods; /* the service's methods plus grpc.health.v1 Check */
    size_t n_methods;
    pthread_t *threads;
    int n_threads;
    ltc_db **worker_dbs; /* each worker's connection, for cancelling statements at shutdown */
    pthread_mutex_t workers_mu;
    atomic_int serving;
    atomic_int shutting_down;
    atomic_int ctx_alive; /* contexts allocated and not yet freed */
    atomic_int busy;      /* calls received and not yet answered */
    atomic_int shutdown_done;
    int shutdown_tag;
    /* Health/Watch (health_watch.c) */
    void *watch_handle;
    pthread_t watch_thread;
    pthread_mutex_t watch_mu;
    pthread_cond_t watch_cond;
    struct ltc_call *watches; /* open streams */
    int n_watches, watch_stop;
    atomic_int ready; /* readiness as the watcher last evaluated it */
    /* TLS: the generation of opt.tls the server's handshakes use (the certificate config fetcher, server.c) */
    atomic_ulong tls_generation;
};

/* ---- call.c ---- */

/* A new context of `kind` for the server (counted in ctx_alive), state REQUESTED. Aborts on out-of-memory. */
ltc_call *ltc_call__new(struct ltc_server *s, enum ctx_kind kind, int method);
/* Frees a context that was never received (a returned request): everything it holds, ctx_alive down. NULL-safe. */
void ltc_call__free(ltc_call *c);
/* The one teardown of a received call that is over (answered, failed to start a batch, or gone): the busy count
 * and gauge down, then ltc_call__free. NULL-safe. */
void ltc_call__end(ltc_call *c);
/* Moves c to `to`; LTC_ASSERT-checks that the step is one of the life cycle's (internal.h, enum ctx_state). */
void ltc_call__set_state(ltc_call *c, enum ctx_state to);
/* The gRPC call behind a context (NULL for a detached one), to propagate deadline and cancellation. */
grpc_call *ltc_call__grpc(const ltc_call *c);
/* Releases the results of the call's queries (ltc_call_query), keeping the worker's array. NULL-safe. */
void ltc_call__clear_results(ltc_worker *w);
/* Registers `hook` for the end of the open transaction of c's worker; the same (functions, arg) once only. 0, or -1
 * with st set (INTERNAL TOO_MANY_TXN_HOOKS) when LTC_TXN_HOOKS_MAX distinct hooks are registered. */
int ltc_call__on_commit(ltc_call *c, const ltc_txn_hook *hook, ltc_status *st);
/* Runs then forgets the hooks of the transaction that ended: after_commit ones when committed, else after_rollback. */
void ltc_call__txn_ended(ltc_worker *w, int committed);
/* Reads a whole byte buffer into malloc'd memory (*len set). NULL when unreadable or out of memory. */
uint8_t *ltc_call__read_buffer(grpc_byte_buffer *bb, size_t *len);
/* For unit tests: sets who is calling a (detached) call, as identify and authorize would. Strings are copied
 * (truncated to the fields' sizes); NULL means "". */
void ltc_call__set_identity(ltc_call *c, const char *peer, const char *principal, unsigned roles, int deal_scoped);
/* For unit tests: adds caller metadata to a (detached) call (key and value copied). */
void ltc_call__add_metadata(ltc_call *c, const char *key, const char *value);

/* ---- fields.c ---- */

/* The string at a dotted field path of a message ("quote.deal"), or NULL (no such singular string field). */
const char *ltc_fields__string(const ProtobufCMessage *m, const char *path);
/* The message packed (malloc'd, *len set), or NULL on out-of-memory. */
uint8_t *ltc_fields__pack(const ProtobufCMessage *m, size_t *len);
/* The message packed without unknown fields at any depth (which proto3 ignores); scratch from c's arena. The
 * message is left as it was. NULL on out-of-memory. */
uint8_t *ltc_fields__pack_known(ltc_call *c, const ProtobufCMessage *m, size_t *len);

/* ---- authz.c ---- */

/* The caller's internal identity: the Common Name of its verified client certificate (mTLS servers only); resets
 * principal, roles and scope. */
void ltc_authz__identify(ltc_call *c);
/* Whether c may call m (internal identity against m->callers, forwarded principal and roles against the permission
 * table); sets principal, roles and scope. 0, or -1 with st set (PERMISSION_DENIED, UNAUTHENTICATED). */
int ltc_authz__authorize(ltc_call *c, const ltc_method *m, ltc_status *st);
/* OWASP API1: a deal-scoped caller acts on the record req names only when in its deal's iron triangle (m->owner's
 * query, through ltc_call_query). 0, or -1 with st set (PERMISSION_DENIED NOT_IN_IRON_TRIANGLE, database errors). */
int ltc_authz__check_owner(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, ltc_status *st);

/* ---- idempotency.c ---- */

/* The request's idempotency key (m->idempotency_field) into *key (NULL: none), validated. 0, or -1 with st set
 * (INVALID_ARGUMENT on that field: required for hand-offs, a UUID for hand-offs, at most 128 characters). */
int ltc_idempotency__key(const ltc_method *m, const ProtobufCMessage *req, const char **key, ltc_status *st);
/* SHA-256 of the request packed without unknown fields, so a retry from a newer client is the same request. 0, or
 * -1 with st set (INTERNAL DIGEST_FAILED). */
int ltc_idempotency__fingerprint(ltc_call *c, const ProtobufCMessage *req, uint8_t fp[32], ltc_status *st);
/* Claims (method, key) inside the open transaction. 1 when new (run the handler), 0 when a repeat of a stored request
 * (*stored set, malloc'd, caller frees; NULL on out-of-memory), -1 with st set (ALREADY_EXISTS on another request
 * with the key, ABORTED CONCURRENT_UPDATE, database errors). */
int ltc_idempotency__claim(ltc_call *c, const ltc_method *m, const char *key, const uint8_t fp[32], uint8_t **stored,
                           size_t *stored_len, ltc_status *st);
/* Stores the response of the claimed key in the open transaction. 0, or -1 with st set. */
int ltc_idempotency__store(ltc_call *c, const ltc_method *m, const char *key, const uint8_t *resp, size_t len,
                           ltc_status *st);

/* ---- audit.c ---- */

/* Empties what the handler recorded it changed (ltc/audit.h): at the start of every transaction attempt. */
void ltc_audit__reset(const ltc_call *c);
/* One row of the audit trail for a state-changing call, on the call's connection (inside its transaction when
 * open), with the targets and changes the handler recorded when the outcome is OK. `reason` NULL: outcome's. 0, or
 * -1 with st set. */
int ltc_audit__write(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, const ltc_status *outcome,
                     const char *reason, ltc_status *st);
/* The audit row of a WRITE call that changed nothing (refused, failed, or a replay): best effort, on its own; a
 * failure is logged. Nothing for READ methods or without a database. */
void ltc_audit__outside(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, const ltc_status *outcome,
                        const char *reason);

/* ---- audit_spool.c ---- */

/* The audit row of ltc_audit__outside that the database did not take, appended to the durable spool
 * (ltc/audit_spool.h) instead. 0, or -1 when no spool runs or it cannot be written. */
int ltc_audit_spool__call(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, const ltc_status *outcome,
                          const char *reason);

/* ---- dispatch.c ---- */

/* Runs a table method on a decoded request: ownership, transaction with retries, idempotency, handler, audit, the
 * after-commit/rollback hooks. 0 with the packed response in *out (malloc'd), or -1 with st set. */
int ltc_dispatch__run(ltc_call *c, const ltc_method *m, const ProtobufCMessage *req, uint8_t **out, size_t *out_len,
                      ltc_status *st);

/* ---- reply.c ---- */

/* Sets the call's request id (x-request-id when printable, else a new UUID) and trace context (the caller's valid
 * traceparent, a new span either way), and makes them the thread's log context. */
void ltc_reply__begin(ltc_call *c);
/* Makes c's request id and trace id the thread's log context again (a forwarded call's answer). */
void ltc_reply__log_context(const ltc_call *c);
/* Logs the call, records its metrics and starts the reply batch (state SENDING); frees resp, clears st and resets
 * the worker's arena. After it returns the context is no longer ours (a failed batch ends it: ltc_call__end). */
void ltc_reply__finish(ltc_call *c, ltc_status *st, uint8_t *resp, size_t resp_len);

/* ---- serve.c ---- */

/* Serves a registered call whose request is in c->payload, and answers it. */
void ltc_serve__registered(ltc_call *c, ltc_worker *w);
/* Serves a generic (unregistered) call whose message has been received into c->payload: answered, or forwarded
 * (answered when the peer answers). */
void ltc_serve__generic(ltc_call *c, ltc_worker *w);

/* ---- proxy.c ---- */

/* Starts forwarding c's request to f's peer on the server's queue (state FORWARDING; the state is allocated here and
 * owned by c until the answer). 0, or -1 with st set (INTERNAL FORWARD_FAILED) and c still ours in state RECEIVING. */
int ltc_proxy__start(ltc_call *c, const ltc_forward *f, ltc_status *st);
/* The peer answered (or the call failed): the same answer to our caller; the forwarding state is freed. */
void ltc_proxy__done(ltc_call *c, ltc_worker *w);

/* ---- reflection_stream.c ---- */

/* A reflection stream was received: reads its first request. */
void ltc_reflection__stream_start(ltc_call *c);
/* A batch of the stream completed (state STREAM_RECV or STREAM_SEND): answers, reads on, or ends the stream. */
void ltc_reflection__stream_event(ltc_call *c, int ok);

/* ---- health.c ---- */

/* The grpc.health.v1.Health/Check row the server appends to its method table (answers from srv->serving and
 * srv->opt.health_services). */
ltc_method ltc_health__method(void);
/* Why a process is not ready (NULL: ready): not serving, its database unreachable, or its hand-off backlog at or over
 * max (max 0: no limit). Pure. */
const char *ltc_health_not_ready_reason(int serving, int db_ok, long backlog, long max);
/* Readiness with this process's hand-off backlog and threshold (LTC_READY_MAX_HANDOFF_BACKLOG). */
int ltc_health_ready(int serving, int db_ok);

/* ---- health_watch.c ---- */

/* A Watch call arrived (its request in c->payload): the first status goes out, the stream is watched. */
void ltc_watch__start(ltc_call *c);
/* A batch of a watched stream completed: its send (is_close 0) or its RECV_CLOSE_ON_SERVER (is_close 1). */
void ltc_watch__event(ltc_call *c, int ok, int is_close);
/* Whether a completion queue tag is a stream's close batch (the context's address + 1). */
int ltc_watch__is_close_tag(void *tag);
/* Server stopping: every stream cancelled with UNAVAILABLE, the watcher told to end. */
void ltc_watch__stop_all(struct ltc_server *s);
/* The watcher thread (arg: the server). */
void *ltc_watch__thread(void *arg);

/* ---- client.c ---- */

/* The channel behind a client, for the proxy's asynchronous calls. */
/* The client's current channel, held for one call (a reload of the certificates meanwhile makes a new one for later
 * calls and destroys this one when its last call is released). */
typedef struct ltc_channel_ref ltc_channel_ref;
ltc_channel_ref *ltc_client__acquire(ltc_client *c);
grpc_channel *ltc_client__channel_of(ltc_channel_ref *r);
void ltc_client__release(ltc_client *c, ltc_channel_ref *r);

/* ---- outbox.c ---- */

/* Wakes this process's relays after the open transaction of c commits (nothing on rollback): for a WRITE handler
 * that made rows due without ltc_outbox_put (RetryHandoff). 0, or -1 with st set. */
int ltc_outbox__wake_after_commit(ltc_call *c, ltc_status *st);

#endif
