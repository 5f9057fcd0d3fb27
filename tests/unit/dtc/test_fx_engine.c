/* Unit tests of DTC's FX arithmetic (services/dtc/fx_engine.c): rates as exact decimals, conversion and its rounding
 * (half away from zero), slices of a document settled in parts, the functional balancing of an entry (realised
 * gain/loss), unrealised amounts; property tests: random partitions of a document convert to exactly the whole, and
 * a random allocation at another rate balances in functional currency with the difference on the FX line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fx_engine.h"

static int64_t rate(const char *s) {
    int64_t r = 0;
    assert_int_equal(dtc_fx_rate_parse(s, &r), 0);
    return r;
}

static int64_t conv(int64_t minor, int from, int to, int64_t r) {
    int64_t out = 0;
    assert_int_equal(dtc_fx_convert(minor, from, to, r, &out), 0);
    return out;
}

static void test_rate_parse_and_format(void **state) {
    (void)state;
    char buf[32];
    assert_int_equal(rate("0.0482"), 482000000);
    assert_int_equal(rate("7"), 7 * DTC_FX_SCALE);
    assert_int_equal(rate("7.1234567891"), 71234567891);
    dtc_fx_rate_format(rate("0.0482"), buf);
    assert_string_equal(buf, "0.0482");
    dtc_fx_rate_format(rate("12.50"), buf);
    assert_string_equal(buf, "12.5");
    dtc_fx_rate_format(rate("3"), buf);
    assert_string_equal(buf, "3");
    int64_t r;
    const char *bad[] = {
        "",          "0",   "0.0", "-1", "+1", "1.", ".5", "1.2.3", "1e3", "0.00000000001", "1234567890123",
        "123456789", "7,1", " 7",  "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(dtc_fx_rate_parse(bad[i], &r), -1);
    assert_int_equal(dtc_fx_rate_parse(NULL, &r), -1);
}

static void test_convert_and_round(void **state) {
    (void)state;
    /* JPY (0 digits) to CNY (2 digits): 1,000,000 JPY at 0.0482 = 48,200.00 CNY */
    assert_int_equal(conv(1000000, 0, 2, rate("0.0482")), 4820000);
    /* 1 JPY at 0.0482 = 0.0482 CNY: 0.05 (4.82 fen rounds to 5) */
    assert_int_equal(conv(1, 0, 2, rate("0.0482")), 5);
    /* half away from zero: 0.125 CNY -> 0.13, -0.125 -> -0.13 */
    assert_int_equal(conv(125, 2, 2, rate("0.1")), 13);
    assert_int_equal(conv(-125, 2, 2, rate("0.1")), -13);
    assert_int_equal(conv(124, 2, 2, rate("0.1")), 12);
    /* USD cents to CNY fen at 7.1234; the identity rate changes nothing */
    assert_int_equal(conv(10000, 2, 2, rate("7.1234")), 71234);
    assert_int_equal(conv(123456789, 2, 2, DTC_FX_SCALE), 123456789);
    /* CNY to JPY (2 -> 0 digits): 1.00 CNY at 20.7469 = 20.7469 JPY -> 21 */
    assert_int_equal(conv(100, 2, 0, rate("20.7469")), 21);
    int64_t out;
    assert_int_equal(dtc_fx_convert(1, 0, 2, 0, &out), -1);
    assert_int_equal(dtc_fx_convert(1, -1, 2, DTC_FX_SCALE, &out), -1);
    assert_int_equal(dtc_fx_convert(INT64_MAX, 0, 4, rate("99999999"), &out), -1);
}

static void test_realised_on_a_jpy_invoice(void **state) {
    (void)state;
    /* invoice 1,000,000 JPY at 0.0482 (48,200.00 CNY); 400,000 paid at 0.0475, then 600,000 at 0.0490 */
    int64_t inv = rate("0.0482"), r1 = rate("0.0475"), r2 = rate("0.0490"), s, cash, fxd, fxc;
    assert_int_equal(dtc_fx_slice(0, 400000, 0, 2, inv, &s), 0);
    assert_int_equal(s, 1928000);
    cash = conv(400000, 0, 2, r1); /* 19,000.00 */
    assert_int_equal(dtc_fx_close((int64_t[]){cash, 0}, (int64_t[]){0, s}, 2, &fxd, &fxc), 0);
    assert_int_equal(fxd, 28000); /* loss 280.00 */
    assert_int_equal(fxc, 0);
    assert_int_equal(dtc_fx_slice(400000, 600000, 0, 2, inv, &s), 0);
    assert_int_equal(s, 2892000);
    cash = conv(600000, 0, 2, r2); /* 29,400.00 */
    assert_int_equal(dtc_fx_close((int64_t[]){cash, 0}, (int64_t[]){0, s}, 2, &fxd, &fxc), 0);
    assert_int_equal(fxc, 48000); /* gain 480.00 */
    assert_int_equal(fxd, 0);
    int64_t u;
    assert_int_equal(dtc_fx_unrealised(1000000, 4820000, 0, 2, rate("0.05"), &u), 0);
    assert_int_equal(u, 180000);
    assert_int_equal(dtc_fx_unrealised(1000000, 4820000, 0, 2, rate("0.047"), &u), 0);
    assert_int_equal(u, -120000);
    assert_int_equal(dtc_fx_close((int64_t[]){-1}, (int64_t[]){0}, 1, &fxd, &fxc), -1);
}

static int64_t rnd64(int64_t n) { return (int64_t)(((uint64_t)rand() << 31 ^ (uint64_t)rand()) % (uint64_t)n); }

/* Property: a document converted in random parts (slices) converts to exactly the whole; every slice is within one
 * functional minor unit of converting the part alone; conversion is monotonic. */
static void test_property_slices_add_up(void **state) {
    (void)state;
    srand(17);
    static const int digits[] = {0, 2, 3};
    for (int run = 0; run < 2000; run++) {
        int from = digits[rand() % 3], to = digits[rand() % 3];
        int64_t r = 1 + rnd64(2000 * DTC_FX_SCALE);
        int64_t total = 1 + rnd64(1000000000000LL), done = 0, sum = 0;
        while (done < total) {
            int64_t part = 1 + rnd64(total - done), s;
            if (rand() % 4 == 0) part = total - done;
            assert_int_equal(dtc_fx_slice(done, part, from, to, r, &s), 0);
            int64_t alone = conv(part, from, to, r);
            assert_true(s - alone <= 1 && alone - s <= 1);
            assert_true(s >= 0);
            sum += s, done += part;
        }
        assert_int_equal(sum, conv(total, from, to, r));
        int64_t a = rnd64(total);
        assert_true(conv(a, from, to, r) <= conv(total, from, to, r));
    }
}

/* Property: an allocation of a receipt converted at one rate to an invoice converted at another, closed by
 * dtc_fx_close, always balances in functional currency, and its FX line is the difference of the two conversions. */
static void test_property_entries_close(void **state) {
    (void)state;
    srand(29);
    for (int run = 0; run < 5000; run++) {
        int64_t ri = 1 + rnd64(10 * DTC_FX_SCALE), rr = 1 + rnd64(10 * DTC_FX_SCALE);
        int64_t inv = 1 + rnd64(100000000), before = rnd64(inv), a = 1 + rnd64(inv - before), cr, dr, fxd, fxc;
        assert_int_equal(dtc_fx_slice(before, a, 0, 2, ri, &cr), 0);
        dr = conv(a, 0, 2, rr);
        int64_t fd[3] = {dr, 0, 0}, fc[3] = {0, cr, 0};
        assert_int_equal(dtc_fx_close(fd, fc, 2, &fxd, &fxc), 0);
        assert_true(fxd == 0 || fxc == 0);
        fd[2] = fxd, fc[2] = fxc;
        assert_int_equal(fd[0] + fd[1] + fd[2], fc[0] + fc[1] + fc[2]);
        assert_int_equal(fxc - fxd, dr - cr);
        if (rr > ri) assert_true(fxd <= 1); /* paid at a higher rate: no loss but the slice's rounding */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_parse_and_format),     cmocka_unit_test(test_convert_and_round),
        cmocka_unit_test(test_realised_on_a_jpy_invoice), cmocka_unit_test(test_property_slices_add_up),
        cmocka_unit_test(test_property_entries_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
