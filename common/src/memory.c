/* memory.c - malloc arenas capped and freed memory handed back (ltc/memory.h). */
#include "ltc/memory.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ltc/config.h"

int ltc_memory_configure(char *err, size_t errlen) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long def = cores < 2 ? 2 : cores > 8 ? 8 : cores, arenas = 0; /* a container sees the host's cores */
    if (ltc_env_int("LTC_MALLOC_ARENAS", def, 0, 1024, &arenas, err, errlen) != 0) return -1;
    const char *glibc = getenv("MALLOC_ARENA_MAX");
    if (arenas > 0 && !(glibc && *glibc)) mallopt(M_ARENA_MAX, (int)arenas);
    return 0;
}

void ltc_memory_trim(void) { malloc_trim(0); }
