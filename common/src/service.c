/* service.c - the life of a stage service process: configuration, migrations, server, relay, signals. */
#include "ltc/assertion.h"
#include "ltc/service.h"

#include "ltc/tls.h"

#include <ctype.h>
#include <errno.h>
#include <grpc/grpc.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc/health/v1/health.pb-c.h"
#include "ltc/ask.h"
#include "ltc/audit_sealer.h"
#include "ltc/audit_spool.h"
#include "ltc/client.h"
#include "ltc/config.h"
#include "ltc/log.h"
#include "ltc/memory.h"
#include "ltc/methods.h"
#include "ltc/metrics.h"
#include "ltc/outbox.h"
#include "ltc/reload.h"
#include "ltc/version.h"

void ltc_default_metrics_listen(const char *grpc_listen, char *out, size_t n) {
    const char *colon = strrchr(grpc_listen, ':');
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (!colon || port <= 0 || port + 1000 > 65535) {
        snprintf(out, n, "off");
        return;
    }
    snprintf(out, n, "%.*s:%ld", (int)(colon - grpc_listen), grpc_listen, port + 1000);
}

const char *ltc_default_target(const char *peer) {
    if (strcmp(peer, "gateway") == 0) return "127.0.0.1:50051";
    if (strcmp(peer, "ltb") == 0) return "127.0.0.1:50061";
    if (strcmp(peer, "bto") == 0) return "127.0.0.1:50062";
    if (strcmp(peer, "otd") == 0) return "127.0.0.1:50063";
    if (strcmp(peer, "dtc") == 0) return "127.0.0.1:50064";
    return NULL;
}

void ltc_block_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int ltc_wait_for_signal(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    const struct timespec trim_every = {LTC_MEMORY_TRIM_S, 0};
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &trim_every);
        if (sig < 0) { /* no signal for a while (or EINTR): freed memory back to the system (ltc/memory.h) */
            ltc_memory_trim();
            continue;
        }
        if (sig != SIGHUP) return sig;
        /* SIGHUP: read every certificate and key file again (ltc/reload.h) */
        int refused = ltc_reload_run(1);
        LTC_INFO("sighup", NULL, "certificates and keys read again, %d refused", refused);
    }
}

/* Returns 1 when SIGTERM/SIGINT is pending (used while retrying at start-up). */
static int signal_pending(void) {
    sigset_t set;
    sigpending(&set);
    return sigismember(&set, SIGTERM) || sigismember(&set, SIGINT);
}

int ltc_health_probe(const char *listen_addr, const char *peer, int deadline_ms) {
    return ltc_health_probe_service(listen_addr, peer, "", deadline_ms);
}

int ltc_health_probe_service(const char *listen_addr, const char *peer, const char *service, int deadline_ms) {
    char target[300];
    if (strncmp(listen_addr, "0.0.0.0:", 8) == 0) {
        snprintf(target, sizeof target, "127.0.0.1:%s", listen_addr + 8);
    } else if (strncmp(listen_addr, "[::]:", 5) == 0) {
        snprintf(target, sizeof target, "[::1]:%s", listen_addr + 5);
    } else {
        snprintf(target, sizeof target, "%s", listen_addr);
    }
    ltc_client *c = ltc_client_create(target, peer, 0);
    if (!c) return 1;
    Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    req.service = (char *)(service ? service : "");
    uint8_t buf[160];
    if (grpc__health__v1__health_check_request__get_packed_size(&req) > sizeof buf) {
        ltc_client_destroy(c);
        return 1;
    }
    size_t n = grpc__health__v1__health_check_request__pack(&req, buf);
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    ltc_status st = {0};
    int rc = 1;
    if (ltc_client_call(c, NULL, "/grpc.health.v1.Health/Check", buf, n, deadline_ms, NULL, 0, &resp, &resp_len, &st) ==
        0) {
        Grpc__Health__V1__HealthCheckResponse *r =
            grpc__health__v1__health_check_response__unpack(NULL, resp_len, resp);
        if (r && r->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING) rc = 0;
        if (r) grpc__health__v1__health_check_response__free_unpacked(r, NULL);
        free(resp);
    }
    ltc_status_clear(&st);
    ltc_client_destroy(c);
    return rc;
}

static void env_name(char *out, size_t n, const char *svc, const char *suffix) {
    size_t k = (size_t)snprintf(out, n, "LTC_%s_%s", svc, suffix);
    for (size_t i = 4; i < k && i < n; i++) out[i] = (char)toupper((unsigned char)out[i]);
}

typedef struct svc_config {
    const char *listen;
    const char *metrics_listen;
    const char *dsn;
    const char *migrate_dsn;     /* the schema owner's DSN for the migrations; NULL: they run over dsn */
    const char *audit_spool_dir; /* LTC_AUDIT_SPOOL_DIR: the durable spool of audit rows; NULL: none */
    long workers, grace_ms, max_msg, handoff_deadline_ms, max_backoff_ms;
    long seal_interval_ms, seal_max_pending_s; /* the audit chain's sealer (ltc/audit_sealer.h) */
    long db_connect_s, db_statement_ms, db_idle_tx_ms, db_ka_idle_s, db_ka_interval_s, db_ka_count, db_tcp_user_ms,
        db_pipeline;
    ltc_relay_peer peers[8];
    size_t n_peers;
    ltc_relay_peer asks[8]; /* peers asked synchronously (ltc/ask.h) and their targets */
    size_t n_asks;
} svc_config;

/* A DSN libpq can parse (key=value or URI). The value is never printed: it may hold a password. */
static int dsn_valid(const ltc_service_def *def, const char *var, const char *dsn) {
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &err);
    PQfreemem(err);
    if (!opts) {
        fprintf(stderr, "%s: %s is not a libpq connection string (key=value pairs or a postgresql:// URI)\n", def->name,
                var);
        return -1;
    }
    PQconninfoFree(opts);
    return 0;
}

static int load_config(const ltc_service_def *def, svc_config *cfg, int migrate_only) {
    char name[96], err[200];
    env_name(name, sizeof name, def->name, "LISTEN");
    cfg->listen = ltc_env_str(name, def->default_listen);
    if (ltc_addr_valid(cfg->listen) != 0) {
        fprintf(stderr, "%s: %s=%s is not a host:port address\n", def->name, name, cfg->listen);
        return -1;
    }
    static char metrics_default[300];
    ltc_default_metrics_listen(cfg->listen, metrics_default, sizeof metrics_default);
    env_name(name, sizeof name, def->name, "METRICS_LISTEN");
    cfg->metrics_listen = ltc_env_str(name, metrics_default);
    if (strcmp(cfg->metrics_listen, "off") != 0 && ltc_addr_valid(cfg->metrics_listen) != 0) {
        fprintf(stderr, "%s: %s=%s is not a host:port address (or \"off\")\n", def->name, name, cfg->metrics_listen);
        return -1;
    }
    env_name(name, sizeof name, def->name, "MIGRATE_DSN");
    cfg->migrate_dsn = ltc_env_str(name, NULL);
    if (cfg->migrate_dsn && dsn_valid(def, name, cfg->migrate_dsn) != 0) return -1;
    env_name(name, sizeof name, def->name, "DSN");
    cfg->dsn = ltc_env_str(name, NULL);
    if (!cfg->dsn && !(migrate_only && cfg->migrate_dsn)) {
        fprintf(stderr, "%s: %s is required (a libpq connection string for the %s schema's role)\n", def->name, name,
                def->name);
        return -1;
    }
    if (cfg->dsn && dsn_valid(def, name, cfg->dsn) != 0) return -1;
    struct {
        const char *var;
        long def, min, max;
        long *out;
    } ints[] = {
        {"LTC_WORKERS", 8, 1, 256, &cfg->workers},
        {"LTC_SHUTDOWN_GRACE_MS", 5000, 0, 600000, &cfg->grace_ms},
        {"LTC_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024, &cfg->max_msg},
        {"LTC_HANDOFF_DEADLINE_MS", 5000, 100, 600000, &cfg->handoff_deadline_ms},
        {"LTC_RELAY_MAX_BACKOFF_MS", 30000, 100, 3600000, &cfg->max_backoff_ms},
        {"LTC_AUDIT_SEAL_INTERVAL_MS", 150, 10, 60000, &cfg->seal_interval_ms},
        {"LTC_AUDIT_SEAL_MAX_PENDING_S", 60, 1, 86400, &cfg->seal_max_pending_s},
        {"LTC_DB_CONNECT_TIMEOUT_S", 5, 2, 600, &cfg->db_connect_s},
        {"LTC_DB_STATEMENT_TIMEOUT_MS", 15000, 100, 3600000, &cfg->db_statement_ms},
        {"LTC_DB_IDLE_TX_TIMEOUT_MS", 60000, 1000, 86400000, &cfg->db_idle_tx_ms},
        {"LTC_DB_KEEPALIVE_IDLE_S", 10, 1, 7200, &cfg->db_ka_idle_s},
        {"LTC_DB_KEEPALIVE_INTERVAL_S", 5, 1, 600, &cfg->db_ka_interval_s},
        {"LTC_DB_KEEPALIVE_COUNT", 3, 1, 100, &cfg->db_ka_count},
        {"LTC_DB_TCP_USER_TIMEOUT_MS", 20000, 0, 3600000, &cfg->db_tcp_user_ms},
        {"LTC_DB_PIPELINE", 1, 0, 1, &cfg->db_pipeline},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (ltc_env_int(ints[i].var, ints[i].def, ints[i].min, ints[i].max, ints[i].out, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", def->name, err);
            return -1;
        }
    }
    cfg->audit_spool_dir = ltc_env_str("LTC_AUDIT_SPOOL_DIR", NULL);
    if (cfg->audit_spool_dir && cfg->audit_spool_dir[0] != '/') {
        fprintf(stderr, "%s: LTC_AUDIT_SPOOL_DIR=%s is not an absolute path\n", def->name, cfg->audit_spool_dir);
        return -1;
    }
    /* the relay keeps its claiming transaction open while it calls the receivers */
    if (cfg->db_idle_tx_ms <= cfg->handoff_deadline_ms) {
        fprintf(stderr, "%s: LTC_DB_IDLE_TX_TIMEOUT_MS (%ld) must be longer than LTC_HANDOFF_DEADLINE_MS (%ld)\n",
                def->name, cfg->db_idle_tx_ms, cfg->handoff_deadline_ms);
        return -1;
    }
    const ltc_db_options dbo = {
        .connect_timeout_s = (int)cfg->db_connect_s,
        .statement_timeout_ms = (int)cfg->db_statement_ms,
        .idle_tx_timeout_ms = (int)cfg->db_idle_tx_ms,
        .keepalives_idle_s = (int)cfg->db_ka_idle_s,
        .keepalives_interval_s = (int)cfg->db_ka_interval_s,
        .keepalives_count = (int)cfg->db_ka_count,
        .tcp_user_timeout_ms = (int)cfg->db_tcp_user_ms,
        .pipeline = (int)cfg->db_pipeline,
    };
    ltc_db_set_options(&dbo);
    for (const char *const *p = def->peers; p && *p && cfg->n_peers < 8; p++) {
        env_name(name, sizeof name, *p, "TARGET");
        const char *t = ltc_env_str(name, ltc_default_target(*p));
        if (!t || ltc_target_valid(t) != 0) {
            fprintf(stderr, "%s: %s=%s is not a host:port address\n", def->name, name, t ? t : "");
            return -1;
        }
        cfg->peers[cfg->n_peers++] = (ltc_relay_peer){*p, t};
    }
    for (const char *const *p = def->asks; p && *p && cfg->n_asks < 8; p++) {
        env_name(name, sizeof name, *p, "TARGET");
        const char *t = ltc_env_str(name, ltc_default_target(*p));
        if (!t || ltc_target_valid(t) != 0) {
            fprintf(stderr, "%s: %s=%s is not a host:port address\n", def->name, name, t ? t : "");
            return -1;
        }
        cfg->asks[cfg->n_asks++] = (ltc_relay_peer){*p, t};
    }
    return 0;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Applies the runtime's migrations (common/migrations, embedded as ltc_runtime_migrations) and then the service's,
 * waiting for the database while it is unreachable: over LTC_<SVC>_MIGRATE_DSN (the schema owner) when set, else
 * over LTC_<SVC>_DSN. The serving role cannot run DDL, but when everything is applied already a migration run does
 * none (it reads schema_migrations), so a service given only its serving role starts once the owner has migrated
 * (--migrate-only, an init container). */
static int migrate(const ltc_service_def *def, const svc_config *cfg) {
    char var[96], mvar[96], redacted[512];
    env_name(mvar, sizeof mvar, def->name, "MIGRATE_DSN");
    env_name(var, sizeof var, def->name, cfg->migrate_dsn ? "MIGRATE_DSN" : "DSN");
    ltc_redact_dsn(cfg->migrate_dsn ? cfg->migrate_dsn : cfg->dsn, redacted, sizeof redacted);
    LTC_INFO("migrating", NULL, "over %s: %s", var, redacted);
    ltc_db *db = ltc_db_create(cfg->migrate_dsn ? cfg->migrate_dsn : cfg->dsn, def->name);
    if (!db) return -1;
    long backoff = 200;
    int rc = -1;
    for (;;) {
        ltc_status st = {0};
        if (ltc_db_migrate(db, "runtime", ltc_runtime_migrations, ltc_runtime_migrations_count, &st) == 0 &&
            ltc_db_migrate(db, "service", def->migrations, def->n_migrations, &st) == 0) {
            rc = 0;
            break;
        }
        if (st.code != LTC_UNAVAILABLE) {
            if (cfg->migrate_dsn)
                LTC_ERROR("migration_failed", NULL, "%s: %s", st.reason, st.message);
            else
                LTC_ERROR("migration_failed", NULL,
                          "%s: %s (over %s: when that is the serving role, which may not change the schema, migrate "
                          "as the schema's owner: %s, --migrate-only)",
                          st.reason, st.message, var, mvar);
            break;
        }
        LTC_WARN("database_unavailable", NULL, "waiting %ldms for the database", backoff);
        ltc_status_clear(&st);
        if (signal_pending()) break;
        sleep_ms(backoff);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    ltc_db_destroy(db);
    return rc;
}

/* --help: the commands and every variable the service reads (docs/configuration.md has their defaults and ranges;
 * tests/deploy/check_version.py checks the two agree). */
static void usage(FILE *out, const ltc_service_def *def) {
    char v[96];
    fprintf(out,
            "usage: ltc-%s [--health-probe | --liveness-probe | --migrate-only | --version | --help]\n"
            "The %s stage service of the LTC Process Center, version %s.\n"
            "commands:\n"
            "  (none)           apply the migrations, then serve gRPC until SIGTERM/SIGINT\n"
            "  --health-probe   ask the process running at LTC_%c%c%c_LISTEN for its health; exit 0 when SERVING\n"
            "  --liveness-probe ask the same process whether its loop answers (liveness; no database check)\n"
            "  --migrate-only   apply the migrations and exit\n"
            "  --version        print the version and exit\n"
            "  --help           print this and exit\n"
            "environment (defaults and ranges: docs/configuration.md):\n",
            def->name, def->name, ltc_version(), toupper((unsigned char)def->name[0]),
            toupper((unsigned char)def->name[1]), toupper((unsigned char)def->name[2]));
    static const char *const own[][2] = {
        {"DSN", "libpq connection string of the serving role (required)"},
        {"MIGRATE_DSN", "libpq connection string of the schema's owner, for the migrations"},
        {"LISTEN", "gRPC listen address host:port"},
        {"METRICS_LISTEN", "Prometheus endpoint host:port, or off (default: the gRPC port + 1000)"},
    };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        env_name(v, sizeof v, def->name, own[i][0]);
        fprintf(out, "  %-30s %s\n", v, own[i][1]);
    }
    for (const char *const *p = def->peers; p && *p; p++) {
        env_name(v, sizeof v, *p, "TARGET");
        fprintf(out, "  %-30s where the hand-offs to %s go\n", v, *p);
    }
    for (const char *const *p = def->asks; p && *p; p++) {
        int dup = 0;
        for (const char *const *q = def->peers; q && *q; q++) dup |= strcmp(*p, *q) == 0;
        if (dup) continue;
        env_name(v, sizeof v, *p, "TARGET");
        fprintf(out, "  %-30s where the questions to %s go\n", v, *p);
    }
    static const char *const common[][2] = {
        {"LTC_TLS_CERT", "this process's certificate (PEM), for mTLS"},
        {"LTC_TLS_KEY", "its private key (PEM)"},
        {"LTC_TLS_CA", "the CA of the internal certificates (PEM)"},
        {"LTC_PLAINTEXT", "1: run without TLS (local development only)"},
        {"LTC_ASSERTION_PUBLIC_KEY", "the gateway's Ed25519 public key(s) (PEM): verified identity"},
        {"LTC_RELOAD_INTERVAL_SECONDS",
         "how often certificate and key files are checked for a change (0: SIGHUP only)"},
        {"LTC_AUDIT_SPOOL_DIR", "durable spool of audit rows while the database is down"},
        {"LTC_AUDIT_SEAL_INTERVAL_MS", "how often the audit chain's sealer runs (also after each write)"},
        {"LTC_AUDIT_SEAL_MAX_PENDING_S", "an audit row unsealed longer than this is an integrity problem"},
        {"LTC_LOG_LEVEL", "debug, info, warn or error"},
        {"LTC_WORKERS", "worker threads"},
        {"LTC_SHUTDOWN_GRACE_MS", "time calls in flight get at SIGTERM"},
        {"LTC_MALLOC_ARENAS", "most malloc arenas for the threads (one per core, 2-8)"},
        {"LTC_READY_MAX_HANDOFF_BACKLOG", "hand-offs waiting above which readiness is NOT_SERVING (0: no limit)"},
        {"LTC_MAX_MESSAGE_BYTES", "largest message, both directions"},
        {"LTC_HANDOFF_DEADLINE_MS", "deadline of each hand-off call"},
        {"LTC_RELAY_MAX_BACKOFF_MS", "cap of the relay's back-off"},
        {"LTC_DB_CONNECT_TIMEOUT_S", "libpq connect_timeout"},
        {"LTC_DB_STATEMENT_TIMEOUT_MS", "statement_timeout of serving connections"},
        {"LTC_DB_IDLE_TX_TIMEOUT_MS", "idle_in_transaction_session_timeout"},
        {"LTC_DB_KEEPALIVE_IDLE_S", "TCP keepalive idle time"},
        {"LTC_DB_KEEPALIVE_INTERVAL_S", "TCP keepalive interval"},
        {"LTC_DB_KEEPALIVE_COUNT", "TCP keepalive probes"},
        {"LTC_DB_TCP_USER_TIMEOUT_MS", "libpq tcp_user_timeout"},
        {"LTC_DB_PIPELINE", "1: a write's fixed statements in pipeline mode; 0: one round trip each"},
    };
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        fprintf(out, "  %-30s %s\n", common[i][0], common[i][1]);
    for (const char *const *p = def->env; p && *p; p += 2) fprintf(out, "  %-30s %s\n", p[0], p[1]);
    fprintf(out, "  %-30s %s\n", "LTC_FAULT_POINTS, LTC_FAULT_SEED", "fault injection (the fault tests only)");
}

int ltc_service_main(const ltc_service_def *def, int argc, char **argv) {
    int probe = 0, migrate_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--health-probe") == 0) {
            probe = 1;
        } else if (strcmp(argv[i], "--liveness-probe") == 0) {
            probe = 2;
        } else if (strcmp(argv[i], "--migrate-only") == 0) {
            migrate_only = 1;
        } else if (strcmp(argv[i], "--version") == 0) {
            ltc_version_print(stdout, def->name);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, def);
            return 0;
        } else {
            fprintf(stderr, "ltc-%s: unknown argument '%s'\n", def->name, argv[i]);
            usage(stderr, def);
            return 2;
        }
    }
    char name[96];
    ltc_log_init(def->name, ltc_env_str("LTC_LOG_LEVEL", "info"));
    ltc_version_set_service(def->name);
    char tls_err[400];
    int tls = migrate_only ? 0 : ltc_tls_internal_from_env(tls_err, sizeof tls_err); /* migrating serves nothing */
    if (tls < 0 || ltc_reload_configure(tls_err, sizeof tls_err) != 0) {
        fprintf(stderr, "%s: %s\n", def->name, tls_err);
        ltc_tls_internal_free();
        return 1;
    }
    if (probe) {
        env_name(name, sizeof name, def->name, "LISTEN");
        int rc = ltc_health_probe_service(ltc_env_str(name, def->default_listen), def->name,
                                          probe == 2 ? "liveness" : "", 2000);
        ltc_tls_internal_free();
        return rc;
    }
    svc_config cfg = {0};
    if (load_config(def, &cfg, migrate_only) != 0) return 1;
    char redacted[512];
    ltc_redact_dsn(cfg.dsn ? cfg.dsn : "", redacted, sizeof redacted);
    /* the first line of the log: which build this is */
    LTC_INFO("starting", NULL, "ltc-%s version=%s grpc_core=%s listen=%s workers=%ld dsn=%s", def->name, ltc_version(),
             grpc_version_string(), cfg.listen, cfg.workers, redacted);
    if (migrate_only)
        ; /* serves nothing: no TLS identity */
    else if (tls == 0)
        LTC_WARN("plaintext", NULL, "LTC_PLAINTEXT=1: no TLS, callers are not authenticated (local development only)");
    else if (strcmp(ltc_tls_identity(), def->name) != 0)
        LTC_WARN("tls_identity", NULL, "LTC_TLS_CERT names \"%s\", not \"%s\": peers will refuse it",
                 ltc_tls_identity(), def->name);
    char mem_err[200];
    if (ltc_memory_configure(mem_err, sizeof mem_err) != 0) {
        fprintf(stderr, "%s: %s\n", def->name, mem_err);
        return 1;
    }
    ltc_block_signals();
    if (migrate(def, &cfg) != 0) return 1;
    if (migrate_only) return 0;

    ltc_status st = {0};
    if (ltc_metrics_start(cfg.metrics_listen, &st) != 0) {
        char why[300] = ""; /* libmicrohttpd's socket is ours: bind it again for the system's reason */
        if (strcmp(st.reason, "LISTEN_FAILED") == 0) ltc_listen_check(cfg.metrics_listen, why, sizeof why);
        LTC_ERROR("start_failed", NULL, "metrics: %s%s%s%s", st.message, why[0] ? " (" : "", why, why[0] ? ")" : "");
        ltc_status_clear(&st);
        return 1;
    }
    /* the service's methods plus the hand-off admin and audit services every stage serves, checked against the
     * contract's service descriptors (ltc/methods.h): a table that does not cover them exactly is not served */
    size_t n_methods = 0;
    ltc_method *methods = ltc_methods_resolve_stage(def->methods, def->n_methods, &n_methods, &st);
    if (!methods) {
        LTC_ERROR("start_failed", NULL, "%s", st.message);
        ltc_status_clear(&st);
        ltc_metrics_stop();
        return 1;
    }
    const char **health = calloc(n_methods + 3, sizeof *health);
    if (!health) abort();
    size_t nh = 0;
    for (const char *const *h = def->health_services; h && *h; h++) health[nh++] = *h;
    health[nh++] = "ltc.admin.v1.HandoffAdminService";
    health[nh++] = "ltc.audit.v1.AuditService";
    health[nh] = NULL;
    ltc_server_options so = {
        .service_name = def->name,
        .listen_addr = cfg.listen,
        .workers = (int)cfg.workers,
        .db_dsn = cfg.dsn,
        .db_schema = def->name,
        .methods = methods,
        .n_methods = n_methods,
        .health_services = health,
        .max_message_bytes = (int)cfg.max_msg,
        .shutdown_grace_ms = (int)cfg.grace_ms,
        .tls = ltc_tls_internal(),
        .client_cert_required = 1,
    };
    /* What start-up has made so far; `out` undoes it in reverse (every stop is NULL-safe), on a failure as at exit. */
    ltc_audit_spool *spool = NULL;
    ltc_server *server = NULL;
    ltc_audit_sealer *sealer = NULL;
    ltc_relay *relay = NULL;
    int rc = 1;
    /* the gateway's public key: the identity of public calls then comes only from its signed assertions */
    const char *assertion_pub = ltc_env_str("LTC_ASSERTION_PUBLIC_KEY", NULL);
    if (assertion_pub) {
        char kerr[400];
        if (!(so.assertion_keys = ltc_keyring_open("assertion_public_keys", assertion_pub, 0, kerr, sizeof kerr))) {
            LTC_ERROR("start_failed", NULL, "LTC_ASSERTION_PUBLIC_KEY: %s", kerr);
            goto out;
        }
    } else if (so.tls) {
        LTC_WARN("insecure_identity", NULL,
                 "LTC_ASSERTION_PUBLIC_KEY is not set: public calls trust the principal the gateway's certificate "
                 "sends (docs/security.md)");
    }
    for (size_t i = 0; i < cfg.n_asks; i++) {
        if (ltc_ask_open(cfg.asks[i].destination, cfg.asks[i].target, (int)cfg.max_msg, &st) != 0) {
            LTC_ERROR("start_failed", NULL, "%s", st.message);
            goto out;
        }
    }
    if (cfg.audit_spool_dir) {
        /* before the server: a refused call's audit row has somewhere to go from the first call on */
        spool = ltc_audit_spool_start(def->name, cfg.audit_spool_dir, cfg.dsn, &st);
        if (!spool) {
            LTC_ERROR("start_failed", NULL, "LTC_AUDIT_SPOOL_DIR: %s", st.message);
            goto out;
        }
    }
    server = ltc_server_start(&so, &st);
    if (!server) {
        LTC_ERROR("start_failed", NULL, "%s", st.message);
        goto out;
    }
    /* the audit chain after the commit (runtime migration 011): its own thread and connection */
    ltc_audit_set_max_pending_ms(cfg.seal_max_pending_s * 1000);
    sealer = ltc_audit_sealer_start(def->name, cfg.dsn, cfg.seal_interval_ms, &st);
    if (!sealer) {
        LTC_ERROR("start_failed", NULL, "audit sealer: %s", st.message);
        goto out;
    }
    if (cfg.n_peers > 0) {
        ltc_relay_options ro = {
            .service_name = def->name,
            .db_dsn = cfg.dsn,
            .db_schema = def->name,
            .peers = cfg.peers,
            .n_peers = cfg.n_peers,
            .call_deadline_ms = (int)cfg.handoff_deadline_ms,
            .max_backoff_ms = (int)cfg.max_backoff_ms,
            .batch_size = 32,
        };
        relay = ltc_relay_start(&ro, &st);
        if (!relay) {
            LTC_ERROR("start_failed", NULL, "relay: %s", st.message);
            goto out;
        }
    }
    char rerr[200];
    if (ltc_reload_start(rerr, sizeof rerr) != 0) /* certificates and keys re-read while serving (ltc/reload.h) */
        LTC_ERROR("reload_off", NULL, "%s: certificates and keys are re-read on SIGHUP only", rerr);
    LTC_INFO("serving", NULL, "%s on %s, metrics on %s", def->name, cfg.listen, cfg.metrics_listen);
    int sig = ltc_wait_for_signal();
    ltc_reload_stop();
    LTC_INFO("stopping", NULL, "signal %d: draining", sig);
    ltc_server_set_serving(server, 0);
    rc = 0;
out:
    ltc_status_clear(&st);
    ltc_relay_stop(relay);
    ltc_server_stop(server);
    ltc_audit_spool_stop(spool); /* its last rows first: the sealer's last round chains them */
    ltc_audit_sealer_stop(sealer);
    ltc_ask_close_all();
    ltc_metrics_stop();
    ltc_methods_free(methods);
    ltc_keyring_close(so.assertion_keys);
    free(health);
    if (rc == 0) LTC_INFO("stopped", NULL, "clean exit");
    return rc;
}
