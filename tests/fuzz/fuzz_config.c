/* fuzz_config.c - libFuzzer target for configuration parsing (common/src/config.c): ltc_env_int (through setenv),
 * ltc_addr_valid and ltc_redact_dsn. The first byte picks the parser; the rest is its input.
 * Properties, besides no crash / UB:
 *   env int   accepted <=> optional sign and decimal digits only, within [min, max] (reference: strtoll);
 *             an empty value gives the default;
 *   address   accepted => "host:port" or "[v6]:port" with a port 1..65535, and an IPv4-looking host is a real
 *             dotted quad;
 *   DSN       libpq is the reference parser: when PQconninfoParse reads a password from the input, the secret is
 *             gone from the redacted text (the password libpq reads from it starts with "***", and the secret's
 *             text occurs in it fewer times than in the input); with LTC_FUZZ_STRICT_DSN=1 the redacted text must
 *             also mean the same to libpq, with the password exactly "***". The output is always NUL-terminated within its buffer, even a tiny one. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "ltc/config.h"

#define MAX_TEXT 2048

static char *cstr(const uint8_t *d, size_t n) {
    if (n > MAX_TEXT) n = MAX_TEXT;
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, d, n);
    s[n] = 0;
    return s;
}

static void fuzz_env_int(const uint8_t *d, size_t n) {
    if (n < 2) return;
    static const long bounds[] = {0, 1, 8, 100, 65535, 4194304, 2147483647L, -1, -2147483647L - 1};
    const size_t nb = sizeof bounds / sizeof bounds[0];
    long lo = bounds[d[0] % nb], hi = bounds[d[1] % nb];
    if (lo > hi) {
        long t = lo;
        lo = hi;
        hi = t;
    }
    char *v = cstr(d + 2, n - 2);
    setenv("LTC_FUZZ_INT", v, 1);
    long out = 12345;
    char err[200] = "";
    int rc = ltc_env_int("LTC_FUZZ_INT", 7, lo, hi, &out, err, sizeof err);
    int want;
    long ref = 7;
    if (!*v) {
        want = 1;
    } else {
        const char *p = v + (*v == '+' || *v == '-');
        int digits = *p != 0;
        for (const char *q = p; *q; q++) digits = digits && isdigit((unsigned char)*q);
        errno = 0;
        long long x = digits ? strtoll(v, NULL, 10) : 0;
        want = digits && errno != ERANGE && x >= lo && x <= hi;
        ref = (long)x;
    }
    FUZZ_REQUIRE((rc == 0) == want, "LTC_FUZZ_INT=\"%s\" in [%ld, %ld]: %s", v, lo, hi, rc == 0 ? "accepted" : err);
    if (rc == 0) FUZZ_REQUIRE(out == ref, "LTC_FUZZ_INT=\"%s\" read as %ld", v, out);
    if (rc != 0) FUZZ_REQUIRE(err[0] && strlen(err) < sizeof err, "no error text");
    unsetenv("LTC_FUZZ_INT");
    free(v);
}

static void fuzz_addr(const uint8_t *d, size_t n) {
    char *a = cstr(d, n);
    if (ltc_addr_valid(a) == 0) {
        const char *colon = strrchr(a, ':');
        FUZZ_REQUIRE(colon != NULL, "address \"%s\" accepted without a port", a);
        long port = strtol(colon + 1, NULL, 10);
        FUZZ_REQUIRE(port >= 1 && port <= 65535, "address \"%s\" accepted with port %ld", a, port);
        if (a[0] == '[') {
            char buf[64];
            size_t hl = (size_t)(strchr(a, ']') - a - 1);
            FUZZ_REQUIRE(hl < sizeof buf, "v6 host too long");
            memcpy(buf, a + 1, hl);
            buf[hl] = 0;
            struct in6_addr a6;
            FUZZ_REQUIRE(inet_pton(AF_INET6, buf, &a6) == 1, "address \"%s\": not IPv6", a);
        } else {
            size_t hl = (size_t)(colon - a);
            FUZZ_REQUIRE(hl > 0, "address \"%s\" accepted with an empty host", a);
            if (strspn(a, "0123456789.") == hl) {
                char buf[64];
                FUZZ_REQUIRE(hl < sizeof buf, "v4 host too long");
                memcpy(buf, a, hl);
                buf[hl] = 0;
                struct in_addr a4;
                FUZZ_REQUIRE(inet_pton(AF_INET, buf, &a4) == 1, "address \"%s\": digits and dots, not IPv4", a);
            }
        }
    }
    free(a);
}

/* The value of `key` in parsed options, or NULL. */
static const char *opt(const PQconninfoOption *o, const char *key) {
    for (; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0) return o->val;
    return NULL;
}

/* Occurrences of needle in hay (overlapping). */
static size_t count(const char *hay, const char *needle) {
    size_t n = 0, nl = strlen(needle);
    for (const char *p = hay; nl && (p = strstr(p, needle)) != NULL; p++) n++;
    return n;
}

/* A password worth looking for as text: 4+ letters and digits (shorter ones, or ones with DSN or URI syntax in them,
 * occur in any DSN by chance, e.g. "@" or "*"). */
static int alnum_secret(const char *pw) {
    size_t n = strlen(pw);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)pw[i])) return 0;
    return n >= 4;
}

static void fuzz_dsn(const uint8_t *d, size_t n) {
    char *dsn = cstr(d, n);
    size_t cap = 3 * strlen(dsn) + 64;
    char *out = malloc(cap);
    if (!out) abort();
    memset(out, 'x', cap);
    ltc_redact_dsn(dsn, out, cap);
    FUZZ_REQUIRE(memchr(out, 0, cap) != NULL, "redacted DSN not NUL-terminated");
    /* a tiny buffer: still terminated, nothing written past it */
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    size_t tn = n ? d[0] % sizeof tiny : 0;
    ltc_redact_dsn(dsn, tiny, tn);
    if (tn) FUZZ_REQUIRE(memchr(tiny, 0, tn) != NULL, "tiny output not NUL-terminated");
    for (size_t i = tn; i < sizeof tiny; i++) FUZZ_REQUIRE(tiny[i] == 'x', "wrote past a %zu-byte buffer", tn);

    char *err = NULL;
    PQconninfoOption *in = PQconninfoParse(dsn, &err);
    PQfreemem(err);
    const char *pw = in ? opt(in, "password") : NULL;
    if (pw && *pw && strlen(out) + 1 < cap) {
        /* the secret is gone: the password libpq reads from the output starts with the "***" that replaced it (after
         * a quoted value libpq may read more of the DSN into it: LTC_FUZZ_STRICT_DSN=1 checks that too), and the
         * password's text occurs in the output fewer times than in the input (it may legitimately occur elsewhere,
         * e.g. inside the user name) */
        err = NULL;
        PQconninfoOption *red = PQconninfoParse(out, &err);
        PQfreemem(err);
        const char *rpw = red ? opt(red, "password") : NULL;
        FUZZ_REQUIRE(!rpw || !*rpw || strncmp(rpw, "***", 3) == 0,
                     "DSN \"%s\" redacted to \"%s\": libpq reads the password %s", dsn, out, rpw);
        if (getenv("LTC_FUZZ_STRICT_DSN"))
            FUZZ_REQUIRE(!rpw || strcmp(rpw, "***") == 0, "DSN \"%s\" redacted to \"%s\": password %s", dsn, out, rpw);
        size_t in_n = alnum_secret(pw) ? count(dsn, pw) : 0, out_n = count(out, pw);
        /* a percent-encoded password ("p%46ss" is "pFss") is not its own text in the input: then its text may only
         * occur elsewhere (a host, say), and the output may keep those occurrences but add none */
        const int encoded = strchr(dsn, '%') != NULL;
        FUZZ_REQUIRE(in_n == 0 || out_n < in_n || (encoded && out_n <= in_n),
                     "DSN \"%s\" redacted to \"%s\" still holds the password \"%s\"", dsn, out, pw);
        /* the rest means the same to libpq (LTC_FUZZ_STRICT_DSN=1: a redacted malformed URI may drop more than the
         * password, which hides nothing secret but makes the log line less exact) */
        if (red && getenv("LTC_FUZZ_STRICT_DSN")) {
            for (const PQconninfoOption *o = in; o->keyword; o++) {
                if (strcmp(o->keyword, "password") == 0) continue;
                const char *r = opt(red, o->keyword);
                FUZZ_REQUIRE((o->val == NULL) == (r == NULL) && (!o->val || strcmp(o->val, r) == 0),
                             "DSN \"%s\" redacted to \"%s\": %s changed from %s to %s", dsn, out, o->keyword,
                             o->val ? o->val : "(unset)", r ? r : "(unset)");
            }
        }
        FUZZ_REQUIRE(red || !getenv("LTC_FUZZ_STRICT_DSN"), "DSN \"%s\" redacted to \"%s\", which libpq cannot parse",
                     dsn, out);
        PQconninfoFree(red);
    }
    PQconninfoFree(in);
    free(out);
    free(dsn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    switch (data[0] % 3) {
        case 0: fuzz_env_int(data + 1, size - 1); break;
        case 1: fuzz_addr(data + 1, size - 1); break;
        default: fuzz_dsn(data + 1, size - 1); break;
    }
    return 0;
}
