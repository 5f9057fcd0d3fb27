/* Unit tests of common/src/config.c: environment parsing, address checks, DSN redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ltc/config.h"

#define VAR "LTC_UNIT_TEST_VAR"

static void test_env_str(void **state) {
    (void)state;
    unsetenv(VAR);
    assert_string_equal(ltc_env_str(VAR, "dflt"), "dflt");
    assert_null(ltc_env_str(VAR, NULL));
    setenv(VAR, "", 1);
    assert_string_equal(ltc_env_str(VAR, "dflt"), "dflt");
    setenv(VAR, "value", 1);
    assert_string_equal(ltc_env_str(VAR, "dflt"), "value");
    unsetenv(VAR);
}

static void int_ok(const char *value, long want) {
    setenv(VAR, value, 1);
    long out = -12345;
    char err[128] = "";
    assert_int_equal(ltc_env_int(VAR, 7, -1000, 1000, &out, err, sizeof err), 0);
    assert_int_equal(out, want);
}

static void int_bad(const char *value, long min, long max) {
    setenv(VAR, value, 1);
    long out = -12345;
    char err[128] = "";
    assert_int_equal(ltc_env_int(VAR, 7, min, max, &out, err, sizeof err), -1);
    assert_int_equal(out, -12345);
    if (!strstr(err, VAR)) fail_msg("error \"%s\" does not name the variable", err);
}

static void test_env_int(void **state) {
    (void)state;
    long out = 0;
    unsetenv(VAR);
    assert_int_equal(ltc_env_int(VAR, 7, 1, 10, &out, NULL, 0), 0);
    assert_int_equal(out, 7);
    setenv(VAR, "", 1);
    assert_int_equal(ltc_env_int(VAR, 8, 1, 10, &out, NULL, 0), 0);
    assert_int_equal(out, 8);
    int_ok("42", 42);
    int_ok("-17", -17);
    int_ok("+5", 5);
    int_ok("0", 0);
    int_ok("1000", 1000);
    int_ok("-1000", -1000);
    int_ok("007", 7);
    int_bad("abc", -1000, 1000);
    int_bad("12abc", -1000, 1000);
    int_bad("12 ", -1000, 1000);
    int_bad(" 12", -1000, 1000);
    int_bad("0x10", -1000, 1000);
    int_bad("1e3", -1000, 1000);
    int_bad("1.5", -1000, 1000);
    int_bad("-", -1000, 1000);
    int_bad("+", -1000, 1000);
    int_bad("--1", -1000, 1000);
    int_bad("1001", -1000, 1000);
    int_bad("-1001", -1000, 1000);
    int_bad("0", 1, 256);
    int_bad("99999999999999999999999", 0, 2147483647); /* ERANGE */
    int_bad("-99999999999999999999999", -2147483647, 0);
    /* errbuf may be absent */
    setenv(VAR, "x", 1);
    assert_int_equal(ltc_env_int(VAR, 7, 0, 10, &out, NULL, 0), -1);
    unsetenv(VAR);
}

static void test_addr_valid(void **state) {
    (void)state;
    const char *good[] = {"127.0.0.1:50051",
                          "0.0.0.0:1",
                          "localhost:65535",
                          "[::1]:50061",
                          "[::]:50062",
                          "[2001:db8::1]:443",
                          "bto.ltc.svc.cluster.local:50062",
                          "ltc_bto:50062",
                          "db-1:5432",
                          "example.com.:80",
                          "[::ffff:127.0.0.1]:8080"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (ltc_addr_valid(good[i]) != 0) fail_msg("\"%s\" refused", good[i]);
    const char *bad[] = {"",
                         "127.0.0.1",
                         "127.0.0.1:",
                         ":50051",
                         "127.0.0.1:0",
                         "127.0.0.1:65536",
                         "127.0.0.1:99999999",
                         "127.0.0.1:-1",
                         "127.0.0.1:+80",
                         "127.0.0.1:80a",
                         "127.0.0.1: 80",
                         "999.0.0.1:80",
                         "1.2.3:80",
                         "::1:50051",
                         "[::1]",
                         "[::1]50051",
                         "[::1:50051",
                         "[]:80",
                         "[not-ip]:80",
                         "[127.0.0.1]:80",
                         "host name:80",
                         "-host:80",
                         "host-:80",
                         "a..b:80",
                         ".host:80",
                         "http://host:80",
                         "host/path:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ltc_addr_valid(bad[i]) == 0) fail_msg("\"%s\" accepted", bad[i]);
    assert_int_equal(ltc_addr_valid(NULL), -1);
    char longlabel[128];
    memset(longlabel, 'a', 64);
    strcpy(longlabel + 64, ":80");
    assert_int_equal(ltc_addr_valid(longlabel), -1);
    strcpy(longlabel + 63, ":80");
    assert_int_equal(ltc_addr_valid(longlabel), 0);
}

static void redacts(const char *dsn, const char *want) {
    char out[256];
    memset(out, 'Z', sizeof out);
    ltc_redact_dsn(dsn, out, sizeof out);
    assert_string_equal(out, want);
}

static void test_redact_kv(void **state) {
    (void)state;
    redacts("host=127.0.0.1 port=5432 dbname=ltc user=ltc_bto", "host=127.0.0.1 port=5432 dbname=ltc user=ltc_bto");
    redacts("host=db password=s3cret user=x", "host=db password=*** user=x");
    redacts("password=s3cret", "password=***");
    redacts("host=db password = s3cret user=x", "host=db password = *** user=x");
    redacts("host=db password='with space \\' quote' user=x", "host=db password=*** user=x");
    redacts("host=db password=back\\ slash user=x", "host=db password=*** user=x");
    redacts("host=db sslpassword=keypass", "host=db sslpassword=***");
    redacts("user=password dbname=password", "user=password dbname=password");
    redacts("application_name='a password=b' host=h", "application_name='a password=b' host=h");
    redacts("host=db password=", "host=db password=***");
    redacts("host=db password nonsense", "host=db password ***");
    redacts("", "");
}

static void test_redact_uri(void **state) {
    (void)state;
    redacts("postgresql://ltc_bto:s3cret@127.0.0.1:5432/ltc", "postgresql://ltc_bto:***@127.0.0.1:5432/ltc");
    redacts("postgres://u:p@h/db?sslmode=require", "postgres://u:***@h/db?sslmode=require");
    redacts("postgresql://u@h:5432/db", "postgresql://u@h:5432/db");
    redacts("postgresql://h:5432/db", "postgresql://h:5432/db");
    redacts("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db");
    redacts("postgresql://u:pa?ss@h/db", "postgresql://u:***@h/db");
    redacts("postgresql://h/db?user=u&password=x&sslmode=require",
            "postgresql://h/db?user=u&password=***&sslmode=require");
    redacts("postgresql://u:p@h/db?password=x", "postgresql://u:***@h/db?password=***");
    redacts("postgresql:///db?host=/tmp&sslpassword=k", "postgresql:///db?host=/tmp&sslpassword=***");
    redacts("postgresql://", "postgresql://");
}

/* A small buffer truncates but never shows part of the secret. */
static void test_redact_truncates(void **state) {
    (void)state;
    char out[20];
    ltc_redact_dsn("host=db password=s3cretvalue user=x", out, sizeof out);
    assert_int_equal(strlen(out), sizeof out - 1);
    assert_null(strstr(out, "s3c"));
    assert_string_equal(out, "host=db password=**");
    char one[1] = {'Q'};
    ltc_redact_dsn("password=x", one, sizeof one);
    assert_int_equal(one[0], '\0');
    char small[8];
    ltc_redact_dsn(NULL, small, sizeof small);
    assert_string_equal(small, "");
}

static void test_target_valid(void **state) {
    (void)state;
    assert_int_equal(ltc_target_valid("bto:50062"), 0);
    assert_int_equal(ltc_target_valid("dns:///bto.ltc.svc.cluster.local:50062"), 0);
    assert_int_equal(ltc_target_valid("dns:///"), -1);
    assert_int_equal(ltc_target_valid("ipv4:127.0.0.1:50062,127.0.0.1:50092"), 0);
    assert_int_equal(ltc_target_valid("ipv4:10.0.0.1:50062"), 0);
    assert_int_equal(ltc_target_valid("ipv4:"), -1);
    assert_int_equal(ltc_target_valid("ipv4:127.0.0.1:50062,"), -1);
    assert_int_equal(ltc_target_valid("ipv4:bto:50062"), -1);
    assert_int_equal(ltc_target_valid("ipv4:127.0.0.1:0"), -1);
    assert_int_equal(ltc_target_valid("dns://x:1"), -1);
    assert_int_equal(ltc_target_valid(NULL), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_valid),     cmocka_unit_test(test_env_str),   cmocka_unit_test(test_env_int),
        cmocka_unit_test(test_addr_valid),       cmocka_unit_test(test_redact_kv), cmocka_unit_test(test_redact_uri),
        cmocka_unit_test(test_redact_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
