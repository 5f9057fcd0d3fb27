/* token_cache.h - the gateway's cache of bearer tokens it has verified (issue #22).
 *
 * Checking a token's signature is most of what the gateway spends on a call of a secure stack: libjwt reads the key
 * from its PEM text at every check, and OpenSSL 3's decoders take locks to do it (docs/performance.md). A caller
 * sends the same token on every call until it expires, so the gateway remembers each token it verified, by the
 * SHA-256 of the token's text, with what the check found (subject, roles, expiry) and the window in which the token
 * is valid (nbf and exp, each with the leeway). A later call with the same token is then a hash and a lookup; the
 * time checks run again on each lookup, so an entry never outlives its token. Only verified tokens are remembered:
 * a refused one is checked in full every time. The key set's owner empties the cache when the keys change (a removed
 * key must stop its tokens at once).
 *
 * Fixed size: sets of 4 entries chosen by the hash, the entry that expires first replaced; a lock per group of sets.
 * Thread-safe. */
#ifndef LTC_GATEWAY_TOKEN_CACHE_H
#define LTC_GATEWAY_TOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth.h"

#define GW_TOKEN_HASH_LEN 32

typedef struct gw_token_cache gw_token_cache;

/* A cache of about `capacity` tokens (rounded up to a power of two, at least 64). NULL when out of memory. */
gw_token_cache *gw_token_cache_new(size_t capacity);
void gw_token_cache_free(gw_token_cache *c); /* NULL-safe */

/* The SHA-256 of a token's text (what the cache is keyed by). */
void gw_token_hash(const char *token, size_t len, unsigned char out[GW_TOKEN_HASH_LEN]);

/* 1 with *p set when the token of `hash` was verified and `now` is within its window [valid_from, valid_until];
 * 0 otherwise (never seen, replaced, emptied, or outside the window). */
int gw_token_cache_get(gw_token_cache *c, const unsigned char hash[GW_TOKEN_HASH_LEN], time_t now, gw_principal *p);

/* Remembers a verified token: valid from `valid_from` to `valid_until` (seconds since the epoch, leeway included). */
void gw_token_cache_put(gw_token_cache *c, const unsigned char hash[GW_TOKEN_HASH_LEN], const gw_principal *p,
                        long valid_from, long valid_until);

/* Forgets every token (the key set changed). */
void gw_token_cache_clear(gw_token_cache *c);

/* Lookups that found a valid entry, and those that did not, since the cache was made. */
void gw_token_cache_stats(gw_token_cache *c, uint64_t *hits, uint64_t *misses);

#endif
