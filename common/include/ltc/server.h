/* ltc/server.h - unary gRPC services on gRPC core: a method table, worker threads with a database connection each,
 * one handler signature, transactions and idempotency done for the handler, health, graceful shutdown.
 *
 * A handler gets the decoded request and returns 0 with *resp set (built in the call's arena), or -1 with st set.
 *
 *   static int create_lead(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
 *       const Ltc__Ltb__V1__CreateLeadRequest *req = (const void *)m;
 *       ...validate: return ltc_status_bad_field(st, "lead.company_name", "required");
 *       PGresult *r = ltc_call_query(c, st, SQL_INSERT_LEAD, 3, params);  if (!r) return -1;
 *       Ltc__Ltb__V1__CreateLeadResponse *resp = LTC_NEW(c, Ltc__Ltb__V1__CreateLeadResponse,
 *                                                         LTC__LTB__V1__CREATE_LEAD_RESPONSE__INIT);
 *       ...
 *       *out = &resp->base;
 *       return 0;
 *   }
 *
 * Methods flagged LTC_METHOD_WRITE run inside one transaction that the server opens before and commits after the
 * handler (rolls back when it returns -1), retried up to 3 times on serialization failure or deadlock. When the
 * method names an idempotency field ("request_id", "handoff_id"), the server records (method, key, fingerprint of
 * the request, response) in the same transaction: a repeat with the same key and request returns the first
 * response without running the handler; the same key with another request fails with ALREADY_EXISTS
 * (reason IDEMPOTENCY_KEY_REUSED, or HANDOFF_PAYLOAD_MISMATCH for hand-offs). */
#ifndef LTC_SERVER_H
#define LTC_SERVER_H

#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "ltc/arena.h"
#include "ltc/client.h"
#include "ltc/db.h"
#include "ltc/status.h"

typedef struct ltc_call ltc_call;

typedef int (*ltc_unary_handler)(ltc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp, ltc_status *st);

enum {
    LTC_METHOD_READ = 0,               /* no transaction */
    LTC_METHOD_WRITE = 1u << 0,        /* handler runs in a transaction */
    LTC_METHOD_KEY_REQUIRED = 1u << 1, /* the idempotency field must be set (hand-offs) */
};

/* How to find the iron triangle of the deal record a request names, for ownership checks (docs/security.md). */
typedef struct ltc_owner_lookup {
    const char *field; /* request field with the record's resource name ("name", "quote.deal"): its last segment */
    const char *sql;   /* $1 = that id (a UUID) -> one row: account_owner, solution_owner, fulfilment_owner */
    /* READ methods only. 1: the handler reads the record's owners with the record and checks them itself
     * (ltc_call_check_owners), so the lookup's statement is not run before it; if the handler returns without
     * having checked, the runtime runs the lookup after it and discards the response when the caller is not an
     * owner. The outcome is the same either way (a record not found is NOT_FOUND, before any ownership check). */
    int by_handler;
} ltc_owner_lookup;

/* A method the server serves. A method table (a stage's services/<stage>/service.c) names each RPC by its generated
 * protoc-c service descriptor and the method's name, with the LTC_READ/LTC_WRITE/LTC_HANDOFF rows below; path,
 * request and response are then left empty in the table and filled in at start by ltc_methods_resolve
 * (ltc/methods.h), which refuses a table that does not cover its services exactly. The server itself only reads
 * path, request and response (a row given to ltc_server_start directly may fill them by hand and name no service). */
typedef struct ltc_method {
    const char *path; /* "/ltc.ltb.v1.LeadToBidService/CreateLead" */
    const ProtobufCMessageDescriptor *request;
    const ProtobufCMessageDescriptor *response;
    ltc_unary_handler handler;
    unsigned flags;
    const char *idempotency_field; /* string field of the request, or NULL */
    /* Internal identities (mTLS certificate Common Names) allowed to call: "bto", "ops", "dtc,ltb". NULL: "gateway"
     * (a public method, with the caller's principal and roles checked against ltc/access.h's table). */
    const char *callers;
    /* NULL: the method names no deal record (or only through a parent checked by the handler). */
    const ltc_owner_lookup *owner;
    const ProtobufCServiceDescriptor *service; /* the generated service descriptor the RPC belongs to */
    const char *rpc;                           /* the RPC's name in it: "CreateLead" */
} ltc_method;

/* Rows of a method table: the generated service descriptor (ltc__ltb__v1__lead_to_bid_service__descriptor), the
 * RPC's name as in the proto (CreateLead), the handler, and the ownership lookup (NULL: none) or, for hand-offs, the
 * one internal identity allowed to send them. Path and message descriptors come from the service descriptor. */
#define LTC_READ(svc, Rpc, fn, owner_)                                                                                 \
    { .handler = (fn), .flags = LTC_METHOD_READ, .owner = (owner_), .service = &(svc), .rpc = #Rpc }
#define LTC_WRITE(svc, Rpc, fn, owner_)                                                                                \
    {                                                                                                                  \
        .handler = (fn), .flags = LTC_METHOD_WRITE, .idempotency_field = "request_id", .owner = (owner_),              \
        .service = &(svc), .rpc = #Rpc                                                                                 \
    }
#define LTC_HANDOFF(svc, Rpc, fn, sender)                                                                              \
    {                                                                                                                  \
        .handler = (fn), .flags = LTC_METHOD_WRITE | LTC_METHOD_KEY_REQUIRED, .idempotency_field = "handoff_id",       \
        .callers = (sender), .service = &(svc), .rpc = #Rpc                                                            \
    }

/* --- inside a handler ------------------------------------------------------------------------------------ */

/* For a READ method whose ownership lookup is by_handler: the caller against the iron triangle of the record the
 * handler has just read (its account, solution and fulfilment owners; `name` its resource name, for the message).
 * 0, or -1 with PERMISSION_DENIED NOT_IN_IRON_TRIANGLE (the handler then returns -1). Callers who see every deal
 * pass. Call it before reading anything else of the record. */
int ltc_call_check_owners(ltc_call *c, const char *account_owner, const char *solution_owner,
                          const char *fulfilment_owner, const char *name, ltc_status *st);

/* The worker's database handle (search_path = the service's schema). Inside a transaction for WRITE methods. */
ltc_db *ltc_call_db(ltc_call *c);
/* Like ltc_db_query on the call's db; the result is cleared automatically when the call ends. */
PGresult *ltc_call_query(ltc_call *c, ltc_status *st, const char *sql, int nparams, const char *const *params);
/* A statement parameter as libpq takes it: text (format 0; value NULL is SQL NULL) or PostgreSQL's binary format
 * (format 1, len bytes: ltc/sqltext.h's binary arrays). A binary parameter whose value is NULL is one that could
 * not be built: the statement is not run and the call fails with INTERNAL. */
typedef struct ltc_sql_param {
    const char *value;
    int len;
    int format;
} ltc_sql_param;
/* ltc_call_query and ltc_call_send with such parameters. */
PGresult *ltc_call_query_params(ltc_call *c, ltc_status *st, const char *sql, int nparams, const ltc_sql_param *p);
int ltc_call_send_params(ltc_call *c, ltc_status *st, const char *sql, int nparams, const ltc_sql_param *p);
/* Inside a WRITE method: sends a statement whose only result is its success and goes on without waiting
 * (ltc_db_send_now): the server runs it while the handler builds what comes next; its failure is what the next
 * statement or the COMMIT reports. 0, or -1 with st set. */
int ltc_call_send(ltc_call *c, ltc_status *st, const char *sql, int nparams, const char *const *params);
/* Scratch memory freed when the call ends. */
ltc_arena *ltc_call_arena(ltc_call *c);
void *ltc_call_alloc(ltc_call *c, size_t n);
char *ltc_call_strdup(ltc_call *c, const char *s);
char *ltc_call_printf(ltc_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies a protobuf-c message struct initialised with its INIT macro into the arena. */
void *ltc_call_new_msg(ltc_call *c, size_t size, const void *init);
#define LTC_NEW(call, Type, INIT) ((Type *)ltc_call_new_msg((call), sizeof(Type), &(Type)INIT))
/* The request id: from the `x-request-id` metadata, else generated. Never NULL. */
const char *ltc_call_request_id(const ltc_call *c);
/* The id this process gave the call itself (a fresh UUID per call, whatever the client sent); "" outside a call. */
const char *ltc_call_server_request_id(const ltc_call *c);
/* The W3C trace context of the call: the caller's valid `traceparent` header, else a new one made at the first
 * hop (the gateway). Always a valid "00-<32 hex>-<16 hex>-<2 hex>" string. */
const char *ltc_call_traceparent(const ltc_call *c);
/* Who is calling. principal: the authenticated user or service account (the token's subject, forwarded by the
 * gateway), or "" for a hand-off from another service; roles: its ltc/access.h role bits; peer: the internal
 * identity of the calling process ("gateway", "bto"; "" in plaintext). */
const char *ltc_call_principal(const ltc_call *c);
unsigned ltc_call_roles(const ltc_call *c);
const char *ltc_call_peer(const ltc_call *c);
/* For a raw handler that authenticates its callers itself (the gateway): records who is calling, for the call's log
 * line ("principal"). Copied (truncated to 128 bytes); NULL means "". */
void ltc_call_set_principal(ltc_call *c, const char *principal);
/* The client's network host as gRPC core reports it, without the port ("ipv4:10.0.0.7", "ipv6:[::1]",
 * "unix:/run/x.sock"; "unknown" for a detached call), for limits on callers that have no identity yet. */
const char *ltc_call_remote(ltc_call *c);
/* For list methods over deal records: the principal whose iron triangle limits what the caller sees, or NULL when
 * the caller sees every deal (finance, manager, admin, auditor, hand-offs, plaintext development). */
const char *ltc_call_deal_scope(const ltc_call *c);
/* The serving process's service name ("ltb"); NULL for a detached call. */
const char *ltc_call_service_name(const ltc_call *c);
/* The largest message the process sends or receives (LTC_MAX_MESSAGE_BYTES; 4 MiB for a detached call): a handler
 * whose response grows with the data can stop building it past this size instead of failing at the send. */
size_t ltc_call_max_message_bytes(const ltc_call *c);
/* The method path being served. */
const char *ltc_call_method(const ltc_call *c);
/* Milliseconds left before the caller's deadline (INT64_MAX when it set none). */
int64_t ltc_call_ms_left(const ltc_call *c);
/* A metadata value sent by the caller (first occurrence), or NULL. Valid for the call's life. */
const char *ltc_call_metadata(ltc_call *c, const char *key);

/* --- calls outside gRPC, for tests and fuzz targets --------------------------------------------------------- */

/* A call context with no gRPC call behind it. Its database is `db` (not owned; NULL: every query fails with
 * UNAVAILABLE, so a handler's validation runs and its first query fails cleanly). */
ltc_call *ltc_call_create_detached(ltc_db *db);
void ltc_call_destroy_detached(ltc_call *c); /* NULL-safe */
/* For a detached call whose caller runs the transaction itself (ltc_db_begin/commit/rollback on its db): runs, then
 * forgets, what the call's handlers asked to happen after that transaction committed (ltc_outbox_put: wake this
 * process's relays) or rolled back. ltc_call_run and the server do this themselves. NULL-safe. */
void ltc_call_after_commit(ltc_call *c);
void ltc_call_after_rollback(ltc_call *c);
/* Serves `m` on raw request bytes exactly as the server does: size cap (`max_bytes`), decode, idempotency key,
 * transaction, handler, encode. 0 with *out (malloc'd, caller frees), or -1 with st set. Scratch memory and
 * results are released before it returns. */
int ltc_call_run(ltc_call *c, const ltc_method *m, const uint8_t *req, size_t len, size_t max_bytes, uint8_t **out,
                 size_t *out_len, ltc_status *st);

/* --- a raw (pass-through) handler, for the gateway ------------------------------------------------------ */

/* What a raw handler asks the server to do with a call instead of answering it: send the request bytes on to
 * `client`'s peer, asynchronously (no thread waits for the peer), with this metadata and deadline, the caller's
 * cancellation propagated; the peer's answer (message, or status with its details) goes back to the caller as is.
 * A peer that cannot be reached answers UNAVAILABLE (reason SERVICE_UNAVAILABLE, naming peer_name). */
typedef struct ltc_forward {
    struct ltc_client *client;
    const char *peer_name; /* "ltb" */
    int deadline_ms;
    ltc_metadata_kv md[6]; /* the values are copied before the handler's memory is reused */
    size_t n_md;
} ltc_forward;

enum {
    LTC_RAW_FORWARD = 1
};

/* Serves any method not in the table: request bytes in, response bytes out (malloc'd, the server frees them) and 0;
 * or -1 with st set (st->raw_details passed through unchanged); or LTC_RAW_FORWARD with *fwd filled in. */
typedef int (*ltc_raw_handler)(ltc_call *call, const char *method, const uint8_t *req, size_t req_len, uint8_t **resp,
                               size_t *resp_len, ltc_status *st, ltc_forward *fwd, void *user);

/* --- the server ------------------------------------------------------------------------------------------ */

typedef struct ltc_server ltc_server;

typedef struct ltc_server_options {
    const char *service_name; /* short name for logs and the error domain: "ltb" */
    const char *listen_addr;  /* "127.0.0.1:50061" */
    int workers;              /* worker threads, each with its own db connection */
    const char *db_dsn;       /* NULL: no database (gateway) */
    const char *db_schema;
    const ltc_method *methods;
    size_t n_methods;
    const char *const *health_services; /* full service names reported SERVING besides "" (NULL-terminated) */
    ltc_raw_handler raw_handler;        /* NULL: unknown methods get UNIMPLEMENTED */
    void *raw_user;
    int max_message_bytes;      /* receive and send limit */
    int max_metadata_bytes;     /* request header limit (0: 8 KiB) */
    int max_concurrent_streams; /* per connection (0: 100) */
    struct ltc_tls_source *tls; /* NULL: plaintext (only with LTC_PLAINTEXT=1); re-read while serving: new
                                   handshakes get the current certificate, open connections keep theirs */
    int client_cert_required;   /* mTLS: verify the caller's certificate against the source's CA bundle */
    /* The gateway's Ed25519 public keys (ltc/assertion.h; re-read while serving): a public method called by the gateway
     * then takes its principal and roles only from a valid x-ltc-assertion. NULL: from the x-ltc-principal/x-ltc-roles
     * headers. */
    struct ltc_keyring *assertion_keys;
    int shutdown_grace_ms; /* in-flight calls get this long on SIGTERM */
} ltc_server_options;

/* Binds and starts serving. NULL with st set (e.g. the port is taken). */
ltc_server *ltc_server_start(const ltc_server_options *opt, ltc_status *st);
/* Health of the process and of every listed service: 1 SERVING, 0 NOT_SERVING. */
void ltc_server_set_serving(ltc_server *s, int serving);
/* Graceful stop: NOT_SERVING, stop accepting, wait up to the grace for in-flight calls, cancel the rest, join the
 * workers, free. NULL-safe. */
void ltc_server_stop(ltc_server *s);

#endif
