/* The audit trail's durable spool against a real PostgreSQL (tests/db/with_pg.sh provides LTC_TEST_DSN): rows
 * appended while the database cannot take them stay in the spool folder, and are ingested once it can, with their
 * original time; a file left by a process that died is ingested too (its torn last line skipped), and ingesting the
 * same rows again adds nothing. The table is the runtime migrations' own, hash chain included (009, sealed after the
 * commit since 011): the rows ingested again take no chain position, so the chain has no gap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dirent.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ltc/audit_spool.h"
#include "ltc/db.h"
#include "ltc/service.h"

static const char *dsn(void) {
    const char *d = getenv("LTC_TEST_DSN");
    return d ? d : "";
}

static int files_in(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) n += strstr(e->d_name, ".spool") != NULL;
    if (d) closedir(d);
    return n;
}

static long count(ltc_db *db, const char *where) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM spooltest.audit_log WHERE %s", where);
    ltc_status st = {0};
    assert_int_equal(ltc_db_exec_text(db, &st, "SELECT 1"), 0);
    PGresult *r = PQexec(ltc_db_conn(db), sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

static void test_rows_survive_until_the_database_takes_them(void **state) {
    (void)state;
    char dir[] = "/tmp/ltc-spooltest.XXXXXX";
    assert_non_null(mkdtemp(dir));
    ltc_db *admin = ltc_db_create(dsn(), "public");
    ltc_status st = {0};
    assert_int_equal(ltc_db_exec_text(admin, &st, "DROP SCHEMA IF EXISTS spooltest CASCADE; CREATE SCHEMA spooltest"),
                     0);

    /* a file of a process that died: one row, and a torn last line */
    char dead[512];
    snprintf(dead, sizeof dead, "%s/spooltest-999999-0.spool", dir);
    FILE *f = fopen(dead, "w");
    assert_non_null(f);
    fputs(
        "4f1c2d3e-0000-4000-8000-0000000e0001\t1700000000000000\talice\tsales\t\t/x.Y/Z\tdeals/1\trid-dead\tUNAVAILABLE"
        "\tDATABASE_UNAVAILABLE\n4f1c2d3e-0000-4000-8000-0000000e0002\t17000",
        f);
    fclose(f);

    ltc_audit_spool *s = ltc_audit_spool_start("spooltest", dir, dsn(), &st);
    assert_non_null(s);
    /* no audit_log yet: the database cannot take the rows */
    assert_int_equal(ltc_audit_spool_append("bob", "finance", "", "/a.B/C", "tab\there%", "rid-1", "UNAVAILABLE",
                                            "DATABASE_UNAVAILABLE"),
                     0);
    assert_int_equal(
        ltc_audit_spool_append("service:dtc", "", "dtc", "/a.B/D", "", "rid-2", "PERMISSION_DENIED", "NOT_ALLOWED"), 0);
    assert_int_equal(ltc_audit_spool_flush(), -1);
    assert_int_equal(files_in(dir), 2);

    /* a copy of the dead process's file, to ingest again later */
    char again[512];
    snprintf(again, sizeof again, "%s/spooltest-999998-0.spool", dir);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp %s %s/copy", dead, dir);
    assert_int_equal(system(cmd), 0);

    ltc_db *owner = ltc_db_create(dsn(), "spooltest");
    assert_int_equal(ltc_db_migrate(owner, "runtime", ltc_runtime_migrations, ltc_runtime_migrations_count, &st), 0);
    ltc_db_destroy(owner);
    assert_true(ltc_audit_spool_flush() >= 0); /* (the ingesting thread may have taken some first) */
    assert_int_equal(files_in(dir), 0);
    assert_int_equal(count(admin, "spool_id IS NOT NULL"), 3);
    assert_int_equal(count(admin, "request_id = 'rid-1' AND target = E'tab\\there%'"), 1);
    assert_int_equal(count(admin, "request_id = 'rid-dead' AND event_time = to_timestamp(1700000000)"), 1);

    /* the same rows again (a crash between the commit and the file's removal): nothing is added */
    snprintf(cmd, sizeof cmd, "mv %s/copy %s", dir, again);
    assert_int_equal(system(cmd), 0);
    assert_true(ltc_audit_spool_flush() >= 0);
    assert_int_equal(files_in(dir), 0);
    assert_int_equal(count(admin, "spool_id IS NOT NULL"), 3);
    /* ingested unsealed (runtime migration 011); sealed by the stage's sealer, here by hand: one chain without a
     * gap, positions 1..3, the head at the last */
    assert_int_equal(count(admin, "chain_position IS NULL"), 3);
    assert_int_equal(ltc_db_exec_text(admin, &st, "SELECT spooltest.audit_chain_seal(100)"), 0);
    assert_int_equal(count(admin, "chain_position BETWEEN 1 AND 3"), 3);
    assert_int_equal(count(admin, "chain_position = (SELECT position FROM spooltest.audit_chain_head)"
                                  " AND row_hash = (SELECT hash FROM spooltest.audit_chain_head)"),
                     1);

    /* the ingesting thread does it by itself within about a second */
    assert_int_equal(ltc_audit_spool_append("carol", "", "", "/a.B/E", "", "rid-3", "UNAVAILABLE", "X"), 0);
    for (int i = 0; i < 60 && count(admin, "request_id = 'rid-3'") == 0; i++) usleep(100 * 1000);
    assert_int_equal(count(admin, "request_id = 'rid-3'"), 1);

    ltc_audit_spool_stop(s);
    ltc_db_destroy(admin);
    rmdir(dir);
}

int main(void) {
    if (!getenv("LTC_TEST_DSN")) {
        fprintf(stderr, "LTC_TEST_DSN is not set: run through tests/db/with_pg.sh\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_survive_until_the_database_takes_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
