/* tls.c - certificates and keys from files, checked at start (parse, key matches certificate) so that a bad file
 * stops the process with a message instead of failing every handshake later; and again at every reload, so that a
 * bad new file is refused while the old material stays in use (ltc_tls_source). */
#include "ltc/tls.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltc/config.h"
#include "ltc/log.h"
#include "ltc/metrics.h"
#include "ltc/reload.h"

enum {
    MAX_PEM_BYTES = 1 << 20
};

static char *read_file(const char *path, const char *what, ltc_status *st) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ltc_status_set(st, LTC_FAILED_PRECONDITION, "TLS_FILE_UNREADABLE", "%s %s cannot be read", what, path);
        return NULL;
    }
    char *buf = malloc(MAX_PEM_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_PEM_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n > MAX_PEM_BYTES) {
        free(buf);
        ltc_status_set(st, LTC_FAILED_PRECONDITION, "TLS_FILE_UNREADABLE", "%s %s is empty or over 1 MiB", what, path);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

static X509 *parse_cert(const char *pem) {
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

void ltc_tls_free(ltc_tls *t) {
    if (!t) return;
    if (t->key_pem) OPENSSL_cleanse(t->key_pem, strlen(t->key_pem));
    free(t->cert_pem);
    free(t->key_pem);
    free(t->ca_pem);
    memset(t, 0, sizeof *t);
}

int ltc_tls_load(ltc_tls *t, const char *cert_file, const char *key_file, const char *ca_file, ltc_status *st) {
    memset(t, 0, sizeof *t);
    if (!(t->cert_pem = read_file(cert_file, "certificate", st))) goto fail;
    if (!(t->key_pem = read_file(key_file, "private key", st))) goto fail;
    if (ca_file && !(t->ca_pem = read_file(ca_file, "CA certificate", st))) goto fail;
    X509 *cert = parse_cert(t->cert_pem);
    if (!cert) {
        ltc_status_set(st, LTC_FAILED_PRECONDITION, "TLS_BAD_CERTIFICATE", "%s holds no PEM certificate", cert_file);
        goto fail;
    }
    BIO *b = BIO_new_mem_buf(t->key_pem, -1);
    EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    int match = key && X509_check_private_key(cert, key) == 1;
    EVP_PKEY_free(key);
    X509_free(cert);
    if (!match) {
        ltc_status_set(st, LTC_FAILED_PRECONDITION, "TLS_KEY_MISMATCH",
                       "%s is not a PEM private key of the certificate in %s", key_file, cert_file);
        goto fail;
    }
    if (t->ca_pem) {
        X509 *ca = parse_cert(t->ca_pem);
        if (!ca) {
            ltc_status_set(st, LTC_FAILED_PRECONDITION, "TLS_BAD_CERTIFICATE", "%s holds no PEM certificate", ca_file);
            goto fail;
        }
        X509_free(ca);
    }
    return 0;
fail:
    ltc_tls_free(t);
    return -1;
}

int ltc_tls_spiffe_name(const char *uri, char *name, size_t n) {
    static const char PREFIX[] = "spiffe://ltc/";
    if (!uri || strncmp(uri, PREFIX, sizeof PREFIX - 1) != 0) return -1;
    const char *s = uri + sizeof PREFIX - 1;
    size_t len = strlen(s);
    if (len == 0 || len > 32 || len >= n) return -1;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) return -1;
    memcpy(name, s, len + 1);
    return 0;
}

/* The name in x's one spiffe URI SAN spiffe://ltc/<name>: 0, -1 when there is none (or it is not of this
 * deployment), -2 when there are several (gRPC then names the peer nobody). */
static int own_spiffe_name(X509 *x, char *name, size_t n) {
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int count = 0, ok = 0;
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != GEN_URI) continue;
        const unsigned char *d = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
        int len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
        if (len <= 0 || len > 200) continue;
        char uri[201];
        memcpy(uri, d, (size_t)len);
        uri[len] = 0;
        if (strncmp(uri, "spiffe://", 9) != 0) continue;
        count++;
        ok = ltc_tls_spiffe_name(uri, name, n) == 0;
    }
    GENERAL_NAMES_free(sans);
    return count > 1 ? -2 : count == 1 && ok ? 0 : -1;
}

/* --- sources: material that may be replaced while running ----------------------------------------------------- */

typedef struct held {
    ltc_tls tls; /* first: a const ltc_tls * handed out is the held */
    int refs;    /* the source's own (while current) and every acquire's */
} held;

struct ltc_tls_source {
    char material[32];
    char *cert_file, *key_file, *ca_file;
    char required_id[65]; /* the URI SAN spiffe://ltc/<name> a reload must keep; "": any */
    pthread_mutex_t mu;
    held *current;
    unsigned long generation;
    ltc_file_stamps stamps;
};

static void held_unref(held *h) { /* under the source's mutex */
    if (--h->refs == 0) {
        ltc_tls_free(&h->tls);
        free(h);
    }
}

static int id_of(const char *cert_pem, char *id, size_t n) {
    X509 *x = parse_cert(cert_pem);
    int found = x ? own_spiffe_name(x, id, n) : -1;
    X509_free(x);
    return found;
}

/* Reads the files into a new held (refs 1); *stamps are taken before reading (also when it fails: a change during the
 * read is then seen at the next check; the caller frees them). NULL with st set. */
static held *read_source(ltc_tls_source *s, ltc_file_stamps *stamps, ltc_status *st) {
    memset(stamps, 0, sizeof *stamps);
    ltc_file_stamps_add(stamps, s->cert_file);
    ltc_file_stamps_add(stamps, s->key_file);
    if (s->ca_file) ltc_file_stamps_add(stamps, s->ca_file);
    held *h = calloc(1, sizeof *h);
    if (!h) {
        ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        return NULL;
    }
    if (ltc_tls_load(&h->tls, s->cert_file, s->key_file, s->ca_file, st) != 0) {
        free(h);
        return NULL;
    }
    char id[65];
    if (s->required_id[0] && (id_of(h->tls.cert_pem, id, sizeof id) != 0 || strcmp(id, s->required_id) != 0)) {
        ltc_status_set(st, LTC_FAILED_PRECONDITION, "TLS_IDENTITY_CHANGED",
                       "%s names another identity than the process's (spiffe://ltc/%s)", s->cert_file, s->required_id);
        ltc_tls_free(&h->tls);
        free(h);
        return NULL;
    }
    h->refs = 1;
    return h;
}

static char *dup_or_null(const char *p) { return p ? strdup(p) : NULL; }

static int same_text(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

ltc_tls_source *ltc_tls_source_open(const char *material, const char *cert_file, const char *key_file,
                                    const char *ca_file, ltc_status *st) {
    ltc_tls_source *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    snprintf(s->material, sizeof s->material, "%s", material);
    s->cert_file = dup_or_null(cert_file);
    s->key_file = dup_or_null(key_file);
    s->ca_file = dup_or_null(ca_file);
    pthread_mutex_init(&s->mu, NULL);
    if (!s->cert_file || !s->key_file || (ca_file && !s->ca_file) || !(s->current = read_source(s, &s->stamps, st))) {
        if (!st->reason[0]) ltc_status_set(st, LTC_RESOURCE_EXHAUSTED, "OUT_OF_MEMORY", "out of memory");
        ltc_tls_source_close(s);
        return NULL;
    }
    s->generation = 1;
    ltc_reload_register(s->material, ltc_tls_source_check, s);
    return s;
}

void ltc_tls_source_close(ltc_tls_source *s) {
    if (!s) return;
    ltc_reload_unregister(s);
    if (s->current) held_unref(s->current);
    ltc_file_stamps_free(&s->stamps);
    free(s->cert_file);
    free(s->key_file);
    free(s->ca_file);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const ltc_tls *ltc_tls_source_acquire(ltc_tls_source *s) {
    pthread_mutex_lock(&s->mu);
    held *h = s->current;
    h->refs++;
    pthread_mutex_unlock(&s->mu);
    return &h->tls;
}

void ltc_tls_source_release(ltc_tls_source *s, const ltc_tls *t) {
    if (!t) return;
    pthread_mutex_lock(&s->mu);
    held_unref((held *)(void *)t);
    pthread_mutex_unlock(&s->mu);
}

unsigned long ltc_tls_source_generation(ltc_tls_source *s) {
    pthread_mutex_lock(&s->mu);
    unsigned long g = s->generation;
    pthread_mutex_unlock(&s->mu);
    return g;
}

void ltc_tls_source_serial(ltc_tls_source *s, char *out, size_t n) {
    const ltc_tls *t = ltc_tls_source_acquire(s);
    X509 *x = parse_cert(t->cert_pem);
    ltc_tls_source_release(s, t);
    BIGNUM *bn = x ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    snprintf(out, n, "%s", hex ? hex : "");
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(x);
}

int ltc_tls_source_check(void *source, int force) {
    ltc_tls_source *s = source;
    if (!force && !ltc_file_stamps_changed(&s->stamps)) return 0;
    ltc_file_stamps stamps;
    ltc_status st = {0};
    held *h = read_source(s, &stamps, &st);
    if (!h) {
        /* the files as they were just before this attempt: the next change (the missing half of a pair written in two
         * steps, even while this attempt was reading) tries again */
        ltc_file_stamps_free(&s->stamps);
        s->stamps = stamps;
        LTC_ERROR("reload_refused", NULL, "%s: %s (%s); the material in use stays", s->material, st.message, st.reason);
        ltc_metrics_reload(s->material, 0);
        ltc_status_clear(&st);
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    held *old = s->current;
    /* the same bytes again (SIGHUP, a touched file): nothing to hand on, no new channels or handshake configs */
    int same = same_text(old->tls.cert_pem, h->tls.cert_pem) && same_text(old->tls.key_pem, h->tls.key_pem) &&
               same_text(old->tls.ca_pem, h->tls.ca_pem);
    if (same) {
        held_unref(h);
    } else {
        s->current = h;
        s->generation++;
        held_unref(old);
    }
    unsigned long g = s->generation;
    pthread_mutex_unlock(&s->mu);
    ltc_file_stamps_free(&s->stamps);
    s->stamps = stamps;
    if (same) {
        LTC_INFO("reloaded", NULL, "%s: %s read again, unchanged (generation %lu)", s->material, s->cert_file, g);
        ltc_metrics_reload(s->material, 1);
        return 1;
    }
    char serial[80];
    ltc_tls_source_serial(s, serial, sizeof serial);
    LTC_INFO("reloaded", NULL, "%s: %s read again (generation %lu, certificate serial %s)", s->material, s->cert_file,
             g, serial);
    ltc_metrics_reload(s->material, 1);
    return 1;
}

/* --- the process's internal identity ---------------------------------------------------------------------------- */

static ltc_tls_source *internal;
static char identity[65];

ltc_tls_source *ltc_tls_internal(void) { return internal; }
const char *ltc_tls_identity(void) { return identity; }

void ltc_tls_internal_free(void) {
    ltc_tls_source_close(internal);
    internal = NULL;
    identity[0] = 0;
}

int ltc_plaintext_allowed(void) { return strcmp(ltc_env_str("LTC_PLAINTEXT", "0"), "1") == 0; }

int ltc_tls_internal_from_env(char *err, size_t errlen) {
    const char *cert = ltc_env_str("LTC_TLS_CERT", NULL), *key = ltc_env_str("LTC_TLS_KEY", NULL),
               *ca = ltc_env_str("LTC_TLS_CA", NULL);
    if (!cert && !key && !ca) {
        if (ltc_plaintext_allowed()) return 0;
        snprintf(err, errlen,
                 "LTC_TLS_CERT, LTC_TLS_KEY and LTC_TLS_CA are not set: set them (mTLS between services), or set "
                 "LTC_PLAINTEXT=1 for local development");
        return -1;
    }
    if (!cert || !key || !ca) {
        snprintf(err, errlen, "LTC_TLS_CERT, LTC_TLS_KEY and LTC_TLS_CA go together: %s is not set",
                 !cert  ? "LTC_TLS_CERT"
                 : !key ? "LTC_TLS_KEY"
                        : "LTC_TLS_CA");
        return -1;
    }
    ltc_status st = {0};
    ltc_tls_source *s = ltc_tls_source_open("tls_internal", cert, key, ca, &st);
    if (!s) {
        snprintf(err, errlen, "%s", st.message);
        ltc_status_clear(&st);
        return -1;
    }
    const ltc_tls *t = ltc_tls_source_acquire(s);
    X509 *x = parse_cert(t->cert_pem);
    int found = x ? own_spiffe_name(x, identity, sizeof identity) : -1;
    X509_free(x);
    ltc_tls_source_release(s, t);
    if (found != 0) {
        ltc_tls_source_close(s);
        identity[0] = 0;
        snprintf(err, errlen,
                 found == -2 ? "LTC_TLS_CERT %s has more than one URI SAN spiffe://ltc/<name>"
                             : "LTC_TLS_CERT %s has no URI SAN spiffe://ltc/<name> (the process's identity; the "
                               "Common Name is not read)",
                 cert);
        return -1;
    }
    snprintf(s->required_id, sizeof s->required_id, "%s", identity); /* a reload may not change who we are */
    internal = s;
    return 1;
}
