/* Unit tests of common/src/arena.c: alignment, zeroing, growth past the first block, reset, strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ltc/arena.h"

static int all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static void test_alignment_and_zero(void **state) {
    (void)state;
    ltc_arena *a = ltc_arena_create(1024);
    size_t sizes[] = {1, 3, 7, 16, 17, 0, 100, 1, 5000, 2, 64 * 1024, 9};
    unsigned char *prev = NULL;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = ltc_arena_alloc(a, sizes[i]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        assert_true(all_zero(p, sizes[i]));
        assert_true(p != prev);    /* even zero-size requests get distinct pointers */
        memset(p, 0xAB, sizes[i]); /* writable in full (valgrind/ASan check the bounds) */
        prev = p;
    }
    ltc_arena_destroy(a);
}

static void test_used(void **state) {
    (void)state;
    ltc_arena *a = ltc_arena_create(256);
    assert_int_equal(ltc_arena_used(a), 0);
    ltc_arena_alloc(a, 10);
    ltc_arena_alloc(a, 20);
    assert_int_equal(ltc_arena_used(a), 30);
    ltc_arena_alloc(a, 10000); /* larger than a block */
    assert_int_equal(ltc_arena_used(a), 10030);
    ltc_arena_reset(a);
    assert_int_equal(ltc_arena_used(a), 0);
    assert_int_equal(ltc_arena_used(NULL), 0);
    ltc_arena_destroy(a);
}

/* Memory stays valid and distinct across many blocks: fill every allocation with its index and check them all. */
static void test_many_blocks(void **state) {
    (void)state;
    ltc_arena *a = ltc_arena_create(300);
    enum {
        N = 2000
    };
    unsigned char *ptrs[N];
    size_t lens[N];
    for (size_t i = 0; i < N; i++) {
        lens[i] = 1 + (i * 37) % 700;
        ptrs[i] = ltc_arena_alloc(a, lens[i]);
        memset(ptrs[i], (int)(i & 0xFF), lens[i]);
    }
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < lens[i]; k++)
            if (ptrs[i][k] != (unsigned char)(i & 0xFF)) fail_msg("allocation %zu overwritten at %zu", i, k);
    ltc_arena_destroy(a);
}

/* After reset the first block is reused (same first address) and handed out zeroed again. */
static void test_reset_reuses_first_block(void **state) {
    (void)state;
    ltc_arena *a = ltc_arena_create(4096);
    unsigned char *first = ltc_arena_alloc(a, 100);
    memset(first, 0xFF, 100);
    for (int i = 0; i < 50; i++) memset(ltc_arena_alloc(a, 1000), 0xEE, 1000); /* spills into more blocks */
    ltc_arena_reset(a);
    unsigned char *again = ltc_arena_alloc(a, 100);
    assert_ptr_equal(again, first);
    assert_true(all_zero(again, 100));
    ltc_arena_reset(a);
    ltc_arena_reset(a); /* twice in a row is fine */
    unsigned char *big = ltc_arena_alloc(a, 4096);
    assert_true(all_zero(big, 4096));
    ltc_arena_destroy(a);
}

/* Every allocation is zero however the memory was used before: fresh blocks are not cleared again (they come from
 * calloc), the first block is once it has been handed out and reset. */
static void test_zero_across_resets(void **state) {
    (void)state;
    ltc_arena *a = ltc_arena_create(1024);
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < 300; i++) {
            size_t n = 1 + (i * 131 + (size_t)round * 17) % (i % 50 == 0 ? 9000 : 400);
            unsigned char *p = ltc_arena_alloc(a, n);
            if (!all_zero(p, n)) fail_msg("round %d allocation %zu (%zu bytes) not zero", round, i, n);
            memset(p, 0xA5, n);
        }
        ltc_arena_reset(a);
    }
    ltc_arena_destroy(a);
}

static void test_strdup_printf(void **state) {
    (void)state;
    ltc_arena *a = ltc_arena_create(0);
    assert_null(ltc_arena_strdup(a, NULL));
    char *s = ltc_arena_strdup(a, "héllo");
    assert_string_equal(s, "héllo");
    assert_string_equal(ltc_arena_strdup(a, ""), "");
    assert_string_equal(ltc_arena_printf(a, "%s/%d", "orders", 42), "orders/42");
    assert_string_equal(ltc_arena_printf(a, "%s", ""), "");
    char longer[2000];
    memset(longer, 'q', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    char *p = ltc_arena_printf(a, "<%s>", longer); /* longer than printf's stack buffer */
    assert_int_equal(strlen(p), sizeof longer + 1);
    assert_int_equal(p[0], '<');
    assert_int_equal(p[sizeof longer], '>');
    ltc_arena_destroy(a);
}

static void test_destroy_null(void **state) {
    (void)state;
    ltc_arena_destroy(NULL);
}

/* Runs an allocation of n bytes in a child process and expects it to die of SIGABRT. */
static void expect_abort(size_t n) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(2);
        ltc_arena *a = ltc_arena_create(256);
        ltc_arena_alloc(a, n);
        _exit(0); /* not reached */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_oom_aborts(void **state) {
    (void)state;
    expect_abort(SIZE_MAX);
    expect_abort(SIZE_MAX - 64);
#ifndef __SANITIZE_ADDRESS__       /* ASan's malloc reports the huge request and exits instead of returning NULL */
    expect_abort((size_t)1 << 62); /* malloc fails */
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_zero), cmocka_unit_test(test_used),
        cmocka_unit_test(test_many_blocks),        cmocka_unit_test(test_reset_reuses_first_block),
        cmocka_unit_test(test_zero_across_resets), cmocka_unit_test(test_strdup_printf),
        cmocka_unit_test(test_destroy_null),       cmocka_unit_test(test_oom_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
