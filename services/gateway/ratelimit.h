/* ratelimit.h - a token bucket per caller (OWASP API4): `rate` calls per second on average, bursts up to `burst`.
 * Fixed memory: callers are kept in a table of 4096 buckets (by a 64-bit hash of the principal); when the table is
 * full the bucket unused the longest is taken over (a full bucket, so an evicted caller is never penalised).
 * Thread-safe. */
#ifndef LTC_GATEWAY_RATELIMIT_H
#define LTC_GATEWAY_RATELIMIT_H

#include <stdint.h>

typedef struct gw_limiter gw_limiter;

gw_limiter *gw_limiter_create(double rate, double burst);
void gw_limiter_free(gw_limiter *l);
/* Takes one token for `caller` at time `now` (seconds, monotonic). 0 when allowed, else the milliseconds until the
 * caller's next token (the call is refused). */
int64_t gw_limiter_take(gw_limiter *l, const char *caller, double now);
/* Like gw_limiter_take without taking: 0 when `caller` has a token now, else the milliseconds until it has one. */
int64_t gw_limiter_peek(gw_limiter *l, const char *caller, double now);

#endif
