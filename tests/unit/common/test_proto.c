/* Unit tests of common/src/proto.c that need no call: page size and token parsing, dates, free-text checks.
 * (ltc_page_token, ltc_ts_* and ltc_date_from_pg allocate in a call's arena and are covered by the integration
 * suites; the tokens here are made independently with OpenSSL's base64.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "ltc/proto.h"
#include "ltc/ltb/v1/resources.pb-c.h"
#include "ltc/type/v1/iron_triangle.pb-c.h"
#include "ltc/type/v1/date.pb-c.h"

/* base64url without padding of a text, via OpenSSL. */
static void b64url(const char *plain, char *out, size_t outlen) {
    unsigned char buf[256];
    int n = EVP_EncodeBlock(buf, (const unsigned char *)plain, (int)strlen(plain));
    assert_true(n >= 0 && (size_t)n < outlen);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        char ch = (char)buf[i];
        if (ch == '=') break;
        out[o++] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
    }
    out[o] = '\0';
}

static void page_ok(int32_t size, const char *token, int want_limit, int64_t want_after) {
    ltc_status st = {0};
    int limit = -7;
    int64_t after = -7;
    assert_int_equal(ltc_page_parse(size, token, &limit, &after, &st), 0);
    assert_int_equal(st.code, LTC_OK);
    assert_int_equal(limit, want_limit);
    assert_int_equal(after, want_after);
}

/* Expects exactly the listed bad fields (NULL-terminated). */
static void page_bad(int32_t size, const char *token, const char *field1, const char *field2) {
    ltc_status st = {0};
    int limit = -7;
    int64_t after = -7;
    assert_int_equal(ltc_page_parse(size, token, &limit, &after, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_int_equal(st.n_violations, field2 ? 2 : 1);
    assert_string_equal(st.violations[0].field, field1);
    if (field2) assert_string_equal(st.violations[1].field, field2);
    assert_int_equal(limit, -7);
    assert_int_equal(after, -7);
}

static void test_page_size(void **state) {
    (void)state;
    page_ok(0, "", 51, 0);
    page_ok(0, NULL, 51, 0);
    page_ok(1, "", 2, 0);
    page_ok(137, "", 138, 0);
    page_ok(500, "", 501, 0);
    page_bad(-1, "", "page_size", NULL);
    page_bad(501, "", "page_size", NULL);
    page_bad(INT32_MIN, "", "page_size", NULL);
    page_bad(INT32_MAX, NULL, "page_size", NULL);
}

static void token_ok(const char *plain, int64_t want) {
    char tok[128];
    b64url(plain, tok, sizeof tok);
    page_ok(10, tok, 11, want);
}

static void token_bad(const char *plain) {
    char tok[128];
    b64url(plain, tok, sizeof tok);
    page_bad(10, tok, "page_token", NULL);
}

static void test_page_token_ok(void **state) {
    (void)state;
    token_ok("v1:1", 1);
    token_ok("v1:42", 42);
    token_ok("v1:1000000", 1000000);
    token_ok("v1:9223372036854775807", INT64_MAX);
    page_ok(0, "djE6NDI", 51, 42);   /* base64url("v1:42"), spelled out */
    page_ok(0, "djE6NDIx", 51, 421); /* base64url("v1:421"): no trailing bits at all */
}

static void test_page_token_bad(void **state) {
    (void)state;
    token_bad("v1:0");
    token_bad("v1:-5");
    token_bad("v1:007");
    token_bad("v1:+7");
    token_bad("v1: 7");
    token_bad("v1:");
    token_bad("v1:42x");
    token_bad("v1:4 2");
    token_bad("v2:42");
    token_bad("V1:42");
    token_bad("42");
    token_bad("v1:9223372036854775808"); /* past INT64_MAX */
    token_bad("v1:99999999999999999999999");
    token_bad("hello world");
    page_bad(0, "djE6NDI=", "page_token", NULL); /* padding */
    page_bad(0, "djE6NDJ", "page_token", NULL);  /* same bytes, non-zero trailing bits */
    page_bad(0, "djE6ND", "page_token", NULL);   /* truncated */
    page_bad(0, "d", "page_token", NULL);        /* impossible length */
    page_bad(0, "djE+NDI", "page_token", NULL);  /* standard base64 alphabet */
    page_bad(0, "djE6 NDI", "page_token", NULL);
    page_bad(0, "djE6NDI\n", "page_token", NULL);
    page_bad(0, "!!!!", "page_token", NULL);
    page_bad(0, "\xff\xfe", "page_token", NULL);
    char longtok[300];
    memset(longtok, 'A', sizeof longtok - 1);
    longtok[sizeof longtok - 1] = '\0';
    page_bad(0, longtok, "page_token", NULL);
    /* both fields bad: both reported */
    page_bad(-3, "garbage", "page_size", "page_token");
}

static Ltc__Type__V1__Date date(int y, int m, int d) {
    Ltc__Type__V1__Date x = LTC__TYPE__V1__DATE__INIT;
    x.year = y;
    x.month = m;
    x.day = d;
    return x;
}

static void date_ok(int y, int m, int d, const char *want) {
    Ltc__Type__V1__Date x = date(y, m, d);
    char out[11];
    ltc_status st = {0};
    assert_int_equal(ltc_date_to_text(&x, "order.due_date", 0, out, &st), 0);
    assert_string_equal(out, want);
    assert_int_equal(st.code, LTC_OK);
}

static void date_bad(int y, int m, int d) {
    Ltc__Type__V1__Date x = date(y, m, d);
    char out[11] = "xxxxxxxxxx";
    ltc_status st = {0};
    if (ltc_date_to_text(&x, "order.due_date", 1, out, &st) != -1) fail_msg("%d-%d-%d accepted", y, m, d);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_string_equal(st.violations[0].field, "order.due_date");
    assert_string_equal(out, "");
}

static void test_dates(void **state) {
    (void)state;
    date_ok(2026, 11, 27, "2026-11-27");
    date_ok(1, 1, 1, "0001-01-01");
    date_ok(9999, 12, 31, "9999-12-31");
    date_ok(2024, 2, 29, "2024-02-29"); /* leap year */
    date_ok(2000, 2, 29, "2000-02-29"); /* divisible by 400 */
    date_ok(2023, 2, 28, "2023-02-28");
    date_ok(2023, 4, 30, "2023-04-30");
    date_ok(2023, 1, 31, "2023-01-31");
    date_bad(2023, 2, 29); /* not a leap year */
    date_bad(1900, 2, 29); /* divisible by 100, not by 400 */
    date_bad(2100, 2, 29);
    date_bad(2024, 2, 30);
    date_bad(2023, 4, 31);
    date_bad(2023, 6, 31);
    date_bad(2023, 9, 31);
    date_bad(2023, 11, 31);
    date_bad(2023, 1, 32);
    date_bad(2023, 1, 0);
    date_bad(2023, 0, 1);
    date_bad(2023, 13, 1);
    date_bad(0, 1, 1);
    date_bad(10000, 1, 1);
    date_bad(-1, 1, 1);
    date_bad(2023, -1, 1);
    date_bad(2023, 1, -1);
    date_bad(INT32_MAX, INT32_MAX, INT32_MAX);
    date_bad(INT32_MIN, 1, 1);
}

static void test_date_missing(void **state) {
    (void)state;
    char out[11] = "xxxxxxxxxx";
    ltc_status st = {0};
    assert_int_equal(ltc_date_to_text(NULL, "d", 1, out, &st), 0);
    assert_string_equal(out, "");
    assert_int_equal(st.code, LTC_OK);
    assert_int_equal(ltc_date_to_text(NULL, "contract.start_date", 0, out, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_string_equal(st.violations[0].field, "contract.start_date");
    /* an empty Date message (0-0-0) counts as missing */
    Ltc__Type__V1__Date zero = date(0, 0, 0);
    ltc_status st2 = {0};
    assert_int_equal(ltc_date_to_text(&zero, "d", 1, out, &st2), 0);
    assert_string_equal(out, "");
    assert_int_equal(ltc_date_to_text(&zero, "d", 0, out, &st2), -1);
    assert_int_equal(st2.code, LTC_INVALID_ARGUMENT);
}

static void text_ok(const char *s, int required, int max) {
    ltc_status st = {0};
    if (ltc_check_text(s, "lead.company_name", required, max, &st) != 0)
        fail_msg("refused (max %d): %s", max, st.n_violations ? st.violations[0].description : "?");
    assert_int_equal(st.code, LTC_OK);
}

static void text_bad(const char *s, int required, int max) {
    ltc_status st = {0};
    assert_int_equal(ltc_check_text(s, "lead.company_name", required, max, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_int_equal(st.n_violations, 1);
    assert_string_equal(st.violations[0].field, "lead.company_name");
}

static void test_text_lengths(void **state) {
    (void)state;
    text_ok("", 0, 10);
    text_ok(NULL, 0, 10);
    text_bad("", 1, 10);
    text_bad(NULL, 1, 10);
    text_ok("Acme", 1, 4);
    text_bad("Acme!", 1, 4);
    text_ok("h\xC3\xA9llo", 1, 5); /* é counts as one character */
    text_bad("h\xC3\xA9llo", 1, 4);
    text_ok("\xE4\xB8\xAD\xE6\x96\x87", 1, 2); /* 中文: two characters, six bytes */
    text_bad("\xE4\xB8\xAD\xE6\x96\x87x", 1, 2);
    text_ok("\xF0\x9F\x98\x80", 1, 1); /* U+1F600 */
    text_ok("anything at all", 1, -1); /* negative max: no limit */
    char big[1001];
    memset(big, 'a', 1000);
    big[1000] = '\0';
    text_ok(big, 1, 1000);
    text_bad(big, 1, 999);
}

static void test_text_utf8(void **state) {
    (void)state;
    text_ok("\xF4\x8F\xBF\xBF", 1, 10); /* U+10FFFF, the last code point */
    text_ok("\xED\x9F\xBF", 1, 10);     /* U+D7FF, just below the surrogates */
    text_ok("\xEE\x80\x80", 1, 10);     /* U+E000, just above */
    text_ok("\xEF\xBF\xBF", 1, 10);     /* U+FFFF */
    text_ok("\xC2\x80", 1, 10);         /* U+0080, smallest two-byte */
    text_ok("\xE0\xA0\x80", 1, 10);     /* U+0800, smallest three-byte */
    text_ok("\xF0\x90\x80\x80", 1, 10); /* U+10000, smallest four-byte */
    const char *bad[] = {
        "\x80", /* stray continuation */
        "abc\xBF",
        "\xC0\xAF",                 /* overlong '/' */
        "\xC1\xBF",                 /* overlong */
        "\xE0\x80\xAF",             /* overlong three-byte */
        "\xE0\x9F\xBF",             /* overlong U+07FF */
        "\xF0\x80\x80\xAF",         /* overlong four-byte */
        "\xF0\x8F\xBF\xBF",         /* overlong U+FFFF */
        "\xED\xA0\x80",             /* U+D800 surrogate */
        "\xED\xBF\xBF",             /* U+DFFF surrogate */
        "\xED\xA0\xBD\xED\xB8\x80", /* CESU-8 surrogate pair */
        "\xF4\x90\x80\x80",         /* U+110000 */
        "\xF5\x80\x80\x80",
        "\xF8\x88\x80\x80\x80", /* five-byte form */
        "\xFE",
        "\xFF",
        "\xE4\xB8", /* truncated at the end */
        "abc\xE4",
        "\xC3",
        "\xF0\x9F\x98",
        "\xC3\x28", /* bad continuation */
        "\xE4\x28\xAD",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ltc_status st = {0};
        if (ltc_check_text(bad[i], "f", 0, -1, &st) != -1) fail_msg("bad UTF-8 #%zu accepted", i);
        assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
        assert_string_equal(st.violations[0].field, "f");
    }
}

static void test_enum_db_names(void **state) {
    (void)state;
    const ProtobufCEnumDescriptor *d = &ltc__ltb__v1__bid_state__descriptor;
    assert_string_equal(ltc_enum_to_db(d, "BID_STATE_", LTC__LTB__V1__BID_STATE__BID_STATE_SUBMITTED), "SUBMITTED");
    assert_null(ltc_enum_to_db(d, "BID_STATE_", 99)); /* not a value: a client's unknown number */
    assert_null(ltc_enum_to_db(d, "OTHER_", 1));      /* wrong prefix */
    assert_int_equal(ltc_enum_from_db(d, "BID_STATE_", "WON"), LTC__LTB__V1__BID_STATE__BID_STATE_WON);
    assert_int_equal(ltc_enum_from_db(d, "BID_STATE_", "NOPE"), 0);
    assert_int_equal(ltc_enum_from_db(d, "BID_STATE_", NULL), 0);
}

static void test_triangle_check(void **state) {
    (void)state;
    ltc_status st = {0};
    Ltc__Type__V1__IronTriangle t = LTC__TYPE__V1__IRON_TRIANGLE__INIT;
    assert_int_equal(ltc_check_triangle(NULL, "iron_triangle", 0, &st), 0);
    assert_int_equal(ltc_check_triangle(NULL, "iron_triangle", 1, &st), -1);
    ltc_status_clear(&st);
    t.account_owner = "ar";
    t.solution_owner = "";
    t.fulfilment_owner = "fr";
    assert_int_equal(ltc_check_triangle(&t, "deal.iron_triangle", 1, &st), -1);
    assert_int_equal(st.n_violations, 1);
    assert_string_equal(st.violations[0].field, "deal.iron_triangle.solution_owner");
    ltc_status_clear(&st);
    t.solution_owner = "sr";
    assert_int_equal(ltc_check_triangle(&t, "x", 1, &st), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_size), cmocka_unit_test(test_page_token_ok), cmocka_unit_test(test_page_token_bad),
        cmocka_unit_test(test_dates),     cmocka_unit_test(test_date_missing),  cmocka_unit_test(test_text_lengths),
        cmocka_unit_test(test_text_utf8), cmocka_unit_test(test_enum_db_names), cmocka_unit_test(test_triangle_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
