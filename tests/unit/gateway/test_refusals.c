/* Unit tests of services/gateway/refusals.c: the gateway's chained file of refused calls. Records, reopens (the chain
 * goes on), then edits, deletes and inserts lines as whoever holds the file could, and verifies each time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "refusals.h"

static char dir[64], path[128];

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ltc-refusals.XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/refusals.jsonl", dir);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void record(gw_refusals *r, int i) {
    char rid[32];
    snprintf(rid, sizeof rid, "rid-%d", i);
    assert_int_equal(gw_refusals_record(r, 1700000000000000 + i, i % 2 ? "mallory" : "", i % 2 ? "sales" : "",
                                        "ipv4:10.0.0.9", "/ltc.dtc.v1.DeliveryToCashService/RecordPayment", rid,
                                        "5b0f6a4e-0000-4000-8000-000000000001",
                                        i % 2 ? "PERMISSION_DENIED" : "UNAUTHENTICATED",
                                        i % 2 ? "ROLE_NOT_ALLOWED" : "BAD \"token\"\n"),
                     0);
}

static int verify(char *report, size_t len, int64_t *lines) { return gw_refusals_verify(path, lines, report, len); }

/* The file's lines, rewritten by fn (which gets the lines and their count). */
static void rewrite(void (*fn)(char **lines, int *n)) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[64 * 1024];
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = 0;
    char *lines[64] = {0};
    int n = 0;
    for (char *p = strtok(buf, "\n"); p && n < 64; p = strtok(NULL, "\n")) lines[n++] = p;
    assert_true(n >= 3); /* the edits below change the second and third lines */
    fn(lines, &n);
    f = fopen(path, "w");
    for (int i = 0; i < n; i++) fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

static char saved[4096];
static void edit_reason(char **l, int *n) {
    (void)n;
    assert_non_null(l[1]);
    snprintf(saved, sizeof saved, "%s", l[1] ? l[1] : ""); /* (GCC's -O2 cannot see that rewrite checked n) */
    char *p = strstr(l[1], "ROLE_NOT_ALLOWED");
    assert_non_null(p);
    memcpy(p, "ROLE_NOT_ALLOWEX", 16);
}
static void restore(char **l, int *n) {
    (void)n;
    l[1] = saved;
}
static void delete_third(char **l, int *n) {
    for (int i = 2; i + 1 < *n; i++) l[i] = l[i + 1];
    (*n)--;
}

static void test_chain_survives_reopening_and_finds_tampering(void **state) {
    (void)state;
    char err[200];
    gw_refusals *r = gw_refusals_open(path, err, sizeof err);
    assert_non_null(r);
    for (int i = 0; i < 3; i++) record(r, i);
    gw_refusals_close(r);
    r = gw_refusals_open(path, err, sizeof err); /* a restart: the chain goes on from the last line */
    assert_non_null(r);
    record(r, 3);
    record(r, 4);
    gw_refusals_close(r);
    char report[2048];
    int64_t lines = 0;
    assert_int_equal(verify(report, sizeof report, &lines), 0);
    assert_int_equal(lines, 5);

    rewrite(edit_reason);
    assert_int_equal(verify(report, sizeof report, &lines), 1);
    assert_non_null(strstr(report, "position 2: content does not match its hash (edited)"));
    rewrite(restore);
    assert_int_equal(verify(report, sizeof report, &lines), 0);

    rewrite(delete_third);
    assert_int_equal(verify(report, sizeof report, &lines), 1);
    assert_non_null(strstr(report, "position 3: missing before position 4 (deleted)"));

    /* a torn last line (a crash mid-write) is not a refusal and does not stop reopening */
    FILE *f = fopen(path, "a");
    fputs("{\"position\":6,\"ti", f);
    fclose(f);
    r = gw_refusals_open(path, err, sizeof err);
    assert_non_null(r);
    gw_refusals_close(r);
    assert_int_equal(gw_refusals_verify("/nonexistent/refusals", &lines, report, sizeof report), -1);
}

static void test_a_file_of_something_else_is_refused(void **state) {
    (void)state;
    FILE *f = fopen(path, "w");
    fputs("not a refusal\n", f);
    fclose(f);
    char err[200];
    assert_null(gw_refusals_open(path, err, sizeof err));
    assert_non_null(strstr(err, "last line is not a chained refusal"));
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain_survives_reopening_and_finds_tampering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_file_of_something_else_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
