/* sqltext.c - statement parameters as PostgreSQL parses them: int64 as decimal text, array literals (see
 * ltc/sqltext.h). */
#include "ltc/sqltext.h"

#include <stdio.h>
#include <string.h>

char *ltc_sql_i64(ltc_call *c, int64_t v) { return ltc_call_printf(c, "%lld", (long long)v); }

char *ltc_sql_array(ltc_call *c, const char *const *items, size_t n) {
    size_t len = 3;
    for (size_t i = 0; i < n; i++) len += strlen(items[i] ? items[i] : "") + 1;
    char *out = ltc_call_alloc(c, len);
    char *p = out;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = ',';
        size_t k = strlen(items[i] ? items[i] : "");
        memcpy(p, items[i] ? items[i] : "", k);
        p += k;
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

char *ltc_sql_text_array(ltc_call *c, const char *const *items, size_t n) {
    size_t len = 3;
    for (size_t i = 0; i < n; i++) len += 3 + 2 * strlen(items[i] ? items[i] : "");
    char *out = ltc_call_alloc(c, len);
    char *p = out;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = ',';
        *p++ = '"';
        for (const char *s = items[i] ? items[i] : ""; *s; s++) {
            if (*s == '"' || *s == '\\') *p++ = '\\';
            *p++ = *s;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

/* Writes v in decimal at out, after a comma when `comma`; returns the characters written (at most 21). A scheduling
 * run sends 130,000 of them: snprintf was a tenth of its CPU. */
static size_t i64_text(char *out, int64_t v, int comma) {
    char digits[20];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (comma) out[len++] = ',';
    if (v < 0) out[len++] = '-';
    while (n) out[len++] = digits[--n];
    return len;
}

char *ltc_sql_i64_array(ltc_call *c, const int64_t *items, size_t n) {
    size_t cap = 3 + n * 21, len = 1; /* 21 = a comma and at most 20 characters of an int64 */
    char *out = ltc_call_alloc(c, cap);
    out[0] = '{';
    for (size_t i = 0; i < n; i++) len += i64_text(out + len, items[i], i > 0);
    out[len++] = '}';
    out[len] = '\0';
    return out;
}
