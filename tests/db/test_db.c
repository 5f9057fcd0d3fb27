/* A database connection's bounds against a real PostgreSQL (tests/db/with_pg.sh provides LTC_TEST_DSN): a caller's
 * deadline cancels its statement (the statement fails DEADLINE_EXCEEDED at the deadline and stops on the server too),
 * the server's statement_timeout ends a long statement, and a server that stops answering (a partition: a proxy
 * that goes silent) costs at most the statement timeout plus the grace, then UNAVAILABLE; the handle works again
 * once the path is back. And pipeline mode (ltc_db_send_bin, BEGIN with the first statement) keeps a transaction
 * whole; ltc_db_send_now's statement reaches the server at once; ltc/sqltext.h's binary arrays read back as built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "ltc/db.h"
#include "ltc/server.h"
#include "ltc/sqltext.h"

static const char *dsn(void) {
    const char *d = getenv("LTC_TEST_DSN");
    return d ? d : "";
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static const char SQL_SLEEP[] = "SELECT pg_sleep($1::double precision)";
static const char SQL_ONE[] = "SELECT 1";
static const char SQL_RUNNING[] =
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ltc-dbtest' AND state = 'active'"
    " AND query LIKE 'SELECT pg_sleep%'";

/* The count a one-value query answers on db (pg_stat_activity, pg_locks). */
static int64_t count_of(ltc_db *db, const char *sql, int nparams, const char *const *params) {
    ltc_status st = {0};
    PGresult *r = ltc_db_query(db, &st, sql, nparams, params);
    assert_non_null(r);
    int64_t n = ltc_pg_i64(r, 0, 0);
    PQclear(r);
    return n;
}

static int64_t running_sleeps(ltc_db *probe) { return count_of(probe, SQL_RUNNING, 0, NULL); }

static void test_deadline_cancels_the_statement(void **state) {
    (void)state;
    ltc_db_set_options(NULL);
    ltc_db *db = ltc_db_create(dsn(), "dbtest"), *probe = ltc_db_create(dsn(), "probe");
    ltc_status st = {0};
    assert_int_equal(ltc_db_connect(db, &st), 0);
    assert_int_equal(ltc_db_begin(db, &st), 0);
    ltc_db_set_deadline(db, 300);
    const char *p[1] = {"10"};
    double t0 = now_ms();
    assert_null(ltc_db_query(db, &st, SQL_SLEEP, 1, p));
    double took = now_ms() - t0;
    assert_int_equal(st.code, LTC_DEADLINE_EXCEEDED);
    assert_true(took >= 250 && took < 1500);
    ltc_status_clear(&st);
    ltc_db_rollback(db);
    /* the server's statement ends too (client_connection_check_interval: within about a second) */
    double t1 = now_ms();
    while (running_sleeps(probe) > 0 && now_ms() - t1 < 5000) usleep(50 * 1000);
    assert_int_equal(running_sleeps(probe), 0);
    /* the deadline was spent: the handle serves the next statement on a new connection */
    PGresult *r = ltc_db_query(db, &st, SQL_ONE, 0, NULL);
    assert_non_null(r);
    PQclear(r);
    ltc_db_destroy(db);
    ltc_db_destroy(probe);
}

static void test_statement_timeout(void **state) {
    (void)state;
    ltc_db_options o = LTC_DB_OPTIONS_DEFAULT;
    o.statement_timeout_ms = 300;
    ltc_db_set_options(&o);
    ltc_db *db = ltc_db_create(dsn(), "dbtest");
    ltc_status st = {0};
    const char *p[1] = {"10"};
    double t0 = now_ms();
    assert_null(ltc_db_query(db, &st, SQL_SLEEP, 1, p));
    assert_true(now_ms() - t0 < 1200);
    assert_int_equal(st.code, LTC_DEADLINE_EXCEEDED);
    assert_string_equal(st.reason, "DATABASE_TIMEOUT");
    ltc_status_clear(&st);
    ltc_db_destroy(db);
    ltc_db_set_options(NULL);
}

/* ---- a TCP proxy on loopback in front of PostgreSQL that can go silent (a partition) ---- */

typedef struct proxy {
    int ls;
    int pg_port;
    atomic_int silent;
    atomic_int stop;
    pthread_t thread;
} proxy;

typedef struct pipe_pair {
    proxy *px;
    int a, b;
} pipe_pair;

static void *pump(void *arg) {
    pipe_pair *pp = arg;
    char buf[16384];
    for (;;) {
        struct pollfd fds[2] = {{.fd = pp->a, .events = POLLIN}, {.fd = pp->b, .events = POLLIN}};
        int n = poll(fds, 2, 100);
        if (atomic_load(&pp->px->stop)) break;
        if (n <= 0) continue;
        int done = 0;
        for (int i = 0; i < 2 && !done; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t k = read(fds[i].fd, buf, sizeof buf);
            if (k <= 0) {
                done = 1;
                break;
            }
            if (atomic_load(&pp->px->silent)) continue; /* the partition: bytes go nowhere, nothing is refused */
            int to = i == 0 ? pp->b : pp->a;
            for (ssize_t off = 0; off < k;) {
                ssize_t w = write(to, buf + off, (size_t)(k - off));
                if (w <= 0) {
                    done = 1;
                    break;
                }
                off += w;
            }
        }
        if (done) break;
    }
    close(pp->a);
    close(pp->b);
    free(pp);
    return NULL;
}

static void *proxy_main(void *arg) {
    proxy *px = arg;
    for (;;) {
        int c = accept(px->ls, NULL, NULL);
        if (c < 0) return NULL;
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {
            .sin_family = AF_INET, .sin_port = htons((uint16_t)px->pg_port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
            close(c);
            close(s);
            continue;
        }
        pipe_pair *pp = malloc(sizeof *pp);
        *pp = (pipe_pair){px, c, s};
        pthread_t t;
        pthread_create(&t, NULL, pump, pp);
        pthread_detach(t);
    }
}

/* The port of LTC_TEST_DSN ("... port=N ..."). */
static int dsn_port(void) {
    const char *p = strstr(dsn(), "port=");
    return p ? atoi(p + 5) : 5432;
}

static void test_silent_server_is_unavailable_within_the_bound(void **state) {
    (void)state;
    static proxy px; /* static: its pumps may look at it for a moment after the test returns */
    px.pg_port = dsn_port();
    px.ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(px.ls, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(px.ls, 16), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(px.ls, (struct sockaddr *)&a, &alen), 0);
    assert_int_equal(pthread_create(&px.thread, NULL, proxy_main, &px), 0);
    char via[512];
    snprintf(via, sizeof via, "%s port=%d", dsn(), ntohs(a.sin_port)); /* the last port= wins */

    ltc_db_options o = LTC_DB_OPTIONS_DEFAULT;
    o.statement_timeout_ms = 1000;
    o.connect_timeout_s = 2;
    ltc_db_set_options(&o);
    ltc_db *db = ltc_db_create(via, "dbtest");
    ltc_status st = {0};
    PGresult *r = ltc_db_query(db, &st, SQL_ONE, 0, NULL);
    assert_non_null(r);
    PQclear(r);

    atomic_store(&px.silent, 1);
    double t0 = now_ms();
    assert_null(ltc_db_query(db, &st, SQL_ONE, 0, NULL)); /* sent, never answered */
    double took = now_ms() - t0;
    assert_int_equal(st.code, LTC_UNAVAILABLE);
    assert_true(took >= 900 && took < 1000 + LTC_DB_WAIT_GRACE_MS + 700);
    ltc_status_clear(&st);
    t0 = now_ms();
    assert_null(ltc_db_query(db, &st, SQL_ONE, 0, NULL)); /* a new connection: its set-up is never answered */
    assert_int_equal(st.code, LTC_UNAVAILABLE);
    assert_true(now_ms() - t0 < 2000 + 1500);
    ltc_status_clear(&st);

    atomic_store(&px.silent, 0); /* the partition heals: the next statement connects again */
    r = ltc_db_query(db, &st, SQL_ONE, 0, NULL);
    assert_non_null(r);
    PQclear(r);
    ltc_db_destroy(db);
    ltc_db_set_options(NULL);
    atomic_store(&px.stop, 1);
    shutdown(px.ls, SHUT_RDWR);
    pthread_join(px.thread, NULL);
    close(px.ls);
    usleep(200 * 1000); /* the pumps see stop and close */
}

/* Pipeline mode: BEGIN goes out with the first statement and ltc_db_send_bin's statements with the next statement
 * or COMMIT. What a caller relies on: everything sent commits together; a sent statement's failure fails the
 * COMMIT with its own mapping and nothing of the transaction stays; a transaction that ran nothing commits; text
 * run first in a transaction (SET TRANSACTION) still runs inside it; a statement prepared on first use after sends
 * waits for them. */
static const char SQL_PIPE_TABLE[] = "CREATE TABLE IF NOT EXISTS pipe_t (k text PRIMARY KEY, v int NOT NULL)";
static const char SQL_PIPE_CLEAR[] = "DELETE FROM pipe_t";
static const char SQL_PIPE_PUT[] = "INSERT INTO pipe_t (k, v) VALUES ($1, $2::int)";
static const char SQL_PIPE_COUNT[] = "SELECT count(*), COALESCE(sum(v), 0) FROM pipe_t";
static const char SQL_PIPE_ISO[] = "SELECT current_setting('transaction_isolation')";

static void pipe_counts(ltc_db *db, int64_t *n, int64_t *sum) {
    ltc_status st = {0};
    PGresult *r = ltc_db_query(db, &st, SQL_PIPE_COUNT, 0, NULL);
    assert_non_null(r);
    *n = ltc_pg_i64(r, 0, 0);
    *sum = ltc_pg_i64(r, 0, 1);
    PQclear(r);
}

static void pipeline_cases(int pipeline) {
    ltc_db_options o = LTC_DB_OPTIONS_DEFAULT;
    o.pipeline = pipeline;
    ltc_db_set_options(&o);
    ltc_db *db = ltc_db_create(dsn(), "dbtest"), *other = ltc_db_create(dsn(), "dbtest");
    ltc_status st = {0};
    assert_int_equal(ltc_db_exec_text(db, &st, "CREATE SCHEMA IF NOT EXISTS dbtest"), 0);
    assert_int_equal(ltc_db_exec(db, &st, SQL_PIPE_TABLE, 0, NULL), 0);
    assert_int_equal(ltc_db_exec(db, &st, SQL_PIPE_CLEAR, 0, NULL), 0);
    int64_t n, sum;

    /* sends, then a read in the same transaction sees them (they ran first), then COMMIT */
    assert_int_equal(ltc_db_begin(db, &st), 0);
    const char *a[2] = {"a", "1"}, *b[2] = {"b", "2"};
    assert_int_equal(ltc_db_send_bin(db, &st, SQL_PIPE_PUT, 2, a, NULL, NULL), 0);
    assert_int_equal(ltc_db_send_bin(db, &st, SQL_PIPE_PUT, 2, b, NULL, NULL), 0);
    pipe_counts(other, &n, &sum);
    assert_int_equal(n, 0); /* nothing visible before the COMMIT */
    pipe_counts(db, &n, &sum);
    assert_int_equal(n, 2);
    const char *c[2] = {"c", "4"};
    assert_int_equal(ltc_db_send_bin(db, &st, SQL_PIPE_PUT, 2, c, NULL, NULL), 0);
    assert_int_equal(ltc_db_commit(db, &st), 0);
    pipe_counts(other, &n, &sum);
    assert_int_equal(n, 3);
    assert_int_equal(sum, 7);

    /* a sent statement fails (duplicate key): reported as ALREADY_EXISTS by the COMMIT (pipelined) or by the send
     * itself (one by one), and nothing of the transaction stays */
    assert_int_equal(ltc_db_begin(db, &st), 0);
    const char *d[2] = {"d", "8"};
    assert_int_equal(ltc_db_send_bin(db, &st, SQL_PIPE_PUT, 2, d, NULL, NULL), 0);
    if (pipeline) {
        assert_int_equal(ltc_db_send_bin(db, &st, SQL_PIPE_PUT, 2, a, NULL, NULL), 0);
        assert_int_equal(ltc_db_send_bin(db, &st, SQL_PIPE_PUT, 2, (const char *[]){"e", "16"}, NULL, NULL), 0);
        assert_int_not_equal(ltc_db_commit(db, &st), 0);
    } else {
        assert_int_not_equal(ltc_db_send_bin(db, &st, SQL_PIPE_PUT, 2, a, NULL, NULL), 0);
    }
    assert_int_equal(st.code, LTC_ALREADY_EXISTS);
    ltc_status_clear(&st);
    ltc_db_rollback(db);
    assert_int_equal(ltc_db_in_transaction(db), 0);
    pipe_counts(db, &n, &sum); /* and the handle works on */
    assert_int_equal(n, 3);
    assert_int_equal(sum, 7);

    /* a failed send before a statement: the statement's call (pipelined) or the send reports it */
    assert_int_equal(ltc_db_begin(db, &st), 0);
    if (pipeline) {
        assert_int_equal(ltc_db_send_bin(db, &st, SQL_PIPE_PUT, 2, b, NULL, NULL), 0);
        assert_null(ltc_db_query(db, &st, SQL_PIPE_COUNT, 0, NULL));
    } else {
        assert_int_not_equal(ltc_db_send_bin(db, &st, SQL_PIPE_PUT, 2, b, NULL, NULL), 0);
    }
    assert_int_equal(st.code, LTC_ALREADY_EXISTS);
    ltc_status_clear(&st);
    ltc_db_rollback(db);

    /* nothing ran: COMMIT and ROLLBACK need no statement */
    assert_int_equal(ltc_db_begin(db, &st), 0);
    assert_int_equal(ltc_db_commit(db, &st), 0);
    assert_int_equal(ltc_db_begin(db, &st), 0);
    ltc_db_rollback(db);
    assert_int_equal(ltc_db_in_transaction(db), 0);

    /* text first in a transaction runs inside it: SET TRANSACTION must be its first statement */
    assert_int_equal(ltc_db_begin(db, &st), 0);
    assert_int_equal(ltc_db_exec_text(db, &st, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"), 0);
    PGresult *r = ltc_db_query(db, &st, SQL_PIPE_ISO, 0, NULL);
    assert_non_null(r);
    assert_string_equal(ltc_pg_str(r, 0, 0), "repeatable read");
    PQclear(r);
    assert_int_equal(ltc_db_commit(db, &st), 0);

    /* outside a transaction a send is a statement like any other */
    const char *f[2] = {"f", "32"};
    assert_int_equal(ltc_db_send_bin(db, &st, SQL_PIPE_PUT, 2, f, NULL, NULL), 0);
    pipe_counts(other, &n, &sum);
    assert_int_equal(sum, 39);
    assert_int_not_equal(ltc_db_send_bin(db, &st, SQL_PIPE_PUT, 2, f, NULL, NULL), 0);
    assert_int_equal(st.code, LTC_ALREADY_EXISTS);
    ltc_status_clear(&st);
    ltc_db_destroy(db);
    ltc_db_destroy(other);
    ltc_db_set_options(NULL);
}

/* ltc_db_send_now: the statement reaches the server at once, not with the next statement. Proved without a clock:
 * another connection sees the sender's transaction hold the lock its INSERT took while the sender sends nothing
 * more (ltc_db_send_bin keeps so small a statement in libpq's buffer until the next one); its failure is what the
 * COMMIT reports. */
static const char SQL_PIPE_LOCKED[] =
    "SELECT count(*) FROM pg_locks WHERE pid = $1::int "
    "AND relation = 'dbtest.pipe_t'::regclass AND mode = 'RowExclusiveLock' AND granted";
static const char SQL_PID[] = "SELECT pg_backend_pid()::text";

static int64_t pipe_lockers(ltc_db *db, const char *pid) { return count_of(db, SQL_PIPE_LOCKED, 1, &pid); }

static void test_send_now_leaves_at_once(void **state) {
    (void)state;
    ltc_db_set_options(NULL);
    ltc_db *db = ltc_db_create(dsn(), "dbtest"), *other = ltc_db_create(dsn(), "dbtest");
    ltc_status st = {0};
    assert_int_equal(ltc_db_exec_text(db, &st, "CREATE SCHEMA IF NOT EXISTS dbtest"), 0);
    assert_int_equal(ltc_db_exec(db, &st, SQL_PIPE_TABLE, 0, NULL), 0);
    assert_int_equal(ltc_db_exec(db, &st, SQL_PIPE_CLEAR, 0, NULL), 0);
    PGresult *pr = ltc_db_query(db, &st, SQL_PID, 0, NULL);
    assert_non_null(pr);
    char pid[16];
    snprintf(pid, sizeof pid, "%s", ltc_pg_str(pr, 0, 0));
    PQclear(pr);

    /* a send (kept in libpq's buffer): the server has not seen it, whatever the wait */
    assert_int_equal(ltc_db_begin(db, &st), 0);
    assert_int_equal(ltc_db_send_bin(db, &st, SQL_PIPE_PUT, 2, (const char *[]){"s", "1"}, NULL, NULL), 0);
    usleep(300 * 1000);
    assert_int_equal(pipe_lockers(other, pid), 0);
    ltc_db_rollback(db);

    /* send_now: the INSERT runs while the sender waits on nothing */
    assert_int_equal(ltc_db_begin(db, &st), 0);
    assert_int_equal(ltc_db_send_now(db, &st, SQL_PIPE_PUT, 2, (const char *[]){"n", "2"}, NULL, NULL), 0);
    int64_t seen = 0;
    for (int i = 0; i < 200 && !seen; i++) { /* at most 10 s */
        seen = pipe_lockers(other, pid);
        if (!seen) usleep(50 * 1000);
    }
    assert_int_equal(seen, 1);
    assert_int_equal(ltc_db_commit(db, &st), 0);
    int64_t n, sum;
    pipe_counts(other, &n, &sum);
    assert_int_equal(n, 1);
    assert_int_equal(sum, 2);
    ltc_db_set_options(NULL);

    /* a failing send_now: the COMMIT reports it, nothing stays */
    assert_int_equal(ltc_db_begin(db, &st), 0);
    assert_int_equal(ltc_db_send_now(db, &st, SQL_PIPE_PUT, 2, (const char *[]){"m", "4"}, NULL, NULL), 0);
    assert_int_equal(ltc_db_send_now(db, &st, SQL_PIPE_PUT, 2, (const char *[]){"n", "8"}, NULL, NULL), 0);
    assert_int_not_equal(ltc_db_commit(db, &st), 0);
    assert_int_equal(st.code, LTC_ALREADY_EXISTS);
    ltc_status_clear(&st);
    ltc_db_rollback(db);
    pipe_counts(other, &n, &sum);
    assert_int_equal(n, 1);
    ltc_db_destroy(db);
    ltc_db_destroy(other);
}

/* ltc/sqltext.h's binary arrays as the server reads them: each round-trips to the text PostgreSQL prints for it,
 * empty arrays included; one that cannot be built fails its statement with INTERNAL and runs nothing. */
static void test_binary_arrays_round_trip(void **state) {
    (void)state;
    ltc_db *db = ltc_db_create(dsn(), "dbtest");
    ltc_call *c = ltc_call_create_detached(db);
    ltc_status st = {0};
    const char *ids[] = {"0189f7e2-1c3a-7b4d-8e5f-000000000001", "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF"};
    const int64_t i4[] = {1, -2, INT32_MAX, INT32_MIN, 0};
    const int64_t i8[] = {INT64_MAX, INT64_MIN, 7};
    const char *texts[] = {"a", "with \"quote\", {brace}", "", "\xe4\xb8\xad\xe6\x96\x87", NULL};
    const ltc_sql_param p[4] = {ltc_sql_uuid_array_bin(c, ids, 2), ltc_sql_int4_array_bin(c, i4, 5),
                                ltc_sql_int8_array_bin(c, i8, 3), ltc_sql_text_array_bin(c, texts, 5)};
    PGresult *r = ltc_call_query_params(
        c, &st, "SELECT $1::uuid[]::text, $2::int[]::text, $3::bigint[]::text, $4::text[]::text", 4, p);
    assert_non_null(r);
    assert_string_equal(ltc_pg_str(r, 0, 0),
                        "{0189f7e2-1c3a-7b4d-8e5f-000000000001,ffffffff-ffff-4fff-bfff-ffffffffffff}");
    assert_string_equal(ltc_pg_str(r, 0, 1), "{1,-2,2147483647,-2147483648,0}");
    assert_string_equal(ltc_pg_str(r, 0, 2), "{9223372036854775807,-9223372036854775808,7}");
    assert_string_equal(ltc_pg_str(r, 0, 3), "{a,\"with \\\"quote\\\", {brace}\",\"\",\xe4\xb8\xad\xe6\x96\x87,\"\"}");

    const uint8_t bytes[] = {0, 1, 2, 0xff, 'a'};
    const int64_t lens[] = {2, 0, 3};
    const ltc_sql_param by[1] = {ltc_sql_bytea_array_bin(c, bytes, lens, 3)};
    r = ltc_call_query_params(c, &st, "SELECT $1::bytea[]::text", 1, by);
    assert_non_null(r);
    assert_string_equal(ltc_pg_str(r, 0, 0), "{\"\\\\x0001\",\"\\\\x\",\"\\\\x02ff61\"}");

    const ltc_sql_param e[4] = {ltc_sql_uuid_array_bin(c, ids, 0), ltc_sql_int4_array_bin(c, i4, 0),
                                ltc_sql_int8_array_bin(c, i8, 0), ltc_sql_text_array_bin(c, texts, 0)};
    r = ltc_call_query_params(c, &st,
                              "SELECT cardinality($1::uuid[]), cardinality($2::int[]), cardinality($3::bigint[]), "
                              "cardinality($4::text[])",
                              4, e);
    assert_non_null(r);
    for (int k = 0; k < 4; k++) assert_int_equal(ltc_pg_i64(r, 0, k), 0);

    /* not a UUID, out of int4's range: INTERNAL, nothing sent */
    const char *bad_ids[] = {ids[0], "not-a-uuid"};
    const int64_t big[] = {(int64_t)INT32_MAX + 1};
    const ltc_sql_param b1[1] = {ltc_sql_uuid_array_bin(c, bad_ids, 2)};
    assert_null(ltc_call_query_params(c, &st, "SELECT $1::uuid[]", 1, b1));
    assert_int_equal(st.code, LTC_INTERNAL);
    ltc_status_clear(&st);
    const ltc_sql_param b2[1] = {ltc_sql_int4_array_bin(c, big, 1)};
    assert_int_not_equal(ltc_call_send_params(c, &st, "SELECT $1::int[]", 1, b2), 0);
    assert_int_equal(st.code, LTC_INTERNAL);
    ltc_status_clear(&st);
    ltc_call_destroy_detached(c);
    ltc_db_destroy(db);
}

/* The same promises with LTC_DB_PIPELINE=0 (every statement in a round trip of its own). */
static void test_pipeline_sends_commit_together_or_not_at_all(void **state) {
    (void)state;
    pipeline_cases(1);
    pipeline_cases(0);
}

int main(void) {
    if (!getenv("LTC_TEST_DSN")) {
        fprintf(stderr, "LTC_TEST_DSN is not set: run through tests/db/with_pg.sh\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_cancels_the_statement),
        cmocka_unit_test(test_statement_timeout),
        cmocka_unit_test(test_silent_server_is_unavailable_within_the_bound),
        cmocka_unit_test(test_pipeline_sends_commit_together_or_not_at_all),
        cmocka_unit_test(test_send_now_leaves_at_once),
        cmocka_unit_test(test_binary_arrays_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
