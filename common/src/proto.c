/* proto.c - timestamps, dates, page tokens and text checks between protobuf-c messages and the database (see
 * ltc/proto.h). */
#include "ltc/proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "ltc/log.h"
#include "ltc/type/v1/date.pb-c.h"
#include "ltc/type/v1/iron_triangle.pb-c.h"

#define PAGE_SIZE_DEFAULT 50
#define PAGE_SIZE_MAX 500
#define PAGE_TOKEN_MAX 64 /* a real token is at most 30 characters */

/* --- timestamps and dates ------------------------------------------------------------------------------- */

Google__Protobuf__Timestamp *ltc_ts_from_micros(ltc_call *c, int64_t micros, int is_null) {
    if (is_null) return NULL;
    Google__Protobuf__Timestamp *ts = LTC_NEW(c, Google__Protobuf__Timestamp, GOOGLE__PROTOBUF__TIMESTAMP__INIT);
    int64_t sec = micros / 1000000;
    int64_t rem = micros % 1000000;
    if (rem < 0) { /* floor, so that nanos is in [0, 1e9) as Timestamp requires */
        sec--;
        rem += 1000000;
    }
    ts->seconds = sec;
    ts->nanos = (int32_t)(rem * 1000);
    return ts;
}

/* Strict decimal int64: optional '-', digits, nothing else. 0 or -1. */
static int parse_i64(const char *s, int64_t *out) {
    if (!s || !*s) return -1;
    const char *p = (*s == '-') ? s + 1 : s;
    if (!*p || strspn(p, "0123456789") != strlen(p)) return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE) return -1;
    *out = (int64_t)v;
    return 0;
}

/* A column that does not hold an integer is a bug in the calling SQL: logged, and read as NULL. */
Google__Protobuf__Timestamp *ltc_ts_from_pg(ltc_call *c, const PGresult *r, int row, int col) {
    if (PQgetisnull(r, row, col)) return NULL;
    int64_t micros;
    if (parse_i64(PQgetvalue(r, row, col), &micros) != 0) {
        ltc_log(LTC_LOG_ERROR, "bad_timestamp_column", ltc_call_request_id(c),
                "column %d holds \"%.40s\", not microseconds since the epoch", col, PQgetvalue(r, row, col));
        return NULL;
    }
    return ltc_ts_from_micros(c, micros, 0);
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return (m == 2 && is_leap(y)) ? 29 : days[m - 1];
}

static int date_valid(int y, int m, int d) {
    return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

static int two_digits(const char *s) {
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* Only the ISO form "YYYY-MM-DD" (DateStyle ISO) of a date in 1..9999 is understood; anything else (BC dates, years
 * past 9999, another DateStyle) is logged and read as NULL. */
Ltc__Type__V1__Date *ltc_date_from_pg(ltc_call *c, const PGresult *r, int row, int col) {
    if (PQgetisnull(r, row, col)) return NULL;
    const char *s = PQgetvalue(r, row, col);
    int y = -1, m = -1, d = -1;
    if (strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
        int hi = two_digits(s), lo = two_digits(s + 2);
        if (hi >= 0 && lo >= 0) y = hi * 100 + lo;
        m = two_digits(s + 5);
        d = two_digits(s + 8);
    }
    if (!date_valid(y, m, d)) {
        ltc_log(LTC_LOG_ERROR, "bad_date_column", ltc_call_request_id(c), "column %d holds \"%.40s\", not YYYY-MM-DD",
                col, s);
        return NULL;
    }
    Ltc__Type__V1__Date *out = LTC_NEW(c, Ltc__Type__V1__Date, LTC__TYPE__V1__DATE__INIT);
    out->year = y;
    out->month = m;
    out->day = d;
    return out;
}

/* "YYYY-MM-DD" of a valid date (digits by hand: snprintf's truncation warning cannot see the ranges). */
static void format_date(int y, int m, int d, char out[11]) {
    const int parts[3] = {y, m, d};
    const int widths[3] = {4, 2, 2};
    char *p = out;
    for (int i = 0; i < 3; i++) {
        if (i) *p++ = '-';
        int v = parts[i];
        for (int k = widths[i] - 1; k >= 0; k--) {
            p[k] = (char)('0' + v % 10);
            v /= 10;
        }
        p += widths[i];
    }
    *p = '\0';
}

/* A Date with year, month and day all 0 (a present but empty message, as JSON clients send for "no date") counts
 * as missing. */
int ltc_date_to_text(const Ltc__Type__V1__Date *d, const char *field, int allow_missing, char out[11], ltc_status *st) {
    out[0] = '\0';
    if (!d || (d->year == 0 && d->month == 0 && d->day == 0)) {
        if (allow_missing) return 0;
        return ltc_status_bad_field(st, field, "required");
    }
    if (d->year < 1 || d->year > 9999) return ltc_status_bad_field(st, field, "year must be between 1 and 9999");
    if (d->month < 1 || d->month > 12) return ltc_status_bad_field(st, field, "month must be between 1 and 12");
    if (d->day < 1 || d->day > days_in_month(d->year, d->month))
        return ltc_status_bad_field(st, field, "day must be between 1 and %d for %04d-%02d",
                                    days_in_month(d->year, d->month), d->year, d->month);
    format_date(d->year, d->month, d->day, out);
    return 0;
}

/* --- page tokens ------------------------------------------------------------------------------------------ */

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding of n bytes into out (room for 4 * ceil(n / 3) + 1). */
static void b64url_encode(const unsigned char *in, size_t n, char *out) {
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64URL[v >> 18 & 63];
        out[o++] = B64URL[v >> 12 & 63];
        out[o++] = B64URL[v >> 6 & 63];
        out[o++] = B64URL[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = B64URL[v >> 18 & 63];
        out[o++] = B64URL[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = B64URL[v >> 18 & 63];
        out[o++] = B64URL[v >> 12 & 63];
        out[o++] = B64URL[v >> 6 & 63];
    }
    out[o] = '\0';
}

/* The token text of seq into out (at least 32 bytes). */
static void page_token_text(int64_t seq, char out[32]) {
    char plain[24];
    int n = snprintf(plain, sizeof plain, "v1:%lld", (long long)seq);
    b64url_encode((const unsigned char *)plain, (size_t)n, out);
}

char *ltc_page_token(ltc_call *c, int64_t seq) {
    char tok[32];
    page_token_text(seq, tok);
    return ltc_call_strdup(c, tok);
}

/* Decodes a token strictly: the base64url alphabet without padding, and the decoded text must be "v1:" and a
 * positive decimal without leading zeros. The check is a round trip: the only token accepted for a seq is the one
 * ltc_page_token makes, so any other spelling (padding, non-zero trailing bits, "v1:007") is refused. */
static int page_token_decode(const char *tok, int64_t *seq) {
    size_t n = strlen(tok);
    if (n == 0 || n > PAGE_TOKEN_MAX || n % 4 == 1) return -1;
    unsigned char plain[PAGE_TOKEN_MAX];
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(B64URL, tok[i]);
        if (!p || !tok[i]) return -1;
        acc = (acc << 6) | (uint32_t)(p - B64URL);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            plain[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (o < 4 || memcmp(plain, "v1:", 3) != 0) return -1;
    if (plain[3] < '1' || plain[3] > '9') return -1; /* positive, no leading zero */
    char digits[24];
    size_t nd = o - 3;
    if (nd >= sizeof digits) return -1;
    memcpy(digits, plain + 3, nd);
    digits[nd] = '\0';
    int64_t v;
    if (parse_i64(digits, &v) != 0 || v <= 0) return -1;
    char again[32];
    page_token_text(v, again);
    if (strcmp(again, tok) != 0) return -1;
    *seq = v;
    return 0;
}

int ltc_page_parse(int32_t page_size, const char *page_token, int *limit, int64_t *after, ltc_status *st) {
    int bad = 0;
    if (page_size < 0 || page_size > PAGE_SIZE_MAX) {
        ltc_status_bad_field(st, "page_size", "must be between 0 and %d (0 means %d)", PAGE_SIZE_MAX,
                             PAGE_SIZE_DEFAULT);
        bad = 1;
    }
    int64_t seq = 0;
    if (page_token && *page_token && page_token_decode(page_token, &seq) != 0) {
        ltc_status_bad_field(st, "page_token", "not a page token returned by this method");
        bad = 1;
    }
    if (bad) return -1;
    *limit = (page_size == 0 ? PAGE_SIZE_DEFAULT : page_size) + 1;
    *after = seq;
    return 0;
}

/* --- free text -------------------------------------------------------------------------------------------- */

/* Counts the code points of s, or -1 when s is not valid UTF-8 (overlong forms, surrogates, code points above
 * U+10FFFF, truncated or stray continuation bytes). */
static long utf8_count(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    long count = 0;
    while (*u) {
        unsigned char c = *u;
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            u++;
            count++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return -1;
        }
        for (size_t i = 1; i < len; i++) {
            if ((u[i] & 0xC0) != 0x80) return -1; /* also catches the NUL of a truncated sequence */
            cp = (cp << 6) | (u[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
        u += len;
        count++;
    }
    return count;
}

/* max_chars < 0 means no limit. */
int ltc_check_text(const char *s, const char *field, int required, int max_chars, ltc_status *st) {
    if (!s || !*s) return required ? ltc_status_bad_field(st, field, "required") : 0;
    long n = utf8_count(s);
    if (n < 0) return ltc_status_bad_field(st, field, "must be valid UTF-8");
    if (max_chars >= 0 && n > max_chars)
        return ltc_status_bad_field(st, field, "must be at most %d characters (has %ld)", max_chars, n);
    return 0;
}

/* ---- enums and the iron triangle ---- */

int ltc_enum_from_db(const ProtobufCEnumDescriptor *d, const char *prefix, const char *text) {
    if (!text) return 0;
    char full[160];
    int n = snprintf(full, sizeof full, "%s%s", prefix, text);
    if (n < 0 || (size_t)n >= sizeof full) return 0;
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(d, full);
    return v ? v->value : 0;
}

const char *ltc_enum_to_db(const ProtobufCEnumDescriptor *d, const char *prefix, int value) {
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
    size_t pl = strlen(prefix);
    if (!v || strncmp(v->name, prefix, pl) != 0 || v->name[pl] == 0) return NULL;
    return v->name + pl;
}

Ltc__Type__V1__IronTriangle *ltc_triangle_from_pg(ltc_call *c, const PGresult *r, int row, int col) {
    Ltc__Type__V1__IronTriangle *t = LTC_NEW(c, Ltc__Type__V1__IronTriangle, LTC__TYPE__V1__IRON_TRIANGLE__INIT);
    char **owners[3] = {&t->account_owner, &t->solution_owner, &t->fulfilment_owner};
    for (int i = 0; i < 3; i++) *owners[i] = ltc_call_strdup(c, PQgetvalue(r, row, col + i)); /* "" for NULL */
    return t;
}

int ltc_call_check_triangle(ltc_call *c, const Ltc__Type__V1__IronTriangle *t, const char *name, ltc_status *st) {
    return ltc_call_check_owners(c, t ? t->account_owner : NULL, t ? t->solution_owner : NULL,
                                 t ? t->fulfilment_owner : NULL, name, st);
}

int ltc_check_triangle(const Ltc__Type__V1__IronTriangle *t, const char *field, int required, ltc_status *st) {
    char path[160];
    if (!t) {
        if (!required) return 0;
        return ltc_status_bad_field(st, field, "required: account_owner, solution_owner and fulfilment_owner");
    }
    const struct {
        const char *name, *value;
    } owners[3] = {{"account_owner", t->account_owner},
                   {"solution_owner", t->solution_owner},
                   {"fulfilment_owner", t->fulfilment_owner}};
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s.%s", field, owners[i].name);
        if (ltc_check_text(owners[i].value, path, required, 128, st) != 0) rc = -1;
    }
    return rc;
}

int ltc_check_requirement(ltc_call *c, const char *field, size_t i, const char *code, const char *description,
                          int64_t quantity, ltc_status *st) {
    int rc = 0;
    if (ltc_check_text(code, ltc_call_printf(c, "%s[%zu].code", field, i), 1, 64, st) != 0) rc = -1;
    if (ltc_check_text(description, ltc_call_printf(c, "%s[%zu].description", field, i), 0, 1000, st) != 0) rc = -1;
    if (quantity < 0)
        rc = ltc_status_bad_field(st, ltc_call_printf(c, "%s[%zu].quantity", field, i), "must not be negative");
    return rc;
}
