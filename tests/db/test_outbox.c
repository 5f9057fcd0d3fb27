/* The outbox relay's claim rules against a real PostgreSQL (tests/db/with_pg.sh provides LTC_TEST_DSN):
 * one deal's rows are claimed oldest first and one at a time, parked and not-yet-due rows are skipped, and a row
 * locked by one relay is invisible to another (FOR UPDATE SKIP LOCKED) while still holding back its deal.
 * The relay's wake-ups: a commit that put a row wakes the relays of its process at once (no NOTIFY), a row nobody
 * woke for (another replica's, or one whose writer died after its commit) is found by the idle poll, and stopping
 * a relay does not wait for its poll. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "google/protobuf/duration.pb-c.h"
#include "ltc/bto/v1/intake_service.pb-c.h"
#include "ltc/server.h"

#include "ltc/db.h"
#include "ltc/outbox.h"

/* The receiver the hand-offs of these tests are typed for (nothing delivers them). */
static const ltc_handoff_peer BTO = {"bto", &ltc__bto__v1__intake_service__descriptor};

static const char *dsn(void) {
    const char *d = getenv("LTC_TEST_DSN");
    return d ? d : "";
}

static const char SQL_RESET[] =
    "DROP SCHEMA IF EXISTS relay_test CASCADE; CREATE SCHEMA relay_test;"
    "CREATE TABLE relay_test.outbox (seq bigserial PRIMARY KEY, handoff_id uuid NOT NULL UNIQUE,"
    " deal_id text NOT NULL, destination text NOT NULL, method text NOT NULL, payload bytea NOT NULL,"
    " create_time timestamptz NOT NULL DEFAULT now(), attempts integer NOT NULL DEFAULT 0,"
    " next_attempt_time timestamptz NOT NULL DEFAULT now(), delivered_time timestamptz, parked_time timestamptz,"
    " last_error text, traceparent text, acting_assertion text)"; /* as common/migrations 001, 002 and 010 make it */
static const char SQL_ADD[] =
    "INSERT INTO outbox (handoff_id, deal_id, destination, method, payload, next_attempt_time, parked_time)"
    " VALUES (gen_random_uuid(), $1, 'bto', '/x', '\\x01', now() + make_interval(secs => $2::int),"
    " CASE WHEN $3 THEN now() END) RETURNING seq";

static ltc_db *open_db(void) {
    ltc_db *db = ltc_db_create(dsn(), "relay_test");
    ltc_status st = {0};
    assert_int_equal(ltc_db_connect(db, &st), 0);
    return db;
}

static void add(ltc_db *db, const char *deal, int due_in_s, int parked) {
    ltc_status st = {0};
    char due[16];
    snprintf(due, sizeof due, "%d", due_in_s);
    const char *p[3] = {deal, due, parked ? "true" : "false"};
    assert_int_equal(ltc_db_exec(db, &st, SQL_ADD, 3, p), 0);
}

/* The seqs claimed, comma-separated, into out. */
static void claimed(PGresult *r, char *out, size_t n) {
    out[0] = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        size_t len = strlen(out);
        snprintf(out + len, n - len, "%s%s", i ? "," : "", PQgetvalue(r, i, 0));
    }
}

static int setup(void **state) {
    (void)state;
    PGconn *c = PQconnectdb(dsn());
    PGresult *r = PQexec(c, SQL_RESET);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

static void test_claim_rules(void **state) {
    (void)state;
    ltc_db *db = open_db();
    add(db, "A", 0, 0);  /* 1: head of A */
    add(db, "A", 0, 0);  /* 2: behind 1 */
    add(db, "B", 60, 0); /* 3: not due yet */
    add(db, "C", 0, 1);  /* 4: parked */
    add(db, "C", 0, 0);  /* 5: behind a parked row: keeps order */
    add(db, "D", 0, 0);  /* 6: head of D */
    ltc_status st = {0};
    char got[64];
    assert_int_equal(ltc_db_begin(db, &st), 0);
    PGresult *r = ltc_outbox_claim(db, 10, &st);
    assert_non_null(r);
    claimed(r, got, sizeof got);
    assert_string_equal(got, "1,6");
    PQclear(r);
    assert_int_equal(ltc_outbox_mark_delivered(db, "1", &st), 0);
    assert_int_equal(ltc_outbox_mark_retry(db, "6", "UNAVAILABLE", 60000, &st), 0);
    assert_int_equal(ltc_db_commit(db, &st), 0);

    assert_int_equal(ltc_db_begin(db, &st), 0);
    r = ltc_outbox_claim(db, 10, &st);
    claimed(r, got, sizeof got);
    assert_string_equal(got, "2"); /* 2 is now the head of A; 6 waits for its retry time */
    PQclear(r);
    assert_int_equal(ltc_outbox_mark_parked(db, "2", "FAILED_PRECONDITION", &st), 0);
    assert_int_equal(ltc_db_commit(db, &st), 0);

    assert_int_equal(ltc_db_begin(db, &st), 0);
    r = ltc_outbox_claim(db, 10, &st);
    assert_int_equal(PQntuples(r), 0);
    PQclear(r);
    ltc_db_rollback(db);
    ltc_db_destroy(db);
}

static void test_two_relays_never_share_a_row(void **state) {
    (void)state;
    ltc_db *a = open_db(), *b = open_db();
    add(a, "E", 0, 0); /* 7 */
    add(a, "E", 0, 0); /* 8 */
    add(a, "F", 0, 0); /* 9 */
    ltc_status st = {0};
    char got[64];
    assert_int_equal(ltc_db_begin(a, &st), 0);
    PGresult *r = ltc_outbox_claim(a, 1, &st); /* relay a takes E's head */
    claimed(r, got, sizeof got);
    assert_string_equal(got, "7");
    PQclear(r);
    assert_int_equal(ltc_db_begin(b, &st), 0);
    r = ltc_outbox_claim(b, 10, &st); /* relay b: 7 is locked, 8 is held back by 7, F's head is free */
    claimed(r, got, sizeof got);
    assert_string_equal(got, "9");
    PQclear(r);
    ltc_db_rollback(b);
    assert_int_equal(ltc_outbox_mark_delivered(a, "7", &st), 0);
    assert_int_equal(ltc_db_commit(a, &st), 0);
    assert_int_equal(ltc_db_begin(b, &st), 0);
    r = ltc_outbox_claim(b, 10, &st);
    claimed(r, got, sizeof got);
    assert_string_equal(got, "8,9");
    PQclear(r);
    ltc_db_rollback(b);
    ltc_db_destroy(a);
    ltc_db_destroy(b);
}

static void test_backoff_is_capped_and_jittered(void **state) {
    (void)state;
    unsigned int seed = 42;
    for (int attempts = 0; attempts < 40; attempts++) {
        long cap = 5000;
        long expect = 200;
        for (int i = 0; i < attempts && expect < cap; i++) expect *= 2;
        if (expect > cap) expect = cap;
        for (int k = 0; k < 50; k++) {
            long d = ltc_outbox_backoff_ms(attempts, cap, &seed);
            assert_in_range(d, expect / 2, expect);
        }
    }
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Milliseconds until the row of `handoff` has had a delivery attempt (its peer is unreachable: a retry is
 * recorded), or -1 after timeout_ms. */
static double attempted_within(ltc_db *db, const char *handoff, double timeout_ms) {
    static const char SQL[] = "SELECT attempts FROM outbox WHERE handoff_id = $1";
    double t0 = now_ms();
    while (now_ms() - t0 < timeout_ms) {
        ltc_status st = {0};
        const char *p[1] = {handoff};
        PGresult *r = ltc_db_query(db, &st, SQL, 1, p);
        assert_non_null(r);
        int attempts = PQntuples(r) ? (int)ltc_pg_i64(r, 0, 0) : 0;
        PQclear(r);
        if (attempts > 0) return now_ms() - t0;
        usleep(5000);
    }
    return -1;
}

static ltc_relay *start_relay(int poll_ms) {
    static const ltc_relay_peer peers[] = {{"bto", "127.0.0.1:1"}}; /* nothing listens: every attempt fails */
    ltc_relay_options o = {.service_name = "relay_test",
                           .db_dsn = dsn(),
                           .db_schema = "relay_test",
                           .peers = peers,
                           .n_peers = 1,
                           .call_deadline_ms = 200,
                           .max_backoff_ms = 60000,
                           .batch_size = 8,
                           .poll_ms = poll_ms};
    ltc_status st = {0};
    ltc_relay *r = ltc_relay_start(&o, &st);
    assert_non_null(r);
    usleep(300 * 1000); /* its first claim found nothing: it waits */
    return r;
}

static void test_commit_wakes_relay_in_process(void **state) {
    (void)state;
    ltc_db *db = open_db();
    ltc_status st = {0};
    assert_int_equal(ltc_db_exec(db, &st, "DELETE FROM outbox", 0, NULL), 0);
    ltc_relay *relay = start_relay(60000); /* only the wake-up can make it claim within the test */

    ltc_call *c = ltc_call_create_detached(db);
    Ltc__Bto__V1__AcceptOrderClosureRequest msg = LTC__BTO__V1__ACCEPT_ORDER_CLOSURE_REQUEST__INIT;
    msg.order = "orders/4f1c2d3e-0000-4000-8000-00000000b001";
    const char *handoff = "4f1c2d3e-0000-4000-8000-00000000a001";
    assert_int_equal(ltc_db_begin(db, &st), 0);
    assert_int_equal(ltc_outbox_put(c, &st, &BTO, "AcceptOrderClosure", "deal-wake", handoff, &msg.base), 0);
    assert_int_equal(ltc_db_commit(db, &st), 0);
    ltc_call_after_commit(c);
    double ms = attempted_within(db, handoff, 5000);
    assert_true(ms >= 0 && ms < 2000);

    /* a rolled-back put leaves no note: the next commit without rows wakes nobody (nothing to see, but no crash) */
    assert_int_equal(ltc_db_begin(db, &st), 0);
    assert_int_equal(ltc_outbox_put(c, &st, &BTO, "AcceptOrderClosure", "deal-wake",
                                    "4f1c2d3e-0000-4000-8000-00000000a002", &msg.base),
                     0);
    ltc_db_rollback(db);
    ltc_call_after_rollback(c);
    ltc_call_after_commit(c);

    double t0 = now_ms();
    ltc_relay_stop(relay); /* woken out of its 60 s poll */
    assert_true(now_ms() - t0 < 2000);
    ltc_call_destroy_detached(c);
    ltc_db_destroy(db);
}

static void test_unwoken_row_found_by_poll(void **state) {
    (void)state;
    ltc_db *db = open_db();
    ltc_status st = {0};
    assert_int_equal(ltc_db_exec(db, &st, "DELETE FROM outbox", 0, NULL), 0);
    ltc_relay *relay = start_relay(300);
    /* committed by "another replica" (or one that died before waking its relay): no wake-up at all */
    const char *p[1] = {"4f1c2d3e-0000-4000-8000-00000000b001"};
    assert_int_equal(ltc_db_exec(db, &st,
                                 "INSERT INTO outbox (handoff_id, deal_id, destination, method, payload)"
                                 " VALUES ($1, 'deal-poll', 'bto', '/x.Y/Z', '\\x01')",
                                 1, p),
                     0);
    double ms = attempted_within(db, p[0], 5000);
    assert_true(ms >= 0 && ms < 1500);
    ltc_relay_stop(relay);
    ltc_db_destroy(db);
}

/* A receiver that hangs, as a stopped process does once connected: it accepts connections, speaks the first words
 * of HTTP/2 (a SETTINGS frame and the ACK of the client's), then reads and never answers a call. */
static void *hung_server(void *arg) {
    int ls = *(int *)arg;
    static const unsigned char settings[] = {0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0};
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) return NULL; /* the listening socket was shut down: the test is over */
        if (write(c, settings, sizeof settings) == (ssize_t)sizeof settings) {
            char buf[4096];
            while (read(c, buf, sizeof buf) > 0) {}
        }
        close(c);
    }
}

/* A receiver that hangs (it accepts the connection and never answers the call) holds
 * only its own lane: another destination's row is attempted at once, not after the hung call's deadline; a row of a
 * destination no lane serves is parked. */
static void test_hung_receiver_delays_only_its_own_rows(void **state) {
    (void)state;
    int hung = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(hung >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(hung, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(hung, 64), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(hung, (struct sockaddr *)&a, &alen), 0);
    char target[32];
    snprintf(target, sizeof target, "127.0.0.1:%d", ntohs(a.sin_port));
    pthread_t srv;
    assert_int_equal(pthread_create(&srv, NULL, hung_server, &hung), 0);

    ltc_db *db = open_db();
    ltc_status st = {0};
    assert_int_equal(ltc_db_exec(db, &st, "DELETE FROM outbox", 0, NULL), 0);
    static const char SQL_PUT[] = "INSERT INTO outbox (handoff_id, deal_id, destination, method, payload)"
                                  " VALUES ($1, $2, $3, '/x.Y/Z', '\\x01')";
    const char *rows[][3] = {{"4f1c2d3e-0000-4000-8000-00000000d001", "deal-h", "hung"},
                             {"4f1c2d3e-0000-4000-8000-00000000d002", "deal-f", "fast"},
                             {"4f1c2d3e-0000-4000-8000-00000000d003", "deal-n", "nowhere"}};
    for (int i = 0; i < 3; i++) assert_int_equal(ltc_db_exec(db, &st, SQL_PUT, 3, rows[i]), 0);
    const ltc_relay_peer peers[] = {{"hung", target}, {"fast", "127.0.0.1:1"}};
    ltc_relay_options o = {.service_name = "relay_test",
                           .db_dsn = dsn(),
                           .db_schema = "relay_test",
                           .peers = peers,
                           .n_peers = 2,
                           .call_deadline_ms = 3000,
                           .max_backoff_ms = 60000,
                           .batch_size = 8,
                           .poll_ms = 60000};
    double t0 = now_ms();
    ltc_relay *r = ltc_relay_start(&o, &st);
    assert_non_null(r);
    double fast = attempted_within(db, rows[1][0], 5000);
    assert_true(fast >= 0 && fast < 1500); /* one relay thread for all: only after the hung call's 3 s */
    double hung_ms = attempted_within(db, rows[0][0], 8000);
    assert_true(hung_ms >= 0);
    assert_true(now_ms() - t0 >= 2500); /* the hung receiver's row waited for its deadline */
    PGresult *res = ltc_db_query(
        db, &st, "SELECT parked_time IS NOT NULL, last_error FROM outbox WHERE deal_id = 'deal-n'", 0, NULL);
    assert_non_null(res);
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "t");
    assert_non_null(strstr(PQgetvalue(res, 0, 1), "UNKNOWN_DESTINATION"));
    PQclear(res);
    ltc_relay_stop(r);
    shutdown(hung, SHUT_RDWR);
    pthread_join(srv, NULL);
    close(hung);
    ltc_db_destroy(db);
}

/* A hand-off typed wrong (a method the receiver does not have, a message of another type) is refused with INTERNAL
 * before anything is written; the well-typed one is queued under the path derived from the descriptors. */
static void test_put_checks_the_method_and_message_type(void **state) {
    (void)state;
    ltc_db *db = open_db();
    ltc_status st = {0};
    assert_int_equal(ltc_db_exec(db, &st, "DELETE FROM outbox", 0, NULL), 0);
    ltc_call *c = ltc_call_create_detached(db);
    Google__Protobuf__Duration wrong = GOOGLE__PROTOBUF__DURATION__INIT;
    Ltc__Bto__V1__AcceptOrderClosureRequest msg = LTC__BTO__V1__ACCEPT_ORDER_CLOSURE_REQUEST__INIT;
    assert_int_equal(ltc_db_begin(db, &st), 0);
    assert_int_equal(ltc_outbox_put(c, &st, &BTO, "AcceptOrderClosure", "deal-typed",
                                    "4f1c2d3e-0000-4000-8000-00000000c001", &wrong.base),
                     -1);
    assert_int_equal(st.code, LTC_INTERNAL);
    assert_non_null(strstr(st.message, "ltc.bto.v1.AcceptOrderClosureRequest"));
    ltc_status_clear(&st);
    assert_int_equal(
        ltc_outbox_put(c, &st, &BTO, "NoSuchMethod", "deal-typed", "4f1c2d3e-0000-4000-8000-00000000c002", &msg.base),
        -1);
    assert_int_equal(st.code, LTC_INTERNAL);
    ltc_status_clear(&st);
    assert_int_equal(ltc_outbox_put(c, &st, &BTO, "AcceptOrderClosure", "deal-typed",
                                    "4f1c2d3e-0000-4000-8000-00000000c003", &msg.base),
                     0);
    assert_int_equal(ltc_db_commit(db, &st), 0);
    ltc_call_after_commit(c);
    PGresult *r = ltc_db_query(db, &st, "SELECT destination, method FROM outbox WHERE deal_id = 'deal-typed'", 0, NULL);
    assert_non_null(r);
    assert_int_equal(PQntuples(r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "bto");
    assert_string_equal(PQgetvalue(r, 0, 1), "/ltc.bto.v1.IntakeService/AcceptOrderClosure");
    PQclear(r);
    ltc_call_destroy_detached(c);
    ltc_db_destroy(db);
}

int main(void) {
    if (!getenv("LTC_TEST_DSN")) {
        fprintf(stderr, "LTC_TEST_DSN is not set: run through tests/db/with_pg.sh\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_rules),
        cmocka_unit_test(test_two_relays_never_share_a_row),
        cmocka_unit_test(test_backoff_is_capped_and_jittered),
        cmocka_unit_test(test_commit_wakes_relay_in_process),
        cmocka_unit_test(test_unwoken_row_found_by_poll),
        cmocka_unit_test(test_hung_receiver_delays_only_its_own_rows),
        cmocka_unit_test(test_put_checks_the_method_and_message_type),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
