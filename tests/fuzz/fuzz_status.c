/* fuzz_status.c - libFuzzer target for error details (common/src/status.c): ltc_status_unpack_details on any bytes
 * (what a proxy or a client receives in grpc-status-details-bin), and the status setters with any text.
 * Input: the first byte picks the mode; the rest is the bytes (unpack) or the text (setters).
 * Properties, besides no crash / leak / UB:
 *   unpack   accepted => the reason and violations fit their buffers, NUL-terminated; packing that status again and
 *            unpacking it gives the same reason and violations (a fixed point after one round);
 *   setters  with valid UTF-8 text of any length (a field path, a description, a message quoting user input), the
 *            packed details hold valid UTF-8 (fuzz_check.h): truncation to the fixed buffers must not cut a
 *            character in two, or every client would refuse the trailer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "ltc/status.h"

static void unpack(const uint8_t *d, size_t n) {
    ltc_status st = {0};
    st.code = LTC_FAILED_PRECONDITION;
    snprintf(st.message, sizeof st.message, "from a peer");
    if (ltc_status_unpack_details(&st, d, n) != 0) return;
    FUZZ_REQUIRE(memchr(st.reason, 0, sizeof st.reason) != NULL, "reason not terminated");
    FUZZ_REQUIRE(st.n_violations <= LTC_STATUS_MAX_VIOLATIONS, "%zu violations", st.n_violations);
    for (size_t i = 0; i < st.n_violations; i++)
        FUZZ_REQUIRE(memchr(st.violations[i].field, 0, sizeof st.violations[i].field) &&
                         memchr(st.violations[i].description, 0, sizeof st.violations[i].description),
                     "violation %zu not terminated", i);
    if (!st.reason[0]) return; /* an empty reason is derived from the code when packed: not a fixed point */
    size_t len = 0;
    uint8_t *buf = ltc_status_pack_details(&st, "fuzz.ltc", "fuzz", &len);
    FUZZ_REQUIRE(buf != NULL, "pack failed");
    ltc_status again = {0};
    again.code = st.code;
    FUZZ_REQUIRE(ltc_status_unpack_details(&again, buf, len) == 0, "our own details do not unpack");
    FUZZ_REQUIRE(strcmp(again.reason, st.reason) == 0, "reason %s became %s", st.reason, again.reason);
    FUZZ_REQUIRE(again.n_violations == st.n_violations, "%zu violations became %zu", st.n_violations,
                 again.n_violations);
    for (size_t i = 0; i < st.n_violations; i++)
        FUZZ_REQUIRE(strcmp(again.violations[i].field, st.violations[i].field) == 0 &&
                         strcmp(again.violations[i].description, st.violations[i].description) == 0,
                     "violation %zu changed", i);
    free(buf);
    ltc_status_clear(&again);
    ltc_status_clear(&st);
}

/* Turns arbitrary bytes into valid UTF-8 (each byte or pair of bytes picks a code point, 1 to 4 bytes long). */
static char *utf8_from(const uint8_t *d, size_t n) {
    char *s = malloc(4 * n + 1);
    if (!s) abort();
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = d[i];
        if (cp >= 0x80 && i + 1 < n) cp = (cp << 8 | d[++i]) % 0x10FFFF;
        if (cp == 0) cp = 'a';
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0x4E2D; /* 中 */
        if (cp < 0x80) {
            s[o++] = (char)cp;
        } else if (cp < 0x800) {
            s[o++] = (char)(0xC0 | cp >> 6);
            s[o++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            s[o++] = (char)(0xE0 | cp >> 12);
            s[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
            s[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            s[o++] = (char)(0xF0 | cp >> 18);
            s[o++] = (char)(0x80 | (cp >> 12 & 0x3F));
            s[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
            s[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    s[o] = 0;
    return s;
}

static void setters(const uint8_t *d, size_t n) {
    size_t cut = n ? d[0] % (n + 1) : 0;
    char *a = utf8_from(d + (n ? 1 : 0), cut > 0 ? cut - 1 : 0);
    char *b = utf8_from(d + cut, n - cut);
    if (!*a || !*b) { /* the setters' callers always name a field and say something */
        free(a);
        free(b);
        return;
    }
    ltc_status st = {0};
    ltc_status_bad_field(&st, a, "%s", b);
    ltc_status_bad_field(&st, b, "must not be %s", a);
    fuzz_check_failure(&st, "ltc_status_bad_field");
    ltc_status_clear(&st);
    ltc_status_set(&st, LTC_FAILED_PRECONDITION, "ORDER_NOT_RELEASED", "order %s is %s, not RELEASED", a, b);
    fuzz_check_failure(&st, "ltc_status_set");
    ltc_status_clear(&st);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] & 1)
        setters(data + 1, size - 1);
    else
        unpack(data + 1, size - 1);
    return 0;
}
