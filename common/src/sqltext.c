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

char *ltc_sql_i64_array(ltc_call *c, const int64_t *items, size_t n) {
    size_t cap = 3 + n * 21, len = 1; /* 21 = a comma and at most 20 characters of an int64 */
    char *out = ltc_call_alloc(c, cap);
    out[0] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%lld", i ? "," : "", (long long)items[i]);
    out[len++] = '}';
    out[len] = '\0';
    return out;
}
