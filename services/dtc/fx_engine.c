/* services/dtc/fx_engine.c - the pure foreign-exchange arithmetic of DTC: see fx_engine.h. */
#include "fx_engine.h"

#include <stdio.h>
#include <string.h>

int dtc_fx_rate_parse(const char *s, int64_t *out) {
    if (!s || !s[0]) return -1;
    int64_t whole = 0, frac = 0;
    int iw = 0, fd = 0, dot = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (dot || iw == 0) return -1;
            dot = 1;
            continue;
        }
        if (*p < '0' || *p > '9') return -1;
        if (!dot) {
            if (++iw > 8) return -1; /* 8 digits + 10 decimals fit in int64 (< 9.2e18) */
            whole = whole * 10 + (*p - '0');
        } else {
            if (++fd > DTC_FX_DECIMALS) return -1;
            frac = frac * 10 + (*p - '0');
        }
    }
    if (dot && fd == 0) return -1;
    for (int i = fd; i < DTC_FX_DECIMALS; i++) frac *= 10;
    int64_t r = whole * DTC_FX_SCALE + frac; /* < 10^18 */
    if (r <= 0) return -1;
    *out = r;
    return 0;
}

void dtc_fx_rate_format(int64_t rate, char out[32]) {
    int64_t whole = rate / DTC_FX_SCALE, frac = rate % DTC_FX_SCALE;
    if (frac == 0) {
        snprintf(out, 32, "%lld", (long long)whole);
        return;
    }
    char f[24];
    snprintf(f, sizeof f, "%010lld", (long long)frac);
    size_t n = strlen(f);
    while (n > 0 && f[n - 1] == '0') f[--n] = '\0';
    snprintf(out, 32, "%lld.%.10s", (long long)whole, f); /* frac < 10^10: at most 10 digits */
}

static __int128 pow10i(int k) {
    __int128 p = 1;
    while (k-- > 0) p *= 10;
    return p;
}

int dtc_fx_convert(int64_t minor, int from_digits, int to_digits, int64_t rate, int64_t *out) {
    if (rate <= 0 || from_digits < 0 || from_digits > 4 || to_digits < 0 || to_digits > 4) return -1;
    /* functional minor = minor / 10^from * rate / SCALE * 10^to */
    __int128 num; /* |minor| * rate < 2^63 * 2^63 fits; times 10^to may not: out of range, refused */
    if (__builtin_mul_overflow((__int128)minor * rate, pow10i(to_digits), &num)) return -1;
    __int128 den = (__int128)DTC_FX_SCALE * pow10i(from_digits);
    int neg = num < 0;
    if (neg) num = -num;
    __int128 q = num / den, r = num % den;
    if (2 * r >= den) q++; /* half away from zero */
    if (neg) q = -q;
    if (q > INT64_MAX || q < -INT64_MAX) return -1;
    *out = (int64_t)q;
    return 0;
}

int dtc_fx_slice(int64_t before, int64_t amount, int from_digits, int to_digits, int64_t rate, int64_t *out) {
    int64_t a, b;
    if (before > INT64_MAX - amount && amount > 0) return -1;
    if (dtc_fx_convert(before + amount, from_digits, to_digits, rate, &a) != 0) return -1;
    if (dtc_fx_convert(before, from_digits, to_digits, rate, &b) != 0) return -1;
    *out = a - b;
    return 0;
}

int dtc_fx_close(const int64_t *fdebit, const int64_t *fcredit, int n, int64_t *fx_debit, int64_t *fx_credit) {
    __int128 d = 0, c = 0;
    for (int i = 0; i < n; i++) {
        if (fdebit[i] < 0 || fcredit[i] < 0) return -1;
        d += fdebit[i], c += fcredit[i];
    }
    __int128 diff = d - c;
    if (diff > INT64_MAX || diff < -INT64_MAX) return -1;
    *fx_credit = diff > 0 ? (int64_t)diff : 0;
    *fx_debit = diff < 0 ? (int64_t)-diff : 0;
    return 0;
}

int dtc_fx_unrealised(int64_t open, int64_t carried, int from_digits, int to_digits, int64_t rate, int64_t *out) {
    int64_t v;
    if (dtc_fx_convert(open, from_digits, to_digits, rate, &v) != 0) return -1;
    if ((carried < 0 && v > INT64_MAX + carried) || (carried > 0 && v < INT64_MIN + carried)) return -1;
    *out = v - carried;
    return 0;
}
