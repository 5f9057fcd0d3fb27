/* Unit tests of the gateway's cache of verified tokens (services/gateway/token_cache.c): what a hit returns, the
 * validity window checked at every lookup, replacement within a set, emptying, and many threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "token_cache.h"

static gw_principal principal(const char *sub, unsigned roles, long exp) {
    gw_principal p;
    memset(&p, 0, sizeof p);
    snprintf(p.subject, sizeof p.subject, "%s", sub);
    p.roles = roles;
    p.expires = exp;
    return p;
}

static void test_hit_returns_what_was_verified(void **state) {
    (void)state;
    gw_token_cache *c = gw_token_cache_new(1000);
    assert_non_null(c);
    unsigned char h[GW_TOKEN_HASH_LEN], other[GW_TOKEN_HASH_LEN];
    gw_token_hash("a.b.c", 5, h);
    gw_token_hash("a.b.d", 5, other);
    assert_memory_not_equal(h, other, GW_TOKEN_HASH_LEN);
    gw_principal got, want = principal("ar.li.na", 0x5, 2000);
    assert_int_equal(gw_token_cache_get(c, h, 1500, &got), 0);
    gw_token_cache_put(c, h, &want, 1000, 2030);
    assert_int_equal(gw_token_cache_get(c, h, 1500, &got), 1);
    assert_string_equal(got.subject, "ar.li.na");
    assert_int_equal(got.roles, 0x5);
    assert_int_equal(got.expires, 2000);
    assert_int_equal(gw_token_cache_get(c, other, 1500, &got), 0); /* another token is not this one */
    uint64_t hits, misses;
    gw_token_cache_stats(c, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 2);
    gw_token_cache_free(c);
}

static void test_window_is_checked_at_every_lookup(void **state) {
    (void)state;
    gw_token_cache *c = gw_token_cache_new(64);
    unsigned char h[GW_TOKEN_HASH_LEN];
    gw_token_hash("x.y.z", 5, h);
    gw_principal got, p = principal("fr.chen.jie", 1, 2000);
    gw_token_cache_put(c, h, &p, 1000, 2030);
    assert_int_equal(gw_token_cache_get(c, h, 999, &got), 0);  /* not valid yet */
    assert_int_equal(gw_token_cache_get(c, h, 1000, &got), 1); /* the window's ends are inside it */
    assert_int_equal(gw_token_cache_get(c, h, 2030, &got), 1);
    assert_int_equal(gw_token_cache_get(c, h, 2031, &got), 0); /* expired, leeway included */
    gw_token_cache_free(c);
}

static void test_clear_forgets_every_token(void **state) {
    (void)state;
    gw_token_cache *c = gw_token_cache_new(256);
    unsigned char h[100][GW_TOKEN_HASH_LEN];
    gw_principal got, p = principal("sr.zhang.wei", 2, 5000);
    for (int i = 0; i < 100; i++) {
        char t[16];
        int n = snprintf(t, sizeof t, "t.%d.s", i);
        gw_token_hash(t, (size_t)n, h[i]);
        gw_token_cache_put(c, h[i], &p, 0, 5000);
    }
    int kept = 0;
    for (int i = 0; i < 100; i++) kept += gw_token_cache_get(c, h[i], 10, &got);
    assert_true(kept >= 90); /* 64 sets of 4: a few may share a full set */
    gw_token_cache_clear(c);
    for (int i = 0; i < 100; i++) assert_int_equal(gw_token_cache_get(c, h[i], 10, &got), 0);
    gw_token_cache_free(c);
}

/* Five tokens of one set (the same first 8 bytes of hash): the one that expires first makes room for the fifth; the
 * same token put again takes its own place, not another's. */
static void test_full_set_replaces_the_first_to_expire(void **state) {
    (void)state;
    gw_token_cache *c = gw_token_cache_new(64);
    unsigned char h[5][GW_TOKEN_HASH_LEN];
    memset(h, 0, sizeof h);
    long until[5] = {3000, 1500, 4000, 2500, 3500};
    for (int i = 0; i < 5; i++) {
        h[i][31] = (unsigned char)(i + 1); /* same set, different tokens */
        gw_principal p = principal("u", (unsigned)i, until[i]);
        gw_token_cache_put(c, h[i], &p, 0, until[i]);
    }
    gw_principal got;
    assert_int_equal(gw_token_cache_get(c, h[1], 10, &got), 0); /* expired first: replaced */
    for (int i = 0; i < 5; i++) {
        if (i == 1) continue;
        assert_int_equal(gw_token_cache_get(c, h[i], 10, &got), 1);
        assert_int_equal(got.roles, (unsigned)i);
    }
    gw_principal again = principal("u", 9, 3000);
    gw_token_cache_put(c, h[0], &again, 0, 3000); /* the same token: its own entry, nobody evicted */
    for (int i = 2; i < 5; i++) assert_int_equal(gw_token_cache_get(c, h[i], 10, &got), 1);
    assert_int_equal(gw_token_cache_get(c, h[0], 10, &got), 1);
    assert_int_equal(got.roles, 9);
    gw_token_cache_free(c);
}

/* Threads putting and getting tokens of a shared pool: a hit always returns the principal of that very token. */
enum {
    THREADS = 4,
    POOL = 500,
    ROUNDS = 20000
};
static gw_token_cache *shared;
static unsigned char pool[POOL][GW_TOKEN_HASH_LEN];
static atomic_int torn;

static void *worker(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)((seed >> 8) % POOL);
        gw_principal got;
        if (gw_token_cache_get(shared, pool[i], 100, &got)) {
            char want[16];
            snprintf(want, sizeof want, "user%d", i);
            if (strcmp(got.subject, want) != 0 || got.roles != (unsigned)i || got.expires != 1000 + i)
                atomic_fetch_add(&torn, 1);
        } else {
            char sub[16];
            snprintf(sub, sizeof sub, "user%d", i);
            gw_principal p = principal(sub, (unsigned)i, 1000 + i);
            gw_token_cache_put(shared, pool[i], &p, 0, 1000 + i);
        }
    }
    return NULL;
}

static void test_threads_never_see_a_mixed_entry(void **state) {
    (void)state;
    shared = gw_token_cache_new(256); /* smaller than the pool: entries are replaced all the time */
    for (int i = 0; i < POOL; i++) {
        char t[16];
        int n = snprintf(t, sizeof t, "pool.%d.sig", i);
        gw_token_hash(t, (size_t)n, pool[i]);
    }
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&torn), 0);
    uint64_t hits, misses;
    gw_token_cache_stats(shared, &hits, &misses);
    assert_int_equal(hits + misses, (uint64_t)THREADS * ROUNDS);
    assert_true(hits > 0 && misses > 0);
    gw_token_cache_free(shared);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_returns_what_was_verified),
        cmocka_unit_test(test_window_is_checked_at_every_lookup),
        cmocka_unit_test(test_clear_forgets_every_token),
        cmocka_unit_test(test_full_set_replaces_the_first_to_expire),
        cmocka_unit_test(test_threads_never_see_a_mixed_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
