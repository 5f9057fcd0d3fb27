/* token_cache.c - the gateway's cache of verified bearer tokens (token_cache.h). */
#include "token_cache.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4
#define LOCKS 64

typedef struct entry {
    unsigned char hash[GW_TOKEN_HASH_LEN];
    int used;
    long valid_from, valid_until;
    gw_principal p;
} entry;

struct gw_token_cache {
    size_t n_sets; /* a power of two */
    entry *sets;   /* n_sets * WAYS */
    pthread_mutex_t locks[LOCKS];
    atomic_uint_fast64_t hits, misses;
};

gw_token_cache *gw_token_cache_new(size_t capacity) {
    size_t sets = 16;
    while (sets * WAYS < capacity) sets *= 2;
    gw_token_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->sets = calloc(sets * WAYS, sizeof *c->sets);
    if (!c->sets) {
        free(c);
        return NULL;
    }
    c->n_sets = sets;
    for (int i = 0; i < LOCKS; i++) pthread_mutex_init(&c->locks[i], NULL);
    return c;
}

void gw_token_cache_free(gw_token_cache *c) {
    if (!c) return;
    for (int i = 0; i < LOCKS; i++) pthread_mutex_destroy(&c->locks[i]);
    OPENSSL_cleanse(c->sets, c->n_sets * WAYS * sizeof *c->sets);
    free(c->sets);
    free(c);
}

void gw_token_hash(const char *token, size_t len, unsigned char out[GW_TOKEN_HASH_LEN]) {
    SHA256((const unsigned char *)token, len, out);
}

/* The set of a hash (its first 8 bytes: uniform, a SHA-256) and that set's lock. */
static size_t set_of(const gw_token_cache *c, const unsigned char *hash) {
    uint64_t h;
    memcpy(&h, hash, sizeof h);
    return (size_t)(h & (c->n_sets - 1));
}

int gw_token_cache_get(gw_token_cache *c, const unsigned char hash[GW_TOKEN_HASH_LEN], time_t now, gw_principal *p) {
    size_t s = set_of(c, hash);
    pthread_mutex_t *mu = &c->locks[s % LOCKS];
    int found = 0;
    pthread_mutex_lock(mu);
    for (entry *e = &c->sets[s * WAYS], *end = e + WAYS; e < end; e++) {
        if (e->used && CRYPTO_memcmp(e->hash, hash, GW_TOKEN_HASH_LEN) == 0) {
            if ((long)now >= e->valid_from && (long)now <= e->valid_until) {
                *p = e->p;
                found = 1;
            }
            break;
        }
    }
    pthread_mutex_unlock(mu);
    atomic_fetch_add_explicit(found ? &c->hits : &c->misses, 1, memory_order_relaxed);
    return found;
}

void gw_token_cache_put(gw_token_cache *c, const unsigned char hash[GW_TOKEN_HASH_LEN], const gw_principal *p,
                        long valid_from, long valid_until) {
    size_t s = set_of(c, hash);
    pthread_mutex_t *mu = &c->locks[s % LOCKS];
    pthread_mutex_lock(mu);
    entry *set = &c->sets[s * WAYS], *victim = NULL;
    for (entry *e = set; e < set + WAYS && !victim; e++)
        if (e->used && memcmp(e->hash, hash, GW_TOKEN_HASH_LEN) == 0) victim = e; /* the same token again */
    for (entry *e = set; e < set + WAYS && !victim; e++)
        if (!e->used) victim = e;
    if (!victim) { /* the entry whose token expires first makes room */
        victim = set;
        for (entry *e = set + 1; e < set + WAYS; e++)
            if (e->valid_until < victim->valid_until) victim = e;
    }
    memcpy(victim->hash, hash, GW_TOKEN_HASH_LEN);
    victim->used = 1;
    victim->valid_from = valid_from;
    victim->valid_until = valid_until;
    victim->p = *p;
    pthread_mutex_unlock(mu);
}

void gw_token_cache_clear(gw_token_cache *c) {
    for (int i = 0; i < LOCKS; i++) pthread_mutex_lock(&c->locks[i]);
    OPENSSL_cleanse(c->sets, c->n_sets * WAYS * sizeof *c->sets);
    for (int i = LOCKS - 1; i >= 0; i--) pthread_mutex_unlock(&c->locks[i]);
}

void gw_token_cache_stats(gw_token_cache *c, uint64_t *hits, uint64_t *misses) {
    *hits = atomic_load_explicit(&c->hits, memory_order_relaxed);
    *misses = atomic_load_explicit(&c->misses, memory_order_relaxed);
}
