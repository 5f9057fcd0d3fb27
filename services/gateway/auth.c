/* auth.c - bearer token (JWT) checks for the gateway; see auth.h for the rules. The header is read here first so
 * that a token can only be checked with the key it names and that key's one algorithm; libjwt then checks the
 * signature; the claims are read from the verified token. */
#include "auth.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltc/access.h"
#include "ltc/log.h"
#include "ltc/metrics.h"
#include "ltc/reload.h"
#include "token_cache.h"

enum {
    VERIFIED_TOKENS = 4096, /* tokens remembered as verified (token_cache.h): about 1 MiB */
    MAX_KEYS = 16,
    MAX_TOKEN = 8192,
    MAX_KEY_BYTES = 64 * 1024
};

typedef struct gw_key {
    char kid[65];
    jwt_alg_t alg;
    unsigned char *bytes; /* PEM, or the HMAC secret */
    size_t len;
} gw_key;

struct gw_auth {
    char issuer[256];
    char audience[256];
    long leeway;
    long max_lifetime;     /* seconds a token may live: exp - iat (or exp - now without iat) */
    char roles_claim[256]; /* JSON Pointer (RFC 6901) to the roles in the claims, "/roles" by default */
    gw_key keys[MAX_KEYS];
    size_t n_keys;
    ltc_file_stamps stamps;   /* the key set and its key files, as they were just before being read */
    int refs;                 /* gw_keys: the holder's own (while in use) and every acquire's */
    gw_token_cache *verified; /* tokens this key set verified (token_cache.h): a new key set starts with none */
};

size_t gw_auth_key_count(const gw_auth *a) { return a->n_keys; }

void gw_auth_free(gw_auth *a) {
    if (!a) return;
    for (size_t i = 0; i < a->n_keys; i++) {
        OPENSSL_cleanse(a->keys[i].bytes, a->keys[i].len);
        free(a->keys[i].bytes);
    }
    ltc_file_stamps_free(&a->stamps);
    gw_token_cache_free(a->verified);
    free(a);
}

static unsigned char *read_key(const char *dir, const char *file, size_t *len, ltc_file_stamps *stamps, char *err,
                               size_t errlen) {
    char path[1024];
    if (file[0] == '/')
        snprintf(path, sizeof path, "%s", file);
    else
        snprintf(path, sizeof path, "%s/%s", dir, file);
    ltc_file_stamps_add(stamps, path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "key file %s cannot be read: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = malloc(MAX_KEY_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_KEY_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n > MAX_KEY_BYTES) {
        free(buf);
        snprintf(err, errlen, "key file %s is empty or over 64 KiB", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static unsigned char *b64url_decode(const char *in, size_t n, size_t *out_len);

/* A base64url member of a JWK as a BIGNUM (RSA n, e) or bytes; NULL when missing or malformed. */
static unsigned char *jwk_bytes(json_t *jwk, const char *member, size_t *len) {
    const char *v = json_string_value(json_object_get(jwk, member));
    return v ? b64url_decode(v, strlen(v), len) : NULL;
}

/* The public key of an RFC 7517 JWK (kty RSA with n, e; kty EC with crv P-256/P-384/P-521, x, y) as PEM (malloc'd),
 * with its algorithm: the JWK's "alg", else RS256 for RSA and ES256/384/512 by curve. NULL with err set. */
static unsigned char *jwk_to_pem(json_t *jwk, jwt_alg_t *alg, size_t *pem_len, char *err, size_t errlen) {
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const char *alg_text = json_string_value(json_object_get(jwk, "alg"));
    if (!kty || (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0)) {
        snprintf(err, errlen, "\"kty\" must be RSA or EC (no symmetric keys in a JWKS)");
        return NULL;
    }
    if (json_object_get(jwk, "d") || json_object_get(jwk, "p")) {
        snprintf(err, errlen, "holds a private key: a key set holds public keys only");
        return NULL;
    }
    if (use && strcmp(use, "sig") != 0) {
        snprintf(err, errlen, "\"use\" is \"%.20s\", not \"sig\"", use);
        return NULL;
    }
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    BIGNUM *n = NULL, *e = NULL;
    unsigned char *a = NULL, *b = NULL, *point = NULL, *pem = NULL;
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    const char *type = kty;
    if (strcmp(kty, "RSA") == 0) {
        size_t n_len = 0, e_len = 0;
        a = jwk_bytes(jwk, "n", &n_len);
        b = jwk_bytes(jwk, "e", &e_len);
        if (!a || !b || n_len < 256) { /* RSA under 2048 bits is refused */
            snprintf(err, errlen, "RSA needs base64url \"n\" (2048 bits or more) and \"e\"");
            goto out;
        }
        n = BN_bin2bn(a, (int)n_len, NULL);
        e = BN_bin2bn(b, (int)e_len, NULL);
        if (!bld || !n || !e || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
            goto bad;
        *alg = JWT_ALG_RS256;
    } else {
        const char *crv = json_string_value(json_object_get(jwk, "crv"));
        const char *group = NULL;
        size_t size = 0;
        if (crv && strcmp(crv, "P-256") == 0) group = "prime256v1", size = 32, *alg = JWT_ALG_ES256;
        if (crv && strcmp(crv, "P-384") == 0) group = "secp384r1", size = 48, *alg = JWT_ALG_ES384;
        if (crv && strcmp(crv, "P-521") == 0) group = "secp521r1", size = 66, *alg = JWT_ALG_ES512;
        size_t x_len = 0, y_len = 0;
        a = jwk_bytes(jwk, "x", &x_len);
        b = jwk_bytes(jwk, "y", &y_len);
        if (!group || !a || !b || x_len != size || y_len != size) {
            snprintf(err, errlen, "EC needs \"crv\" P-256, P-384 or P-521 and base64url \"x\", \"y\" of its size");
            goto out;
        }
        point = malloc(1 + 2 * size);
        if (!point) goto bad;
        point[0] = 0x04; /* uncompressed */
        memcpy(point + 1, a, size);
        memcpy(point + 1 + size, b, size);
        if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size))
            goto bad;
    }
    if (alg_text) {
        jwt_alg_t named = jwt_str_alg(alg_text);
        int rsa = strcmp(kty, "RSA") == 0;
        int fits = rsa ? named == JWT_ALG_RS256 || named == JWT_ALG_RS384 || named == JWT_ALG_RS512 : named == *alg;
        if (!fits) {
            snprintf(err, errlen, "\"alg\" \"%.20s\" does not fit a key of kty %s", alg_text, kty);
            goto out;
        }
        *alg = named;
    }
    if (!(params = OSSL_PARAM_BLD_to_param(bld)) || !(ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) ||
        EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto bad;
    {
        BIO *mem = BIO_new(BIO_s_mem());
        char *data = NULL;
        long len = mem && PEM_write_bio_PUBKEY(mem, key) == 1 ? BIO_get_mem_data(mem, &data) : 0;
        if (len > 0 && (pem = malloc((size_t)len + 1))) {
            memcpy(pem, data, (size_t)len);
            pem[len] = 0;
            *pem_len = (size_t)len;
        }
        BIO_free(mem);
    }
    if (pem) goto out;
bad:
    snprintf(err, errlen, "is not a usable %s public key", kty);
out:
    ERR_clear_error();
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    free(a);
    free(b);
    free(point);
    return pem;
}

/* Adds the keys of the JWK Set (RFC 7517) in file `file` (relative to dir) to a. 0, or -1 with err set. */
static int load_jwks(gw_auth *a, const char *dir, const char *file, const char *set_path, char *err, size_t errlen) {
    char path[1024];
    if (file[0] == '/')
        snprintf(path, sizeof path, "%s", file);
    else
        snprintf(path, sizeof path, "%s/%s", dir, file);
    ltc_file_stamps_add(&a->stamps, path);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    json_t *keys = json_object_get(root, "keys");
    int rc = -1;
    if (!root) {
        snprintf(err, errlen, "%s (jwks_file of %s): %s (line %d)", path, set_path, je.text, je.line);
        goto out;
    }
    if (!json_is_array(keys) || json_array_size(keys) == 0) {
        snprintf(err, errlen, "%s: a JWK Set needs \"keys\", an array of at least one key", path);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *jwk = json_array_get(keys, i);
        const char *kid = json_string_value(json_object_get(jwk, "kid"));
        if (a->n_keys == MAX_KEYS) {
            snprintf(err, errlen, "%s: more than %d keys in all", path, MAX_KEYS);
            goto out;
        }
        gw_key *key = &a->keys[a->n_keys];
        if (!kid || !kid[0] || strlen(kid) >= sizeof key->kid) {
            snprintf(err, errlen, "%s: keys[%zu] needs \"kid\" (1-64 characters)", path, i);
            goto out;
        }
        for (size_t j = 0; j < a->n_keys; j++)
            if (strcmp(a->keys[j].kid, kid) == 0) {
                snprintf(err, errlen, "%s: kid \"%s\" appears twice", path, kid);
                goto out;
            }
        char why[200];
        key->bytes = jwk_to_pem(jwk, &key->alg, &key->len, why, sizeof why);
        if (!key->bytes) {
            snprintf(err, errlen, "%s: keys[%zu] (kid \"%s\") %s", path, i, kid, why);
            goto out;
        }
        snprintf(key->kid, sizeof key->kid, "%s", kid);
        a->n_keys++;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* gw_auth_load; when it fails and `seen` is given, the stamps of the files it read (taken before reading each) go there,
 * so that a file changed while it was read counts as a change at the next check. */
static gw_auth *load_stamped(const char *path, ltc_file_stamps *seen, char *err, size_t errlen) {
    gw_auth *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ltc_file_stamps_add(&a->stamps, path);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "%s: %s (line %d)", path, je.text, je.line);
        if (seen) {
            *seen = a->stamps;
            memset(&a->stamps, 0, sizeof a->stamps);
        }
        gw_auth_free(a);
        return NULL;
    }
    char dir[900];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    const char *iss = json_string_value(json_object_get(root, "issuer"));
    const char *aud = json_string_value(json_object_get(root, "audience"));
    json_t *leeway = json_object_get(root, "leeway_seconds");
    json_t *keys = json_object_get(root, "keys");
    if (!a) goto fail_oom;
    if (!iss || !iss[0] || strlen(iss) >= sizeof a->issuer) {
        snprintf(err, errlen, "%s: \"issuer\" must be a non-empty string", path);
        goto fail;
    }
    if (!aud || !aud[0] || strlen(aud) >= sizeof a->audience) {
        snprintf(err, errlen, "%s: \"audience\" must be a non-empty string", path);
        goto fail;
    }
    snprintf(a->issuer, sizeof a->issuer, "%s", iss);
    snprintf(a->audience, sizeof a->audience, "%s", aud);
    a->leeway = leeway ? (long)json_integer_value(leeway) : 30;
    if ((leeway && !json_is_integer(leeway)) || a->leeway < 0 || a->leeway > 300) {
        snprintf(err, errlen, "%s: \"leeway_seconds\" must be an integer 0-300", path);
        goto fail;
    }
    json_t *max_life = json_object_get(root, "max_lifetime_seconds");
    a->max_lifetime = max_life ? (long)json_integer_value(max_life) : 86400;
    if ((max_life && !json_is_integer(max_life)) || a->max_lifetime < 60 || a->max_lifetime > 7 * 86400) {
        snprintf(err, errlen, "%s: \"max_lifetime_seconds\" must be an integer 60-604800", path);
        goto fail;
    }
    json_t *roles_claim = json_object_get(root, "roles_claim");
    const char *rc_text = roles_claim ? json_string_value(roles_claim) : "/roles";
    if (!rc_text || rc_text[0] != '/' || strlen(rc_text) >= sizeof a->roles_claim) {
        snprintf(err, errlen,
                 "%s: \"roles_claim\" must be a JSON Pointer such as \"/roles\" or "
                 "\"/realm_access/roles\" (under 256 characters)",
                 path);
        goto fail;
    }
    snprintf(a->roles_claim, sizeof a->roles_claim, "%s", rc_text);
    json_t *jwks_file = json_object_get(root, "jwks_file");
    if (jwks_file && (!json_string_value(jwks_file) || !json_string_value(jwks_file)[0])) {
        snprintf(err, errlen, "%s: \"jwks_file\" must be a file name", path);
        goto fail;
    }
    if ((keys || !jwks_file) &&
        (!json_is_array(keys) || json_array_size(keys) == 0 || json_array_size(keys) > MAX_KEYS)) {
        snprintf(err, errlen, "%s: \"keys\" must be an array of 1-%d keys (or give \"jwks_file\")", path, MAX_KEYS);
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i);
        const char *kid = json_string_value(json_object_get(k, "kid"));
        const char *alg = json_string_value(json_object_get(k, "alg"));
        const char *file = json_string_value(json_object_get(k, "file"));
        gw_key *key = &a->keys[a->n_keys];
        if (!kid || !kid[0] || strlen(kid) >= sizeof key->kid || !alg || !file) {
            snprintf(err, errlen, "%s: keys[%zu] needs \"kid\" (1-64 characters), \"alg\" and \"file\"", path, i);
            goto fail;
        }
        for (size_t j = 0; j < a->n_keys; j++)
            if (strcmp(a->keys[j].kid, kid) == 0) {
                snprintf(err, errlen, "%s: kid \"%s\" appears twice", path, kid);
                goto fail;
            }
        key->alg = jwt_str_alg(alg);
        if (key->alg == JWT_ALG_INVAL || key->alg == JWT_ALG_NONE) {
            snprintf(err, errlen, "%s: keys[%zu].alg \"%s\" is not one of HS/RS/ES 256/384/512", path, i, alg);
            goto fail;
        }
        snprintf(key->kid, sizeof key->kid, "%s", kid);
        key->bytes = read_key(dir, file, &key->len, &a->stamps, err, errlen);
        if (!key->bytes) goto fail;
        a->n_keys++;
        int hmac = key->alg == JWT_ALG_HS256 || key->alg == JWT_ALG_HS384 || key->alg == JWT_ALG_HS512;
        int pem = strstr((const char *)key->bytes, "-----BEGIN") != NULL;
        if (hmac && (pem || key->len < 32)) {
            snprintf(err, errlen, "%s: keys[%zu] (%s) needs a secret of at least 32 bytes, not a PEM key", path, i,
                     alg);
            goto fail;
        }
        if (!hmac && !pem) {
            snprintf(err, errlen, "%s: keys[%zu] (%s) needs a PEM public key", path, i, alg);
            goto fail;
        }
    }
    if (jwks_file && load_jwks(a, dir, json_string_value(jwks_file), path, err, errlen) != 0) goto fail;
    if (!(a->verified = gw_token_cache_new(VERIFIED_TOKENS))) goto fail_oom;
    json_decref(root);
    return a;
fail_oom:
    snprintf(err, errlen, "out of memory");
fail:
    if (seen) {
        *seen = a->stamps;
        memset(&a->stamps, 0, sizeof a->stamps);
    }
    gw_auth_free(a);
    json_decref(root);
    return NULL;
}

gw_auth *gw_auth_load(const char *path, char *err, size_t errlen) { return load_stamped(path, NULL, err, errlen); }

/* base64url (no padding) to bytes; NULL when malformed. */
static unsigned char *b64url_decode(const char *in, size_t n, size_t *out_len) {
    if (n == 0 || n % 4 == 1) return NULL;
    size_t padded = (n + 3) / 4 * 4;
    unsigned char *tmp = malloc(padded + 1), *out = malloc(padded / 4 * 3 + 1);
    if (!tmp || !out) goto fail;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            goto fail;
        tmp[i] = (unsigned char)c;
    }
    for (size_t i = n; i < padded; i++) tmp[i] = '=';
    int len = EVP_DecodeBlock(out, tmp, (int)padded);
    if (len < 0) goto fail;
    len -= (int)(padded - n); /* EVP_DecodeBlock counts the padding as zero bytes */
    free(tmp);
    out[len] = 0;
    *out_len = (size_t)len;
    return out;
fail:
    free(tmp);
    free(out);
    return NULL;
}

static int audience_ok(json_t *aud, const char *want) {
    if (json_is_string(aud)) return strcmp(json_string_value(aud), want) == 0;
    if (!json_is_array(aud)) return 0;
    for (size_t i = 0; i < json_array_size(aud); i++)
        if (json_is_string(json_array_get(aud, i)) && strcmp(json_string_value(json_array_get(aud, i)), want) == 0)
            return 1;
    return 0;
}

static int subject_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 128) return 0;
    /* "service:<name>" is how the audit trail names the services themselves (hand-offs): no user may take it */
    if (strncmp(s, "service:", 8) == 0) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p > 0x7e || *p == ',') return 0;
    return 1;
}

/* The claim at JSON Pointer `ptr` (RFC 6901: "/a/b", "~1" for '/', "~0" for '~'), or NULL. */
static json_t *claim_at(json_t *claims, const char *ptr) {
    json_t *v = claims;
    char key[256];
    for (const char *p = ptr; v && *p == '/';) {
        p++;
        size_t n = 0;
        while (*p && *p != '/' && n + 1 < sizeof key) {
            if (p[0] == '~' && (p[1] == '0' || p[1] == '1')) {
                key[n++] = p[1] == '0' ? '~' : '/';
                p += 2;
            } else {
                key[n++] = *p++;
            }
        }
        key[n] = 0;
        v = json_is_object(v) ? json_object_get(v, key) : NULL;
    }
    return v;
}

int gw_auth_check(const gw_auth *a, const char *authorization, time_t now, gw_principal *p, ltc_status *st) {
    memset(p, 0, sizeof *p);
    if (!authorization || !authorization[0])
        return ltc_status_set(st, LTC_UNAUTHENTICATED, "MISSING_TOKEN",
                              "an `authorization: Bearer <token>` header is required");
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return ltc_status_set(st, LTC_UNAUTHENTICATED, "MALFORMED_TOKEN",
                              "the authorization header must be `Bearer <token>`");
    const char *token = authorization + 7;
    size_t tlen = strlen(token);
    const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (tlen > MAX_TOKEN || !dot1 || !dot2 || strchr(dot2 + 1, '.') || dot2[1] == 0)
        return ltc_status_set(st, LTC_UNAUTHENTICATED, "MALFORMED_TOKEN",
                              "the token is not a signed JWT (header.payload.signature)");

    /* a token this key set verified before, still inside its validity window: what the check found then */
    unsigned char hash[GW_TOKEN_HASH_LEN];
    gw_token_hash(token, tlen, hash);
    if (gw_token_cache_get(a->verified, hash, now, p)) return 0;

    /* the header decides nothing by itself: it names a key, and must name that key's algorithm */
    size_t hlen = 0;
    unsigned char *hraw = b64url_decode(token, (size_t)(dot1 - token), &hlen);
    json_t *hdr = hraw ? json_loadb((const char *)hraw, hlen, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(hraw);
    if (!json_is_object(hdr)) {
        json_decref(hdr);
        return ltc_status_set(st, LTC_UNAUTHENTICATED, "MALFORMED_TOKEN", "the token header is not base64url JSON");
    }
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    int has_crit = json_object_get(hdr, "crit") != NULL;
    const gw_key *key = NULL;
    for (size_t i = 0; i < a->n_keys && !key; i++)
        if (kid ? strcmp(kid, a->keys[i].kid) == 0 : a->n_keys == 1) key = &a->keys[i];
    int alg_ok = alg && key && jwt_str_alg(alg) == key->alg;
    json_decref(hdr);
    if (has_crit)
        return ltc_status_set(st, LTC_UNAUTHENTICATED, "MALFORMED_TOKEN",
                              "the token has critical header parameters we do not support");
    if (!key) return ltc_status_set(st, LTC_UNAUTHENTICATED, "UNKNOWN_KEY", "the token names no key of ours (kid)");
    if (!alg_ok)
        return ltc_status_set(st, LTC_UNAUTHENTICATED, "ALGORITHM_NOT_ALLOWED",
                              "the token's algorithm is not the one of its key");

    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, token, key->bytes, (int)key->len) != 0 || !jwt || jwt_get_alg(jwt) != key->alg) {
        jwt_free(jwt);
        return ltc_status_set(st, LTC_UNAUTHENTICATED, "BAD_SIGNATURE", "the token's signature does not verify");
    }
    char *claims_json = jwt_get_grants_json(jwt, NULL);
    jwt_free(jwt);
    json_t *claims = claims_json ? json_loads(claims_json, 0, NULL) : NULL;
    free(claims_json);
    int rc = -1;
    if (!json_is_object(claims)) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "MALFORMED_TOKEN", "the token's claims are not a JSON object");
        goto out;
    }
    json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    /* NumericDate: seconds since the epoch; anything past year 9999 (or not a number) is no usable expiry */
    if (!json_is_number(exp) || !(json_number_value(exp) >= 0 && json_number_value(exp) < 253402300800.0)) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "TOKEN_EXPIRED", "the token has no usable expiry (exp)");
        goto out;
    }
    double e = json_number_value(exp);
    if ((double)now > e + (double)a->leeway) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "TOKEN_EXPIRED", "the token has expired");
        goto out;
    }
    /* a bounded life: a 10-year token is a standing credential, not a session (iat when given, else from now) */
    json_t *iat = json_object_get(claims, "iat");
    double issued = json_is_number(iat) ? json_number_value(iat) : (double)now;
    if (e - issued > (double)a->max_lifetime || e - (double)now > (double)(a->max_lifetime + a->leeway)) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "TOKEN_LIFETIME_TOO_LONG",
                       "the token lives longer than %ld seconds (exp - iat)", a->max_lifetime);
        goto out;
    }
    if (nbf && (!json_is_number(nbf) || !(json_number_value(nbf) <= (double)now + (double)a->leeway))) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "TOKEN_NOT_YET_VALID", "the token is not valid yet (nbf)");
        goto out;
    }
    if (!iss || strcmp(iss, a->issuer) != 0) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "WRONG_ISSUER",
                       "the token was issued by someone we do not trust (iss)");
        goto out;
    }
    if (!audience_ok(json_object_get(claims, "aud"), a->audience)) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "WRONG_AUDIENCE", "the token is meant for another audience (aud)");
        goto out;
    }
    if (!sub || !subject_ok(sub)) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "NO_SUBJECT",
                       "the token has no usable subject (sub: 1-128 printable characters)");
        goto out;
    }
    snprintf(p->subject, sizeof p->subject, "%s", sub);
    p->expires = (long)e;
    json_t *roles = claim_at(claims, a->roles_claim);
    for (size_t i = 0; json_is_array(roles) && i < json_array_size(roles); i++) {
        const char *r = json_string_value(json_array_get(roles, i));
        if (r) p->roles |= ltc_role_by_name(r, strlen(r));
    }
    if (json_is_string(roles)) p->roles = ltc_roles_parse(json_string_value(roles)); /* "sales manager" */
    /* valid until exp and from nbf, each with the leeway: the checks above that depend on the time; the lifetime
     * check only gets easier as time passes */
    gw_token_cache_put(a->verified, hash, p, nbf ? (long)json_number_value(nbf) - a->leeway : 0, (long)e + a->leeway);
    rc = 0;
out:
    json_decref(claims);
    return rc;
}

/* --- the key set in use, re-read while running ---------------------------------------------------------------- */

struct gw_keys {
    char *path;
    pthread_mutex_t mu;
    gw_auth *current;
    ltc_file_stamps stamps; /* of the last attempt to read (the reload thread's alone) */
};

static void auth_unref(gw_keys *k, gw_auth *a) {
    pthread_mutex_lock(&k->mu);
    int last = --a->refs == 0;
    pthread_mutex_unlock(&k->mu);
    if (last) gw_auth_free(a);
}

gw_keys *gw_keys_open(const char *path, char *err, size_t errlen) {
    gw_keys *k = calloc(1, sizeof *k);
    if (!k || !(k->path = strdup(path))) {
        free(k);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!(k->current = gw_auth_load(path, err, errlen))) {
        free(k->path);
        free(k);
        return NULL;
    }
    k->stamps = k->current->stamps;
    memset(&k->current->stamps, 0, sizeof k->current->stamps);
    k->current->refs = 1;
    pthread_mutex_init(&k->mu, NULL);
    ltc_reload_register("jwt_keys", gw_keys_check, k);
    return k;
}

void gw_keys_close(gw_keys *k) {
    if (!k) return;
    ltc_reload_unregister(k);
    auth_unref(k, k->current);
    ltc_file_stamps_free(&k->stamps);
    pthread_mutex_destroy(&k->mu);
    free(k->path);
    free(k);
}

const gw_auth *gw_keys_acquire(gw_keys *k) {
    pthread_mutex_lock(&k->mu);
    gw_auth *a = k->current;
    a->refs++;
    pthread_mutex_unlock(&k->mu);
    return a;
}

void gw_keys_release(gw_keys *k, const gw_auth *a) {
    if (a) auth_unref(k, (gw_auth *)a);
}

int gw_keys_check(void *keys, int force) {
    gw_keys *k = keys;
    if (!force && !ltc_file_stamps_changed(&k->stamps)) return 0;
    char err[400];
    ltc_file_stamps seen = {0};
    gw_auth *a = load_stamped(k->path, &seen, err, sizeof err);
    if (!a) {
        /* the files as they were just before this attempt: a change since (the second half of an edit) is seen */
        ltc_file_stamps_free(&k->stamps);
        k->stamps = seen;
        LTC_ERROR("reload_refused", NULL, "jwt_keys: %s; the key set in use stays", err);
        ltc_metrics_reload("jwt_keys", 0);
        return -1;
    }
    ltc_file_stamps_free(&k->stamps);
    k->stamps = a->stamps;
    memset(&a->stamps, 0, sizeof a->stamps);
    a->refs = 1;
    pthread_mutex_lock(&k->mu);
    gw_auth *old = k->current;
    k->current = a;
    pthread_mutex_unlock(&k->mu);
    auth_unref(k, old);
    char kids[MAX_KEYS * 66] = "";
    for (size_t i = 0; i < a->n_keys; i++)
        snprintf(kids + strlen(kids), sizeof kids - strlen(kids), "%s%s", i ? "," : "", a->keys[i].kid);
    LTC_INFO("reloaded", NULL, "jwt_keys: %s read again (kids %s)", k->path, kids);
    ltc_metrics_reload("jwt_keys", 1);
    return 1;
}
