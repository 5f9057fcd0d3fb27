/* assertion.c - the gateway's signed identity assertions (ltc/assertion.h): Ed25519 over OpenSSL, JSON by jansson,
 * and a bounded per-process memory of the assertions accepted, so that one is never accepted twice. */
#include "ltc/assertion.h"

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltc/log.h"
#include "ltc/metrics.h"
#include "ltc/reload.h"

#define LTC_STR_(x) #x
#define LTC_STR(x) LTC_STR_(x)

/* --- base64url without padding -------------------------------------------------------------------------------- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes n bytes into out (room for 4 * ceil(n / 3) + 1); returns the length, or 0 when out is too small. */
static size_t b64_encode(const unsigned char *in, size_t n, char *out, size_t room) {
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        size_t k = n - i >= 3 ? 4 : n - i + 1;
        if (o + k + 1 > room) return 0;
        for (size_t j = 0; j < k; j++) out[o++] = B64[(v >> (18 - 6 * j)) & 63];
    }
    out[o] = 0;
    return o;
}

static int b64_value(char c) {
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

/* Decodes n characters into out (room bytes); returns the length, or -1 when malformed or too long. */
static long b64_decode(const char *in, size_t n, unsigned char *out, size_t room) {
    if (n % 4 == 1) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        size_t k = n - i >= 4 ? 4 : n - i;
        for (size_t j = 0; j < 4; j++) {
            int d = j < k ? b64_value(in[i + j]) : 0;
            if (d < 0) return -1;
            v = v << 6 | (uint32_t)d;
        }
        for (size_t j = 0; j + 1 < k; j++) {
            if (o >= room) return -1;
            out[o++] = (unsigned char)(v >> (16 - 8 * j));
        }
    }
    return (long)o;
}

/* --- keys ------------------------------------------------------------------------------------------------------- */

EVP_PKEY *ltc_assertion_load_key(const char *path, int private_key, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return NULL;
    }
    EVP_PKEY *k = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!k) {
        snprintf(err, errlen, "%s: not a PEM %s key", path, private_key ? "private" : "public");
        return NULL;
    }
    if (EVP_PKEY_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        snprintf(err, errlen, "%s: not an Ed25519 key (openssl genpkey -algorithm ed25519)", path);
        return NULL;
    }
    return k;
}

void ltc_assertion_free_key(EVP_PKEY *k) { EVP_PKEY_free(k); }

struct ltc_keyring {
    char material[32];
    char *path;
    int private_key;
    pthread_mutex_t mu;
    EVP_PKEY *keys[LTC_ASSERTION_MAX_KEYS];
    size_t n;
    ltc_file_stamps stamps;
};

/* Every key of the file into keys; how many, or 0 with err set. */
static size_t read_ring(const char *path, int private_key, EVP_PKEY **keys, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return 0;
    }
    size_t n = 0;
    const char *bad = NULL;
    for (;;) {
        EVP_PKEY *k = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
        if (!k) break;
        if (EVP_PKEY_id(k) != EVP_PKEY_ED25519) bad = "not an Ed25519 key (openssl genpkey -algorithm ed25519)";
        if (n == (private_key ? 1 : LTC_ASSERTION_MAX_KEYS))
            bad = private_key ? "holds more than one private key"
                              : "holds more than " LTC_STR(LTC_ASSERTION_MAX_KEYS) " keys";
        if (bad) {
            EVP_PKEY_free(k);
            break;
        }
        keys[n++] = k;
    }
    int trailing = !bad && !feof(f) && fgetc(f) != EOF; /* the reader stopped before the end: something unparsable */
    fclose(f);
    ERR_clear_error();
    if (bad || n == 0 || trailing) {
        snprintf(err, errlen, "%s: %s", path,
                 bad           ? bad
                 : private_key ? "not a PEM private key"
                               : "not PEM public keys only");
        for (size_t i = 0; i < n; i++) EVP_PKEY_free(keys[i]);
        return 0;
    }
    return n;
}

ltc_keyring *ltc_keyring_open(const char *material, const char *path, int private_key, char *err, size_t errlen) {
    ltc_keyring *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(r->material, sizeof r->material, "%s", material);
    r->private_key = private_key;
    pthread_mutex_init(&r->mu, NULL);
    ltc_file_stamps_add(&r->stamps, path);
    if (!(r->n = read_ring(path, private_key, r->keys, err, errlen))) {
        ltc_keyring_close(r);
        return NULL;
    }
    ltc_reload_register(r->material, ltc_keyring_check, r);
    return r;
}

void ltc_keyring_close(ltc_keyring *r) {
    if (!r) return;
    ltc_reload_unregister(r);
    for (size_t i = 0; i < r->n; i++) EVP_PKEY_free(r->keys[i]);
    ltc_file_stamps_free(&r->stamps);
    pthread_mutex_destroy(&r->mu);
    free(r->path);
    free(r);
}

size_t ltc_keyring_acquire(ltc_keyring *r, EVP_PKEY **keys) {
    pthread_mutex_lock(&r->mu);
    size_t n = r->n;
    for (size_t i = 0; i < n; i++) {
        EVP_PKEY_up_ref(r->keys[i]);
        keys[i] = r->keys[i];
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

void ltc_keyring_release(EVP_PKEY **keys, size_t n) {
    for (size_t i = 0; i < n; i++) EVP_PKEY_free(keys[i]);
}

int ltc_keyring_check(void *ring, int force) {
    ltc_keyring *r = ring;
    if (!force && !ltc_file_stamps_changed(&r->stamps)) return 0;
    ltc_file_stamps stamps = {0};
    ltc_file_stamps_add(&stamps, r->path);
    ltc_file_stamps_free(&r->stamps);
    r->stamps = stamps; /* a refused file is tried again at its next change */
    EVP_PKEY *keys[LTC_ASSERTION_MAX_KEYS];
    char err[300];
    size_t n = read_ring(r->path, r->private_key, keys, err, sizeof err);
    if (!n) {
        LTC_ERROR("reload_refused", NULL, "%s: %s; the keys in use stay", r->material, err);
        ltc_metrics_reload(r->material, 0);
        return -1;
    }
    EVP_PKEY *old[LTC_ASSERTION_MAX_KEYS];
    pthread_mutex_lock(&r->mu);
    size_t n_old = r->n;
    memcpy(old, r->keys, sizeof old);
    memcpy(r->keys, keys, n * sizeof *keys);
    r->n = n;
    pthread_mutex_unlock(&r->mu);
    ltc_keyring_release(old, n_old); /* calls holding them keep their own references */
    LTC_INFO("reloaded", NULL, "%s: %s read again (%zu key%s)", r->material, r->path, n, n == 1 ? "" : "s");
    ltc_metrics_reload(r->material, 1);
    return 1;
}

/* --- signing ---------------------------------------------------------------------------------------------------- */

int ltc_assertion_sign(EVP_PKEY *key, const char *sub, const char *roles, const char *aud, const char *method,
                       time_t now, int ttl, char *out, size_t n) {
    /* a random id makes every assertion distinct: two calls of one user to one method in one second must not look
     * like a replay of each other (Ed25519 signatures are deterministic) */
    unsigned char nonce[12];
    char jti[17];
    if (RAND_bytes(nonce, sizeof nonce) != 1 || !b64_encode(nonce, sizeof nonce, jti, sizeof jti)) return -1;
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "sub", sub, "roles", roles, "aud", aud, "mth", method,
                          "jti", jti, "iat", (json_int_t)now, "exp", (json_int_t)(now + ttl));
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!text) return -1;
    int rc = -1;
    size_t len = strlen(text);
    if (n < 3) goto out;
    memcpy(out, "v1.", 3);
    size_t body = b64_encode((const unsigned char *)text, len, out + 3, n - 3);
    if (!body) goto out;
    size_t signed_len = 3 + body;
    unsigned char sig[64];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)out, signed_len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok || signed_len + 2 > n) goto out;
    out[signed_len] = '.';
    if (!b64_encode(sig, sig_len, out + signed_len + 1, n - signed_len - 1)) goto out;
    rc = 0;
out:
    free(text);
    return rc;
}

/* --- the memory of accepted assertions ------------------------------------------------------------------------- */

enum {
    SEEN_SLOTS = 16384,
    SEEN_PROBE = 8
};
static struct {
    uint64_t id;
    time_t exp;
} seen[SEEN_SLOTS];
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

/* Records assertion `id` valid until exp; 0, or -1 when it is recorded already (a replay). A live entry is evicted
 * only when its probe window is full of live ones: the earliest to expire goes (documented bound). */
static int seen_once(uint64_t id, time_t exp, time_t now) {
    size_t base = (size_t)(id % (SEEN_SLOTS / SEEN_PROBE)) * SEEN_PROBE;
    pthread_mutex_lock(&seen_mu);
    size_t victim = base;
    for (size_t i = base; i < base + SEEN_PROBE; i++) {
        if (seen[i].id == id && seen[i].exp >= now) {
            pthread_mutex_unlock(&seen_mu);
            return -1;
        }
        if (seen[i].exp < seen[victim].exp) victim = i;
    }
    seen[victim].id = id;
    seen[victim].exp = exp;
    pthread_mutex_unlock(&seen_mu);
    return 0;
}

/* --- verifying -------------------------------------------------------------------------------------------------- */

/* The signature of `token` verifies with one of the gateway's keys (during a rotation: the old one and the new): its
 * payload parsed (JSON), and the signature's bytes in sig (64). NULL with st set (BAD_ASSERTION). */
static json_t *verified_payload(EVP_PKEY *const *pubs, size_t n_keys, const char *token, unsigned char sig[80],
                                ltc_status *st) {
    size_t n = token ? strlen(token) : 0;
    if (n < 8 || n > 2048 || strncmp(token, "v1.", 3) != 0) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "BAD_ASSERTION", "malformed assertion");
        return NULL;
    }
    const char *dot = strchr(token + 3, '.');
    if (!dot || strchr(dot + 1, '.')) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "BAD_ASSERTION", "malformed assertion");
        return NULL;
    }
    long sig_len = b64_decode(dot + 1, strlen(dot + 1), sig, 80);
    if (sig_len != 64) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "BAD_ASSERTION", "malformed assertion signature");
        return NULL;
    }
    int ok = 0;
    for (size_t i = 0; i < n_keys && !ok; i++) { /* during a rotation: the old key and the new one */
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pubs[i]) == 1 &&
             EVP_DigestVerify(ctx, sig, (size_t)sig_len, (const unsigned char *)token, (size_t)(dot - token)) == 1;
        EVP_MD_CTX_free(ctx);
    }
    if (!ok) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "BAD_ASSERTION",
                       "the assertion's signature does not verify with the gateway's key");
        return NULL;
    }
    unsigned char text[1536];
    long len = b64_decode(token + 3, (size_t)(dot - token - 3), text, sizeof text - 1);
    json_t *p = len < 0 ? NULL : json_loadb((const char *)text, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
    if (!p) ltc_status_set(st, LTC_UNAUTHENTICATED, "BAD_ASSERTION", "malformed assertion payload");
    return p;
}

int ltc_assertion_verify(EVP_PKEY *const *pubs, size_t n_keys, const char *token, const char *aud, const char *method,
                         time_t now, char sub[129], char roles[96], ltc_status *st) {
    unsigned char sig[80];
    json_t *p = verified_payload(pubs, n_keys, token, sig, st);
    if (!p) return -1;
    const char *s = json_string_value(json_object_get(p, "sub"));
    const char *r = json_string_value(json_object_get(p, "roles"));
    const char *a = json_string_value(json_object_get(p, "aud"));
    const char *m = json_string_value(json_object_get(p, "mth"));
    const char *jti = json_string_value(json_object_get(p, "jti"));
    json_t *iat = json_object_get(p, "iat"), *exp = json_object_get(p, "exp");
    int rc = -1;
    if (!s || !r || !a || !m || !jti || strlen(jti) < 8 || strlen(jti) > 64 || !json_is_integer(iat) ||
        !json_is_integer(exp) || strlen(s) == 0 || strlen(s) > 128 || strlen(r) >= 96) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "BAD_ASSERTION", "the assertion's payload is incomplete");
    } else if (strcmp(a, aud) != 0) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "ASSERTION_FOR_ANOTHER_STAGE", "the assertion is for %.16s, not %s", a,
                       aud);
    } else if (strcmp(m, method) != 0) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "ASSERTION_FOR_ANOTHER_METHOD", "the assertion is for another method");
    } else if (json_integer_value(exp) - json_integer_value(iat) > LTC_ASSERTION_MAX_LIFE ||
               (json_int_t)now > json_integer_value(exp) + LTC_ASSERTION_SKEW ||
               (json_int_t)now + LTC_ASSERTION_SKEW < json_integer_value(iat)) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "ASSERTION_EXPIRED", "the assertion is expired or not yet valid");
    } else {
        uint64_t id;
        memcpy(&id, sig, sizeof id); /* Ed25519 signatures are unique per message: their first bytes name it */
        if (seen_once(id, (time_t)json_integer_value(exp) + LTC_ASSERTION_SKEW, now) != 0) {
            ltc_status_set(st, LTC_UNAUTHENTICATED, "ASSERTION_REPLAYED", "this assertion was accepted before");
        } else {
            snprintf(sub, 129, "%s", s);
            snprintf(roles, 96, "%s", r);
            rc = 0;
        }
    }
    json_decref(p);
    return rc;
}

/* --- carried through hand-offs ---------------------------------------------------------------------------------- */

/* Whether `aud` names a stage service: a hand-off's acting principal was asserted to one of them. */
static int is_stage(const char *aud) {
    static const char *const STAGES[] = {"ltb", "bto", "otd", "dtc"};
    for (size_t i = 0; i < sizeof STAGES / sizeof STAGES[0]; i++)
        if (strcmp(aud, STAGES[i]) == 0) return 1;
    return 0;
}

int ltc_assertion_verify_carried(EVP_PKEY *const *pubs, size_t n_keys, const char *token, char sub[129], char roles[96],
                                 char aud_out[17], ltc_status *st) {
    unsigned char sig[80];
    json_t *p = verified_payload(pubs, n_keys, token, sig, st);
    if (!p) {
        snprintf(st->reason, sizeof st->reason, "BAD_ACTING_PRINCIPAL"); /* the hand-off's claim, not a call's */
        return -1;
    }
    const char *s = json_string_value(json_object_get(p, "sub"));
    const char *r = json_string_value(json_object_get(p, "roles"));
    const char *a = json_string_value(json_object_get(p, "aud"));
    const char *m = json_string_value(json_object_get(p, "mth"));
    int rc = -1;
    if (!s || !r || !a || !m || strlen(s) == 0 || strlen(s) > 128 || strlen(r) >= 96 || !is_stage(a) ||
        strncmp(m, "/ltc.", 5) != 0) {
        ltc_status_set(st, LTC_UNAUTHENTICATED, "BAD_ACTING_PRINCIPAL",
                       "the hand-off's acting principal is not an assertion the gateway made for a stage");
    } else {
        snprintf(sub, 129, "%s", s);
        snprintf(roles, 96, "%s", r);
        snprintf(aud_out, 17, "%s", a);
        rc = 0;
    }
    json_decref(p);
    return rc;
}
