/* ratelimit.c - token buckets, see ratelimit.h. */
#include "ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

enum {
    SLOTS = 4096,
    PROBE = 8,
    SHARDS = 16
};

typedef struct bucket {
    uint64_t key; /* 0: free */
    double tokens;
    double last; /* when tokens was last brought up to date */
} bucket;

struct gw_limiter {
    double rate, burst;
    pthread_mutex_t mu[SHARDS];
    bucket slots[SLOTS];
};

gw_limiter *gw_limiter_create(double rate, double burst) {
    gw_limiter *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->rate = rate;
    l->burst = burst < 1 ? 1 : burst;
    for (int i = 0; i < SHARDS; i++) pthread_mutex_init(&l->mu[i], NULL);
    return l;
}

void gw_limiter_free(gw_limiter *l) {
    if (!l) return;
    for (int i = 0; i < SHARDS; i++) pthread_mutex_destroy(&l->mu[i]);
    free(l);
}

static uint64_t hash(const char *s) { /* FNV-1a, then mixed; never 0 */
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

static int64_t update(gw_limiter *l, const char *caller, double now, int take) {
    uint64_t k = hash(caller);
    /* the PROBE slots a key may live in all belong to one shard */
    size_t base = (size_t)(k % (SLOTS / PROBE)) * PROBE;
    pthread_mutex_t *mu = &l->mu[(base / PROBE) % SHARDS];
    pthread_mutex_lock(mu);
    bucket *b = NULL, *oldest = NULL;
    for (size_t i = 0; i < PROBE && !b; i++) {
        bucket *s = &l->slots[base + i];
        if (s->key == k)
            b = s;
        else if (!oldest || s->key == 0 || (oldest->key != 0 && s->last < oldest->last))
            oldest = s;
    }
    if (!b) {
        b = oldest;
        b->key = k;
        b->tokens = l->burst;
        b->last = now;
    }
    b->tokens = fmin(l->burst, b->tokens + (now - b->last) * l->rate);
    b->last = now;
    int64_t wait = 0;
    if (b->tokens >= 1) {
        if (take) b->tokens -= 1;
    } else {
        wait = (int64_t)ceil((1 - b->tokens) / l->rate * 1000.0);
        if (wait < 1) wait = 1;
    }
    pthread_mutex_unlock(mu);
    return wait;
}

int64_t gw_limiter_take(gw_limiter *l, const char *caller, double now) { return update(l, caller, now, 1); }

int64_t gw_limiter_peek(gw_limiter *l, const char *caller, double now) { return update(l, caller, now, 0); }
