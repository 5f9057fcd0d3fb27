/* Unit tests of the gateway's token checks (services/gateway/auth.c), its rate limiter (ratelimit.c) and the
 * permission table (common/src/access.c). Keys are made here (OpenSSL) and tokens signed with libjwt, including the
 * tokens an attacker would send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth.h"
#include "ltc/access.h"
#include "ratelimit.h"

#define ISS "https://idp.example.test"
#define AUD "ltc"
#define HS_SECRET "0123456789abcdef0123456789abcdef0123456789abcdef"

static char dir[256];
static char rs_priv[4096], rs_pub[2048], es_priv[1024], es_pub[1024], other_priv[4096];
static gw_auth *auth;
static time_t now;

static void pem_of(EVP_PKEY *k, int priv, char *out, size_t n) {
    BIO *b = BIO_new(BIO_s_mem());
    if (priv)
        PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    else
        PEM_write_bio_PUBKEY(b, k);
    char *data = NULL;
    long len = BIO_get_mem_data(b, &data);
    assert_true(len > 0 && (size_t)len < n);
    memcpy(out, data, (size_t)len);
    out[len] = 0;
    BIO_free(b);
}

static void write_file(const char *name, const char *content) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static gw_auth *load(const char *json, char *err, size_t n) {
    write_file("keys.json", json);
    char path[512];
    snprintf(path, sizeof path, "%s/keys.json", dir);
    return gw_auth_load(path, err, n);
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ltc-unit-auth-XXXXXX");
    assert_non_null(mkdtemp(dir));
    EVP_PKEY *rs = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *es = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(rs);
    assert_non_null(other);
    assert_non_null(es);
    pem_of(rs, 1, rs_priv, sizeof rs_priv);
    pem_of(rs, 0, rs_pub, sizeof rs_pub);
    pem_of(es, 1, es_priv, sizeof es_priv);
    pem_of(es, 0, es_pub, sizeof es_pub);
    pem_of(other, 1, other_priv, sizeof other_priv);
    EVP_PKEY_free(rs);
    EVP_PKEY_free(other);
    EVP_PKEY_free(es);
    write_file("rs.pub", rs_pub);
    write_file("es.pub", es_pub);
    write_file("hs.secret", HS_SECRET);
    char err[300] = "";
    auth = load("{\"issuer\": \"" ISS "\", \"audience\": \"" AUD "\", \"leeway_seconds\": 30, \"keys\": ["
                "{\"kid\": \"rs\", \"alg\": \"RS256\", \"file\": \"rs.pub\"},"
                "{\"kid\": \"es\", \"alg\": \"ES256\", \"file\": \"es.pub\"},"
                "{\"kid\": \"hs\", \"alg\": \"HS256\", \"file\": \"hs.secret\"}]}",
                err, sizeof err);
    if (!auth) fprintf(stderr, "load: %s\n", err);
    assert_non_null(auth);
    now = time(NULL);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    gw_auth_free(auth);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

typedef struct tok {
    jwt_alg_t alg;
    const char *kid; /* NULL: none */
    const char *key; /* signing key (PEM or secret) */
    const char *iss, *aud_json, *sub, *roles_json;
    long exp, nbf;     /* 0: left out */
    const char *extra; /* more claims, `"k": v` pairs; NULL: none */
} tok;

/* "Bearer <jwt>", malloc'd. */
static char *bearer(const tok *t) {
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    if (t->iss) jwt_add_grant(j, "iss", t->iss);
    if (t->sub) jwt_add_grant(j, "sub", t->sub);
    if (t->exp) jwt_add_grant_int(j, "exp", t->exp);
    if (t->nbf) jwt_add_grant_int(j, "nbf", t->nbf);
    char extra[512];
    snprintf(extra, sizeof extra, "{\"aud\": %s, \"roles\": %s%s%s}", t->aud_json ? t->aud_json : "\"" AUD "\"",
             t->roles_json ? t->roles_json : "[\"sales\"]", t->extra ? ", " : "", t->extra ? t->extra : "");
    assert_int_equal(jwt_add_grants_json(j, extra), 0);
    if (t->kid) jwt_add_header(j, "kid", t->kid);
    assert_int_equal(jwt_set_alg(j, t->alg, (const unsigned char *)t->key, (int)strlen(t->key)), 0);
    char *s = jwt_encode_str(j);
    assert_non_null(s);
    jwt_free(j);
    char *out = malloc(strlen(s) + 8);
    sprintf(out, "Bearer %s", s);
    free(s);
    return out;
}

static tok good(void) {
    return (tok){JWT_ALG_RS256, "rs", rs_priv, ISS, NULL, "ar.li.na", NULL, (long)now + 600, (long)now - 10};
}

static void expect(const tok *t, const char *reason) {
    char *b = bearer(t);
    gw_principal p;
    ltc_status st = {0};
    int rc = gw_auth_check(auth, b, now, &p, &st);
    if (reason) {
        if (rc == 0) fail_msg("accepted a token that should fail with %s", reason);
        assert_int_equal(st.code, LTC_UNAUTHENTICATED);
        assert_string_equal(st.reason, reason);
    } else {
        if (rc != 0) fail_msg("refused a good token: %s %s", st.reason, st.message);
    }
    ltc_status_clear(&st);
    free(b);
}

static void test_good_tokens_of_each_algorithm(void **state) {
    (void)state;
    tok t = good();
    char *b = bearer(&t);
    gw_principal p;
    ltc_status st = {0};
    assert_int_equal(gw_auth_check(auth, b, now, &p, &st), 0);
    assert_string_equal(p.subject, "ar.li.na");
    assert_int_equal(p.roles, LTC_ROLE_SALES);
    assert_int_equal(p.expires, (long)now + 600);
    free(b);
    t.alg = JWT_ALG_ES256, t.kid = "es", t.key = es_priv;
    expect(&t, NULL);
    t.alg = JWT_ALG_HS256, t.kid = "hs", t.key = HS_SECRET;
    expect(&t, NULL);
    /* an audience array holding ours; several roles, unknown ones ignored */
    t = good();
    t.aud_json = "[\"crm\", \"" AUD "\"]";
    t.roles_json = "[\"manager\", \"astronaut\", \"finance\"]";
    b = bearer(&t);
    assert_int_equal(gw_auth_check(auth, b, now, &p, &st), 0);
    assert_int_equal(p.roles, LTC_ROLE_MANAGER | LTC_ROLE_FINANCE);
    free(b);
    /* within the leeway */
    t = good();
    t.exp = (long)now - 20;
    expect(&t, NULL);
    t = good();
    t.nbf = (long)now + 20;
    expect(&t, NULL);
}

static void test_claims(void **state) {
    (void)state;
    tok t = good();
    t.exp = (long)now - 3600;
    expect(&t, "TOKEN_EXPIRED");
    t = good();
    t.exp = 0; /* no exp at all */
    expect(&t, "TOKEN_EXPIRED");
    t = good();
    t.nbf = (long)now + 3600;
    expect(&t, "TOKEN_NOT_YET_VALID");
    t = good();
    t.iss = "https://evil.example";
    expect(&t, "WRONG_ISSUER");
    t = good();
    t.iss = NULL;
    expect(&t, "WRONG_ISSUER");
    t = good();
    t.aud_json = "\"crm\"";
    expect(&t, "WRONG_AUDIENCE");
    t = good();
    t.aud_json = "[\"crm\"]";
    expect(&t, "WRONG_AUDIENCE");
    t = good();
    t.sub = NULL;
    expect(&t, "NO_SUBJECT");
    t = good();
    t.sub = "has space";
    expect(&t, "NO_SUBJECT");
    t = good();
    t.sub = "a,b"; /* would smuggle a second name into comma-separated metadata */
    expect(&t, "NO_SUBJECT");
    t = good();
    t.sub = "service:dtc"; /* the audit trail's name of a service: reserved */
    expect(&t, "NO_SUBJECT");
}

/* A bounded life (issue #19): exp - iat, or exp - now without iat, at most max_lifetime_seconds (24 h unless set). */
static void test_token_lifetime_is_bounded(void **state) {
    (void)state;
    tok t = good();
    t.exp = (long)now + 10L * 365 * 86400; /* the 10-year token */
    expect(&t, "TOKEN_LIFETIME_TOO_LONG");
    t = good();
    t.exp = (long)now + 86400 + 600; /* a day and ten minutes */
    expect(&t, "TOKEN_LIFETIME_TOO_LONG");
    t = good();
    t.exp = (long)now + 23 * 3600;
    expect(&t, NULL);
    char iat[64];
    snprintf(iat, sizeof iat, "\"iat\": %ld", (long)now - 2 * 86400); /* issued two days ago, valid one more hour */
    t = good();
    t.exp = (long)now + 3600;
    t.extra = iat;
    expect(&t, "TOKEN_LIFETIME_TOO_LONG");
    snprintf(iat, sizeof iat, "\"iat\": %ld", (long)now - 60);
    t.extra = iat;
    expect(&t, NULL);
}

/* The roles claim is configurable by JSON Pointer (an IdP that nests them, or names them by URL). */
static void test_roles_claim_path(void **state) {
    (void)state;
    char err[300] = "";
    gw_auth *nested = load("{\"issuer\": \"" ISS "\", \"audience\": \"" AUD "\", \"roles_claim\": "
                           "\"/realm_access/roles\", \"max_lifetime_seconds\": 3600, \"keys\": ["
                           "{\"kid\": \"rs\", \"alg\": \"RS256\", \"file\": \"rs.pub\"}]}",
                           err, sizeof err);
    if (!nested) fail_msg("load: %s", err);
    tok t = good();
    t.roles_json = "[\"admin\"]"; /* the top-level claim is not the one configured: ignored */
    t.extra = "\"realm_access\": {\"roles\": [\"finance\", \"auditor\", \"unknown-role\"]}";
    char *b = bearer(&t);
    gw_principal p;
    ltc_status st = {0};
    assert_int_equal(gw_auth_check(nested, b, now, &p, &st), 0);
    assert_int_equal(p.roles, LTC_ROLE_FINANCE | LTC_ROLE_AUDITOR);
    free(b);
    t = good();
    t.exp = (long)now + 7200; /* over this key set's one hour */
    b = bearer(&t);
    assert_int_equal(gw_auth_check(nested, b, now, &p, &st), -1);
    assert_string_equal(st.reason, "TOKEN_LIFETIME_TOO_LONG");
    ltc_status_clear(&st);
    free(b);
    gw_auth_free(nested);
    assert_null(
        load("{\"issuer\": \"i\", \"audience\": \"a\", \"roles_claim\": \"roles\", \"keys\": []}", err, sizeof err));
    assert_non_null(strstr(err, "roles_claim"));
    assert_null(load("{\"issuer\": \"i\", \"audience\": \"a\", \"max_lifetime_seconds\": 315360000, \"keys\": []}", err,
                     sizeof err));
    assert_non_null(strstr(err, "max_lifetime_seconds"));
}

static void test_keys_and_algorithms(void **state) {
    (void)state;
    tok t = good();
    t.key = other_priv; /* right kid, wrong key */
    expect(&t, "BAD_SIGNATURE");
    t = good();
    t.kid = "nope";
    expect(&t, "UNKNOWN_KEY");
    t = good();
    t.kid = NULL; /* several keys: the token must name one */
    expect(&t, "UNKNOWN_KEY");
    /* algorithm confusion: HS256 keyed with the RS256 public key's PEM, naming the RS256 key */
    t = good();
    t.alg = JWT_ALG_HS256;
    t.key = rs_pub;
    expect(&t, "ALGORITHM_NOT_ALLOWED");
    /* another algorithm of the same family is not the key's algorithm either */
    t = good();
    t.alg = JWT_ALG_RS512;
    expect(&t, "ALGORITHM_NOT_ALLOWED");
    /* an HS256 key named with an ES256 token */
    t = good();
    t.alg = JWT_ALG_ES256;
    t.key = es_priv;
    t.kid = "hs";
    expect(&t, "ALGORITHM_NOT_ALLOWED");
}

/* A token checked once is remembered (token_cache.h), which changes no verdict: the same token is accepted again
 * with the same principal, refused once it expires or before its nbf, and a key set read again (keys rotated)
 * remembers nothing of the old one's tokens. */
static void test_verified_tokens_are_remembered_not_trusted_forever(void **state) {
    (void)state;
    tok t = good();
    t.nbf = (long)now + 100; /* valid from now + 100 - 30 (leeway) */
    t.exp = (long)now + 600;
    char *b = bearer(&t);
    gw_principal p1, p2;
    ltc_status st = {0};
    assert_int_equal(gw_auth_check(auth, b, now + 70, &p1, &st), 0);
    assert_int_equal(gw_auth_check(auth, b, now + 70, &p2, &st), 0); /* from the cache */
    assert_string_equal(p2.subject, "ar.li.na");
    assert_int_equal(p2.roles, p1.roles);
    assert_int_equal(p2.expires, p1.expires);
    assert_int_equal(gw_auth_check(auth, b, now + 69, &p2, &st), -1); /* before nbf - leeway */
    assert_string_equal(st.reason, "TOKEN_NOT_YET_VALID");
    ltc_status_clear(&st);
    assert_int_equal(gw_auth_check(auth, b, now + 630, &p2, &st), 0); /* exp + leeway: still valid */
    assert_int_equal(gw_auth_check(auth, b, now + 631, &p2, &st), -1);
    assert_string_equal(st.reason, "TOKEN_EXPIRED");
    ltc_status_clear(&st);
    /* the key set again, without the key that signed it: refused at once */
    char err[300] = "";
    gw_auth *rotated = load("{\"issuer\": \"" ISS "\", \"audience\": \"" AUD "\", \"keys\": ["
                            "{\"kid\": \"es\", \"alg\": \"ES256\", \"file\": \"es.pub\"}]}",
                            err, sizeof err);
    assert_non_null(rotated);
    assert_int_equal(gw_auth_check(rotated, b, now + 70, &p2, &st), -1);
    assert_string_equal(st.reason, "UNKNOWN_KEY");
    ltc_status_clear(&st);
    gw_auth_free(rotated);
    free(b);
}

static void refuse_raw(const char *header, const char *reason) {
    gw_principal p;
    ltc_status st = {0};
    assert_int_equal(gw_auth_check(auth, header, now, &p, &st), -1);
    assert_int_equal(st.code, LTC_UNAUTHENTICATED);
    assert_string_equal(st.reason, reason);
    ltc_status_clear(&st);
}

static void test_malformed(void **state) {
    (void)state;
    refuse_raw(NULL, "MISSING_TOKEN");
    refuse_raw("", "MISSING_TOKEN");
    refuse_raw("Basic YWxhZGRpbjpvcGVuc2VzYW1l", "MALFORMED_TOKEN");
    refuse_raw("Bearer ", "MALFORMED_TOKEN");
    refuse_raw("Bearer a.b", "MALFORMED_TOKEN");
    refuse_raw("Bearer a.b.c.d", "MALFORMED_TOKEN");
    refuse_raw("Bearer !!!.e30.c2ln", "MALFORMED_TOKEN");
    refuse_raw("Bearer e30.e30.c2ln", "UNKNOWN_KEY"); /* "{}": no kid, several keys */
    /* {"alg":"none","kid":"rs"} with and without a signature */
    refuse_raw("Bearer eyJhbGciOiJub25lIiwia2lkIjoicnMifQ.e30.", "MALFORMED_TOKEN");
    refuse_raw("Bearer eyJhbGciOiJub25lIiwia2lkIjoicnMifQ.e30.c2ln", "ALGORITHM_NOT_ALLOWED");
    /* {"alg":"RS256","kid":"rs","crit":["exp"]} */
    refuse_raw("Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6InJzIiwiY3JpdCI6WyJleHAiXX0.e30.c2ln", "MALFORMED_TOKEN");
    /* "bearer" in any case */
    tok t = good();
    char *b = bearer(&t);
    memcpy(b, "BEARER", 6);
    gw_principal p;
    ltc_status st = {0};
    assert_int_equal(gw_auth_check(auth, b, now, &p, &st), 0);
    free(b);
    /* over 8 KiB */
    char *big = malloc(9000);
    memset(big, 'a', 8999);
    big[8999] = 0;
    memcpy(big, "Bearer a.", 9);
    big[100] = '.';
    refuse_raw(big, "MALFORMED_TOKEN");
    free(big);
}

static void refuse_load(const char *json, const char *needle) {
    char err[300] = "";
    gw_auth *a = load(json, err, sizeof err);
    if (a) fail_msg("loaded a bad key set: %s", json);
    if (!strstr(err, needle)) fail_msg("error '%s' does not say '%s'", err, needle);
}

static void test_key_set_errors(void **state) {
    (void)state;
    write_file("short.secret", "too short");
    refuse_load("{\"audience\": \"ltc\", \"keys\": [{\"kid\": \"a\", \"alg\": \"RS256\", \"file\": \"rs.pub\"}]}",
                "issuer");
    refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"keys\": []}", "keys");
    refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"keys\": [{\"kid\": \"a\", \"alg\": \"none\", "
                "\"file\": \"rs.pub\"}]}",
                "alg");
    refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"keys\": [{\"kid\": \"a\", \"alg\": \"HS256\", "
                "\"file\": \"rs.pub\"}]}",
                "not a PEM key");
    refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"keys\": [{\"kid\": \"a\", \"alg\": \"HS256\", "
                "\"file\": \"short.secret\"}]}",
                "at least 32 bytes");
    refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"keys\": [{\"kid\": \"a\", \"alg\": \"RS256\", "
                "\"file\": \"hs.secret\"}]}",
                "PEM public key");
    refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"keys\": [{\"kid\": \"a\", \"alg\": \"RS256\", "
                "\"file\": \"rs.pub\"}, {\"kid\": \"a\", \"alg\": \"ES256\", \"file\": \"es.pub\"}]}",
                "twice");
    refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"keys\": [{\"kid\": \"a\", \"alg\": \"RS256\", "
                "\"file\": \"missing.pem\"}]}",
                "cannot be read");
    refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"leeway_seconds\": 9999, \"keys\": [{\"kid\": \"a\", "
                "\"alg\": \"RS256\", \"file\": \"rs.pub\"}]}",
                "leeway");
    refuse_load("not json", "keys.json");
    /* one key: a token may leave kid out */
    char err[300] = "";
    gw_auth *one = load("{\"issuer\": \"" ISS "\", \"audience\": \"" AUD "\", \"keys\": [{\"kid\": \"rs\", "
                        "\"alg\": \"RS256\", \"file\": \"rs.pub\"}]}",
                        err, sizeof err);
    assert_non_null(one);
    assert_int_equal(gw_auth_key_count(one), 1);
    tok t = good();
    t.kid = NULL;
    char *b = bearer(&t);
    gw_principal p;
    ltc_status st = {0};
    assert_int_equal(gw_auth_check(one, b, now, &p, &st), 0);
    free(b);
    gw_auth_free(one);
}

/* base64url (no padding) of n bytes into out. */
static void b64url(const unsigned char *in, size_t n, char *out) {
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len > 0 && out[len - 1] == '=') len--;
    out[len] = 0;
    for (char *c = out; *c; c++) *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
}

static EVP_PKEY *parse_pub(const char *pem) {
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(k);
    return k;
}

/* The JWKs of the test's RSA and EC public keys, as an IdP publishes them. */
static void jwks_members(char *rsa_n, char *rsa_e, char *ec_x, char *ec_y) {
    EVP_PKEY *rs = parse_pub(rs_pub), *es = parse_pub(es_pub);
    BIGNUM *n = NULL, *e = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(rs, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(rs, OSSL_PKEY_PARAM_RSA_E, &e), 1);
    unsigned char buf[600];
    b64url(buf, (size_t)BN_bn2bin(n, buf), rsa_n);
    b64url(buf, (size_t)BN_bn2bin(e, buf), rsa_e);
    size_t len = 0;
    assert_int_equal(EVP_PKEY_get_octet_string_param(es, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len), 1);
    assert_int_equal(len, 65); /* 04 || x || y */
    b64url(buf + 1, 32, ec_x);
    b64url(buf + 33, 32, ec_y);
    BN_free(n);
    BN_free(e);
    EVP_PKEY_free(rs);
    EVP_PKEY_free(es);
}

static void test_jwks_file(void **state) {
    (void)state;
    char n[400], e[16], x[64], y[64], jwks[2048], err[300] = "";
    jwks_members(n, e, x, y);
    snprintf(
        jwks, sizeof jwks,
        "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"idp-rs\", \"use\": \"sig\", \"alg\": \"RS256\", \"n\": \"%s\", "
        "\"e\": \"%s\"}, {\"kty\": \"EC\", \"kid\": \"idp-es\", \"crv\": \"P-256\", \"x\": \"%s\", \"y\": \"%s\"}]}",
        n, e, x, y);
    write_file("idp.jwks", jwks);
    gw_auth *saved = auth;
    auth = load("{\"issuer\": \"" ISS "\", \"audience\": \"" AUD "\", \"jwks_file\": \"idp.jwks\", \"keys\": ["
                "{\"kid\": \"hs\", \"alg\": \"HS256\", \"file\": \"hs.secret\"}]}",
                err, sizeof err);
    if (!auth) fail_msg("JWKS key set refused: %s", err);
    assert_int_equal(gw_auth_key_count(auth), 3);
    tok t = good();
    t.kid = "idp-rs";
    expect(&t, NULL);
    t = good();
    t.alg = JWT_ALG_ES256;
    t.kid = "idp-es";
    t.key = es_priv;
    expect(&t, NULL);
    t.kid = "idp-rs"; /* an ES256 token naming the RSA key */
    expect(&t, "ALGORITHM_NOT_ALLOWED");
    t = good();
    t.kid = "idp-es"; /* an RS256 token naming the EC key (its algorithm, from the curve, is ES256) */
    expect(&t, "ALGORITHM_NOT_ALLOWED");
    t = good();
    t.kid = "idp-rs";
    t.key = other_priv;
    expect(&t, "BAD_SIGNATURE");
    gw_auth_free(auth);
    /* a JWKS alone is a key set */
    auth = load("{\"issuer\": \"" ISS "\", \"audience\": \"" AUD "\", \"jwks_file\": \"idp.jwks\"}", err, sizeof err);
    if (!auth) fail_msg("JWKS-only key set refused: %s", err);
    assert_int_equal(gw_auth_key_count(auth), 2);
    gw_auth_free(auth);
    auth = saved;

    static const char *const bad[][2] = {
        {"{\"keys\": [{\"kty\": \"oct\", \"kid\": \"s\", \"k\": \"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\"}]}",
         "kty"},
        {"{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"r\", \"n\": \"AQAB\", \"e\": \"AQAB\"}]}", "2048 bits"},
        {"{\"keys\": [{\"kty\": \"EC\", \"kid\": \"c\", \"crv\": \"P-256\", \"x\": \"AQAB\", \"y\": \"AQAB\"}]}",
         "of its size"},
        {"{\"keys\": [{\"kty\": \"EC\", \"kid\": \"c\", \"crv\": \"secp256k1\", \"x\": \"AQAB\", \"y\": \"AQAB\"}]}",
         "P-256"},
        {"{\"keys\": []}", "at least one key"},
        {"{\"keys\": [{\"kty\": \"RSA\", \"n\": \"AQAB\", \"e\": \"AQAB\"}]}", "kid"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file("bad.jwks", bad[i][0]);
        refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"jwks_file\": \"bad.jwks\"}", bad[i][1]);
    }
    /* a private key, a wrong use, a wrong alg, on the good key's members */
    char one[1200];
    snprintf(one, sizeof one,
             "{\"keys\": [{\"kty\": \"EC\", \"kid\": \"c\", \"crv\": \"P-256\", \"x\": \"%s\", "
             "\"y\": \"%s\", \"d\": \"AQAB\"}]}",
             x, y);
    write_file("bad.jwks", one);
    refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"jwks_file\": \"bad.jwks\"}", "private key");
    snprintf(one, sizeof one,
             "{\"keys\": [{\"kty\": \"EC\", \"kid\": \"c\", \"crv\": \"P-256\", \"x\": \"%s\", "
             "\"y\": \"%s\", \"use\": \"enc\"}]}",
             x, y);
    write_file("bad.jwks", one);
    refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"jwks_file\": \"bad.jwks\"}", "sig");
    snprintf(one, sizeof one,
             "{\"keys\": [{\"kty\": \"EC\", \"kid\": \"c\", \"crv\": \"P-256\", \"x\": \"%s\", "
             "\"y\": \"%s\", \"alg\": \"HS256\"}]}",
             x, y);
    write_file("bad.jwks", one);
    refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"jwks_file\": \"bad.jwks\"}", "does not fit");
    refuse_load("{\"issuer\": \"i\", \"audience\": \"ltc\", \"jwks_file\": \"missing.jwks\"}", "missing.jwks");
}

/* The key set re-read while running: a new kid is taken, a bad set is refused and the one in use stays. */
static void test_key_set_reload(void **state) {
    (void)state;
    char path[512], err[300] = "";
    snprintf(path, sizeof path, "%s/live.json", dir);
    write_file("live.json", "{\"issuer\": \"" ISS "\", \"audience\": \"" AUD "\", \"keys\": [{\"kid\": \"rs\", "
                            "\"alg\": \"RS256\", \"file\": \"rs.pub\"}]}");
    gw_keys *keys = gw_keys_open(path, err, sizeof err);
    if (!keys) fail_msg("%s", err);
    const gw_auth *in_use = gw_keys_acquire(keys);
    assert_int_equal(gw_auth_key_count(in_use), 1);
    assert_int_equal(gw_keys_check(keys, 0), 0);
    sleep(1); /* a rewrite in place within the same clock tick could keep size and time; the inode may be reused */
    write_file("live.json", "{\"issuer\": \"" ISS "\", \"audience\": \"" AUD "\", \"keys\": [{\"kid\": \"rs\", "
                            "\"alg\": \"RS256\", \"file\": \"rs.pub\"}, {\"kid\": \"es\", \"alg\": \"ES256\", "
                            "\"file\": \"es.pub\"}]}");
    assert_int_equal(gw_keys_check(keys, 0), 1);
    assert_int_equal(gw_auth_key_count(in_use), 1); /* what a call holds stays whole */
    gw_keys_release(keys, in_use);
    in_use = gw_keys_acquire(keys);
    assert_int_equal(gw_auth_key_count(in_use), 2);
    gw_keys_release(keys, in_use);
    sleep(1);
    write_file("live.json", "{\"issuer\": \"" ISS "\", \"audience\": \"" AUD "\", \"keys\": [{\"kid\": \"x\", "
                            "\"alg\": \"none\", \"file\": \"rs.pub\"}]}");
    assert_int_equal(gw_keys_check(keys, 0), -1);
    assert_int_equal(gw_keys_check(keys, 0), 0); /* not again until the next change */
    in_use = gw_keys_acquire(keys);
    assert_int_equal(gw_auth_key_count(in_use), 2);
    gw_keys_release(keys, in_use);
    gw_keys_close(keys);
}

static void test_rate_limiter(void **state) {
    (void)state;
    gw_limiter *l = gw_limiter_create(10, 5);
    assert_non_null(l);
    for (int i = 0; i < 5; i++) assert_int_equal(gw_limiter_take(l, "alice", 100.0), 0);
    int64_t wait = gw_limiter_take(l, "alice", 100.0);
    assert_true(wait > 0 && wait <= 100);
    assert_int_equal(gw_limiter_take(l, "bob", 100.0), 0);    /* others are not affected */
    assert_int_equal(gw_limiter_take(l, "alice", 100.11), 0); /* a token every 100 ms */
    assert_true(gw_limiter_take(l, "alice", 100.11) > 0);
    /* peek tells without taking: a host with tokens stays as it was, an empty one says how long to wait */
    assert_int_equal(gw_limiter_peek(l, "carol", 100.0), 0);
    for (int i = 0; i < 10; i++) assert_int_equal(gw_limiter_peek(l, "carol", 100.0), 0);
    for (int i = 0; i < 5; i++) assert_int_equal(gw_limiter_take(l, "carol", 100.0), 0);
    wait = gw_limiter_peek(l, "carol", 100.0);
    assert_true(wait > 0 && wait <= 100);
    assert_int_equal(gw_limiter_peek(l, "carol", 100.2), 0);
    /* thousands of callers: the table evicts the longest unused, never penalising anyone */
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "caller-%d", i);
        assert_int_equal(gw_limiter_take(l, name, 200.0 + i * 1e-6), 0);
    }
    gw_limiter_free(l);
}

static void test_permission_table(void **state) {
    (void)state;
    assert_int_equal(ltc_roles_parse("sales,manager"), LTC_ROLE_SALES | LTC_ROLE_MANAGER);
    assert_int_equal(ltc_roles_parse(" auditor , , nobody,admin"), LTC_ROLE_AUDITOR | LTC_ROLE_ADMIN);
    assert_int_equal(ltc_roles_parse(NULL), 0);
    char out[96];
    ltc_roles_format(LTC_ROLES_ALL, out, sizeof out);
    assert_string_equal(out, "sales,solution,fulfilment,finance,manager,admin,auditor");
    assert_int_equal(ltc_roles_parse(out), LTC_ROLES_ALL);
    ltc_roles_format(LTC_ROLE_SALES | LTC_ROLE_FINANCE, out, 10);
    assert_string_equal(out, "sales"); /* cut at a whole name */
    assert_int_equal(ltc_access_roles("/ltc.ltb.v1.IntakeService/AcceptCashCollected"), 0);
    assert_int_equal(ltc_access_roles("/nope"), 0);
    assert_true(ltc_access_roles("/ltc.dtc.v1.DeliveryToCashService/RecordPayment") & LTC_ROLE_FINANCE);
    assert_false(ltc_access_roles("/ltc.dtc.v1.DeliveryToCashService/RecordPayment") & LTC_ROLE_SALES);
    for (const ltc_access_rule *r = ltc_access_table; r->method; r++) {
        assert_true(r->roles != 0);
        /* the auditor reads and never writes */
        const char *rpc = strrchr(r->method, '/') + 1;
        int read = strncmp(rpc, "Get", 3) == 0 || strncmp(rpc, "List", 4) == 0 || strncmp(rpc, "Find", 4) == 0;
        if (!read && (r->roles & LTC_ROLE_AUDITOR)) fail_msg("auditor may call %s", r->method);
    }
    assert_false(ltc_access_all_deals(LTC_ROLES_TRIANGLE));
    assert_true(ltc_access_all_deals(LTC_ROLE_SALES | LTC_ROLE_MANAGER));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_tokens_of_each_algorithm),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_token_lifetime_is_bounded),
        cmocka_unit_test(test_roles_claim_path),
        cmocka_unit_test(test_keys_and_algorithms),
        cmocka_unit_test(test_verified_tokens_are_remembered_not_trusted_forever),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_key_set_errors),
        cmocka_unit_test(test_jwks_file),
        cmocka_unit_test(test_key_set_reload),
        cmocka_unit_test(test_rate_limiter),
        cmocka_unit_test(test_permission_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
