/* sqltext.c - statement parameters as PostgreSQL parses them: int64 as decimal text, array literals, and arrays in
 * the binary format (see ltc/sqltext.h). */
#include "ltc/sqltext.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <uuid/uuid.h>

#include "ltc/ids.h"

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

/* --- binary arrays ---------------------------------------------------------------------------------------------- */

enum {
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_UUID = 2950,
    BIN_MAX = 1 << 30
};

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static const ltc_sql_param BAD = {NULL, 0, 1};

/* The array's header for n elements of type `oid`, at out; returns its length (12 bytes, 20 with a dimension). */
static size_t bin_header(unsigned char *out, uint32_t oid, size_t n) {
    put_be32(out, n ? 1 : 0); /* dimensions: none for an empty array */
    put_be32(out + 4, 0);     /* no NULL element */
    put_be32(out + 8, oid);
    if (!n) return 12;
    put_be32(out + 12, (uint32_t)n);
    put_be32(out + 16, 1); /* lower bound */
    return 20;
}

/* An array of n fixed-width elements (width bytes each), the header written and out->len set; the elements go at
 * the returned pointer, each after its 4-byte length (written here). */
static unsigned char *bin_fixed(ltc_call *c, uint32_t oid, size_t n, size_t width, ltc_sql_param *out) {
    if (n > (BIN_MAX - 20) / (4 + width)) {
        *out = BAD;
        return NULL;
    }
    size_t len = 20 + n * (4 + width);
    unsigned char *b = ltc_call_alloc(c, len);
    size_t h = bin_header(b, oid, n);
    for (size_t i = 0; i < n; i++) put_be32(b + h + i * (4 + width), (uint32_t)width);
    *out = (ltc_sql_param){(const char *)b, (int)(h + n * (4 + width)), 1};
    return b + h;
}

ltc_sql_param ltc_sql_uuid_array_bin(ltc_call *c, const char *const *ids, size_t n) {
    ltc_sql_param out;
    unsigned char *e = bin_fixed(c, OID_UUID, n, 16, &out);
    if (!e) return out;
    for (size_t i = 0; i < n; i++) {
        uuid_t u;
        if (!ids[i] || !ltc_uuid_valid(ids[i]) || uuid_parse(ids[i], u) != 0) return BAD;
        memcpy(e + i * 20 + 4, u, 16);
    }
    return out;
}

/* n integers of `width` bytes each (4: int4, 8: int8), big-endian two's complement; BAD when one does not fit. */
static ltc_sql_param bin_ints(ltc_call *c, uint32_t oid, size_t width, const int64_t *items, size_t n) {
    ltc_sql_param out;
    unsigned char *e = bin_fixed(c, oid, n, width, &out);
    if (!e) return out;
    for (size_t i = 0; i < n; i++) {
        if (width == 4 && (items[i] < INT32_MIN || items[i] > INT32_MAX)) return BAD;
        uint64_t v = (uint64_t)items[i];
        unsigned char *p = e + i * (4 + width) + 4;
        for (size_t k = 0; k < width; k++) p[k] = (unsigned char)(v >> (8 * (width - 1 - k)));
    }
    return out;
}

ltc_sql_param ltc_sql_int4_array_bin(ltc_call *c, const int64_t *items, size_t n) {
    return bin_ints(c, OID_INT4, 4, items, n);
}

ltc_sql_param ltc_sql_int8_array_bin(ltc_call *c, const int64_t *items, size_t n) {
    return bin_ints(c, OID_INT8, 8, items, n);
}

ltc_sql_param ltc_sql_text_array_bin(ltc_call *c, const char *const *items, size_t n) {
    size_t len = 20;
    for (size_t i = 0; i < n; i++) {
        len += 4 + strlen(items[i] ? items[i] : "");
        if (len > BIN_MAX) return BAD;
    }
    unsigned char *b = ltc_call_alloc(c, len);
    size_t at = bin_header(b, OID_TEXT, n);
    for (size_t i = 0; i < n; i++) {
        const char *s = items[i] ? items[i] : "";
        size_t k = strlen(s);
        put_be32(b + at, (uint32_t)k);
        memcpy(b + at + 4, s, k);
        at += 4 + k;
    }
    return (ltc_sql_param){(const char *)b, (int)at, 1};
}

ltc_sql_param ltc_sql_bytea_array_bin(ltc_call *c, const uint8_t *bytes, const int64_t *lens, size_t n) {
    size_t len = 20;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] < 0 || (uint64_t)lens[i] > BIN_MAX) return BAD;
        len += 4 + (size_t)lens[i];
        if (len > BIN_MAX) return BAD;
    }
    unsigned char *b = ltc_call_alloc(c, len);
    size_t at = bin_header(b, OID_BYTEA, n), from = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)lens[i];
        put_be32(b + at, (uint32_t)k);
        if (k) memcpy(b + at + 4, bytes + from, k);
        at += 4 + k;
        from += k;
    }
    return (ltc_sql_param){(const char *)b, (int)at, 1};
}
