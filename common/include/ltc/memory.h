/* memory.h - a long-running process's resident memory kept flat (docs/performance.md, "Memory").
 *
 * glibc gives threads up to 8 malloc arenas per core; a process of ours runs a dozen or more threads (workers, gRPC
 * core's, relays, the sealer), and each arena keeps the memory its threads freed for its own reuse, so the resident
 * size climbs for many minutes under load before it levels. The processes cap the arenas instead and hand freed
 * memory back to the system from time to time. */
#ifndef LTC_MEMORY_H
#define LTC_MEMORY_H

#include <stddef.h>

/* How often the process's main thread returns freed memory to the system (ltc_memory_trim). */
#define LTC_MEMORY_TRIM_S 30

/* Caps glibc's malloc arenas at LTC_MALLOC_ARENAS (default: one per online core, 2 to 8; 0 leaves glibc's own
 * limit). Call before any thread starts. glibc's MALLOC_ARENA_MAX, when set, wins. 0, or -1 with err set (a bad
 * value). */
int ltc_memory_configure(char *err, size_t errlen);

/* Returns the free memory at the top of each malloc heap to the system (malloc_trim). */
void ltc_memory_trim(void);

#endif
