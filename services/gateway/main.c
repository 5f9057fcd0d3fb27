/* ltc-gateway: the single entry for clients. Over TLS, it authenticates every call (a bearer JWT, auth.h), checks
 * the caller's roles against the permission table (ltc/access.h) and a per-caller rate limit, then forwards the
 * call to its stage service over mTLS, unchanged (bytes in, bytes out, error details passed through), with the
 * caller's deadline (or a default; capped), its cancellation, a request id (the caller's x-request-id, else a new
 * one), the W3C trace context, and the caller's principal and roles (x-ltc-principal, x-ltc-roles: metadata the
 * stage services trust only from the gateway's certificate; whatever a client sends under those names is dropped).
 * Forwarding is asynchronous (the server's completion queue carries both halves), so no thread waits on a service.
 * Internal services (IntakeService hand-off receivers, HandoffAdminService) are not routed: UNIMPLEMENTED here.
 * docs/security.md has the threat model. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc.h>

#include "auth.h"
#include "ltc/access.h"
#include "ltc/audit/v1/audit_service.pb-c.h"
#include "ltc/client.h"
#include "ltc/config.h"
#include "ltc/log.h"
#include "ltc/memory.h"
#include "ltc/metrics.h"
#include "ltc/server.h"
#include "ltc/service.h"
#include "ltc/tls.h"
#include "ltc/assertion.h"
#include "ltc/reload.h"
#include "ltc/version.h"
#include "ratelimit.h"
#include "refusals.h"

/* Seconds a forwarded identity assertion lives: the stage receives it at once (the call's deadline is longer, but
 * a stage checks it when the call starts). */
#define ASSERTION_TTL 30

#define AUDIT_SERVICE "/ltc.audit.v1.AuditService/" /* every method's request names its stage in field 1 */

typedef struct route {
    const char *prefix;  /* "/ltc.ltb.v1.LeadToBidService/" */
    const char *service; /* "ltb" */
    ltc_client *client;
} route;

typedef struct gateway {
    route routes[5];
    size_t n_routes;
    int default_deadline_ms, max_deadline_ms, require_deadline;
    gw_keys *auth;              /* NULL: authentication off (LTC_GATEWAY_AUTH=off, plaintext development only) */
    gw_limiter *limiter;        /* NULL: no rate limit */
    gw_limiter *strangers;      /* per client host: calls that failed authentication; NULL: no limit */
    ltc_keyring *assertion_key; /* signs the identity forwarded to the stages (ltc/assertion.h); NULL: headers only */
    gw_refusals *refusals;      /* LTC_GATEWAY_AUDIT_FILE: the chained record of refused calls; NULL: the log only */
} gateway;

/* A call refused here (it reaches no stage, so no stage's audit_log has it): its line in the refusals file.
 * principal "" and roles "" when the caller was not authenticated. */
static void record_refusal(const gateway *g, ltc_call *call, const char *principal, const char *roles,
                           const char *method, const ltc_status *st) {
    if (!g->refusals) return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const char *remote = ltc_call_remote(call);
    if (gw_refusals_record(g->refusals, (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000, principal, roles,
                           remote ? remote : "", method, ltc_call_request_id(call), ltc_call_server_request_id(call),
                           ltc_code_name(st->code), st->reason) != 0)
        LTC_WARN("audit_failed", ltc_call_request_id(call), "%.150s: the refusal could not be recorded", method);
}

static const struct {
    const char *prefix, *service;
} public_services[] = {
    {"/ltc.ltb.v1.LeadToBidService/", "ltb"},       {"/ltc.bto.v1.BidToOrderService/", "bto"},
    {"/ltc.otd.v1.OrderToDeliveryService/", "otd"}, {"/ltc.dtc.v1.DeliveryToCashService/", "dtc"},
    {"/ltc.dtc.v1.FinanceService/", "dtc"},
};

static const char *const health_services[] = {
    "ltc.ltb.v1.LeadToBidService",
    "ltc.bto.v1.BidToOrderService",
    "ltc.otd.v1.OrderToDeliveryService",
    "ltc.dtc.v1.DeliveryToCashService",
    "ltc.dtc.v1.FinanceService",
    "ltc.audit.v1.AuditService",
    NULL,
};

static double now_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The stage a call goes to: by the service in its path, or (the audit trail) by the stage its request names. */
static const route *find_route(const gateway *g, const char *method, const uint8_t *req, size_t req_len,
                               ltc_status *st) {
    for (size_t i = 0; i < g->n_routes; i++)
        if (strncmp(method, g->routes[i].prefix, strlen(g->routes[i].prefix)) == 0) return &g->routes[i];
    if (strncmp(method, AUDIT_SERVICE, strlen(AUDIT_SERVICE)) != 0) {
        ltc_status_set(st, LTC_UNIMPLEMENTED, "UNKNOWN_METHOD", "method %.150s is not served here", method);
        return NULL;
    }
    /* the request of the method itself (its other fields need not decode as another method's) */
    const ProtobufCMessageDescriptor *d = NULL;
    const ProtobufCServiceDescriptor *svc = &ltc__audit__v1__audit_service__descriptor;
    for (unsigned i = 0; i < svc->n_methods; i++)
        if (strcmp(method + strlen(AUDIT_SERVICE), svc->methods[i].name) == 0) d = svc->methods[i].input;
    if (!d) {
        ltc_status_set(st, LTC_UNIMPLEMENTED, "UNKNOWN_METHOD", "method %.150s is not served here", method);
        return NULL;
    }
    ProtobufCMessage *r = protobuf_c_message_unpack(d, NULL, req_len, req);
    const ProtobufCFieldDescriptor *f = r ? protobuf_c_message_descriptor_get_field_by_name(d, "stage") : NULL;
    const char *stage = f && f->type == PROTOBUF_C_TYPE_STRING ? *(char *const *)((const char *)r + f->offset) : NULL;
    const route *found = NULL;
    for (size_t i = 0; stage && i < g->n_routes; i++)
        if (strcmp(stage, g->routes[i].service) == 0) found = &g->routes[i];
    if (!r)
        ltc_status_set(st, LTC_INVALID_ARGUMENT, "MALFORMED_REQUEST", "the request could not be decoded");
    else if (!found)
        ltc_status_bad_field(st, "stage", "required: ltb, bto, otd or dtc");
    if (r) protobuf_c_message_free_unpacked(r, NULL);
    return found;
}

/* Every method of the permission table (generated from the contract's (ltc.type.v1.access) options) has a stage to
 * go to: a public RPC given roles in the protos but no route is refused at start (the gateway does not serve),
 * not answered UNIMPLEMENTED to its callers. 0, or -1 with st set (INTERNAL, BAD_METHOD_TABLE). */
static int check_routes(const gateway *g, ltc_status *st) {
    for (const ltc_access_rule *a = ltc_access_table; a->method; a++) {
        int routed = strncmp(a->method, AUDIT_SERVICE, strlen(AUDIT_SERVICE)) == 0;
        for (size_t i = 0; !routed && i < g->n_routes; i++)
            routed = strncmp(a->method, g->routes[i].prefix, strlen(g->routes[i].prefix)) == 0;
        if (!routed)
            return ltc_status_set(st, LTC_INTERNAL, "BAD_METHOD_TABLE",
                                  "%.150s is in the permission table but the gateway routes it to no stage", a->method);
    }
    return 0;
}

static int forward(ltc_call *call, const char *method, const uint8_t *req, size_t req_len, uint8_t **resp,
                   size_t *resp_len, ltc_status *st, ltc_forward *fwd, void *user) {
    (void)resp, (void)resp_len;
    gateway *g = user;
    /* who: authentication first, so that nothing about the API is told to an unauthenticated caller */
    gw_principal who = {0};
    char roles[96] = "";
    if (g->auth) {
        /* A host whose calls keep failing authentication is refused before any signature is checked (the checks
         * cost CPU a stranger should not be able to spend): each failure takes a token of its host's bucket, and an
         * empty bucket refuses the host's next calls, whatever they carry, until it refills. */
        const char *host = g->strangers ? ltc_call_remote(call) : NULL;
        if (host) {
            int64_t wait = gw_limiter_peek(g->strangers, host, now_monotonic());
            if (wait > 0) {
                ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "UNAUTHENTICATED_RATE_LIMITED",
                               "too many calls from this host failed authentication; retry in %lld ms",
                               (long long)wait);
                st->retry_delay_ms = wait;
                return -1;
            }
        }
        const gw_auth *keys = gw_keys_acquire(g->auth); /* the key set in use now (re-read while running) */
        int checked = gw_auth_check(keys, ltc_call_metadata(call, "authorization"), time(NULL), &who, st);
        gw_keys_release(g->auth, keys);
        if (checked != 0) {
            if (host) gw_limiter_take(g->strangers, host, now_monotonic());
            record_refusal(g, call, "", "", method, st);
            return -1;
        }
        ltc_call_set_principal(call, who.subject); /* the call's log line names who called */
        if (!(ltc_access_roles(method) & who.roles)) {
            if (ltc_access_roles(method) == 0)
                return ltc_status_set(st, LTC_UNIMPLEMENTED, "UNKNOWN_METHOD", "method %.150s is not served here",
                                      method);
            /* refused before any stage sees it: this log line is its audit record */
            LTC_WARN("access_denied", ltc_call_request_id(call),
                     "principal=%s roles=0x%x method=%.150s ROLE_NOT_ALLOWED", who.subject, who.roles, method);
            ltc_status_set(st, LTC_PERMISSION_DENIED, "ROLE_NOT_ALLOWED", "no role of %s may call %.150s", who.subject,
                           method);
            ltc_roles_format(who.roles, roles, sizeof roles);
            record_refusal(g, call, who.subject, roles, method, st);
            return -1;
        }
        ltc_roles_format(who.roles, roles, sizeof roles);
        if (g->limiter) {
            int64_t wait = gw_limiter_take(g->limiter, who.subject, now_monotonic());
            if (wait > 0) {
                LTC_WARN("rate_limited", ltc_call_request_id(call), "principal=%s method=%.150s retry_ms=%lld",
                         who.subject, method, (long long)wait);
                ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "RATE_LIMITED",
                               "%s is over its rate limit; retry in %lld ms", who.subject, (long long)wait);
                st->retry_delay_ms = wait;
                record_refusal(g, call, who.subject, roles, method, st);
                return -1;
            }
        }
    }
    const route *r = find_route(g, method, req, req_len, st);
    if (!r) return -1;
    int64_t left = ltc_call_ms_left(call);
    if (left == INT64_MAX && g->require_deadline)
        return ltc_status_set(st, LTC_INVALID_ARGUMENT, "DEADLINE_REQUIRED",
                              "set a deadline on the call (grpc-timeout), at most %d ms", g->max_deadline_ms);
    int64_t deadline = left == INT64_MAX ? g->default_deadline_ms : left;
    if (deadline > g->max_deadline_ms) deadline = g->max_deadline_ms;
    if (deadline <= 0) return ltc_status_set(st, LTC_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "deadline passed");
    /* sent on by the server without a thread waiting for the service (its answer, errors and all, goes back as
     * is; an unreachable service gives UNAVAILABLE SERVICE_UNAVAILABLE) */
    fwd->client = r->client;
    fwd->peer_name = r->service;
    fwd->deadline_ms = (int)deadline;
    fwd->md[0] = (ltc_metadata_kv){"x-request-id", ltc_call_request_id(call)};
    fwd->md[1] = (ltc_metadata_kv){"traceparent", ltc_call_traceparent(call)};
    fwd->n_md = 2;
    if (g->auth) { /* copies in the call's memory: the server reads them after we return */
        fwd->md[2] = (ltc_metadata_kv){"x-ltc-principal", ltc_call_strdup(call, who.subject)};
        fwd->md[3] = (ltc_metadata_kv){"x-ltc-roles", ltc_call_strdup(call, roles)};
        fwd->n_md = 4;
        if (g->assertion_key) {
            char signed_id[1024];
            EVP_PKEY *key[LTC_ASSERTION_MAX_KEYS];
            size_t n_key = ltc_keyring_acquire(g->assertion_key, key);
            int signed_rc = ltc_assertion_sign(key[0], who.subject, roles, r->service, method, time(NULL),
                                               ASSERTION_TTL, signed_id, sizeof signed_id);
            ltc_keyring_release(key, n_key);
            if (signed_rc != 0)
                return ltc_status_set(st, LTC_INTERNAL, "ASSERTION_FAILED", "cannot sign the forwarded identity");
            fwd->md[4] = (ltc_metadata_kv){"x-ltc-assertion", ltc_call_strdup(call, signed_id)};
            fwd->n_md = 5;
        }
    }
    return LTC_RAW_FORWARD;
}

/* The gateway's configuration beyond the common variables: TLS, authentication, limits. 0, or -1 (printed). */
static int configure(gateway *g, ltc_tls_source **public_tls, int *plaintext) {
    char err[400];
    long deadline, max_deadline, require, rate, burst, unauth_rate, unauth_burst;
    if (ltc_env_int("LTC_GATEWAY_FORWARD_DEADLINE_MS", 30000, 100, 600000, &deadline, err, sizeof err) != 0 ||
        ltc_env_int("LTC_GATEWAY_MAX_DEADLINE_MS", 60000, 100, 3600000, &max_deadline, err, sizeof err) != 0 ||
        ltc_env_int("LTC_GATEWAY_REQUIRE_DEADLINE", 0, 0, 1, &require, err, sizeof err) != 0 ||
        ltc_env_int("LTC_GATEWAY_RATE_LIMIT", 200, 0, 1000000, &rate, err, sizeof err) != 0 ||
        ltc_env_int("LTC_GATEWAY_RATE_BURST", 400, 1, 10000000, &burst, err, sizeof err) != 0 ||
        ltc_env_int("LTC_GATEWAY_UNAUTH_RATE_LIMIT", 20, 0, 1000000, &unauth_rate, err, sizeof err) != 0 ||
        ltc_env_int("LTC_GATEWAY_UNAUTH_RATE_BURST", 40, 1, 10000000, &unauth_burst, err, sizeof err) != 0) {
        fprintf(stderr, "gateway: %s\n", err);
        return -1;
    }
    g->default_deadline_ms = (int)(deadline < max_deadline ? deadline : max_deadline);
    g->max_deadline_ms = (int)max_deadline;
    g->require_deadline = (int)require;
    /* the public listener: TLS unless plaintext is asked for explicitly */
    const char *cert = ltc_env_str("LTC_GATEWAY_TLS_CERT", NULL), *key = ltc_env_str("LTC_GATEWAY_TLS_KEY", NULL);
    *plaintext = 0;
    if (cert || key) {
        if (!cert || !key) {
            fprintf(stderr, "gateway: LTC_GATEWAY_TLS_CERT and LTC_GATEWAY_TLS_KEY go together\n");
            return -1;
        }
        ltc_status st = {0};
        if (!(*public_tls = ltc_tls_source_open("tls_public", cert, key, NULL, &st))) {
            fprintf(stderr, "gateway: %s\n", st.message);
            ltc_status_clear(&st);
            return -1;
        }
    } else if (ltc_plaintext_allowed()) {
        *plaintext = 1;
    } else {
        fprintf(stderr, "gateway: LTC_GATEWAY_TLS_CERT and LTC_GATEWAY_TLS_KEY are not set: set them, or set "
                        "LTC_PLAINTEXT=1 for local development\n");
        return -1;
    }
    /* who may call: bearer tokens, unless switched off for plaintext development */
    const char *keys = ltc_env_str("LTC_GATEWAY_JWT_KEYS", NULL);
    const char *auth = ltc_env_str("LTC_GATEWAY_AUTH", "on");
    if (strcmp(auth, "off") == 0) {
        if (!ltc_plaintext_allowed()) {
            fprintf(stderr, "gateway: LTC_GATEWAY_AUTH=off is allowed only with LTC_PLAINTEXT=1 (development)\n");
            return -1;
        }
    } else if (strcmp(auth, "on") != 0) {
        fprintf(stderr, "gateway: LTC_GATEWAY_AUTH=%s is not \"on\" or \"off\"\n", auth);
        return -1;
    } else if (!keys) {
        fprintf(stderr, "gateway: LTC_GATEWAY_JWT_KEYS (the token key set, docs/security.md) is required\n");
        return -1;
    } else if (!(g->auth = gw_keys_open(keys, err, sizeof err))) {
        fprintf(stderr, "gateway: LTC_GATEWAY_JWT_KEYS: %s\n", err);
        return -1;
    }
    if (g->auth && rate > 0 && !(g->limiter = gw_limiter_create((double)rate, (double)burst))) return -1;
    const char *assertion_key = ltc_env_str("LTC_GATEWAY_ASSERTION_KEY", NULL);
    if (assertion_key && !(g->assertion_key = ltc_keyring_open("assertion_key", assertion_key, 1, err, sizeof err))) {
        fprintf(stderr, "gateway: LTC_GATEWAY_ASSERTION_KEY: %s\n", err);
        return -1;
    }
    if (g->auth && unauth_rate > 0 && !(g->strangers = gw_limiter_create((double)unauth_rate, (double)unauth_burst)))
        return -1;
    const char *refusals = ltc_env_str("LTC_GATEWAY_AUDIT_FILE", NULL);
    if (refusals && !(g->refusals = gw_refusals_open(refusals, err, sizeof err))) {
        fprintf(stderr, "gateway: LTC_GATEWAY_AUDIT_FILE: %s\n", err);
        return -1;
    }
    return 0;
}

/* --help: the commands and every variable the gateway reads (docs/configuration.md has defaults and ranges;
 * tests/deploy/check_version.py checks the two agree). */
static void usage(FILE *out) {
    static const char *const vars[][2] = {
        {"LTC_GATEWAY_LISTEN", "gRPC listen address host:port of the public port"},
        {"LTC_GATEWAY_METRICS_LISTEN", "Prometheus endpoint host:port, or off (default: the gRPC port + 1000)"},
        {"LTC_LTB_TARGET", "where calls to LeadToBidService go"},
        {"LTC_BTO_TARGET", "where calls to BidToOrderService go"},
        {"LTC_OTD_TARGET", "where calls to OrderToDeliveryService go"},
        {"LTC_DTC_TARGET", "where calls to DeliveryToCashService go"},
        {"LTC_GATEWAY_TLS_CERT", "certificate (PEM) of the public port"},
        {"LTC_GATEWAY_TLS_KEY", "its private key (PEM)"},
        {"LTC_GATEWAY_TLS_CA", "the CA of the public certificate (PEM), trusted by --health-probe only"},
        {"LTC_GATEWAY_JWT_KEYS", "the bearer tokens' key set (JSON)"},
        {"LTC_GATEWAY_AUTH", "on, or off (with LTC_PLAINTEXT=1 only)"},
        {"LTC_GATEWAY_AUDIT_FILE", "append-only, hash-chained file of the gateway's refusals (JSON lines)"},
        {"LTC_GATEWAY_ASSERTION_KEY", "Ed25519 private key (PEM) signing the identity sent to the stages"},
        {"LTC_TLS_CERT", "this process's internal certificate (PEM), for mTLS to the stages"},
        {"LTC_TLS_KEY", "its private key (PEM)"},
        {"LTC_TLS_CA", "the CA of the internal certificates (PEM)"},
        {"LTC_RELOAD_INTERVAL_SECONDS",
         "how often certificate and key files are checked for a change (0: SIGHUP only)"},
        {"LTC_PLAINTEXT", "1: run without TLS (local development only)"},
        {"LTC_GATEWAY_RATE_LIMIT", "calls a second per caller"},
        {"LTC_GATEWAY_RATE_BURST", "burst per caller"},
        {"LTC_GATEWAY_UNAUTH_RATE_LIMIT", "failed authentications a second per client host"},
        {"LTC_GATEWAY_UNAUTH_RATE_BURST", "their burst"},
        {"LTC_GATEWAY_FORWARD_DEADLINE_MS", "deadline of a forwarded call that has none"},
        {"LTC_GATEWAY_MAX_DEADLINE_MS", "longest deadline of a forwarded call"},
        {"LTC_GATEWAY_REQUIRE_DEADLINE", "1: refuse calls without a deadline"},
        {"LTC_GATEWAY_MAX_METADATA_BYTES", "largest request metadata"},
        {"LTC_GATEWAY_MAX_CONCURRENT_STREAMS", "calls in flight per client connection"},
        {"LTC_WORKERS", "worker threads"},
        {"LTC_SHUTDOWN_GRACE_MS", "time calls in flight get at SIGTERM"},
        {"LTC_MALLOC_ARENAS", "most malloc arenas for the threads (one per core, 2-8)"},
        {"LTC_MAX_MESSAGE_BYTES", "largest message, both directions"},
        {"LTC_LOG_LEVEL", "debug, info, warn or error"},
        {"LTC_FAULT_POINTS, LTC_FAULT_SEED", "fault injection (the fault tests only)"},
    };
    fprintf(out,
            "usage: ltc-gateway [--health-probe | --liveness-probe | --verify-refusals FILE | --version | --help]\n"
            "The gateway of the LTC Process Center, version %s: TLS and bearer tokens for clients, forwarding to\n"
            "the stage services over mTLS.\n"
            "commands:\n"
            "  (none)           serve until SIGTERM/SIGINT\n"
            "  --health-probe   ask the gateway running at LTC_GATEWAY_LISTEN for its health; exit 0 when SERVING\n"
            "  --liveness-probe ask the same gateway whether its loop answers (liveness)\n"
            "  --verify-refusals FILE  check the hash chain of a refusals file (LTC_GATEWAY_AUDIT_FILE); exit 0 when\n"
            "                   intact\n"
            "  --version        print the version and exit\n"
            "  --help           print this and exit\n"
            "environment (defaults and ranges: docs/configuration.md):\n",
            ltc_version());
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) fprintf(out, "  %-34s %s\n", vars[i][0], vars[i][1]);
}

int main(int argc, char **argv) {
    int probe_only = 0;
    const char *verify_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--health-probe") == 0) {
            probe_only = 1;
        } else if (strcmp(argv[i], "--liveness-probe") == 0) {
            probe_only = 2;
        } else if (strcmp(argv[i], "--verify-refusals") == 0 && i + 1 < argc) {
            verify_file = argv[++i];
        } else if (strcmp(argv[i], "--version") == 0) {
            ltc_version_print(stdout, "gateway");
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ltc-gateway: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    ltc_log_init("gateway", ltc_env_str("LTC_LOG_LEVEL", "info"));
    ltc_version_set_service("gateway");
    /* a tool: no configuration needed */
    if (verify_file) {
        int64_t lines = 0;
        char report[8192];
        int problems = gw_refusals_verify(verify_file, &lines, report, sizeof report);
        if (problems < 0) {
            fprintf(stderr, "gateway: cannot read %s\n", verify_file);
            return 2;
        }
        printf("%s%lld refusals, %d problems: %s\n", report, (long long)lines, problems,
               problems ? "NOT INTACT" : "intact");
        return problems ? 1 : 0;
    }
    const char *listen = ltc_env_str("LTC_GATEWAY_LISTEN", "127.0.0.1:50051");
    char err[400];
    /* the probe is a client of the public port, whose certificate comes from the edge CA, not the mesh CA */
    const char *public_ca = ltc_env_str("LTC_GATEWAY_TLS_CA", NULL);
    if (probe_only && public_ca && setenv("LTC_TLS_CA", public_ca, 1) != 0) return 1;
    int internal_tls = ltc_tls_internal_from_env(err, sizeof err);
    if (internal_tls < 0) {
        fprintf(stderr, "gateway: %s\n", err);
        return 1;
    }
    if (probe_only) {
        int probe = ltc_health_probe_service(listen, "gateway", probe_only == 2 ? "liveness" : "", 2000);
        ltc_tls_internal_free();
        return probe;
    }
    /* the first line of the log: which build this is */
    LTC_INFO("starting", NULL, "ltc-gateway version=%s grpc_core=%s listen=%s", ltc_version(), grpc_version_string(),
             listen);
    if (ltc_addr_valid(listen) != 0) {
        fprintf(stderr, "gateway: LTC_GATEWAY_LISTEN=%s is not a host:port address\n", listen);
        return 1;
    }
    long workers, grace, max_msg, max_md, max_streams;
    if (ltc_env_int("LTC_WORKERS", 8, 1, 256, &workers, err, sizeof err) != 0 ||
        ltc_env_int("LTC_SHUTDOWN_GRACE_MS", 5000, 0, 600000, &grace, err, sizeof err) != 0 ||
        ltc_env_int("LTC_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024, &max_msg, err, sizeof err) != 0 ||
        ltc_env_int("LTC_GATEWAY_MAX_METADATA_BYTES", 8192, 1024, 65536, &max_md, err, sizeof err) != 0 ||
        ltc_env_int("LTC_GATEWAY_MAX_CONCURRENT_STREAMS", 100, 1, 10000, &max_streams, err, sizeof err) != 0) {
        fprintf(stderr, "gateway: %s\n", err);
        return 1;
    }
    char metrics_default[300];
    ltc_default_metrics_listen(listen, metrics_default, sizeof metrics_default);
    const char *metrics_listen = ltc_env_str("LTC_GATEWAY_METRICS_LISTEN", metrics_default);
    gateway g = {0};
    ltc_tls_source *public_tls = NULL;
    int plaintext = 0, rc = 1;
    if (ltc_reload_configure(err, sizeof err) != 0) {
        fprintf(stderr, "gateway: %s\n", err);
        goto out;
    }
    if (configure(&g, &public_tls, &plaintext) != 0) goto out;
    if (plaintext) LTC_WARN("plaintext", NULL, "LTC_PLAINTEXT=1: the public port has no TLS (local development only)");
    if (!g.auth)
        LTC_WARN("auth_off", NULL, "LTC_GATEWAY_AUTH=off: callers are not authenticated (local development only)");
    if (internal_tls == 0)
        LTC_WARN("plaintext", NULL, "LTC_PLAINTEXT=1: calls to the services are not mTLS (local development only)");
    char mem_err[200];
    if (ltc_memory_configure(mem_err, sizeof mem_err) != 0) {
        fprintf(stderr, "gateway: %s\n", mem_err);
        goto out;
    }
    ltc_block_signals(); /* before any thread starts (gRPC's too), so that only sigwait below takes SIGTERM */
    for (size_t i = 0; i < sizeof public_services / sizeof public_services[0]; i++) {
        char var[64];
        snprintf(var, sizeof var, "LTC_%c%c%c_TARGET", public_services[i].service[0] - 32,
                 public_services[i].service[1] - 32, public_services[i].service[2] - 32);
        const char *target = ltc_env_str(var, ltc_default_target(public_services[i].service));
        ltc_client *c = ltc_client_create(target, public_services[i].service, (int)max_msg);
        if (!c) {
            fprintf(stderr, "gateway: %s=%s is not a host:port address\n", var, target);
            goto out;
        }
        g.routes[g.n_routes++] = (route){public_services[i].prefix, public_services[i].service, c};
    }
    ltc_status st = {0};
    if (check_routes(&g, &st) != 0) {
        LTC_ERROR("start_failed", NULL, "%s", st.message);
        ltc_status_clear(&st);
        goto out;
    }
    if (ltc_metrics_start(metrics_listen, &st) != 0) {
        char why[300] = ""; /* libmicrohttpd's socket is ours: bind it again for the system's reason */
        if (strcmp(st.reason, "LISTEN_FAILED") == 0) ltc_listen_check(metrics_listen, why, sizeof why);
        LTC_ERROR("start_failed", NULL, "metrics: %s%s%s%s", st.message, why[0] ? " (" : "", why, why[0] ? ")" : "");
        ltc_status_clear(&st);
        goto out;
    }
    ltc_server_options so = {
        .service_name = "gateway",
        .listen_addr = listen,
        .workers = (int)workers,
        .health_services = health_services,
        .raw_handler = forward,
        .raw_user = &g,
        .max_message_bytes = (int)max_msg,
        .max_metadata_bytes = (int)max_md,
        .max_concurrent_streams = (int)max_streams,
        .shutdown_grace_ms = (int)grace,
        .tls = plaintext ? NULL : public_tls,
        .client_cert_required = 0,
    };
    ltc_server *server = ltc_server_start(&so, &st);
    if (!server) {
        LTC_ERROR("start_failed", NULL, "%s", st.message);
        ltc_status_clear(&st);
        goto out;
    }
    if (ltc_reload_start(err, sizeof err) != 0) /* certificates and keys re-read while serving (ltc/reload.h) */
        LTC_ERROR("reload_off", NULL, "%s: certificates and keys are re-read on SIGHUP only", err);
    LTC_INFO("serving", NULL, "gateway on %s (%s, %s), metrics on %s", listen, plaintext ? "plaintext" : "TLS",
             g.auth ? "bearer tokens" : "no authentication", metrics_listen);
    int sig = ltc_wait_for_signal();
    ltc_reload_stop();
    LTC_INFO("stopping", NULL, "signal %d: draining", sig);
    ltc_server_stop(server);
    LTC_INFO("stopped", NULL, "clean exit");
    rc = 0;
out:
    ltc_metrics_stop();
    for (size_t i = 0; i < g.n_routes; i++) ltc_client_destroy(g.routes[i].client);
    gw_keys_close(g.auth);
    gw_limiter_free(g.limiter);
    gw_limiter_free(g.strangers);
    gw_refusals_close(g.refusals);
    ltc_keyring_close(g.assertion_key);
    ltc_tls_source_close(public_tls);
    ltc_tls_internal_free();
    return rc;
}
