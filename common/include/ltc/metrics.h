/* ltc/metrics.h - Prometheus metrics of a process, served as text at http://<listen>/metrics by libmicrohttpd.
 *
 * In the gRPC ecosystem's shapes (go-grpc-prometheus), labels grpc_service, grpc_method, grpc_type (unary,
 * server_stream, bidi_stream) and grpc_code (the status code's name):
 *   grpc_server_started_total / grpc_server_handled_total{...,grpc_code}       calls served
 *   grpc_server_handling_seconds{...,grpc_code}                                histogram of the time to serve one
 *   grpc_client_started_total / grpc_client_handled_total / grpc_client_handling_seconds
 *                                 calls made to peers: the gateway's forwarding, hand-offs, other peer calls
 * and the project's own:
 *   ltc_db_connections{state=in_use|idle}        the pool's connections (one a worker; in_use: in a transaction)
 *   ltc_db_transaction_seconds{outcome=commit|rollback}   histogram, BEGIN to its end
 *   ltc_db_errors_total{kind=connection|statement|timeout}
 *   ltc_handoff_pending{destination}             outbox rows not yet delivered (not parked)
 *   ltc_handoff_oldest_pending_age_seconds{destination}
 *   ltc_handoff_parked{destination}              hand-offs refused for good, waiting for an operator
 *   ltc_workers / ltc_workers_busy               worker threads and how many are serving a call
 *   ltc_reload_total{material,result=applied|refused}   certificates and keys re-read while running (ltc/reload.h)
 *   process_resident_memory_bytes, process_cpu_seconds_total, process_start_time_seconds
 *
 * Recording is thread-safe and cheap (one mutex, no allocation after a method is first seen). Method labels are
 * bounded: at most LTC_METRICS_MAX_METHODS distinct values, then "other". */
#ifndef LTC_METRICS_H
#define LTC_METRICS_H

#include "ltc/status.h"

#define LTC_METRICS_MAX_METHODS 128
#define LTC_HEALTH_WATCH "/grpc.health.v1.Health/Watch"

typedef enum ltc_db_error_kind {
    LTC_DB_ERROR_CONNECTION = 0,
    LTC_DB_ERROR_STATEMENT = 1,
    LTC_DB_ERROR_TIMEOUT = 2
} ltc_db_error_kind;
#define LTC_DB_ERROR_KINDS 3

/* Starts the endpoint on "host:port" (NULL, "" or "off": no endpoint, recording still works). 0 or -1 (st set). */
int ltc_metrics_start(const char *listen_addr, ltc_status *st);
void ltc_metrics_stop(void);

/* A call served: when it starts, and when it is answered with code after `seconds`. */
void ltc_metrics_rpc_started(const char *method);
void ltc_metrics_rpc(const char *method, ltc_code code, double seconds);
/* A call made to a peer (method: its path, which our code chose), the same way. */
void ltc_metrics_client_started(const char *method);
void ltc_metrics_client(const char *method, ltc_code code, double seconds);
/* The database: a connection opened (+1) or closed (-1); a transaction began, ended; a failure. */
void ltc_metrics_db_connection(int delta);
void ltc_metrics_db_tx_begin(void);
void ltc_metrics_db_tx_end(double seconds, int committed);
void ltc_metrics_db_error(ltc_db_error_kind kind);
void ltc_metrics_workers(int total);
void ltc_metrics_busy(int delta);
/* Replaces the hand-off gauges of `destination`. */
void ltc_metrics_handoffs(const char *destination, long pending, double oldest_age_s, long parked);
/* The hand-offs pending over every destination, as last reported (readiness compares it with its threshold). */
long ltc_metrics_handoff_backlog(void);

/* Key material re-read while running: `material` is one of LTC_RELOAD_MATERIALS below, ok 1 applied, 0 refused. */
#define LTC_RELOAD_MATERIALS                                                                                           \
    { "tls_internal", "tls_public", "jwt_keys", "assertion_key", "assertion_public_keys" }
void ltc_metrics_reload(const char *material, int ok);

/* The exposition text (malloc'd, caller frees), as served at /metrics. */
char *ltc_metrics_render(void);

#endif
