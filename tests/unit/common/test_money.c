/* Unit tests of common/src/money.c: the ISO 4217 table, Money <-> minor units, overflow-checked arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ltc/money.h"
#include "ltc/type/v1/money.pb-c.h"

static Ltc__Type__V1__Money money(const char *code, int64_t units, int32_t nanos) {
    Ltc__Type__V1__Money m = LTC__TYPE__V1__MONEY__INIT;
    m.currency_code = (char *)code;
    m.units = units;
    m.nanos = nanos;
    return m;
}

/* Converts and expects success; returns the minor amount. */
static int64_t ok_minor(const char *code, int64_t units, int32_t nanos, int allow_negative) {
    Ltc__Type__V1__Money m = money(code, units, nanos);
    ltc_status st = {0};
    ltc_money out = {{0}, 0};
    assert_int_equal(ltc_money_from_proto(&m, "x.amount", allow_negative, &out, &st), 0);
    assert_int_equal(st.code, LTC_OK);
    assert_string_equal(out.currency, code);
    return out.minor;
}

/* Converts and expects INVALID_ARGUMENT naming the field; `out` must stay untouched. */
static void refused(const char *code, int64_t units, int32_t nanos, int allow_negative) {
    Ltc__Type__V1__Money m = money(code, units, nanos);
    ltc_status st = {0};
    ltc_money out = {"ZZZ", 4242};
    assert_int_equal(ltc_money_from_proto(&m, "x.amount", allow_negative, &out, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_int_equal(st.n_violations, 1);
    assert_string_equal(st.violations[0].field, "x.amount");
    assert_true(strlen(st.violations[0].description) > 0);
    assert_string_equal(out.currency, "ZZZ");
    assert_int_equal(out.minor, 4242);
}

static void test_digits_required_codes(void **state) {
    (void)state;
    static const struct {
        const char *code;
        int digits;
    } want[] = {
        {"CNY", 2}, {"USD", 2}, {"EUR", 2}, {"GBP", 2}, {"JPY", 0}, {"KRW", 0}, {"HKD", 2}, {"SGD", 2}, {"CHF", 2},
        {"AUD", 2}, {"CAD", 2}, {"INR", 2}, {"RUB", 2}, {"BRL", 2}, {"ZAR", 2}, {"SEK", 2}, {"NOK", 2}, {"DKK", 2},
        {"PLN", 2}, {"CZK", 2}, {"HUF", 2}, {"MXN", 2}, {"THB", 2}, {"MYR", 2}, {"IDR", 2}, {"VND", 0}, {"PHP", 2},
        {"TWD", 2}, {"NZD", 2}, {"AED", 2}, {"SAR", 2}, {"KWD", 3}, {"BHD", 3}, {"OMR", 3}, {"JOD", 3}, {"TND", 3},
        {"IQD", 3}, {"LYD", 3}, {"CLP", 0}, {"ISK", 0}, {"UGX", 0}, {"XOF", 0}, {"XAF", 0}, {"CLF", 4}, {"UYW", 4},
        {"PYG", 0}, {"RWF", 0}, {"XPF", 0}, {"VUV", 0}, {"BIF", 0}, {"DJF", 0}, {"GNF", 0}, {"KMF", 0}, {"UYI", 0},
        {"AFN", 2}, {"ZWG", 2}, {"XCG", 2}, {"SLE", 2}, {"VED", 2}, {"VES", 2}, {"ZMW", 2}, {"YER", 2},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int d = ltc_currency_digits(want[i].code);
        if (d != want[i].digits) fail_msg("%s: %d digits, want %d", want[i].code, d, want[i].digits);
    }
}

static void test_digits_unknown(void **state) {
    (void)state;
    const char *bad[] = {"", "US", "USDX", "usd", "Usd", "XXX", "XAU", "XTS", "HRK", "ABC", "US1", " USD", "ZZZ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ltc_currency_digits(bad[i]) != -1) fail_msg("\"%s\" accepted", bad[i]);
    assert_int_equal(ltc_currency_digits(NULL), -1);
}

static void test_from_proto_ok(void **state) {
    (void)state;
    assert_int_equal(ok_minor("CNY", 12, 340000000, 0), 1234);
    assert_int_equal(ok_minor("USD", 0, 10000000, 0), 1);
    assert_int_equal(ok_minor("USD", 0, 0, 0), 0);
    assert_int_equal(ok_minor("JPY", 1500, 0, 0), 1500);
    assert_int_equal(ok_minor("KWD", 1, 5000000, 0), 1005);
    assert_int_equal(ok_minor("CLF", 2, 123400000, 0), 21234);
    assert_int_equal(ok_minor("EUR", -12, -340000000, 1), -1234);
    assert_int_equal(ok_minor("EUR", 0, -990000000, 1), -99);
    assert_int_equal(ok_minor("EUR", -5, 0, 1), -500);
    /* the largest amounts that still fit */
    assert_int_equal(ok_minor("USD", INT64_MAX / 100, 70000000, 0), INT64_MAX);
    assert_int_equal(ok_minor("JPY", INT64_MAX, 0, 0), INT64_MAX);
    assert_int_equal(ok_minor("USD", INT64_MIN / 100, -80000000, 1), INT64_MIN);
}

static void test_from_proto_refusals(void **state) {
    (void)state;
    refused("", 1, 0, 0);                          /* no currency */
    refused("XYZ", 1, 0, 0);                       /* unknown currency */
    refused("usd", 1, 0, 0);                       /* lower case */
    refused("USD", 1, -10000000, 1);               /* sign mismatch */
    refused("USD", -1, 10000000, 1);               /* sign mismatch */
    refused("USD", 0, 1000000000, 0);              /* nanos out of range */
    refused("USD", 0, -1000000000, 1);             /* nanos out of range */
    refused("USD", 0, INT32_MAX, 0);               /* nanos out of range */
    refused("USD", 0, 1, 0);                       /* finer than a cent */
    refused("USD", 0, 5000000, 0);                 /* half a cent */
    refused("CNY", 12, 345000000, 0);              /* 12.345 */
    refused("JPY", 100, 500000000, 0);             /* JPY with nanos */
    refused("JPY", 0, 1, 0);                       /* JPY with nanos */
    refused("KWD", 0, 100000, 0);                  /* 0.0001 KWD */
    refused("USD", -1, 0, 0);                      /* negative not allowed */
    refused("USD", 0, -10000000, 0);               /* negative not allowed */
    refused("USD", INT64_MAX / 100 + 1, 0, 0);     /* units * 100 overflows */
    refused("USD", INT64_MAX / 100, 80000000, 0);  /* adding the cents overflows */
    refused("USD", INT64_MIN / 100, -90000000, 1); /* below INT64_MIN */
    refused("USD", INT64_MAX, 0, 0);
    refused("USD", INT64_MIN, 0, 1);
    refused("KWD", INT64_MAX / 100, 0, 0); /* fits in cents, not in fils */
}

static void test_from_proto_missing(void **state) {
    (void)state;
    ltc_status st = {0};
    ltc_money out;
    assert_int_equal(ltc_money_from_proto(NULL, "payment.amount", 0, &out, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_string_equal(st.violations[0].field, "payment.amount");
    /* a NULL currency_code (a message built by hand) counts as empty */
    Ltc__Type__V1__Money m = money(NULL, 1, 0);
    ltc_status st2 = {0};
    assert_int_equal(ltc_money_from_proto(&m, "a", 0, &out, &st2), -1);
    assert_int_equal(st2.code, LTC_INVALID_ARGUMENT);
}

/* Several bad amounts in one request are all reported. */
static void test_from_proto_accumulates(void **state) {
    (void)state;
    ltc_status st = {0};
    ltc_money out;
    Ltc__Type__V1__Money a = money("USD", 0, 1), b = money("JPY", 1, 1);
    assert_int_equal(ltc_money_from_proto(&a, "lines[0].price", 0, &out, &st), -1);
    assert_int_equal(ltc_money_from_proto(&b, "lines[1].price", 0, &out, &st), -1);
    assert_int_equal(st.n_violations, 2);
    assert_string_equal(st.violations[0].field, "lines[0].price");
    assert_string_equal(st.violations[1].field, "lines[1].price");
}

static void to_proto(const char *code, int64_t minor, int64_t units, int32_t nanos) {
    Ltc__Type__V1__Money m = LTC__TYPE__V1__MONEY__INIT;
    ltc_money_to_proto(code, minor, &m);
    assert_string_equal(m.currency_code, code);
    assert_int_equal(m.units, units);
    assert_int_equal(m.nanos, nanos);
    /* and back */
    ltc_status st = {0};
    ltc_money back;
    assert_int_equal(ltc_money_from_proto(&m, "m", 1, &back, &st), 0);
    assert_int_equal(back.minor, minor);
}

static void test_to_proto(void **state) {
    (void)state;
    to_proto("CNY", 1234, 12, 340000000);
    to_proto("CNY", 5, 0, 50000000);
    to_proto("CNY", -1234, -12, -340000000);
    to_proto("CNY", -5, 0, -50000000);
    to_proto("JPY", 1500, 1500, 0);
    to_proto("KWD", 1005, 1, 5000000);
    to_proto("CLF", 12345, 1, 234500000);
    to_proto("USD", 0, 0, 0);
    to_proto("USD", INT64_MAX, INT64_MAX / 100, 70000000);
    to_proto("USD", INT64_MIN, INT64_MIN / 100, -80000000);
    to_proto("JPY", INT64_MIN, INT64_MIN, 0);
}

/* The code in the message does not point at the caller's buffer, which may be gone when the response is packed. */
static void test_to_proto_static_code(void **state) {
    (void)state;
    char code[4] = "EUR";
    Ltc__Type__V1__Money m = LTC__TYPE__V1__MONEY__INIT;
    ltc_money_to_proto(code, 100, &m);
    memcpy(code, "GBP", 4);
    assert_string_equal(m.currency_code, "EUR");
}

static void test_add_mul(void **state) {
    (void)state;
    int64_t r = 77;
    assert_int_equal(ltc_i64_add(2, 3, &r), 0);
    assert_int_equal(r, 5);
    assert_int_equal(ltc_i64_add(INT64_MAX, 0, &r), 0);
    assert_int_equal(r, INT64_MAX);
    assert_int_equal(ltc_i64_add(INT64_MIN, INT64_MAX, &r), 0);
    assert_int_equal(r, -1);
    r = 77;
    assert_int_equal(ltc_i64_add(INT64_MAX, 1, &r), -1);
    assert_int_equal(ltc_i64_add(INT64_MIN, -1, &r), -1);
    assert_int_equal(r, 77);
    assert_int_equal(ltc_i64_mul(-4, 5, &r), 0);
    assert_int_equal(r, -20);
    assert_int_equal(ltc_i64_mul(INT64_MAX, 1, &r), 0);
    assert_int_equal(ltc_i64_mul(INT64_MIN, 1, &r), 0);
    assert_int_equal(r, INT64_MIN);
    r = 77;
    assert_int_equal(ltc_i64_mul(INT64_MAX, 2, &r), -1);
    assert_int_equal(ltc_i64_mul(INT64_MIN, -1, &r), -1);
    assert_int_equal(ltc_i64_mul(INT64_MAX / 2 + 1, 2, &r), -1);
    assert_int_equal(ltc_i64_mul((int64_t)1 << 32, (int64_t)1 << 31, &r), -1);
    assert_int_equal(r, 77);
}

static void test_apply_bps(void **state) {
    (void)state;
    assert_int_equal(ltc_apply_bps(10000, 1500), 1500);
    assert_int_equal(ltc_apply_bps(999, 5000), 499); /* floor(499.5) */
    assert_int_equal(ltc_apply_bps(1, 9999), 0);
    assert_int_equal(ltc_apply_bps(12345, 10000), 12345);
    assert_int_equal(ltc_apply_bps(12345, 0), 0);
    assert_int_equal(ltc_apply_bps(0, 10000), 0);
    assert_int_equal(ltc_apply_bps(INT64_MAX, 10000), INT64_MAX);
    assert_int_equal(ltc_apply_bps(INT64_MAX, 5000), INT64_MAX / 2);
    assert_int_equal(ltc_apply_bps(INT64_MAX, 1), INT64_MAX / 10000);
    assert_int_equal(ltc_apply_bps(INT64_MAX, 9999), (int64_t)(((__int128)INT64_MAX * 9999) / 10000));
}

static void test_muldiv(void **state) {
    (void)state;
    int64_t r = 77;
    assert_int_equal(ltc_muldiv(10, 3, 4, &r), 0);
    assert_int_equal(r, 7);
    assert_int_equal(ltc_muldiv(INT64_MAX, INT64_MAX, INT64_MAX, &r), 0);
    assert_int_equal(r, INT64_MAX);
    assert_int_equal(ltc_muldiv(INT64_MAX, 3, 4, &r), 0); /* needs 128 bits in between */
    assert_int_equal(r, (int64_t)(((__int128)INT64_MAX * 3) / 4));
    assert_int_equal(ltc_muldiv(0, INT64_MAX, 1, &r), 0);
    assert_int_equal(r, 0);
    r = 77;
    assert_int_equal(ltc_muldiv(INT64_MAX, 2, 1, &r), -1); /* result overflows */
    assert_int_equal(ltc_muldiv(INT64_MAX, INT64_MAX, INT64_MAX - 1, &r), -1);
    assert_int_equal(ltc_muldiv(1, 1, 0, &r), -1);  /* division by zero */
    assert_int_equal(ltc_muldiv(-1, 1, 1, &r), -1); /* outside the domain */
    assert_int_equal(ltc_muldiv(1, 1, -1, &r), -1);
    assert_int_equal(r, 77);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digits_required_codes),
        cmocka_unit_test(test_digits_unknown),
        cmocka_unit_test(test_from_proto_ok),
        cmocka_unit_test(test_from_proto_refusals),
        cmocka_unit_test(test_from_proto_missing),
        cmocka_unit_test(test_from_proto_accumulates),
        cmocka_unit_test(test_to_proto),
        cmocka_unit_test(test_to_proto_static_code),
        cmocka_unit_test(test_add_mul),
        cmocka_unit_test(test_apply_bps),
        cmocka_unit_test(test_muldiv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
