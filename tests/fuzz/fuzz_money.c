/* fuzz_money.c - libFuzzer target for money (common/src/money.c): ltc.type.v1.Money <-> minor units, the currency
 * table, and the overflow-checked arithmetic. Input: a Money (currency code, units, nanos) and two more int64s.
 * Properties, besides no crash / UB (UBSan traps signed overflow):
 *   from_proto accepted => known currency, nanos in range and a multiple of the minor unit, units and nanos of one
 *     sign, not negative unless allowed; and to_proto of the result gives back the same units and nanos (round trip);
 *   to_proto of any minor amount in a known currency converts back to the same amount;
 *   ltc_i64_add / ltc_i64_mul agree with 128-bit arithmetic, refusing exactly the overflows;
 *   ltc_apply_bps is floor(a * bps / 10000) saturated; ltc_muldiv is floor(a * b / c) or -1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "ltc/money.h"
#include "ltc/type/v1/money.pb-c.h"

static int64_t i64(const uint8_t *d, size_t n, size_t at) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++) v = v << 8 | (at + i < n ? d[at + i] : 0);
    return (int64_t)v;
}

static const int64_t POW10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};

static void money(const uint8_t *d, size_t n) {
    static const char *const codes[] = {"CNY", "USD", "JPY", "KWD", "EUR", "CLF", "XXX", "cny", "", "ZZZ", "US"};
    const size_t nc = sizeof codes / sizeof codes[0];
    char code[8] = "";
    if (n > 0 && d[0] >= 0xF0 && n >= 4) {
        memcpy(code, d + 1, 3); /* any three bytes */
        code[3] = 0;
    } else {
        snprintf(code, sizeof code, "%s", codes[n ? d[0] % nc : 0]);
    }
    Ltc__Type__V1__Money m = LTC__TYPE__V1__MONEY__INIT;
    m.currency_code = code;
    m.units = i64(d, n, 4);
    m.nanos = (int32_t)i64(d, n, 12);
    if (n > 20 && (d[20] & 1)) { /* mostly plausible amounts */
        m.units = i64(d, n, 4) % 10000000000LL;
        m.nanos = (int32_t)(i64(d, n, 12) % 1000000000LL);
        if ((m.units < 0) != (m.nanos < 0) && m.units && m.nanos) m.nanos = -m.nanos;
    }
    int allow_negative = n > 20 && (d[20] & 2);
    ltc_money out;
    ltc_status st = {0};
    int rc = ltc_money_from_proto(&m, "payment.amount", allow_negative, &out, &st);
    int digits = ltc_currency_digits(code);
    if (rc == 0) {
        FUZZ_REQUIRE(digits >= 0 && digits <= 9, "currency %s accepted with %d digits", code, digits);
        FUZZ_REQUIRE(m.nanos > -1000000000 && m.nanos < 1000000000, "nanos %d accepted", m.nanos);
        FUZZ_REQUIRE(!(m.units > 0 && m.nanos < 0) && !(m.units < 0 && m.nanos > 0), "mixed signs accepted");
        FUZZ_REQUIRE(allow_negative || (m.units >= 0 && m.nanos >= 0), "negative amount accepted");
        FUZZ_REQUIRE(m.nanos % POW10[9 - digits] == 0, "%s amount finer than its minor unit accepted", code);
        __int128 want = (__int128)m.units * POW10[digits] + m.nanos / POW10[9 - digits];
        FUZZ_REQUIRE(want == out.minor, "%s %lld.%09d read as %lld minor units", code, (long long)m.units, m.nanos,
                     (long long)out.minor);
        Ltc__Type__V1__Money back = LTC__TYPE__V1__MONEY__INIT;
        ltc_money_to_proto(out.currency, out.minor, &back);
        FUZZ_REQUIRE(back.units == m.units && back.nanos == m.nanos && strcmp(back.currency_code, code) == 0,
                     "%s %lld.%09d -> %lld -> %s %lld.%09d", code, (long long)m.units, m.nanos, (long long)out.minor,
                     back.currency_code, (long long)back.units, back.nanos);
    } else {
        fuzz_check_failure(&st, "ltc_money_from_proto");
        FUZZ_REQUIRE(st.code == LTC_INVALID_ARGUMENT && st.n_violations == 1 &&
                         strcmp(st.violations[0].field, "payment.amount") == 0,
                     "a refused amount must name the field");
    }
    ltc_status_clear(&st);
    /* any amount in a known currency survives to_proto -> from_proto */
    if (digits >= 0) {
        int64_t minor = i64(d, n, 4);
        Ltc__Type__V1__Money p = LTC__TYPE__V1__MONEY__INIT;
        ltc_money_to_proto(code, minor, &p);
        ltc_money again;
        FUZZ_REQUIRE(ltc_money_from_proto(&p, "x", 1, &again, &st) == 0 && again.minor == minor,
                     "%s %lld minor units do not survive a round trip: %s", code, (long long)minor, st.message);
        ltc_status_clear(&st);
    }
}

static void arithmetic(const uint8_t *d, size_t n) {
    int64_t a = i64(d, n, 0), b = i64(d, n, 8), c = i64(d, n, 16);
    int64_t r = 0x5a5a;
    __int128 sum = (__int128)a + b, prod = (__int128)a * b;
    int rc = ltc_i64_add(a, b, &r);
    FUZZ_REQUIRE((rc == 0) == (sum >= INT64_MIN && sum <= INT64_MAX) && (rc != 0 || r == sum), "add %lld %lld",
                 (long long)a, (long long)b);
    rc = ltc_i64_mul(a, b, &r);
    FUZZ_REQUIRE((rc == 0) == (prod >= INT64_MIN && prod <= INT64_MAX) && (rc != 0 || r == prod), "mul %lld %lld",
                 (long long)a, (long long)b);
    int32_t bps = (int32_t)(c & 0xffffffff);
    if (n > 24 && (d[24] & 1)) bps = (int32_t)((uint64_t)c % 10001);
    __int128 x = (__int128)a * bps, q = x / 10000;
    if (x % 10000 != 0 && x < 0) q--;
    if (q > INT64_MAX) q = INT64_MAX;
    if (q < INT64_MIN) q = INT64_MIN;
    FUZZ_REQUIRE(ltc_apply_bps(a, bps) == q, "apply_bps(%lld, %d)", (long long)a, bps);
    rc = ltc_muldiv(a, b, c, &r);
    if (a < 0 || b < 0 || c <= 0) {
        FUZZ_REQUIRE(rc == -1, "muldiv of a negative or by %lld accepted", (long long)c);
    } else {
        unsigned __int128 w = (unsigned __int128)a * (unsigned __int128)b / (unsigned __int128)c;
        FUZZ_REQUIRE((rc == 0) == (w <= INT64_MAX) && (rc != 0 || (unsigned __int128)r == w), "muldiv %lld %lld %lld",
                     (long long)a, (long long)b, (long long)c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] & 0x80)
        arithmetic(data + 1, size - 1);
    else
        money(data + 1, size - 1);
    return 0;
}
