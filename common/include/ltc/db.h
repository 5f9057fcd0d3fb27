/* ltc/db.h - PostgreSQL access: one connection per thread, parameterised statements only (prepared once per
 * connection and cached), transactions, SQLSTATE -> gRPC status mapping, and migrations under an advisory lock.
 *
 * Every statement goes through PQexecPrepared; user data never becomes part of SQL text. The `sql` argument must
 * be a string literal (or otherwise live for the process's life): its address is the cache key of the prepared
 * statement. */
#ifndef LTC_DB_H
#define LTC_DB_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "ltc/status.h"

typedef struct ltc_db ltc_db;

/* How every connection of the process is bounded (docs/configuration.md, LTC_DB_*): connect_timeout for the whole
 * set-up; TCP keepalives and tcp_user_timeout, so that a vanished peer is noticed; statement_timeout on the server,
 * and on the client a wait of at most statement_timeout_ms + LTC_DB_WAIT_GRACE_MS for any answer (a server that stops
 * answering, a partition: UNAVAILABLE, the connection dropped); idle_in_transaction_session_timeout, so that a
 * transaction whose client went silent releases its locks. */
typedef struct ltc_db_options {
    int connect_timeout_s;
    int statement_timeout_ms;
    int idle_tx_timeout_ms;
    int keepalives_idle_s, keepalives_interval_s, keepalives_count;
    int tcp_user_timeout_ms;
    int pipeline; /* 1: BEGIN with the first statement, ltc_db_send_bin's statements with the next (pipeline mode);
                     0: every statement in a round trip of its own (for a proxy that does not pass pipelines) */
} ltc_db_options;
#define LTC_DB_OPTIONS_DEFAULT                                                                                         \
    { 5, 15000, 60000, 10, 5, 3, 20000, 1 }
#define LTC_DB_WAIT_GRACE_MS 1000

/* Sets the options every handle uses from its next connection on (process-wide; NULL: the defaults). */
void ltc_db_set_options(const ltc_db_options *o);
ltc_db_options ltc_db_get_options(void);

/* Creates a handle; connects lazily (first query) and again after a lost connection. `schema` becomes the
 * connection's search_path, so SQL names tables unqualified and never another service's schema. */
ltc_db *ltc_db_create(const char *dsn, const char *schema);
void ltc_db_destroy(ltc_db *db); /* NULL-safe; closes the connection */

/* Connects now if not connected. 0, or -1 with st UNAVAILABLE. */
int ltc_db_connect(ltc_db *db, ltc_status *st);

/* Runs a parameterised statement (text parameters; NULL for SQL NULL). Returns the result (caller PQclear()s it)
 * when it is PGRES_COMMAND_OK or PGRES_TUPLES_OK, else NULL with st set:
 *   connection lost -> UNAVAILABLE (the connection is reset for the next call; an open transaction is lost),
 *   23505 unique_violation -> ALREADY_EXISTS, 40001/40P01 -> ABORTED, 57014 query_canceled -> DEADLINE_EXCEEDED,
 *   anything else -> INTERNAL (the server's message is logged, not returned to the client). */
PGresult *ltc_db_query(ltc_db *db, ltc_status *st, const char *sql, int nparams, const char *const *params);

/* Same with explicit lengths and formats (1 = binary) per parameter, for bytea. */
PGresult *ltc_db_query_bin(ltc_db *db, ltc_status *st, const char *sql, int nparams, const char *const *params,
                           const int *lengths, const int *formats);

/* Inside a transaction: sends a statement whose only result is its success (an INSERT of a row nothing reads back)
 * without waiting for it; it goes out with the next statement or the COMMIT in one round trip (libpq's pipeline
 * mode), and its failure, if it fails, is what that statement or the COMMIT reports (mapped as ltc_db_query maps
 * it; the transaction is then failed, for the caller's rollback). Outside a transaction: ltc_db_query_bin. The
 * parameters are copied at once. 0, or -1 with st set (the connection is lost). */
int ltc_db_send_bin(ltc_db *db, ltc_status *st, const char *sql, int nparams, const char *const *params,
                    const int *lengths, const int *formats);

/* Same, and the statement leaves at once (its bytes written to the server now, not with the next statement): the
 * server runs a long write while the caller goes on with its own work, and the caller meets its result at the next
 * statement or the COMMIT. Outside a transaction: ltc_db_query_bin. 0, or -1 with st set. */
int ltc_db_send_now(ltc_db *db, ltc_status *st, const char *sql, int nparams, const char *const *params,
                    const int *lengths, const int *formats);

/* Runs a statement and discards its result. 0 or -1. */
int ltc_db_exec(ltc_db *db, ltc_status *st, const char *sql, int nparams, const char *const *params);

/* Asks the server to cancel the statement running on db's connection, from any thread (used by a shutdown that
 * outlives its grace period). The statement then fails with DEADLINE_EXCEEDED (DATABASE_TIMEOUT). NULL-safe. */
void ltc_db_cancel(ltc_db *db);

/* The caller's deadline, `ms_left` from now (INT64_MAX: none), bounds every wait for an answer from now on: when it
 * passes during a statement, the connection is dropped (the server ends the statement within a second and rolls its
 * transaction back) and the statement fails DEADLINE_EXCEEDED; the deadline is then spent (cleared), so that the
 * rollback and the failure's audit row still run. The server sets it for each call on its worker's handle. */
void ltc_db_set_deadline(ltc_db *db, int64_t ms_left);

/* Runs trusted SQL text without parameters (several statements allowed: LISTEN, a migration), bounded like every
 * statement. 0 or -1 with st set. */
int ltc_db_exec_text(ltc_db *db, ltc_status *st, const char *sql);

/* BEGIN is sent with the transaction's first statement (one round trip fewer); a transaction that ran none commits
 * and rolls back without a word to the server. */
int ltc_db_begin(ltc_db *db, ltc_status *st);
int ltc_db_commit(ltc_db *db, ltc_status *st);
void ltc_db_rollback(ltc_db *db);            /* no-op outside a transaction */
int ltc_db_in_transaction(const ltc_db *db); /* 1 inside (or failed) transaction */
PGconn *ltc_db_conn(ltc_db *db);             /* the raw connection (may be NULL before connecting) */
const char *ltc_db_schema(const ltc_db *db); /* the schema given at creation */

/* Result accessors: NULL / 0 for SQL NULL. */
const char *ltc_pg_str(const PGresult *r, int row, int col);
int64_t ltc_pg_i64(const PGresult *r, int row, int col);
int ltc_pg_bool(const PGresult *r, int row, int col); /* 't' -> 1 */
int ltc_pg_isnull(const PGresult *r, int row, int col);

/* A migration: its number orders it (1, 2, ...), its name is the file name, sql is the whole file. */
typedef struct ltc_migration {
    int version;
    const char *name;
    const char *sql;
} ltc_migration;

/* Applies, in version order, every migration of `component` ("runtime" for common's own tables, "service" for the
 * service's) not yet recorded in `schema_migrations` of the handle's schema, each
 * in its own transaction together with its record, all under pg_advisory_lock(hash of schema) so that replicas
 * starting together do not race. Refuses (INTERNAL) a list with duplicate or non-positive versions, and a database
 * that records a version this binary does not know with a different name. 0 or -1. */
int ltc_db_migrate(ltc_db *db, const char *component, const ltc_migration *migs, size_t n, ltc_status *st);

/* Checks a migration list: sorted copy order, unique positive versions. 0 or -1 with st INTERNAL. */
int ltc_migrations_check(const ltc_migration *migs, size_t n, ltc_status *st);

#endif
