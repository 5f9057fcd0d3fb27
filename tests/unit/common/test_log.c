#define _GNU_SOURCE /* strptime, timegm */
/* Unit tests of common/src/log.c: stdout is redirected (pipe or temporary file via dup2) and every line parsed back
 * with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/grpc.h>
#include <grpc/support/log.h>
#include <jansson.h>
#include <pthread.h>

#include "ltc/log.h"

/* --- capturing stdout ------------------------------------------------------------------------------------ */

static int saved_stdout = -1;
static int pipe_rd = -1;

static void capture_start(void) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    saved_stdout = dup(STDOUT_FILENO);
    assert_true(saved_stdout >= 0);
    assert_true(dup2(fds[1], STDOUT_FILENO) >= 0);
    close(fds[1]);
    pipe_rd = fds[0];
}

/* Restores stdout and returns what was written (malloc'd). Only for output smaller than a pipe buffer. */
static char *capture_end(void) {
    fflush(stdout);
    assert_true(dup2(saved_stdout, STDOUT_FILENO) >= 0);
    close(saved_stdout);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        ssize_t n = read(pipe_rd, buf + len, cap - 1 - len);
        assert_true(n >= 0);
        if (n == 0) break;
        len += (size_t)n;
        assert_true(len < cap - 1);
    }
    close(pipe_rd);
    buf[len] = '\0';
    return buf;
}

/* Logs one line through fn and returns it parsed; asserts it is exactly one JSON object and a newline. */
static json_t *one_line(char *raw) {
    size_t n = strlen(raw);
    assert_true(n > 2);
    assert_int_equal(raw[n - 1], '\n');
    assert_null(memchr(raw, '\n', n - 1));
    json_error_t err;
    json_t *j = json_loads(raw, 0, &err);
    if (!j) fail_msg("not JSON (%s): %s", err.text, raw);
    assert_true(json_is_object(j));
    return j;
}

static const char *str(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* --- tests -------------------------------------------------------------------------------------------------- */

static void test_line_format(void **state) {
    (void)state;
    ltc_log_init("ltb", "info");
    time_t before = time(NULL);
    capture_start();
    LTC_INFO("lead_created", "req-123", "lead %s created by %d", "leads/abc", 7);
    char *raw = capture_end();
    time_t after = time(NULL);
    json_t *j = one_line(raw);

    const char *want_keys[] = {"ts", "level", "service", "event", "request_id", "msg"};
    size_t i = 0;
    for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it), i++) {
        assert_true(i < 6);
        assert_string_equal(json_object_iter_key(it), want_keys[i]);
    }
    assert_int_equal(i, 6);
    assert_string_equal(str(j, "level"), "info");
    assert_string_equal(str(j, "service"), "ltb");
    assert_string_equal(str(j, "event"), "lead_created");
    assert_string_equal(str(j, "request_id"), "req-123");
    assert_string_equal(str(j, "msg"), "lead leads/abc created by 7");

    /* ts: 2026-11-27T05:00:00.123Z, UTC, within the test's time */
    const char *ts = str(j, "ts");
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24);
    struct tm tm = {0};
    const char *rest = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(rest);
    assert_int_equal(rest[0], '.');
    for (int k = 1; k <= 3; k++) assert_true(rest[k] >= '0' && rest[k] <= '9');
    assert_string_equal(rest + 4, "Z");
    time_t t = timegm(&tm);
    assert_true(t >= before - 1 && t <= after + 1);
    json_decref(j);
    free(raw);
}

static void test_no_request_id(void **state) {
    (void)state;
    ltc_log_init("bto", "debug");
    capture_start();
    ltc_log(LTC_LOG_DEBUG, "relay_tick", NULL, "nothing due");
    char *raw = capture_end();
    json_t *j = one_line(raw);
    assert_null(json_object_get(j, "request_id"));
    assert_string_equal(str(j, "level"), "debug");
    assert_string_equal(str(j, "service"), "bto");
    assert_int_equal(json_object_size(j), 5);
    json_decref(j);
    free(raw);
}

static void test_levels(void **state) {
    (void)state;
    ltc_log_init("otd", "warn");
    assert_false(ltc_log_enabled(LTC_LOG_DEBUG));
    assert_false(ltc_log_enabled(LTC_LOG_INFO));
    assert_true(ltc_log_enabled(LTC_LOG_WARN));
    assert_true(ltc_log_enabled(LTC_LOG_ERROR));
    capture_start();
    LTC_INFO("dropped", NULL, "not shown");
    ltc_log(LTC_LOG_DEBUG, "dropped", NULL, "not shown");
    LTC_WARN("slow_query", "r1", "took %d ms", 1500);
    LTC_ERROR("db_down", NULL, "connection refused");
    char *raw = capture_end();
    char *nl = strchr(raw, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_t *a = json_loads(raw, 0, NULL);
    json_t *b = json_loads(nl + 1, 0, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(str(a, "level"), "warn");
    assert_string_equal(str(a, "msg"), "took 1500 ms");
    assert_string_equal(str(b, "level"), "error");
    assert_string_equal(str(b, "event"), "db_down");
    assert_null(strstr(nl + 1, "dropped"));
    assert_null(strstr(raw, "dropped"));
    json_decref(a);
    json_decref(b);
    free(raw);

    ltc_log_init("otd", "ERROR"); /* case-insensitive */
    assert_false(ltc_log_enabled(LTC_LOG_WARN));
    assert_true(ltc_log_enabled(LTC_LOG_ERROR));
    ltc_log_init("otd", "debug");
    assert_true(ltc_log_enabled(LTC_LOG_DEBUG));
    ltc_log_init("otd", "verbose"); /* unknown -> info */
    assert_false(ltc_log_enabled(LTC_LOG_DEBUG));
    assert_true(ltc_log_enabled(LTC_LOG_INFO));
    ltc_log_init("otd", NULL);
    assert_true(ltc_log_enabled(LTC_LOG_INFO));
    assert_false(ltc_log_enabled(LTC_LOG_DEBUG));
}

/* Quotes, backslashes, newlines and control characters are escaped; the line stays one line. */
static void test_escaping(void **state) {
    (void)state;
    ltc_log_init("dtc", "info");
    const char *nasty = "say \"hi\"\\ \n second line\t\x01 \xE4\xB8\xAD </script>";
    capture_start();
    LTC_INFO("x", "rid\"\n", "%s", nasty);
    char *raw = capture_end();
    json_t *j = one_line(raw);
    assert_string_equal(str(j, "msg"), nasty);
    assert_string_equal(str(j, "request_id"), "rid\"\n");
    json_decref(j);
    free(raw);
}

/* Invalid UTF-8 (e.g. client input quoted in a message) must not break the line or drop it. */
static void test_invalid_utf8(void **state) {
    (void)state;
    ltc_log_init("dtc", "info");
    capture_start();
    LTC_WARN("bad_input", "\xFF\xFE", "name was \"%s\"",
             "ab\xC0\xAF"
             "cd\xE4");
    char *raw = capture_end();
    json_t *j = one_line(raw);
    assert_string_equal(str(j, "msg"), "name was \"ab\xEF\xBF\xBD\xEF\xBF\xBD"
                                       "cd\xEF\xBF\xBD\"");
    assert_string_equal(str(j, "request_id"), "\xEF\xBF\xBD\xEF\xBF\xBD");
    json_decref(j);
    free(raw);
}

/* Messages are cut at 4 KiB (4095 bytes and the terminator); a cut inside a character is repaired. */
static void test_truncation(void **state) {
    (void)state;
    ltc_log_init("ltb", "info");
    size_t n = 10000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'x', n);
    big[n] = '\0';
    capture_start();
    LTC_INFO("big", NULL, "%s", big);
    char *raw = capture_end();
    json_t *j = one_line(raw);
    const char *msg = str(j, "msg");
    assert_non_null(msg);
    assert_int_equal(strlen(msg), 4095);
    json_decref(j);
    free(raw);

    /* 4094 ASCII bytes then a three-byte character: the buffer ends after its first byte */
    memset(big, 'y', 4094);
    memcpy(big + 4094, "\xE4\xB8\xAD", 4);
    capture_start();
    LTC_INFO("big", NULL, "%s", big);
    raw = capture_end();
    j = one_line(raw);
    msg = str(j, "msg");
    assert_non_null(msg);
    assert_int_equal(strlen(msg), 4094 + 3);
    assert_memory_equal(msg + 4094, "\xEF\xBF\xBD", 3);
    json_decref(j);
    free(raw);
    free(big);
}

/* --- concurrency: lines of many threads never interleave ------------------------------------------------ */

enum {
    THREADS = 4,
    LINES = 500
};

static void *log_many(void *arg) {
    int id = (int)(intptr_t)arg;
    char payload[300];
    memset(payload, 'a' + id, sizeof payload - 1);
    payload[sizeof payload - 1] = '\0';
    for (int i = 0; i < LINES; i++) LTC_INFO("tick", "r", "%d %d %s", id, i, payload);
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    ltc_log_init("ltb", "info");
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) assert_int_equal(pthread_create(&th[t], NULL, log_many, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);

    rewind(tmp);
    int seen[THREADS] = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int total = 0;
    while ((len = getline(&line, &cap, tmp)) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j) fail_msg("line %d is not JSON: %.80s", total, line);
        int id = -1, i = -1;
        assert_int_equal(sscanf(str(j, "msg"), "%d %d", &id, &i), 2);
        assert_true(id >= 0 && id < THREADS);
        assert_int_equal(i, seen[id]); /* each thread's lines in order */
        seen[id]++;
        json_decref(j);
        total++;
    }
    free(line);
    fclose(tmp);
    assert_int_equal(total, THREADS * LINES);
}

/* Structured fields follow the envelope as strings and numbers; the span id of the context is a field of its own;
 * envelope keys cannot be overwritten by a field. */
static void test_fields(void **state) {
    (void)state;
    ltc_log_init("dtc", "info");
    ltc_log_set_context("req-9", "0af7651916cd43dd8448eb211c80319c");
    ltc_log_set_span("b7ad6b7169203331");
    ltc_log_field f[] = {{.key = "method", .str = "/ltc.dtc.v1.DeliverToCashService/GetInvoice"},
                         {.key = "code", .str = "NOT_FOUND"},
                         {.key = "duration_ms", .num = 1.25},
                         {.key = "level", .str = "forged"}};
    capture_start();
    ltc_log_fields(ltc_log_level_for_code(LTC_NOT_FOUND), "rpc", NULL, f, 4, "short");
    char *raw = capture_end();
    ltc_log_set_context(NULL, NULL);
    json_t *j = one_line(raw);
    assert_string_equal(str(j, "level"), "info");
    assert_string_equal(str(j, "request_id"), "req-9");
    assert_string_equal(str(j, "trace_id"), "0af7651916cd43dd8448eb211c80319c");
    assert_string_equal(str(j, "span_id"), "b7ad6b7169203331");
    assert_string_equal(str(j, "method"), "/ltc.dtc.v1.DeliverToCashService/GetInvoice");
    assert_string_equal(str(j, "code"), "NOT_FOUND");
    assert_true(json_is_number(json_object_get(j, "duration_ms")));
    assert_true(json_number_value(json_object_get(j, "duration_ms")) == 1.25);
    json_decref(j);
    free(raw);
}

/* Client errors at info, the server's faults at error. */
static void test_level_for_code(void **state) {
    (void)state;
    assert_int_equal(ltc_log_level_for_code(LTC_OK), LTC_LOG_INFO);
    assert_int_equal(ltc_log_level_for_code(LTC_NOT_FOUND), LTC_LOG_INFO);
    assert_int_equal(ltc_log_level_for_code(LTC_INVALID_ARGUMENT), LTC_LOG_INFO);
    assert_int_equal(ltc_log_level_for_code(LTC_RESOURCE_EXHAUSTED), LTC_LOG_INFO);
    assert_int_equal(ltc_log_level_for_code(LTC_PERMISSION_DENIED), LTC_LOG_INFO);
    assert_int_equal(ltc_log_level_for_code(LTC_DEADLINE_EXCEEDED), LTC_LOG_WARN);
    assert_int_equal(ltc_log_level_for_code(LTC_INTERNAL), LTC_LOG_ERROR);
    assert_int_equal(ltc_log_level_for_code(LTC_UNAVAILABLE), LTC_LOG_ERROR);
    assert_int_equal(ltc_log_level_for_code(LTC_DATA_LOSS), LTC_LOG_ERROR);
}

/* gRPC core's own lines come out as JSON lines of the stream (event "grpc"). */
static void test_grpc_lines(void **state) {
    (void)state;
    ltc_log_init("gateway", "info");
    grpc_init(); /* gRPC core prints nothing before it (its verbosity is read there) */
    capture_start();
    gpr_log(GPR_ERROR, "bind: Address already in use \"%s\"", "x");
    char *raw = capture_end();
    grpc_shutdown();
    json_t *j = one_line(raw);
    assert_string_equal(str(j, "level"), "error");
    assert_string_equal(str(j, "event"), "grpc");
    assert_string_equal(str(j, "msg"), "bind: Address already in use \"x\"");
    assert_string_equal(str(j, "file"), "test_log.c");
    json_decref(j);
    free(raw);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_format), cmocka_unit_test(test_no_request_id), cmocka_unit_test(test_levels),
        cmocka_unit_test(test_escaping),    cmocka_unit_test(test_invalid_utf8),  cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_threads),     cmocka_unit_test(test_fields),        cmocka_unit_test(test_level_for_code),
        cmocka_unit_test(test_grpc_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
