/* ltc/arena.h - a bump allocator for per-call scratch memory: everything a handler builds for its response comes
 * from the call's arena and is released in one go when the call ends. */
#ifndef LTC_ARENA_H
#define LTC_ARENA_H

#include <stddef.h>

typedef struct ltc_arena ltc_arena;

ltc_arena *ltc_arena_create(size_t first_block);
void ltc_arena_destroy(ltc_arena *a); /* NULL-safe */
/* Frees all but the first block and rewinds; memory handed out before is invalid afterwards. */
void ltc_arena_reset(ltc_arena *a);
/* Zeroed memory aligned for any type; aborts on out-of-memory (a server cannot continue without memory). */
void *ltc_arena_alloc(ltc_arena *a, size_t n);
char *ltc_arena_strdup(ltc_arena *a, const char *s); /* NULL stays NULL */
char *ltc_arena_printf(ltc_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Total bytes handed out since the last reset (for tests and metrics). */
size_t ltc_arena_used(const ltc_arena *a);

#endif
