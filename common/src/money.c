/* money.c - ISO 4217 minor units, Money <-> minor-unit conversion and overflow-checked integer arithmetic (see
 * ltc/money.h). No floating point anywhere. */
#include "ltc/money.h"

#include <stddef.h>
#include <string.h>

#include "ltc/db.h"
#include "ltc/type/v1/money.pb-c.h"

typedef struct iso_currency {
    char code[4];
    int digits;
} iso_currency;

/* Active ISO 4217 codes with a minor unit (list one of the standard, amendments up to 2025). Codes whose minor unit
 * is "N.A." (XAU, XAG, XPT, XPD, XDR, XSU, XUA, XBA..XBD, XTS, XXX) cannot be expressed in minor units and are
 * refused. Withdrawn codes (HRK, SLL, ...) are not listed. Sorted by code. */
static const iso_currency CURRENCIES[] = {
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2}, {"AWG", 2},
    {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0}, {"BMD", 2}, {"BND", 2},
    {"BOB", 2}, {"BOV", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2}, {"BYN", 2}, {"BZD", 2}, {"CAD", 2},
    {"CDF", 2}, {"CHE", 2}, {"CHF", 2}, {"CHW", 2}, {"CLF", 4}, {"CLP", 0}, {"CNY", 2}, {"COP", 2}, {"COU", 2},
    {"CRC", 2}, {"CUP", 2}, {"CVE", 2}, {"CZK", 2}, {"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2}, {"EGP", 2},
    {"ERN", 2}, {"ETB", 2}, {"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2}, {"GHS", 2}, {"GIP", 2},
    {"GMD", 2}, {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2}, {"IDR", 2},
    {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2}, {"JOD", 3}, {"JPY", 0}, {"KES", 2},
    {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2}, {"KRW", 0}, {"KWD", 3}, {"KYD", 2}, {"KZT", 2}, {"LAK", 2},
    {"LBP", 2}, {"LKR", 2}, {"LRD", 2}, {"LSL", 2}, {"LYD", 3}, {"MAD", 2}, {"MDL", 2}, {"MGA", 2}, {"MKD", 2},
    {"MMK", 2}, {"MNT", 2}, {"MOP", 2}, {"MRU", 2}, {"MUR", 2}, {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MXV", 2},
    {"MYR", 2}, {"MZN", 2}, {"NAD", 2}, {"NGN", 2}, {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2}, {"OMR", 3},
    {"PAB", 2}, {"PEN", 2}, {"PGK", 2}, {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2},
    {"RSD", 2}, {"RUB", 2}, {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2}, {"SGD", 2},
    {"SHP", 2}, {"SLE", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2}, {"SYP", 2}, {"SZL", 2},
    {"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2}, {"TWD", 2}, {"TZS", 2},
    {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"USN", 2}, {"UYI", 0}, {"UYU", 2}, {"UYW", 4}, {"UZS", 2}, {"VED", 2},
    {"VES", 2}, {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0}, {"XCD", 2}, {"XCG", 2}, {"XOF", 0}, {"XPF", 0},
    {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
};
#define N_CURRENCIES (sizeof CURRENCIES / sizeof CURRENCIES[0])

static const int64_t POW10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};

/* The table entry of a code: exactly three upper-case ASCII letters. NULL when unknown. */
static const iso_currency *find_currency(const char *code) {
    if (!code) return NULL;
    for (int i = 0; i < 3; i++)
        if (code[i] < 'A' || code[i] > 'Z') return NULL;
    if (code[3] != '\0') return NULL;
    size_t lo = 0, hi = N_CURRENCIES;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = memcmp(code, CURRENCIES[mid].code, 3);
        if (cmp == 0) return &CURRENCIES[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int ltc_currency_digits(const char *code) {
    const iso_currency *c = find_currency(code);
    return c ? c->digits : -1;
}

int ltc_money_from_proto(const Ltc__Type__V1__Money *m, const char *field, int allow_negative, ltc_money *out,
                         ltc_status *st) {
    if (!m) return ltc_status_bad_field(st, field, "required");
    const char *code = m->currency_code ? m->currency_code : "";
    if (!*code) return ltc_status_bad_field(st, field, "currency_code is required");
    const iso_currency *cur = find_currency(code);
    if (!cur) return ltc_status_bad_field(st, field, "currency_code is not an ISO 4217 currency code");
    if (m->nanos <= -1000000000 || m->nanos >= 1000000000)
        return ltc_status_bad_field(st, field, "nanos must be between -999999999 and 999999999");
    if ((m->units > 0 && m->nanos < 0) || (m->units < 0 && m->nanos > 0))
        return ltc_status_bad_field(st, field, "units and nanos must have the same sign");
    if (!allow_negative && (m->units < 0 || m->nanos < 0))
        return ltc_status_bad_field(st, field, "must not be negative");
    int64_t step = POW10[9 - cur->digits]; /* nanos per minor unit */
    if (m->nanos % step != 0)
        return ltc_status_bad_field(st, field, "%s has %d decimal places; the amount is finer than that", cur->code,
                                    cur->digits);
    int64_t minor;
    if (ltc_i64_mul(m->units, POW10[cur->digits], &minor) != 0 || ltc_i64_add(minor, m->nanos / step, &minor) != 0)
        return ltc_status_bad_field(st, field, "amount is too large");
    memcpy(out->currency, cur->code, 4);
    out->minor = minor;
    return 0;
}

/* currency_code points into the static table, so the message never depends on the caller's buffer. A code that is
 * not known (a programming error: every stored code was validated on the way in) gives "XXX" ("no currency") and
 * the amount as whole units. */
void ltc_money_to_proto(const char *currency, int64_t minor, Ltc__Type__V1__Money *out) {
    static char unknown[] = "XXX";
    const iso_currency *cur = find_currency(currency);
    int digits = cur ? cur->digits : 0;
    out->currency_code = cur ? (char *)cur->code : unknown;
    out->units = minor / POW10[digits];
    out->nanos = (int32_t)((minor % POW10[digits]) * POW10[9 - digits]);
}

Ltc__Type__V1__Money *ltc_money_msg(ltc_call *c, const char *currency, int64_t minor) {
    Ltc__Type__V1__Money *m = LTC_NEW(c, Ltc__Type__V1__Money, LTC__TYPE__V1__MONEY__INIT);
    ltc_money_to_proto(currency, minor, m);
    return m;
}

Ltc__Type__V1__Money *ltc_money_msg_pg(ltc_call *c, const PGresult *r, int row, int minor_col, int currency_col) {
    if (PQgetisnull(r, row, minor_col) || PQgetisnull(r, row, currency_col)) return NULL;
    return ltc_money_msg(c, PQgetvalue(r, row, currency_col), ltc_pg_i64(r, row, minor_col));
}

int ltc_i64_add(int64_t a, int64_t b, int64_t *out) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return -1;
    *out = r;
    return 0;
}

int ltc_i64_mul(int64_t a, int64_t b, int64_t *out) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return -1;
    *out = r;
    return 0;
}

/* Floor division of a 128-bit value by a positive divisor. */
static __int128 floor_div(__int128 n, __int128 d) {
    __int128 q = n / d;
    if (n % d != 0 && n < 0) q--;
    return q;
}

/* Defined for every input: outside the documented domain (amount < 0, bps outside 0..10000) the result is still
 * floor(amount * bps / 10000), saturated to the int64 range. */
int64_t ltc_apply_bps(int64_t amount, int32_t bps) {
    __int128 q = floor_div((__int128)amount * bps, 10000);
    if (q > INT64_MAX) return INT64_MAX;
    if (q < INT64_MIN) return INT64_MIN;
    return (int64_t)q;
}

/* Also -1 (out untouched) when a or b is negative or c is not positive. */
int ltc_muldiv(int64_t a, int64_t b, int64_t c, int64_t *out) {
    if (a < 0 || b < 0 || c <= 0) return -1;
    unsigned __int128 q = (unsigned __int128)a * (unsigned __int128)b / (unsigned __int128)c;
    if (q > (unsigned __int128)INT64_MAX) return -1;
    *out = (int64_t)q;
    return 0;
}
