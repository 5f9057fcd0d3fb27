/* filter.c - AIP-160 list filters (a strict subset) and one-field order_by (ltc/filter.h). A hand-written scanner
 * over the text: no allocation, bounded by LTC_FILTER_MAX_TEXT, every error INVALID_ARGUMENT naming the field. */
#include "ltc/filter.h"

#include "ltc/proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scan {
    const char *s;
    size_t i, n;
} scan;

static void skip_ws(scan *x) {
    while (x->i < x->n && (x->s[x->i] == ' ' || x->s[x->i] == '\t' || x->s[x->i] == '\n' || x->s[x->i] == '\r')) x->i++;
}

static int is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_ident(char c) { return is_ident_start(c) || (c >= '0' && c <= '9') || c == '.'; }
static int is_bare(char c) { return is_ident(c) || c == ':' || c == '+' || c == '-'; }

static int bad(ltc_status *st, const scan *x, const char *what) {
    return ltc_status_bad_field(st, "filter", "%s at character %zu", what, x->i + 1);
}

/* The operator at x (advanced past it), or 0. */
static unsigned read_op(scan *x) {
    const char *p = x->s + x->i;
    size_t left = x->n - x->i;
    if (left >= 2 && p[0] == '!' && p[1] == '=') return x->i += 2, LTC_FILTER_NE;
    if (left >= 2 && p[0] == '<' && p[1] == '=') return x->i += 2, LTC_FILTER_LE;
    if (left >= 2 && p[0] == '>' && p[1] == '=') return x->i += 2, LTC_FILTER_GE;
    if (left >= 1 && p[0] == '<') return x->i += 1, LTC_FILTER_LT;
    if (left >= 1 && p[0] == '>') return x->i += 1, LTC_FILTER_GT;
    if (left >= 1 && p[0] == '=') return x->i += 1, LTC_FILTER_EQ;
    return 0;
}

static const char *op_text(unsigned op) {
    switch (op) {
        case LTC_FILTER_EQ: return "=";
        case LTC_FILTER_NE: return "!=";
        case LTC_FILTER_LT: return "<";
        case LTC_FILTER_LE: return "<=";
        case LTC_FILTER_GT: return ">";
        default: return ">=";
    }
}

/* Reads a value (quoted or bare) into out (LTC_FILTER_MAX_VALUE + 1 bytes). 0 or -1 (status set). */
static int read_value(scan *x, char *out, ltc_status *st) {
    size_t k = 0;
    if (x->i < x->n && x->s[x->i] == '"') {
        x->i++;
        for (;;) {
            if (x->i >= x->n) return bad(st, x, "unterminated string");
            char c = x->s[x->i++];
            if (c == '"') break;
            if (c == '\\') {
                if (x->i >= x->n || (x->s[x->i] != '"' && x->s[x->i] != '\\'))
                    return bad(st, x, "only \\\" and \\\\ may be escaped");
                c = x->s[x->i++];
            }
            if ((unsigned char)c < 0x20 || c == 0x7f) return bad(st, x, "control character in a string");
            if (k >= LTC_FILTER_MAX_VALUE) return bad(st, x, "value longer than 256 bytes");
            out[k++] = c;
        }
    } else {
        while (x->i < x->n && is_bare(x->s[x->i])) {
            if (k >= LTC_FILTER_MAX_VALUE) return bad(st, x, "value longer than 256 bytes");
            out[k++] = x->s[x->i++];
        }
        if (k == 0) return bad(st, x, "expected a value (a number, a word or a \"string\")");
    }
    out[k] = '\0';
    return 0;
}

static int leap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int date_ok(const char *v) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(v) != 10 || v[4] != '-' || v[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (v[i] < '0' || v[i] > '9')) return 0;
    long y = strtol(v, NULL, 10), m = strtol(v + 5, NULL, 10), d = strtol(v + 8, NULL, 10);
    if (y < 1 || m < 1 || m > 12 || d < 1) return 0;
    return d <= days[m - 1] + (m == 2 && leap(y));
}

/* The value for a message: printable ASCII as is, anything else '?', at most 64 characters (a status travels as
 * proto3 strings: never invalid UTF-8). */
static const char *shown(const char *v, char out[68]) {
    size_t k = 0;
    for (; v[k] && k < 64; k++) out[k] = (v[k] >= 0x20 && v[k] < 0x7f) ? v[k] : '?';
    if (v[k]) out[k++] = '.', out[k++] = '.', out[k++] = '.';
    out[k] = '\0';
    return out;
}

/* Checks (and normalises) a term's value by the field's type. 0 or -1. */
static int check_value(const ltc_filter_field *f, ltc_filter_term *t, ltc_status *st) {
    char b[68];
    switch (f->type) {
        case LTC_FILTER_INT: {
            const char *v = t->value;
            size_t i = v[0] == '-' ? 1 : 0;
            if (!v[i])
                return ltc_status_bad_field(st, "filter", "%s: \"%s\" is not an integer", f->name, shown(t->value, b));
            for (; v[i]; i++)
                if (v[i] < '0' || v[i] > '9')
                    return ltc_status_bad_field(st, "filter", "%s: \"%s\" is not an integer", f->name,
                                                shown(t->value, b));
            errno = 0;
            long long n = strtoll(v, NULL, 10);
            if (errno == ERANGE)
                return ltc_status_bad_field(st, "filter", "%s: %s is out of range", f->name, shown(t->value, b));
            t->number = (int64_t)n;
            snprintf(t->value, sizeof t->value, "%lld", n);
            return 0;
        }
        case LTC_FILTER_DATE:
            if (!date_ok(t->value))
                return ltc_status_bad_field(st, "filter", "%s: \"%s\" is not a date YYYY-MM-DD", f->name,
                                            shown(t->value, b));
            return 0;
        case LTC_FILTER_ENUM: {
            const char *v = t->value;
            size_t pl = f->enum_prefix ? strlen(f->enum_prefix) : 0;
            if (pl && strncmp(v, f->enum_prefix, pl) == 0) v += pl;
            for (const char *const *e = f->values; e && *e; e++)
                if (strcmp(*e, v) == 0) {
                    memmove(t->value, v, strlen(v) + 1);
                    return 0;
                }
            return ltc_status_bad_field(st, "filter", "%s: \"%s\" is not one of its values", f->name,
                                        shown(t->value, b));
        }
        default: return 0;
    }
}

int ltc_filter_parse(const char *text, const ltc_filter_field *fields, size_t n_fields, ltc_filter *out,
                     ltc_status *st) {
    out->n = 0;
    if (!text || !text[0]) return 0;
    scan x = {text, 0, strlen(text)};
    if (x.n > LTC_FILTER_MAX_TEXT)
        return ltc_status_bad_field(st, "filter", "longer than %d characters", LTC_FILTER_MAX_TEXT);
    skip_ws(&x);
    if (x.i == x.n) return 0; /* only spaces: no filter */
    for (;;) {
        skip_ws(&x);
        if (x.i >= x.n || !is_ident_start(x.s[x.i])) return bad(st, &x, "expected a field name");
        size_t start = x.i;
        while (x.i < x.n && is_ident(x.s[x.i])) x.i++;
        size_t len = x.i - start, f = 0;
        while (f < n_fields && !(strlen(fields[f].name) == len && strncmp(fields[f].name, text + start, len) == 0)) f++;
        if (f == n_fields)
            return ltc_status_bad_field(st, "filter", "%.*s is not a field this list filters on",
                                        (int)(len > 64 ? 64 : len), text + start);
        skip_ws(&x);
        unsigned op = read_op(&x);
        if (!op) return bad(st, &x, "expected an operator (=, !=, <, <=, >, >=)");
        if (!(fields[f].ops & op))
            return ltc_status_bad_field(st, "filter", "%s does not allow %s", fields[f].name, op_text(op));
        skip_ws(&x);
        if (out->n >= LTC_FILTER_MAX_TERMS)
            return ltc_status_bad_field(st, "filter", "more than %d comparisons", LTC_FILTER_MAX_TERMS);
        ltc_filter_term *t = &out->terms[out->n];
        t->field = f;
        t->op = op;
        t->number = 0;
        if (read_value(&x, t->value, st) != 0) return -1;
        if (check_value(&fields[f], t, st) != 0) return -1;
        for (size_t k = 0; k < out->n; k++)
            if (out->terms[k].field == f && out->terms[k].op == op)
                return ltc_status_bad_field(st, "filter", "%s %s is given twice", fields[f].name, op_text(op));
        out->n++;
        skip_ws(&x);
        if (x.i == x.n) return 0;
        if (x.n - x.i >= 3 && strncmp(x.s + x.i, "AND", 3) == 0 &&
            (x.n - x.i == 3 || x.s[x.i + 3] == ' ' || x.s[x.i + 3] == '\t' || x.s[x.i + 3] == '\n' ||
             x.s[x.i + 3] == '\r')) {
            x.i += 3;
            continue;
        }
        return bad(st, &x, "expected AND or the end (OR, NOT and parentheses are not supported)");
    }
}

const char *ltc_filter_value(const ltc_filter *f, size_t field, unsigned op) {
    for (size_t k = 0; k < f->n; k++)
        if (f->terms[k].field == field && f->terms[k].op == op) return f->terms[k].value;
    return NULL;
}

int ltc_order_by_parse(const char *text, const char *const *fields, size_t n, int *field, int *desc, ltc_status *st) {
    *field = -1;
    *desc = 0;
    if (!text || !text[0]) return 0;
    scan x = {text, 0, strlen(text)};
    if (x.n > 200) return ltc_status_bad_field(st, "order_by", "longer than 200 characters");
    skip_ws(&x);
    if (x.i == x.n) return 0;
    size_t start = x.i;
    while (x.i < x.n && is_ident(x.s[x.i])) x.i++;
    size_t len = x.i - start;
    size_t f = 0;
    while (f < n && !(len && strlen(fields[f]) == len && strncmp(fields[f], text + start, len) == 0)) f++;
    if (f == n)
        return ltc_status_bad_field(st, "order_by",
                                    "%.*s is not a field this list orders by (one field, then asc or desc)",
                                    (int)(len > 64 ? 64 : len), text + start);
    skip_ws(&x);
    if (x.n - x.i >= 4 && strncmp(x.s + x.i, "desc", 4) == 0)
        x.i += 4, *desc = 1;
    else if (x.n - x.i >= 3 && strncmp(x.s + x.i, "asc", 3) == 0)
        x.i += 3;
    skip_ws(&x);
    if (x.i != x.n) return ltc_status_bad_field(st, "order_by", "one field, then asc or desc: nothing more");
    *field = (int)f;
    return 0;
}
