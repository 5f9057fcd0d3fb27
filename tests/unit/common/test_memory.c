/* test_memory.c - ltc/memory.h: LTC_MALLOC_ARENAS checked, and the cap holding when threads allocate at once. */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ltc/memory.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static void bad(const char *value) {
    char err[200] = "";
    setenv("LTC_MALLOC_ARENAS", value, 1);
    assert_int_equal(ltc_memory_configure(err, sizeof err), -1);
    assert_non_null(strstr(err, "LTC_MALLOC_ARENAS"));
}

static void test_setting_checked(void **state) {
    (void)state;
    bad("x");
    bad("-1");
    bad("1025");
    bad("2 ");
    unsetenv("LTC_MALLOC_ARENAS");
}

#ifndef UNDER_ASAN /* the sanitizer's allocator has no glibc arenas: nothing to count */
enum {
    THREADS = 8
};
static pthread_barrier_t all_started, all_allocated;

static void *allocate(void *arg) {
    (void)arg;
    enum {
        N = 100
    };
    void *p[N];
    pthread_barrier_wait(&all_started); /* every thread alive before any allocates: none can reuse another's arena */
    for (int i = 0; i < N; i++) p[i] = malloc(100000); /* under the mmap threshold: from an arena */
    pthread_barrier_wait(&all_allocated);
    for (int i = 0; i < N; i++) free(p[i]);
    return NULL;
}

/* The heaps malloc_info reports: the main arena and one per arena made for threads. */
static int heaps(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(malloc_info(0, f), 0);
    fclose(f);
    int n = 0;
    for (const char *p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++) n++;
    free(buf);
    return n;
}

#endif

/* Eight threads allocating at the same time share the capped arenas: with glibc's own limit (8 per core) each would
 * have made one of its own. */
static void test_arenas_capped(void **state) {
    (void)state;
#ifdef UNDER_ASAN
    skip(); /* the sanitizer's allocator has no glibc arenas */
#else
    unsetenv("MALLOC_ARENA_MAX");
    setenv("LTC_MALLOC_ARENAS", "2", 1);
    char err[200] = "";
    assert_int_equal(ltc_memory_configure(err, sizeof err), 0);
    pthread_t t[THREADS];
    assert_int_equal(pthread_barrier_init(&all_started, NULL, THREADS), 0);
    assert_int_equal(pthread_barrier_init(&all_allocated, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&t[i], NULL, allocate, NULL), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&all_started);
    pthread_barrier_destroy(&all_allocated);
    assert_in_range(heaps(), 1, 2);
    ltc_memory_trim();
    unsetenv("LTC_MALLOC_ARENAS");
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setting_checked),
        cmocka_unit_test(test_arenas_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
