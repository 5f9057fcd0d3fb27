/* fuzz_parsers.c - libFuzzer target for the small parsers every request goes through (common/src/proto.c, ids.c):
 * page tokens (ltc_page_parse / ltc_page_token), resource names (ltc_name_parse), UUIDs, free text
 * (ltc_check_text) and dates (ltc_date_to_text). The first byte picks the parser; the rest is its input.
 * Properties, besides no crash / UB:
 *   page token   accepted <=> it is exactly the token ltc_page_token makes for the seq it decodes to (round trip),
 *                and the limit is page_size + 1 (50 + 1 for 0) for page_size in 0..500;
 *   name         accepted => "<collection>/<uuid>" with id_out the lower-case uuid; refused => INVALID_ARGUMENT
 *                naming the field;
 *   uuid         accepted <=> 8-4-4-4-12 hex digits, nothing more (checked against a second implementation);
 *   text         accepted <=> empty and optional, or valid UTF-8 with at most max code points (second
 *                implementation: fuzz_check.h);
 *   date         accepted <=> a real calendar day in years 1..9999 (or the empty date when allowed), and the text is
 *                its YYYY-MM-DD. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "ltc/type/v1/date.pb-c.h"
#include "ltc/ids.h"
#include "ltc/log.h"
#include "ltc/proto.h"
#include "ltc/server.h"

#define MAX_TEXT 4096

static ltc_call *call;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    ltc_log_init("fuzz", "error");
    call = ltc_call_create_detached(NULL);
    return 0;
}

/* The input as a NUL-terminated string (stops at an embedded NUL, as a protobuf-c string field would not: protobuf-c
 * keeps the bytes after it, but every C consumer sees the prefix). */
static char *cstr(const uint8_t *d, size_t n) {
    if (n > MAX_TEXT) n = MAX_TEXT;
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, d, n);
    s[n] = 0;
    return s;
}

static uint32_t u32(const uint8_t *d, size_t n, size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) v = v << 8 | (at + i < n ? d[at + i] : 0);
    return v;
}

static void fuzz_page(const uint8_t *d, size_t n) {
    int32_t page_size = (int32_t)u32(d, n, 0);
    if (n >= 1 && d[0] < 0x80) page_size = d[0] % 0x7f == 0 ? 0 : (int32_t)(d[0] * 5); /* mostly in range */
    char *tok = cstr(n > 4 ? d + 4 : d + n, n > 4 ? n - 4 : 0);
    ltc_status st = {0};
    int limit = -1;
    int64_t after = -1;
    int rc = ltc_page_parse(page_size, tok, &limit, &after, &st);
    if (rc == 0) {
        FUZZ_REQUIRE(page_size >= 0 && page_size <= 500, "page_size %d accepted", page_size);
        FUZZ_REQUIRE(limit == (page_size ? page_size : 50) + 1, "limit %d for page_size %d", limit, page_size);
        if (tok[0]) {
            FUZZ_REQUIRE(after > 0, "token %s decoded to seq %lld", tok, (long long)after);
            const char *again = ltc_page_token(call, after);
            FUZZ_REQUIRE(strcmp(again, tok) == 0, "token %s is seq %lld, whose token is %s", tok, (long long)after,
                         again);
        } else {
            FUZZ_REQUIRE(after == 0, "the empty token gave seq %lld", (long long)after);
        }
    } else {
        fuzz_check_failure(&st, "ltc_page_parse");
        FUZZ_REQUIRE(st.code == LTC_INVALID_ARGUMENT, "ltc_page_parse: %s", ltc_code_name(st.code));
    }
    /* and any positive seq's token is accepted back */
    if (n >= 8) {
        int64_t seq = (int64_t)((uint64_t)u32(d, n, 0) << 32 | u32(d, n, 4));
        if (seq > 0) {
            const char *t = ltc_page_token(call, seq);
            ltc_status st2 = {0};
            FUZZ_REQUIRE(ltc_page_parse(10, t, &limit, &after, &st2) == 0 && after == seq, "seq %lld: token %s refused",
                         (long long)seq, t);
        }
    }
    ltc_status_clear(&st);
    ltc_arena_reset(ltc_call_arena(call));
    free(tok);
}

static int hexd(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static int uuid_ref(const char *s) {
    if (strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        } else if (!hexd(s[i])) {
            return 0;
        }
    }
    return 1;
}

static void fuzz_name(const uint8_t *d, size_t n) {
    static const char *const collections[] = {"leads",     "opportunities", "bids",     "deals",     "quotes",
                                              "contracts", "orders",        "products", "resources", "shipments",
                                              "invoices",  "orderAccounts", "payments", ""};
    const size_t nc = sizeof collections / sizeof collections[0];
    const char *coll = collections[n ? d[0] % nc : 0];
    char *name = cstr(n ? d + 1 : d, n ? n - 1 : 0);
    char id[LTC_UUID_LEN + 1];
    ltc_status st = {0};
    int rc = ltc_name_parse(name, coll, "parent.name", id, &st);
    size_t cl = strlen(coll);
    int want = strncmp(name, coll, cl) == 0 && name[cl] == '/' && uuid_ref(name + cl + 1);
    FUZZ_REQUIRE((rc == 0) == want, "name \"%s\" in \"%s\": %s", name, coll, rc == 0 ? "accepted" : "refused");
    if (rc == 0) {
        FUZZ_REQUIRE(strlen(id) == 36 && strcasecmp(id, name + cl + 1) == 0, "id %s of %s", id, name);
        for (int i = 0; i < 36; i++) FUZZ_REQUIRE(!(id[i] >= 'A' && id[i] <= 'F'), "id %s not lower case", id);
    } else {
        fuzz_check_failure(&st, "ltc_name_parse");
        FUZZ_REQUIRE(st.n_violations == 1 && strcmp(st.violations[0].field, "parent.name") == 0,
                     "the violation does not name the field");
    }
    FUZZ_REQUIRE(ltc_uuid_valid(name) == uuid_ref(name), "ltc_uuid_valid(\"%s\") = %d", name, ltc_uuid_valid(name));
    ltc_status_clear(&st);
    free(name);
}

static long utf8_chars(const char *s) {
    long count = 0;
    for (const unsigned char *u = (const unsigned char *)s; *u; u++)
        if ((*u & 0xC0) != 0x80) count++;
    return count;
}

static void fuzz_text(const uint8_t *d, size_t n) {
    int required = n && (d[0] & 1);
    int max = n ? (d[0] >> 1) - 1 : -1; /* -1 (no limit) .. 126 */
    char *s = cstr(n ? d + 1 : d, n ? n - 1 : 0);
    ltc_status st = {0};
    int rc = ltc_check_text(s, "lead.company_name", required, max, &st);
    int want;
    if (!*s)
        want = !required;
    else
        want = fuzz_utf8_valid((const unsigned char *)s, strlen(s)) && (max < 0 || utf8_chars(s) <= max);
    FUZZ_REQUIRE((rc == 0) == want, "text of %zu bytes (required %d, max %d): %s", strlen(s), required, max,
                 rc == 0 ? "accepted" : st.message);
    if (rc != 0) fuzz_check_failure(&st, "ltc_check_text");
    ltc_status_clear(&st);
    free(s);
}

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static void fuzz_date(const uint8_t *d, size_t n) {
    Ltc__Type__V1__Date date = LTC__TYPE__V1__DATE__INIT;
    date.year = (int32_t)u32(d, n, 0);
    date.month = (int32_t)u32(d, n, 4);
    date.day = (int32_t)u32(d, n, 8);
    if (n > 12 && (d[12] & 1)) { /* mostly plausible values */
        date.year = (int32_t)(u32(d, n, 0) % 10002);
        date.month = (int32_t)(u32(d, n, 4) % 14);
        date.day = (int32_t)(u32(d, n, 8) % 33);
    }
    int allow_missing = n > 12 && (d[12] & 2);
    char out[11];
    ltc_status st = {0};
    int rc = ltc_date_to_text(n > 13 && (d[13] & 1) ? NULL : &date, "valid_until", allow_missing, out, &st);
    int empty = n > 13 && (d[13] & 1);
    empty = empty || (date.year == 0 && date.month == 0 && date.day == 0);
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int real = date.year >= 1 && date.year <= 9999 && date.month >= 1 && date.month <= 12 && date.day >= 1 &&
               date.day <= dim[date.month - 1] + (date.month == 2 && leap(date.year));
    FUZZ_REQUIRE((rc == 0) == (empty ? allow_missing : real), "date %d-%d-%d (missing %d, allowed %d): %s", date.year,
                 date.month, date.day, empty, allow_missing, rc == 0 ? out : st.message);
    if (rc == 0 && !empty) {
        char want[32];
        snprintf(want, sizeof want, "%04d-%02d-%02d", date.year, date.month, date.day);
        FUZZ_REQUIRE(strcmp(out, want) == 0, "date text %s, expected %s", out, want);
    } else if (rc != 0) {
        fuzz_check_failure(&st, "ltc_date_to_text");
    }
    ltc_status_clear(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
        case 0: fuzz_page(d, n); break;
        case 1: fuzz_name(d, n); break;
        case 2: fuzz_text(d, n); break;
        default: fuzz_date(d, n); break;
    }
    return 0;
}
