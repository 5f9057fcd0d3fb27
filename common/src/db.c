/* db.c - one PostgreSQL connection per handle: lazy (re)connect, prepared-statement cache, SQLSTATE mapping,
 * transactions and migrations. */
#include "ltc/db.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ltc/log.h"
#include "ltc/metrics.h"

/* The process's connection settings (ltc_db_set_options); every handle reads them when it connects. */
static pthread_mutex_t options_mu = PTHREAD_MUTEX_INITIALIZER;
static ltc_db_options options = LTC_DB_OPTIONS_DEFAULT;

void ltc_db_set_options(const ltc_db_options *o) {
    pthread_mutex_lock(&options_mu);
    options = o ? *o : (ltc_db_options)LTC_DB_OPTIONS_DEFAULT;
    pthread_mutex_unlock(&options_mu);
}

ltc_db_options ltc_db_get_options(void) {
    pthread_mutex_lock(&options_mu);
    ltc_db_options o = options;
    pthread_mutex_unlock(&options_mu);
    return o;
}

static int64_t mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

typedef struct stmt {
    const char *sql; /* cache key: the address of the statement text */
    int nparams;
} stmt;

struct ltc_db {
    char *dsn;
    char *schema;
    char *app_name;
    PGconn *conn;
    stmt *stmts;
    size_t n_stmts, cap_stmts;
    pthread_mutex_t cancel_mu; /* guards `cancel`, the one field another thread uses */
    PGcancel *cancel;
    int in_tx;           /* BEGIN issued through this handle, not yet committed or rolled back */
    int tx_broken;       /* the connection was lost inside that transaction: everything fails until rollback */
    ltc_db_options opt;  /* read at connect */
    int64_t deadline_ms; /* monotonic ms of the caller's deadline (ltc_db_set_deadline); 0: none */
    int unbounded;       /* migrations: no statement timeout, no client-side wait bound */
    int counted;         /* the open connection is counted in ltc_db_connections */
    int64_t tx_started;  /* monotonic ms of the open transaction's BEGIN (ltc_db_transaction_seconds) */
    int begin_pending;   /* ltc_db_begin was called: BEGIN goes out with the transaction's first statement */
    int piped;           /* statements sent in pipeline mode whose results are not read yet */
};

ltc_db *ltc_db_create(const char *dsn, const char *schema) {
    ltc_db *db = calloc(1, sizeof *db);
    if (!db) return NULL;
    pthread_mutex_init(&db->cancel_mu, NULL);
    db->dsn = strdup(dsn ? dsn : "");
    db->schema = strdup(schema ? schema : "public");
    size_t n = strlen(db->schema) + 5;
    db->app_name = malloc(n);
    if (!db->dsn || !db->schema || !db->app_name) {
        ltc_db_destroy(db);
        return NULL;
    }
    snprintf(db->app_name, n, "ltc-%s", db->schema);
    return db;
}

static void drop_conn(ltc_db *db) {
    if (db->in_tx) db->tx_broken = 1;
    pthread_mutex_lock(&db->cancel_mu);
    if (db->cancel) PQfreeCancel(db->cancel);
    db->cancel = NULL;
    pthread_mutex_unlock(&db->cancel_mu);
    if (db->conn) PQfinish(db->conn);
    if (db->counted) ltc_metrics_db_connection(-1);
    db->counted = 0;
    db->conn = NULL;
    db->n_stmts = 0;
    db->piped = 0;
}

void ltc_db_destroy(ltc_db *db) {
    if (!db) return;
    drop_conn(db);
    free(db->stmts);
    free(db->dsn);
    free(db->schema);
    free(db->app_name);
    pthread_mutex_destroy(&db->cancel_mu);
    free(db);
}

void ltc_db_cancel(ltc_db *db) {
    if (!db) return;
    pthread_mutex_lock(&db->cancel_mu);
    if (db->cancel) {
        char err[128];
        PQcancel(db->cancel, err, sizeof err);
    }
    pthread_mutex_unlock(&db->cancel_mu);
}

void ltc_db_set_deadline(ltc_db *db, int64_t ms_left) {
    if (!db) return;
    db->deadline_ms = ms_left == INT64_MAX ? 0 : mono_ms() + (ms_left > 0 ? ms_left : 0);
}

/* The moment a wait for an answer gives up: the caller's deadline or the statement timeout plus
 * LTC_DB_WAIT_GRACE_MS, whichever comes first (0: never, for migrations). */
static int64_t wait_bound(const ltc_db *db, int *by_deadline) {
    int64_t bound = 0;
    *by_deadline = 0;
    if (!db->unbounded) bound = mono_ms() + db->opt.statement_timeout_ms + LTC_DB_WAIT_GRACE_MS;
    if (db->deadline_ms && (!bound || db->deadline_ms < bound)) {
        bound = db->deadline_ms;
        *by_deadline = 1;
    }
    return bound;
}

/* Reads input until the next result can be taken without blocking (or the connection failed: PQgetResult says
 * how). -1 with st set when the bound passed: the connection is then dropped, which ends the statement on the
 * server too (its session notices the closed connection: client_connection_check_interval) and rolls its
 * transaction back. */
static int wait_ready(ltc_db *db, int64_t bound, int by_deadline, ltc_status *st) {
    while (PQisBusy(db->conn)) {
        int64_t left = bound ? bound - mono_ms() : -1;
        if (bound && left <= 0) {
            if (by_deadline) {
                db->deadline_ms = 0; /* spent: what follows (the rollback, the failure's audit row) is not cut */
                LTC_WARN("db_deadline", NULL, "the call's deadline passed during a statement: connection dropped");
                drop_conn(db);
                ltc_status_set(st, LTC_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED",
                               "the deadline passed during a database statement, which was cancelled");
            } else {
                ltc_metrics_db_error(LTC_DB_ERROR_TIMEOUT);
                LTC_WARN("db_timeout", NULL, "no answer from the database within %d ms: connection dropped",
                         db->opt.statement_timeout_ms + LTC_DB_WAIT_GRACE_MS);
                drop_conn(db);
                ltc_status_set(st, LTC_UNAVAILABLE, "DATABASE_UNAVAILABLE", "database did not answer in time");
            }
            return -1;
        }
        struct pollfd fd = {.fd = PQsocket(db->conn), .events = POLLIN};
        int n = poll(&fd, 1, left < 0 ? -1 : (left > 60000 ? 60000 : (int)left));
        if (n < 0 && errno != EINTR) break;
        if (n > 0 && !PQconsumeInput(db->conn)) break; /* the connection failed: PQgetResult says how */
    }
    return 0;
}

/* Keeps the first failed result of a sequence, else the last one. */
static void keep_result(PGresult **last, PGresult *r) {
    if (*last && PQresultStatus(*last) == PGRES_FATAL_ERROR) {
        PQclear(r);
    } else {
        PQclear(*last);
        *last = r;
    }
}

/* Waits for the results of the query sent on db's connection, bounded as wait_bound says. Returns the last result
 * (the first failed one, when one failed), NULL with st set when the wait ran out (wait_ready). */
static PGresult *await_result(ltc_db *db, ltc_status *st) {
    int by_deadline;
    int64_t bound = wait_bound(db, &by_deadline);
    PGresult *last = NULL;
    for (;;) {
        if (wait_ready(db, bound, by_deadline, st) != 0) {
            PQclear(last);
            return NULL;
        }
        PGresult *r = PQgetResult(db->conn);
        if (!r) break;
        ExecStatusType t = PQresultStatus(r);
        keep_result(&last, r);
        if (t == PGRES_COPY_IN || t == PGRES_COPY_OUT || t == PGRES_COPY_BOTH) break;
        if (PQstatus(db->conn) != CONNECTION_OK) break;
    }
    if (!last) last = PQmakeEmptyPGresult(db->conn, PGRES_FATAL_ERROR); /* a connection that broke: map_error */
    return last;
}

/* Trusted SQL text (several statements allowed), bounded like every query. The last result, or NULL with st set. */
static PGresult *exec_text(ltc_db *db, const char *sql, ltc_status *st) {
    if (!PQsendQuery(db->conn, sql)) return PQmakeEmptyPGresult(db->conn, PGRES_FATAL_ERROR);
    return await_result(db, st);
}

PGconn *ltc_db_conn(ltc_db *db) { return db->conn; }
const char *ltc_db_schema(const ltc_db *db) { return db->schema; }

int ltc_db_in_transaction(const ltc_db *db) {
    if (!db) return 0;
    if (db->in_tx) return 1;
    if (!db->conn) return 0;
    PGTransactionStatusType t = PQtransactionStatus(db->conn);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

/* Server notices (e.g. "relation already exists, skipping") go to the debug log, not to stderr. */
static void on_notice(void *arg, const char *message) {
    (void)arg;
    if (ltc_log_enabled(LTC_LOG_DEBUG)) ltc_log(LTC_LOG_DEBUG, "db_notice", NULL, "%.300s", message);
}

int ltc_db_connect(ltc_db *db, ltc_status *st) {
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK) return 0;
    drop_conn(db);
    db->opt = ltc_db_get_options();
    /* Defaults first: values in the DSN (expanded from "dbname") override them. connect_timeout bounds the whole
     * set-up (TCP, TLS, authentication); keepalives and tcp_user_timeout find a peer that vanished (a partition, a
     * crashed host) on an idle connection and on one with unacknowledged data. */
    char ct[16], ki[16], kn[16], kc[16], tu[16];
    snprintf(ct, sizeof ct, "%d", db->opt.connect_timeout_s);
    snprintf(ki, sizeof ki, "%d", db->opt.keepalives_idle_s);
    snprintf(kn, sizeof kn, "%d", db->opt.keepalives_interval_s);
    snprintf(kc, sizeof kc, "%d", db->opt.keepalives_count);
    snprintf(tu, sizeof tu, "%d", db->opt.tcp_user_timeout_ms);
    const char *keys[] = {"connect_timeout",     "keepalives",       "keepalives_idle",
                          "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                          "application_name",    "dbname",           NULL};
    const char *vals[] = {ct, "1", ki, kn, kc, tu, db->app_name, db->dsn, NULL};
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s", db->conn ? PQerrorMessage(db->conn) : "out of memory");
        msg[strcspn(msg, "\n")] = 0;
        LTC_WARN("db_connect_failed", NULL, "%s", msg);
        ltc_metrics_db_error(LTC_DB_ERROR_CONNECTION);
        drop_conn(db);
        return ltc_status_set(st, LTC_UNAVAILABLE, "DATABASE_UNAVAILABLE", "database unavailable");
    }
    PQsetNoticeProcessor(db->conn, on_notice, NULL);
    pthread_mutex_lock(&db->cancel_mu);
    db->cancel = PQgetCancel(db->conn);
    pthread_mutex_unlock(&db->cancel_mu);
    char *ident = PQescapeIdentifier(db->conn, db->schema, strlen(db->schema));
    char sql[512];
    /* statement_timeout: the server ends a statement that runs longer; idle_in_transaction_session_timeout: a
     * transaction whose client went silent (dropped after a timeout, a partition) does not hold its locks for long;
     * client_connection_check_interval: a statement whose client closed its connection (a call's deadline) stops
     * within a second instead of running on to its end. jit: PostgreSQL compiles a statement's expressions when its
     * plan's cost passes jit_above_cost, at every execution (nothing is cached): the reports' plans pass it, and the
     * compilation took 4.3 s of a 13 s velocity report over 50,000 deals (docs/performance.md); the hot paths are
     * index lookups that never gain from it. */
    snprintf(sql, sizeof sql,
             "SET search_path TO %s; SET synchronous_commit TO on; SET datestyle TO ISO, YMD; SET timezone TO UTC;"
             " SET statement_timeout = %d; SET idle_in_transaction_session_timeout = %d;"
             " SET client_connection_check_interval = 1000; SET jit = off",
             ident ? ident : "public", db->unbounded ? 0 : db->opt.statement_timeout_ms, db->opt.idle_tx_timeout_ms);
    PQfreemem(ident);
    ltc_status tmo = {0};
    PGresult *r = exec_text(db, sql, &tmo);
    ltc_status_clear(&tmo);
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok && r) LTC_WARN("db_session_failed", NULL, "%.200s", PQresultErrorMessage(r));
    PQclear(r);
    if (!ok) {
        drop_conn(db);
        return ltc_status_set(st, LTC_UNAVAILABLE, "DATABASE_UNAVAILABLE", "database session set-up failed");
    }
    db->counted = 1;
    ltc_metrics_db_connection(1);
    return 0;
}

/* Maps a failed result to a status; drops the connection when it is gone. */
static void map_error(ltc_db *db, const PGresult *r, ltc_status *st) {
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : (db->conn ? PQerrorMessage(db->conn) : "no connection");
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
        strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0 ||
        strncmp(state, "53", 2) == 0) {
        LTC_WARN("db_unavailable", NULL, "%.200s", msg ? msg : "");
        ltc_metrics_db_error(LTC_DB_ERROR_CONNECTION);
        drop_conn(db);
        ltc_status_set(st, LTC_UNAVAILABLE, "DATABASE_UNAVAILABLE", "database unavailable");
        return;
    }
    const char *constraint = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    if (strcmp(state, "23505") == 0) {
        ltc_status_set(st, LTC_ALREADY_EXISTS, "ALREADY_EXISTS", "already exists (%s)", constraint ? constraint : "");
    } else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0) {
        ltc_status_set(st, LTC_ABORTED, "CONCURRENT_UPDATE", "concurrent update, retry");
    } else if (strcmp(state, "57014") == 0) {
        ltc_metrics_db_error(LTC_DB_ERROR_TIMEOUT);
        ltc_status_set(st, LTC_DEADLINE_EXCEEDED, "DATABASE_TIMEOUT", "database statement timed out");
    } else if (strcmp(state, "23514") == 0 || strcmp(state, "23503") == 0 || strcmp(state, "23502") == 0) {
        ltc_status_set(st, LTC_FAILED_PRECONDITION, "CONSTRAINT_VIOLATION", "refused by constraint %s",
                       constraint ? constraint : state);
    } else if (strncmp(state, "22", 2) == 0) {
        LTC_WARN("db_data_exception", NULL, "%s %.200s", state, msg ? msg : "");
        ltc_status_set(st, LTC_INVALID_ARGUMENT, "INVALID_VALUE", "a value is out of range or malformed");
    } else {
        LTC_ERROR("db_error", NULL, "%s %.300s", state, msg ? msg : "");
        ltc_metrics_db_error(LTC_DB_ERROR_STATEMENT);
        ltc_status_set(st, LTC_INTERNAL, "DATABASE_ERROR", "internal database error");
    }
}

static const char SQL_BEGIN[] = "BEGIN";
static const char SQL_COMMIT[] = "COMMIT";

/* Pipeline mode (libpq 14+, docs/performance.md): a transaction's BEGIN is sent with its first statement, and the
 * statements a write sends for their effect only (ltc_db_send_bin: its audit row, its stored response) go out with
 * the next statement or the COMMIT: one round trip where there were two to four. The server runs them in order;
 * after a failure it skips the rest up to the Sync (PGRES_PIPELINE_ABORTED), and the first failure is reported. */
static int pipe_enter(ltc_db *db) {
    if (PQpipelineStatus(db->conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(db->conn)) return -1;
    if (db->begin_pending) {
        db->begin_pending = 0;
        if (!PQsendQueryParams(db->conn, SQL_BEGIN, 0, NULL, NULL, NULL, NULL, 0)) return -1;
        db->piped++;
    }
    return 0;
}

static void pipe_broken(ltc_db *db, ltc_status *st) {
    if (db->conn) {
        LTC_WARN("db_unavailable", NULL, "%.200s", PQerrorMessage(db->conn));
        ltc_metrics_db_error(LTC_DB_ERROR_CONNECTION);
        drop_conn(db);
    }
    ltc_status_set(st, LTC_UNAVAILABLE, "DATABASE_UNAVAILABLE", "database unavailable");
}

/* Sends Sync and reads the results of every statement in the pipeline, in order, then leaves pipeline mode.
 * Returns the last statement's result when every statement succeeded, else NULL with st set from the first
 * failure (or the connection's loss, or the wait's bound: wait_ready). */
static PGresult *pipe_finish(ltc_db *db, ltc_status *st) {
    PGresult *last = NULL;
    int synced = 0, nulls = 0;
    if (PQpipelineSync(db->conn)) {
        int by_deadline;
        int64_t bound = wait_bound(db, &by_deadline);
        while (!synced && PQstatus(db->conn) == CONNECTION_OK) {
            if (wait_ready(db, bound, by_deadline, st) != 0) {
                PQclear(last);
                return NULL; /* the connection is dropped */
            }
            PGresult *r = PQgetResult(db->conn);
            if (!r) {
                if (++nulls > 1 && !PQisBusy(db->conn)) break; /* the end of one statement's results, never two */
                continue;
            }
            nulls = 0;
            ExecStatusType t = PQresultStatus(r);
            if (t == PGRES_PIPELINE_SYNC) {
                PQclear(r);
                synced = 1;
            } else if (t == PGRES_PIPELINE_ABORTED) {
                PQclear(r);
            } else {
                keep_result(&last, r);
            }
        }
    }
    db->piped = 0;
    if (!synced || !PQexitPipelineMode(db->conn)) {
        if (last && PQresultStatus(last) == PGRES_FATAL_ERROR) {
            map_error(db, last, st);
            if (db->conn) drop_conn(db); /* whatever map_error made of it, this connection's state is unknown */
        } else {
            pipe_broken(db, st);
        }
        PQclear(last);
        return NULL;
    }
    if (!last) last = PQmakeEmptyPGresult(db->conn, PGRES_FATAL_ERROR);
    ExecStatusType t = PQresultStatus(last);
    if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) return last;
    map_error(db, last, st);
    PQclear(last);
    return NULL;
}

static const stmt *prepared(ltc_db *db, const char *sql, int nparams, int *index, ltc_status *st) {
    for (size_t i = 0; i < db->n_stmts; i++) {
        if (db->stmts[i].sql == sql) {
            *index = (int)i;
            return &db->stmts[i];
        }
    }
    if (db->n_stmts == db->cap_stmts) {
        size_t cap = db->cap_stmts ? db->cap_stmts * 2 : 32;
        stmt *s = realloc(db->stmts, cap * sizeof *s);
        if (!s) {
            ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
            return NULL;
        }
        db->stmts = s;
        db->cap_stmts = cap;
    }
    if (db->piped) { /* a statement prepared on first use waits for the pipeline before it */
        PGresult *pr = pipe_finish(db, st);
        if (!pr) return NULL;
        PQclear(pr);
    }
    char name[32];
    snprintf(name, sizeof name, "s%zu", db->n_stmts);
    PGresult *r = PQsendPrepare(db->conn, name, sql, nparams, NULL) ? await_result(db, st)
                                                                    : PQmakeEmptyPGresult(db->conn, PGRES_FATAL_ERROR);
    if (!r) return NULL; /* timed out: st is set */
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        map_error(db, r, st);
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    *index = (int)db->n_stmts;
    db->stmts[db->n_stmts] = (stmt){sql, nparams};
    return &db->stmts[db->n_stmts++];
}

/* A connection a statement can run on: connected now (or again, outside a transaction). 0, or -1 with st set. */
static int usable(ltc_db *db, ltc_status *st) {
    if (db->in_tx && (db->tx_broken || !db->conn || PQstatus(db->conn) != CONNECTION_OK)) {
        /* never carry on a transaction on a new connection: its first half is gone */
        if (db->conn && PQstatus(db->conn) != CONNECTION_OK) drop_conn(db);
        db->tx_broken = 1;
        return ltc_status_set(st, LTC_UNAVAILABLE, "DATABASE_UNAVAILABLE", "database connection lost in a transaction");
    }
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) return ltc_db_connect(db, st);
    return 0;
}

int ltc_db_exec_text(ltc_db *db, ltc_status *st, const char *sql) {
    if (!db) return ltc_status_set(st, LTC_UNAVAILABLE, "DATABASE_UNAVAILABLE", "no database");
    if (usable(db, st) != 0) return -1;
    if (db->begin_pending || db->piped) { /* simple-protocol text runs after the transaction's BEGIN and sends */
        if (pipe_enter(db) != 0) {
            pipe_broken(db, st);
            return -1;
        }
        PGresult *pr = pipe_finish(db, st);
        if (!pr) return -1;
        PQclear(pr);
    }
    ltc_status tmo = {0};
    PGresult *r = exec_text(db, sql, &tmo);
    if (!r) {
        *st = tmo;
        return -1;
    }
    ExecStatusType t = PQresultStatus(r);
    if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) {
        PQclear(r);
        return 0;
    }
    map_error(db, r, st);
    PQclear(r);
    return -1;
}

PGresult *ltc_db_query_bin(ltc_db *db, ltc_status *st, const char *sql, int nparams, const char *const *params,
                           const int *lengths, const int *formats) {
    if (!db) {
        ltc_status_set(st, LTC_UNAVAILABLE, "DATABASE_UNAVAILABLE", "no database");
        return NULL;
    }
    if (usable(db, st) != 0) return NULL;
    int idx;
    if (!prepared(db, sql, nparams, &idx, st)) return NULL;
    char name[32];
    snprintf(name, sizeof name, "s%d", idx);
    if (db->begin_pending || db->piped) {
        if (pipe_enter(db) != 0 || !PQsendQueryPrepared(db->conn, name, nparams, params, lengths, formats, 0)) {
            pipe_broken(db, st);
            return NULL;
        }
        db->piped++;
        return pipe_finish(db, st);
    }
    PGresult *r = PQsendQueryPrepared(db->conn, name, nparams, params, lengths, formats, 0)
                      ? await_result(db, st)
                      : PQmakeEmptyPGresult(db->conn, PGRES_FATAL_ERROR);
    if (!r) return NULL; /* timed out: st is set */
    ExecStatusType t = PQresultStatus(r);
    if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) return r;
    map_error(db, r, st);
    PQclear(r);
    return NULL;
}

PGresult *ltc_db_query(ltc_db *db, ltc_status *st, const char *sql, int nparams, const char *const *params) {
    return ltc_db_query_bin(db, st, sql, nparams, params, NULL, NULL);
}

int ltc_db_send_bin(ltc_db *db, ltc_status *st, const char *sql, int nparams, const char *const *params,
                    const int *lengths, const int *formats) {
    if (!db || !db->in_tx || !db->opt.pipeline) {
        PGresult *r = ltc_db_query_bin(db, st, sql, nparams, params, lengths, formats);
        PQclear(r);
        return r ? 0 : -1;
    }
    if (usable(db, st) != 0) return -1;
    int idx;
    if (!prepared(db, sql, nparams, &idx, st)) return -1;
    char name[32];
    snprintf(name, sizeof name, "s%d", idx);
    if (pipe_enter(db) != 0 || !PQsendQueryPrepared(db->conn, name, nparams, params, lengths, formats, 0)) {
        pipe_broken(db, st);
        return -1;
    }
    db->piped++;
    return 0;
}

int ltc_db_send_now(ltc_db *db, ltc_status *st, const char *sql, int nparams, const char *const *params,
                    const int *lengths, const int *formats) {
    if (ltc_db_send_bin(db, st, sql, nparams, params, lengths, formats) != 0) return -1;
    /* in pipeline mode libpq keeps a small statement in its buffer until the next one: write it now */
    if (db->piped && PQflush(db->conn) != 0) {
        pipe_broken(db, st);
        return -1;
    }
    return 0;
}

int ltc_db_exec(ltc_db *db, ltc_status *st, const char *sql, int nparams, const char *const *params) {
    PGresult *r = ltc_db_query(db, st, sql, nparams, params);
    if (!r) return -1;
    PQclear(r);
    return 0;
}

int ltc_db_begin(ltc_db *db, ltc_status *st) {
    if (!db) return ltc_status_set(st, LTC_UNAVAILABLE, "DATABASE_UNAVAILABLE", "no database");
    if (db->in_tx) return ltc_status_set(st, LTC_INTERNAL, "NESTED_TRANSACTION", "transaction already open");
    if (usable(db, st) != 0) return -1;
    if (!db->opt.pipeline && ltc_db_exec(db, st, SQL_BEGIN, 0, NULL) != 0) return -1;
    db->begin_pending = db->opt.pipeline; /* sent with the first statement (pipe_enter) */
    db->in_tx = 1;
    db->tx_broken = 0;
    db->tx_started = mono_ms();
    ltc_metrics_db_tx_begin();
    return 0;
}

int ltc_db_commit(ltc_db *db, ltc_status *st) {
    if (!db) return ltc_status_set(st, LTC_UNAVAILABLE, "DATABASE_UNAVAILABLE", "no database");
    if (db->in_tx && db->begin_pending && !db->piped) { /* no statement ran: nothing to commit */
        db->begin_pending = 0;
        db->in_tx = 0;
        ltc_metrics_db_tx_end((double)(mono_ms() - db->tx_started) / 1e3, 1);
        return 0;
    }
    PGresult *r = ltc_db_query(db, st, SQL_COMMIT, 0, NULL); /* with the statements sent ahead (pipe_finish) */
    if (db->in_tx)
        ltc_metrics_db_tx_end((double)(mono_ms() - db->tx_started) / 1e3, r && strcmp(PQcmdStatus(r), "COMMIT") == 0);
    db->in_tx = 0;
    db->tx_broken = 0;
    if (!r)
        return -1; /* a statement sent ahead failed (st says which way: the transaction is then left failed, for
                          the caller's rollback), or the connection broke during COMMIT: the outcome is unknown,
                          callers retry idempotently */
    /* COMMIT of a failed transaction reports ROLLBACK */
    int rolled_back = strcmp(PQcmdStatus(r), "ROLLBACK") == 0;
    PQclear(r);
    if (rolled_back) return ltc_status_set(st, LTC_ABORTED, "TRANSACTION_ROLLED_BACK", "transaction rolled back");
    return 0;
}

void ltc_db_rollback(ltc_db *db) {
    if (!db) return;
    if (db->in_tx) ltc_metrics_db_tx_end((double)(mono_ms() - db->tx_started) / 1e3, 0);
    db->in_tx = 0;
    db->tx_broken = 0;
    db->begin_pending = 0;
    ltc_status st = {0};
    if (db->piped && db->conn) PQclear(pipe_finish(db, &st)); /* statements sent ahead: their outcome is moot */
    ltc_status_clear(&st);
    if (!db->conn || PQtransactionStatus(db->conn) == PQTRANS_IDLE) return;
    PGresult *r = exec_text(db, "ROLLBACK", &st); /* bounded: a silent server costs a dropped connection */
    ltc_status_clear(&st);
    PQclear(r);
    if (db->conn && PQstatus(db->conn) != CONNECTION_OK) drop_conn(db);
}

const char *ltc_pg_str(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

int64_t ltc_pg_i64(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int ltc_pg_bool(const PGresult *r, int row, int col) {
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

int ltc_pg_isnull(const PGresult *r, int row, int col) { return PQgetisnull(r, row, col); }

/* --- migrations ------------------------------------------------------------------------------------------ */

int ltc_migrations_check(const ltc_migration *migs, size_t n, ltc_status *st) {
    for (size_t i = 0; i < n; i++) {
        if (migs[i].version <= 0 || !migs[i].sql || !migs[i].name)
            return ltc_status_set(st, LTC_INTERNAL, "BAD_MIGRATION", "migration %zu has no positive version", i);
        if (i > 0 && migs[i].version <= migs[i - 1].version)
            return ltc_status_set(st, LTC_INTERNAL, "BAD_MIGRATION",
                                  "migration %s: versions must increase (%d after %d)", migs[i].name, migs[i].version,
                                  migs[i - 1].version);
    }
    return 0;
}

static const char SQL_SCHEMA_EXISTS[] = "SELECT 1 FROM pg_namespace WHERE nspname = $1";
static const char SQL_TABLE_EXISTS[] = "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                       " WHERE n.nspname = $1 AND c.relname = 'schema_migrations'";
static const char SQL_TRY_LOCK[] = "SELECT pg_try_advisory_lock(hashtext('ltc-migrate:' || $1))";
static const char SQL_UNLOCK[] = "SELECT pg_advisory_unlock(hashtext('ltc-migrate:' || $1))";
static const char SQL_APPLIED[] = "SELECT version, name FROM schema_migrations WHERE component = $1 ORDER BY version";
static const char SQL_RECORD[] = "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)";

static int run_script(ltc_db *db, const char *sql, const char *what, ltc_status *st) {
    ltc_status tmo = {0};
    PGresult *r = exec_text(db, sql, &tmo); /* trusted SQL embedded in the binary, several statements */
    if (!r) {
        *st = tmo;
        return -1;
    }
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok && (!db->conn || PQstatus(db->conn) != CONNECTION_OK)) {
        map_error(db, r, st); /* the connection was lost: UNAVAILABLE, the start-up waits and tries again */
    } else if (!ok) {
        LTC_ERROR("migration_failed", NULL, "%s: %.400s", what, PQresultErrorMessage(r));
        ltc_status_set(st, LTC_INTERNAL, "MIGRATION_FAILED", "migration %s failed", what);
    }
    PQclear(r);
    return ok ? 0 : -1;
}

/* Takes the schema's migration lock, waiting (logged every 5 s) while another process holds it: a replica that
 * migrates, or the session of one that died, which PostgreSQL ends when it notices. 0, or -1 with st set. */
static int migration_lock(ltc_db *db, const char *const *p1, ltc_status *st) {
    int64_t t0 = mono_ms(), logged = t0;
    for (;;) {
        PGresult *r = ltc_db_query(db, st, SQL_TRY_LOCK, 1, p1);
        if (!r) return -1;
        int got = ltc_pg_bool(r, 0, 0);
        PQclear(r);
        if (got) return 0;
        if (mono_ms() - logged >= 5000) {
            logged = mono_ms();
            LTC_WARN("migration_lock_wait", NULL,
                     "waiting %lld s for the migration lock of schema %s (another process "
                     "migrates it)",
                     (long long)((logged - t0) / 1000), db->schema);
        }
        struct timespec ts = {0, 250 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int ltc_db_migrate(ltc_db *db, const char *component, const ltc_migration *migs, size_t n, ltc_status *st) {
    if (ltc_migrations_check(migs, n, st) != 0) return -1;
    /* a migration may run long (a table rewrite): no statement timeout on this connection, which keepalives and
     * tcp_user_timeout still watch */
    if (!db->unbounded) {
        drop_conn(db);
        db->unbounded = 1;
    }
    if (ltc_db_connect(db, st) != 0) return -1;
    const char *p1[] = {db->schema};
    PGresult *r = ltc_db_query(db, st, SQL_SCHEMA_EXISTS, 1, p1);
    if (!r) return -1;
    int exists = PQntuples(r) == 1;
    PQclear(r);
    if (!exists)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "SCHEMA_MISSING",
                              "schema %s does not exist: create it and its role (deploy/postgres/init.sql)",
                              db->schema);
    if (migration_lock(db, p1, st) != 0) return -1;
    int rc = -1;
    /* Only when it is missing: even CREATE TABLE IF NOT EXISTS needs CREATE on the schema, which a service's serving
     * role does not have (it may run this to find that nothing is left to apply). */
    r = ltc_db_query(db, st, SQL_TABLE_EXISTS, 1, p1);
    if (!r) goto out;
    exists = PQntuples(r) == 1;
    PQclear(r);
    if (!exists && run_script(db,
                              "CREATE TABLE IF NOT EXISTS schema_migrations ("
                              " component text NOT NULL, version integer NOT NULL, name text NOT NULL,"
                              " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))",
                              "schema_migrations", st) != 0)
        goto out;
    const char *p2[] = {component};
    r = ltc_db_query(db, st, SQL_APPLIED, 1, p2);
    if (!r) goto out;
    int nrows = PQntuples(r);
    for (int i = 0; i < nrows; i++) {
        int v = (int)ltc_pg_i64(r, i, 0);
        const char *name = ltc_pg_str(r, i, 1);
        int known = 0;
        for (size_t j = 0; j < n; j++) {
            if (migs[j].version == v) {
                known = 1;
                if (strcmp(migs[j].name, name) != 0) {
                    ltc_status_set(st, LTC_FAILED_PRECONDITION, "MIGRATION_MISMATCH",
                                   "%s migration %d is %s in the database but %s in this binary", component, v, name,
                                   migs[j].name);
                    PQclear(r);
                    goto out;
                }
            }
        }
        if (!known)
            LTC_WARN("migration_unknown", NULL, "%s migration %d (%s) is newer than this binary", component, v, name);
    }
    for (size_t j = 0; j < n; j++) {
        int applied = 0;
        for (int i = 0; i < nrows; i++)
            if ((int)ltc_pg_i64(r, i, 0) == migs[j].version) applied = 1;
        if (applied) continue;
        if (ltc_db_begin(db, st) != 0 || run_script(db, migs[j].sql, migs[j].name, st) != 0) {
            ltc_db_rollback(db);
            PQclear(r);
            goto out;
        }
        char vbuf[16];
        snprintf(vbuf, sizeof vbuf, "%d", migs[j].version);
        const char *p3[] = {component, vbuf, migs[j].name};
        if (ltc_db_exec(db, st, SQL_RECORD, 3, p3) != 0 || ltc_db_commit(db, st) != 0) {
            ltc_db_rollback(db);
            PQclear(r);
            goto out;
        }
        LTC_INFO("migration_applied", NULL, "%s %s", component, migs[j].name);
    }
    PQclear(r);
    rc = 0;
out:
    if (db->conn) {
        ltc_status ignore = {0};
        ltc_db_exec(db, &ignore, SQL_UNLOCK, 1, p1);
    }
    return rc;
}
