/* ltc/assert.h - LTC_ASSERT(expr): the runtime's invariants, checked where a broken one would corrupt state or hide a
 * bug (call state transitions, the column counts of the results the runtime reads, one owner per call context).
 *
 * Active when LTC_ASSERTS is defined non-zero (the sanitizer tree: -DLTC_SANITIZE=ON defines LTC_ASSERTS=1): a false
 * expression prints "file:line: assertion failed: expr" to stderr and aborts. Otherwise a no-op that evaluates
 * nothing (the expression sits in an unevaluated sizeof, so its variables still count as used: no warning). An
 * assertion must never have a side effect the program needs. */
#ifndef LTC_ASSERT_H
#define LTC_ASSERT_H

#if defined(LTC_ASSERTS) && LTC_ASSERTS
#include <stdio.h>
#include <stdlib.h>
#define LTC_ASSERT(expr)                                                                                               \
    ((expr) ? (void)0                                                                                                  \
            : (fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #expr), fflush(stderr), abort()))
#else
#define LTC_ASSERT(expr) ((void)sizeof((expr) ? 1 : 0))
#endif

#endif
