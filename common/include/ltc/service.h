/* ltc/service.h - the whole life of a stage service process: configuration from the environment, logging, the
 * schema migrations, the gRPC server, the outbox relay, and a graceful exit on SIGTERM/SIGINT. A service's main()
 * describes its service and calls ltc_service_main. */
#ifndef LTC_SERVICE_H
#define LTC_SERVICE_H

#include <stddef.h>

#include "ltc/db.h"
#include "ltc/server.h"

typedef struct ltc_service_def {
    const char *name;           /* "ltb": env prefix LTC_LTB_*, schema "ltb", error domain "ltb.ltc" */
    const char *default_listen; /* "127.0.0.1:50061" */
    const ltc_method *methods;
    size_t n_methods;
    const char *const *health_services; /* NULL-terminated full service names */
    const char *const *peers;           /* NULL-terminated hand-off destinations ("bto"); target from LTC_BTO_TARGET */
    const char *const *asks;            /* NULL-terminated peers asked synchronously (ltc/ask.h): "dtc" */
    const char *const
        *env; /* the service's own variables for --help: name, meaning, ..., NULL ("LTC_ATP_DEADLINE_MS") */
    const ltc_migration *migrations;
    size_t n_migrations;
} ltc_service_def;

/* The migrations of the binary, generated at build time from services/<name>/migrations/NNN_*.sql. */
extern const ltc_migration ltc_service_migrations[];
extern const size_t ltc_service_migrations_count;

/* The runtime's own migrations (outbox, idempotency keys, audit log), generated at build time from
 * common/migrations/NNN_*.sql into ltc_common; ltc_service_main applies them, as the component "runtime", before
 * the service's. */
extern const ltc_migration ltc_runtime_migrations[];
extern const size_t ltc_runtime_migrations_count;

/* Runs the service until SIGTERM/SIGINT; returns the process exit code (0 after a clean stop, 1 on bad
 * configuration or a failed start, logged). argv: `--health-probe` checks a running process's health and exits
 * 0 when SERVING (for container health checks), `--migrate-only` applies migrations and exits, `--version` prints
 * the version (ltc/version.h), `--help` the commands and the variables the service reads. */
int ltc_service_main(const ltc_service_def *def, int argc, char **argv);

/* Asks the process listening on `listen_addr` (0.0.0.0 / [::] are probed on loopback) for its health over
 * grpc.health.v1.Health/Check, as a client of the process's own internal identity (mTLS when loaded; the server's
 * certificate must name "ltc-<peer>"). 0 when SERVING, 1 otherwise (not reachable, NOT_SERVING, error). */
int ltc_health_probe(const char *listen_addr, const char *peer, int deadline_ms);
/* The same for one health service: "" (readiness: serving, database reachable, hand-off backlog under its threshold)
 * or "liveness" (the process's loop answers). `--health-probe` asks "", `--liveness-probe` "liveness". */
int ltc_health_probe_service(const char *listen_addr, const char *peer, const char *service, int deadline_ms);

/* Blocks SIGTERM, SIGINT and SIGPIPE in the calling thread (call before starting threads, so they inherit it). */
void ltc_block_signals(void);
/* Waits until SIGTERM or SIGINT arrives; returns the signal number. SIGHUP reloads the certificates; every
 * LTC_MEMORY_TRIM_S without a signal, freed memory goes back to the system (ltc/memory.h). */
int ltc_wait_for_signal(void);

/* The default metrics address of a process: its actual gRPC listen address with the port + 1000 ("off" when that is not
 * a port). */
void ltc_default_metrics_listen(const char *grpc_listen, char *out, size_t n);

/* Default peer targets (env LTC_<PEER>_TARGET overrides): ltb 127.0.0.1:50061, bto :50062, otd :50063, dtc :50064. */
const char *ltc_default_target(const char *peer);

#endif
