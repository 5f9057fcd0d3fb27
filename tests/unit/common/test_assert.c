/* Unit tests of ltc/assert.h: with LTC_ASSERTS a false LTC_ASSERT prints "file:line: assertion failed: expr" to
 * stderr and aborts, a true one goes on; without, the expression is not even evaluated. Both forms are included
 * here (the header's guard is lifted in between). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#undef LTC_ASSERTS
#define LTC_ASSERTS 1
#include "ltc/assert.h"

static int evaluated;
static int count(int v) {
    evaluated++;
    return v;
}

static void active_true(void) { LTC_ASSERT(count(1) == 1); }
static void active_false(void) { LTC_ASSERT(count(2) == 3); }
static const int active_false_line = __LINE__ - 1; /* the line of the LTC_ASSERT above */

#undef LTC_ASSERT
#undef LTC_ASSERT_H
#undef LTC_ASSERTS
#include "ltc/assert.h"

static void inactive(void) {
    int only_in_asserts = 0; /* referenced only by the no-op: must not warn (-Werror) */
    LTC_ASSERT(count(only_in_asserts) == 1);
}

static void test_active_true_goes_on(void **state) {
    (void)state;
    evaluated = 0;
    active_true();
    assert_int_equal(evaluated, 1);
}

static void test_active_false_aborts_with_file_line_and_expression(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        active_false();
        _exit(0); /* not reached when the assertion works */
    }
    close(fds[1]);
    char out[512] = {0};
    size_t n = 0;
    ssize_t r;
    while (n < sizeof out - 1 && (r = read(fds[0], out + n, sizeof out - 1 - n)) > 0) n += (size_t)r;
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    char expect[128];
    snprintf(expect, sizeof expect, "test_assert.c:%d: assertion failed: count(2) == 3", active_false_line);
    assert_non_null(strstr(out, expect));
}

static void test_inactive_evaluates_nothing(void **state) {
    (void)state;
    evaluated = 0;
    inactive(); /* false, yet no abort */
    assert_int_equal(evaluated, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_true_goes_on),
        cmocka_unit_test(test_active_false_aborts_with_file_line_and_expression),
        cmocka_unit_test(test_inactive_evaluates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
