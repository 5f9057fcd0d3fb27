/* arena.c - a chunked bump allocator (see ltc/arena.h).
 *
 * Memory comes from a singly linked list of blocks. The first block is created with the arena and survives
 * ltc_arena_reset; later blocks are malloc'd on demand (each at least as large as the first, and as large as the
 * request) and freed by reset. Every allocation is 16-byte aligned and zeroed. Out of memory aborts.
 *
 * Blocks come from calloc, so a block that has never been reset is known to be zero past its offset and its
 * allocations are not cleared again: a large block straight from mmap is then touched only where it is written
 * (clearing every byte of it cost a scheduling run of 10,000 orders a fifth of its CPU, docs/performance.md). */
#include "ltc/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LTC_ARENA_ALIGN ((size_t)16)
#define LTC_ARENA_MIN_BLOCK ((size_t)256)
#define LTC_ARENA_DEFAULT_BLOCK ((size_t)4096)

typedef struct block {
    struct block *next;
    size_t cap; /* usable bytes after the (aligned) header */
    size_t off; /* bytes of the payload already handed out (incl. alignment padding) */
    int zero;   /* the payload past off is all zero (a calloc'd block not reset since) */
} block;

/* The header is padded to the alignment so that the payload of a block from malloc (which glibc aligns to 16 on
 * every 64-bit target) starts aligned; ltc_arena_alloc still aligns addresses itself, so nothing depends on it. */
#define BLOCK_HDR ((sizeof(block) + LTC_ARENA_ALIGN - 1) & ~(LTC_ARENA_ALIGN - 1))

struct ltc_arena {
    block *first;      /* kept by reset */
    block *cur;        /* the block allocations bump in */
    size_t block_size; /* payload size of new ordinary blocks */
    size_t used;       /* bytes handed out since the last reset */
};

static void oom(size_t n) {
    fprintf(stderr, "ltc_arena: out of memory allocating %zu bytes\n", n);
    abort();
}

static unsigned char *payload(block *b) { return (unsigned char *)b + BLOCK_HDR; }

/* A new block with at least `cap` usable bytes, enough for one allocation of `cap - ALIGN + 1` after alignment. */
static block *block_new(size_t cap) {
    if (cap > (size_t)PTRDIFF_MAX - BLOCK_HDR) oom(cap);
    block *b = calloc(1, BLOCK_HDR + cap);
    if (!b) oom(BLOCK_HDR + cap);
    b->next = NULL;
    b->cap = cap;
    b->off = 0;
    b->zero = 1;
    return b;
}

ltc_arena *ltc_arena_create(size_t first_block) {
    if (first_block == 0) first_block = LTC_ARENA_DEFAULT_BLOCK;
    if (first_block < LTC_ARENA_MIN_BLOCK) first_block = LTC_ARENA_MIN_BLOCK;
    ltc_arena *a = malloc(sizeof *a);
    if (!a) oom(sizeof *a);
    a->first = a->cur = block_new(first_block);
    a->block_size = first_block;
    a->used = 0;
    return a;
}

void ltc_arena_destroy(ltc_arena *a) {
    if (!a) return;
    block *b = a->first;
    while (b) {
        block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void ltc_arena_reset(ltc_arena *a) {
    if (!a) return;
    block *b = a->first->next;
    while (b) {
        block *next = b->next;
        free(b);
        b = next;
    }
    a->first->next = NULL;
    a->first->zero = a->first->off == 0 && a->first->zero; /* what was handed out may have been written */
    a->first->off = 0;
    a->cur = a->first;
    a->used = 0;
}

/* Tries to carve n bytes out of b. NULL when they do not fit. */
static void *carve(block *b, size_t n) {
    uintptr_t base = (uintptr_t)payload(b);
    uintptr_t at = base + b->off;
    size_t pad = (size_t)((LTC_ARENA_ALIGN - (at & (LTC_ARENA_ALIGN - 1))) & (LTC_ARENA_ALIGN - 1));
    if (pad > b->cap - b->off || n > b->cap - b->off - pad) return NULL;
    b->off += pad + n;
    return (void *)(at + pad);
}

void *ltc_arena_alloc(ltc_arena *a, size_t n) {
    size_t want = n ? n : 1; /* distinct pointers even for zero-size requests */
    block *from = a->cur;
    void *p = carve(from, want);
    if (!p) {
        if (want > (size_t)PTRDIFF_MAX - BLOCK_HDR - LTC_ARENA_ALIGN) oom(n); /* no object can be that large */
        size_t need = want + LTC_ARENA_ALIGN; /* room for the worst-case alignment padding */
        block *b;
        if (need > a->block_size / 2) {
            /* A large request gets a block of its own, linked after the current one, so that the current block's
             * free space stays in use for the small requests that follow. */
            b = block_new(need);
            b->next = a->cur->next;
            a->cur->next = b;
        } else {
            b = block_new(a->block_size);
            b->next = a->cur->next;
            a->cur->next = b;
            a->cur = b;
        }
        p = carve(b, want);
        if (!p) oom(n); /* cannot happen: the block was sized for it */
        from = b;
    }
    if (!from->zero) memset(p, 0, want);
    a->used += n;
    return p;
}

char *ltc_arena_strdup(ltc_arena *a, const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = ltc_arena_alloc(a, n + 1);
    memcpy(d, s, n);
    return d;
}

/* An encoding error of vsnprintf gives "" (never NULL), like ltc_call_printf. */
char *ltc_arena_printf(ltc_arena *a, const char *fmt, ...) {
    char stack[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    if (n < 0) return ltc_arena_alloc(a, 1);
    char *out = ltc_arena_alloc(a, (size_t)n + 1);
    if ((size_t)n < sizeof stack) {
        memcpy(out, stack, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(out, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return out;
}

size_t ltc_arena_used(const ltc_arena *a) { return a ? a->used : 0; }
