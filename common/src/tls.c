/* tls.c - certificates and keys from files, checked at start (parse, key matches certificate) so that a bad file
 * stops the process with a message instead of failing every handshake later. */
#include "ltc/tls.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltc/config.h"

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

static ltc_tls internal;
static int internal_set;
static char identity[65];

const ltc_tls *ltc_tls_internal(void) { return internal_set ? &internal : NULL; }
const char *ltc_tls_identity(void) { return identity; }

void ltc_tls_internal_free(void) {
    if (internal_set) ltc_tls_free(&internal);
    internal_set = 0;
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
    if (ltc_tls_load(&internal, cert, key, ca, &st) != 0) {
        snprintf(err, errlen, "%s", st.message);
        ltc_status_clear(&st);
        return -1;
    }
    X509 *x = parse_cert(internal.cert_pem);
    int found = x ? own_spiffe_name(x, identity, sizeof identity) : -1;
    X509_free(x);
    if (found != 0) {
        ltc_tls_free(&internal);
        snprintf(err, errlen,
                 found == -2 ? "LTC_TLS_CERT %s has more than one URI SAN spiffe://ltc/<name>"
                             : "LTC_TLS_CERT %s has no URI SAN spiffe://ltc/<name> (the process's identity; the "
                               "Common Name is not read)",
                 cert);
        return -1;
    }
    internal_set = 1;
    return 1;
}
