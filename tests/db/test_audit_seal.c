/* The audit chain sealed after the commit (runtime migration 011, ltc/audit_sealer.h) against a real PostgreSQL
 * (tests/db/with_pg.sh provides LTC_TEST_DSN): writers insert unsealed rows with no lock; two sealers on their own
 * connections, racing the writers, make one chain without a gap whose every hash the pure walk
 * (ltc/audit_chain.h) recomputes; the sealer thread chains a row by itself soon after it is written; a sealed row
 * cannot be changed, nor an unsealed row's content (the sealing update changing any other column, each tried), and
 * the insert trigger ignores chain values sent by a writer.
 * (The test's role owns the schema: what the serving role may not do, tests/db/test_least_privilege.sh checks.) */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ltc/audit_chain.h"
#include "ltc/audit_sealer.h"
#include "ltc/db.h"
#include "ltc/service.h"

#define SCHEMA "sealtest"
#define WRITERS 3
#define ROWS 150

static const char *dsn(void) {
    const char *d = getenv("LTC_TEST_DSN");
    return d ? d : "";
}

static long scalar(ltc_db *db, const char *sql) {
    ltc_status st = {0};
    PGresult *r = ltc_db_query(db, &st, sql, 0, NULL);
    if (!r) fail_msg("%s: %s", sql, st.message);
    long n = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return n;
}

static void exec_ok(ltc_db *db, const char *sql) {
    ltc_status st = {0};
    if (ltc_db_exec_text(db, &st, sql) != 0) fail_msg("%s: %s", sql, st.message);
}

static int exec_refused(ltc_db *db, const char *sql) {
    ltc_status st = {0};
    int rc = ltc_db_exec_text(db, &st, sql);
    ltc_status_clear(&st);
    return rc != 0;
}

static const char INSERT[] = "INSERT INTO audit_log (principal, roles, caller, method, target, request_id, code, "
                             "reason) VALUES ('w', '', '', '/a.B/C', $1, $1, 'OK', '')";

typedef struct {
    int id;
    int failed;
} worker;

/* A writer: ROWS inserts; every tenth it seals too (a replica's sealer racing the others). */
static void *write_and_seal(void *arg) {
    worker *w = arg;
    ltc_db *db = ltc_db_create(dsn(), SCHEMA);
    for (int i = 0; i < ROWS && !w->failed; i++) {
        ltc_status st = {0};
        char key[32];
        snprintf(key, sizeof key, "w%d-%d", w->id, i);
        const char *p[1] = {key};
        if (ltc_db_exec(db, &st, INSERT, 1, p) != 0) w->failed = 1;
        if (i % 10 == 9 && ltc_audit_seal(db, 7, &st) < 0) w->failed = 1;
        ltc_status_clear(&st);
    }
    ltc_db_destroy(db);
    return NULL;
}

/* Walks the whole chain as GetAuditTrailIntegrity does; returns the problems found, *rows the rows walked. */
static int walk(ltc_db *db, long *rows, uint8_t last[32]) {
    ltc_status st = {0};
    PGresult *r = ltc_db_query(
        db, &st,
        "SELECT chain_position::text, seq::text, ((extract(epoch FROM event_time) * 1000000)::bigint)::text, principal,"
        " roles, caller, method, target, request_id, server_request_id, code, reason, targets::text, changes::text,"
        " COALESCE(spool_id::text, ''), encode(prev_hash, 'hex'), encode(row_hash, 'hex')"
        " FROM audit_log WHERE chain_position IS NOT NULL ORDER BY audit_log.chain_position",
        0, NULL);
    assert_non_null(r);
    ltc_audit_chain_walk w;
    ltc_audit_chain_walk_init(&w);
    int problems = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *f[LTC_CHAIN_FIELDS];
        for (int k = 0; k < LTC_CHAIN_FIELDS; k++) f[k] = PQgetvalue(r, i, k);
        uint8_t prev[32], hash[32];
        assert_int_equal(ltc_audit_chain_unhex(PQgetvalue(r, i, 15), prev), 0);
        assert_int_equal(ltc_audit_chain_unhex(PQgetvalue(r, i, 16), hash), 0);
        ltc_audit_chain_problem found[3];
        int k = ltc_audit_chain_step(&w, strtoll(f[0], NULL, 10), prev, hash, f, found, NULL);
        for (int j = 0; j < k && problems + j < 5; j++)
            fprintf(stderr, "chain problem %d at position %s (seq %s)\n", (int)found[j], f[0], f[1]);
        problems += k;
    }
    PQclear(r);
    *rows = (long)w.checked;
    memcpy(last, w.hash, 32);
    return problems;
}

static void test_concurrent_writers_and_sealers_make_one_chain(void **state) {
    (void)state;
    ltc_db *db = ltc_db_create(dsn(), SCHEMA);
    ltc_status st = {0};
    exec_ok(db, "DROP SCHEMA IF EXISTS " SCHEMA " CASCADE; CREATE SCHEMA " SCHEMA);
    assert_int_equal(ltc_db_migrate(db, "runtime", ltc_runtime_migrations, ltc_runtime_migrations_count, &st), 0);

    /* a writer's row is stored unsealed, whatever chain values it sent */
    exec_ok(db, "INSERT INTO audit_log (principal, roles, caller, method, target, request_id, code, reason,"
                " chain_position, prev_hash, row_hash, inserted_at) VALUES ('m', '', '', '/x/Y', '', 'forged', 'OK',"
                " '', 1, '\\x00', '\\x00', now() - interval '1 day')");
    assert_int_equal(scalar(db, "SELECT count(*) FROM audit_log WHERE chain_position IS NULL AND prev_hash IS NULL"
                                " AND row_hash IS NULL AND inserted_at > now() - interval '1 minute'"),
                     1);
    /* its content cannot be changed while it waits, nor can the head be moved by hand */
    assert_true(exec_refused(db, "UPDATE audit_log SET reason = 'X' WHERE request_id = 'forged'"));
    assert_true(exec_refused(db, "DELETE FROM audit_log WHERE request_id = 'forged'"));
    /* the one update let through (migration 014 checks it column-wise): the owner filling in all three chain columns
     * of an unsealed row, nothing else of it; with any other column changed too it is refused, for every column the
     * table has (read from the catalogue, so a column added later is covered), and so is one chain column alone */
    assert_true(exec_refused(db, "UPDATE audit_log SET chain_position = 999999 WHERE request_id = 'forged'"));
    exec_ok(db,
            "DO $$ DECLARE c record; v text; n bigint := 0; BEGIN"
            "  BEGIN"
            "    UPDATE audit_log SET chain_position = 999999, prev_hash = '\\x00', row_hash = '\\x00'"
            "     WHERE request_id = 'forged';"
            "    GET DIAGNOSTICS n = ROW_COUNT;"
            "    RAISE EXCEPTION USING ERRCODE = 'LTC01', MESSAGE = 'undo';"
            "  EXCEPTION WHEN SQLSTATE 'LTC01' THEN NULL;"
            "  END;"
            "  IF n <> 1 THEN RAISE EXCEPTION 'the owner''s sealing update was refused'; END IF;"
            "  n := 0;"
            "  FOR c IN SELECT attname, format_type(atttypid, atttypmod) AS t FROM pg_attribute"
            "            WHERE attrelid = 'audit_log'::regclass AND attnum > 0 AND NOT attisdropped"
            "              AND attname NOT IN ('chain_position', 'prev_hash', 'row_hash') LOOP"
            "    v := CASE c.t WHEN 'bigint' THEN '%1$I + 1' WHEN 'text' THEN '%1$I || ''x'''"
            "      WHEN 'timestamp with time zone' THEN 'COALESCE(%1$I, now()) + interval ''1 second'''"
            "      WHEN 'text[]' THEN '%1$I || ''x''::text' WHEN 'jsonb' THEN '%1$I || ''[1]''::jsonb'"
            "      WHEN 'uuid' THEN 'gen_random_uuid()' END;"
            "    IF v IS NULL THEN RAISE EXCEPTION 'no changed value for column % (%)', c.attname, c.t; END IF;"
            "    BEGIN"
            "      EXECUTE format('UPDATE audit_log SET chain_position = 999999, prev_hash = ''\\x00'','"
            "                     || ' row_hash = ''\\x00'', %1$I = ' || v || ' WHERE request_id = ''forged''',"
            "                     c.attname);"
            "      RAISE EXCEPTION 'a sealing update that changed % went through', c.attname USING ERRCODE = 'LTC02';"
            "    EXCEPTION WHEN insufficient_privilege THEN"
            "      IF SQLERRM <> 'audit_log is append-only' THEN RAISE EXCEPTION '%: %', c.attname, SQLERRM; END IF;"
            "    END;"
            "    n := n + 1;"
            "  END LOOP;"
            "  IF n < 15 THEN RAISE EXCEPTION 'only % columns tried', n; END IF;"
            "END $$");

    worker w[WRITERS];
    pthread_t t[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (worker){.id = i, .failed = 0};
        assert_int_equal(pthread_create(&t[i], NULL, write_and_seal, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        assert_false(w[i].failed);
    }
    assert_true(scalar(db, "SELECT count(*) FROM audit_log WHERE chain_position IS NOT NULL") > 0);
    while (ltc_audit_seal(db, 100, &st) > 0) {}
    long want = 1 + WRITERS * ROWS;
    assert_int_equal(scalar(db, "SELECT count(*) FROM audit_log WHERE chain_position IS NULL"), 0);
    assert_int_equal(scalar(db, "SELECT count(*) FROM audit_log"), want);
    assert_int_equal(scalar(db, "SELECT max(chain_position) FROM audit_log"), want);
    long rows = 0;
    uint8_t last[32];
    assert_int_equal(walk(db, &rows, last), 0);
    assert_int_equal(rows, want);
    char hex[65], sql[256];
    ltc_audit_chain_hex(last, hex);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM audit_chain_head WHERE position = %ld AND hash = '\\x%s'", want,
             hex);
    assert_int_equal(scalar(db, sql), 1);

    /* sealed: append-only again, the chain columns included */
    assert_true(exec_refused(db, "UPDATE audit_log SET chain_position = chain_position + 1000 WHERE seq = 1"));
    assert_true(exec_refused(db, "UPDATE audit_log SET reason = 'X' WHERE seq = 1"));

    /* the sealer thread chains a new row by itself (nudged, or at its next tick) */
    ltc_audit_sealer *s = ltc_audit_sealer_start(SCHEMA, dsn(), 100, &st);
    assert_non_null(s);
    assert_null(ltc_audit_sealer_start(SCHEMA, dsn(), 100, &st)); /* one per process */
    ltc_status_clear(&st);
    exec_ok(db, "INSERT INTO audit_log (principal, roles, caller, method, target, request_id, code, reason)"
                " VALUES ('late', '', '', '/a.B/C', '', 'late', 'OK', '')");
    ltc_audit_sealer_nudge();
    long pos = -1;
    for (int i = 0; i < 50 && (pos = scalar(db, "SELECT chain_position FROM audit_log WHERE request_id = 'late'")) < 0;
         i++)
        usleep(100 * 1000);
    assert_int_equal(pos, want + 1);

    /* a row that commits after one with a higher seq was sealed: below where the sealer's rounds start, it is sealed
     * by the next pass from the oldest unsealed row (every 5 s) */
    ltc_db *slow = ltc_db_create(dsn(), SCHEMA);
    assert_non_null(slow);
    assert_int_equal(ltc_db_begin(slow, &st), 0);
    assert_int_equal(ltc_db_exec(slow, &st,
                                 "INSERT INTO audit_log (principal, roles, caller, method, target, request_id,"
                                 " code, reason) VALUES ('slow', '', '', '/a.B/C', '', 'slow', 'OK', '')",
                                 0, NULL),
                     0);
    exec_ok(db, "INSERT INTO audit_log (principal, roles, caller, method, target, request_id, code, reason)"
                " VALUES ('quick', '', '', '/a.B/C', '', 'quick', 'OK', '')");
    ltc_audit_sealer_nudge();
    for (int i = 0; i < 50 && scalar(db, "SELECT chain_position FROM audit_log WHERE request_id = 'quick'") < 0; i++)
        usleep(100 * 1000);
    assert_int_equal(scalar(db, "SELECT chain_position FROM audit_log WHERE request_id = 'quick'"), want + 2);
    assert_int_equal(ltc_db_commit(slow, &st), 0);
    ltc_db_destroy(slow);
    ltc_audit_sealer_nudge();
    for (int i = 0; i < 120 && (pos = scalar(db, "SELECT chain_position FROM audit_log WHERE request_id = 'slow'")) < 0;
         i++)
        usleep(100 * 1000);
    assert_int_equal(pos, want + 3);
    ltc_audit_sealer_stop(s);
    assert_int_equal(walk(db, &rows, last), 0);
    assert_int_equal(rows, want + 3);
    ltc_db_destroy(db);
}

int main(void) {
    if (!getenv("LTC_TEST_DSN")) {
        fprintf(stderr, "LTC_TEST_DSN is not set: run through tests/db/with_pg.sh\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_writers_and_sealers_make_one_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
