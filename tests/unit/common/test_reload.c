/* Unit tests of re-reading key material while running (common/src/reload.c, tls.c's ltc_tls_source, assertion.c's
 * ltc_keyring): a change of a file is seen, a good new file is applied, a bad one is refused and the old material
 * stays. Keys and certificates are made here with OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ltc/assertion.h"
#include "ltc/reload.h"
#include "ltc/tls.h"

static char dir[64];

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

/* Writes text as the drill does: a new file renamed over the old one. */
static void write_file(const char *name, const char *text) {
    char path[128], tmp[140];
    path_of(path, sizeof path, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);
}

static char *pem_of_key(EVP_PKEY *k, int private_key) {
    BIO *b = BIO_new(BIO_s_mem());
    if (private_key)
        assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

/* A self-signed certificate for key k, CN cn, serial `serial`. */
static char *pem_of_cert(EVP_PKEY *k, const char *cn, long serial) {
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    X509_free(x);
    return out;
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ltc-unit-reload-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void stamps_see_a_rename_an_edit_and_a_removal(void **state) {
    (void)state;
    char path[128];
    path_of(path, sizeof path, "watched");
    write_file("watched", "one");
    ltc_file_stamps s = {0};
    assert_int_equal(ltc_file_stamps_add(&s, path), 0);
    assert_int_equal(ltc_file_stamps_changed(&s), 0);
    write_file("watched", "two"); /* renamed over: another inode */
    assert_int_equal(ltc_file_stamps_changed(&s), 1);
    ltc_file_stamps_free(&s);
    ltc_file_stamps_add(&s, path);
    assert_int_equal(ltc_file_stamps_changed(&s), 0);
    unlink(path);
    assert_int_equal(ltc_file_stamps_changed(&s), 1);
    ltc_file_stamps_free(&s);
    ltc_file_stamps_add(&s, path); /* stamped as missing: its reappearance is a change */
    assert_int_equal(ltc_file_stamps_changed(&s), 0);
    write_file("watched", "three");
    assert_int_equal(ltc_file_stamps_changed(&s), 1);
    ltc_file_stamps_free(&s);
}

static void tls_source_applies_a_good_pair_and_refuses_a_bad_one(void **state) {
    (void)state;
    EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char *c1 = pem_of_cert(k1, "ltb", 1001), *c2 = pem_of_cert(k2, "ltb", 2002);
    char *p1 = pem_of_key(k1, 1), *p2 = pem_of_key(k2, 1);
    write_file("ltb.crt", c1);
    write_file("ltb.key", p1);
    write_file("ca.crt", c1);
    char cert[128], key[128], ca[128], serial[64];
    path_of(cert, sizeof cert, "ltb.crt");
    path_of(key, sizeof key, "ltb.key");
    path_of(ca, sizeof ca, "ca.crt");
    ltc_status st = {0};
    ltc_tls_source *src = ltc_tls_source_open("tls_internal", cert, key, ca, &st);
    assert_non_null(src);
    assert_int_equal(ltc_tls_source_generation(src), 1);
    ltc_tls_source_serial(src, serial, sizeof serial);
    assert_string_equal(serial, "03E9");
    assert_int_equal(ltc_tls_source_check(src, 0), 0); /* nothing changed */

    const ltc_tls *held = ltc_tls_source_acquire(src); /* a call using the first pair */
    write_file("ltb.crt", c2);                         /* the new certificate before its key: a mismatch */
    assert_int_equal(ltc_tls_source_check(src, 0), -1);
    assert_int_equal(ltc_tls_source_generation(src), 1);
    ltc_tls_source_serial(src, serial, sizeof serial);
    assert_string_equal(serial, "03E9");               /* the old pair stays */
    assert_int_equal(ltc_tls_source_check(src, 0), 0); /* refused once, not again until the next change */
    write_file("ltb.key", p2);
    assert_int_equal(ltc_tls_source_check(src, 0), 1);
    assert_int_equal(ltc_tls_source_generation(src), 2);
    ltc_tls_source_serial(src, serial, sizeof serial);
    assert_string_equal(serial, "07D2");
    assert_string_equal(held->cert_pem, c1); /* what a call holds is not freed under it */
    ltc_tls_source_release(src, held);

    write_file("ltb.crt", "-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n");
    assert_int_equal(ltc_tls_source_check(src, 0), -1);
    assert_int_equal(ltc_tls_source_check(src, 1), -1); /* forced (SIGHUP): still refused */
    ltc_tls_source_serial(src, serial, sizeof serial);
    assert_string_equal(serial, "07D2");
    write_file("ltb.crt", c2);
    assert_int_equal(ltc_tls_source_check(src, 0), 1);
    assert_int_equal(ltc_tls_source_generation(src), 2); /* the pair in use again: the same bytes, no new generation */
    assert_int_equal(ltc_tls_source_check(src, 1), 1);   /* forced: read again even unchanged... */
    assert_int_equal(ltc_tls_source_generation(src), 2); /* ...and still the same */
    ltc_tls_source_close(src);
    free(c1);
    free(c2);
    free(p1);
    free(p2);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

static int verify_with(ltc_keyring *ring, const char *token) {
    EVP_PKEY *keys[LTC_ASSERTION_MAX_KEYS];
    size_t n = ltc_keyring_acquire(ring, keys);
    char sub[129], roles[96];
    ltc_status st = {0};
    int rc = ltc_assertion_verify(keys, n, token, "ltb", "/m", time(NULL), sub, roles, &st);
    ltc_status_clear(&st);
    ltc_keyring_release(keys, n);
    return rc;
}

static void keyring_accepts_both_keys_during_an_overlap(void **state) {
    (void)state;
    EVP_PKEY *old_k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), *new_k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char *old_pub = pem_of_key(old_k, 0), *new_pub = pem_of_key(new_k, 0);
    char both[4096];
    snprintf(both, sizeof both, "%s%s", old_pub, new_pub);
    write_file("assertion.pub", old_pub);
    char path[128], err[300];
    path_of(path, sizeof path, "assertion.pub");
    ltc_keyring *ring = ltc_keyring_open("assertion_public_keys", path, 0, err, sizeof err);
    if (!ring) fail_msg("%s", err);
    char by_old[1024], by_new[1024], by_new2[1024];
    time_t now = time(NULL);
    assert_int_equal(ltc_assertion_sign(old_k, "ar.li", "sales", "ltb", "/m", now, 30, by_old, sizeof by_old), 0);
    assert_int_equal(ltc_assertion_sign(new_k, "ar.li", "sales", "ltb", "/m", now, 30, by_new, sizeof by_new), 0);
    assert_int_equal(ltc_assertion_sign(new_k, "ar.li", "sales", "ltb", "/m", now, 30, by_new2, sizeof by_new2), 0);
    assert_int_equal(verify_with(ring, by_new), -1); /* not yet known */

    write_file("assertion.pub", both);
    assert_int_equal(ltc_keyring_check(ring, 0), 1);
    assert_int_equal(verify_with(ring, by_old), 0);
    assert_int_equal(verify_with(ring, by_new2), 0);

    write_file("assertion.pub", "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n");
    assert_int_equal(ltc_keyring_check(ring, 0), -1);
    EVP_PKEY *keys[LTC_ASSERTION_MAX_KEYS];
    size_t n = ltc_keyring_acquire(ring, keys);
    assert_int_equal(n, 2); /* the two keys in use stay */
    ltc_keyring_release(keys, n);

    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    char *rsa_pub = pem_of_key(rsa, 0);
    EVP_PKEY_free(rsa);
    write_file("assertion.pub", rsa_pub); /* not Ed25519 */
    assert_int_equal(ltc_keyring_check(ring, 0), -1);

    write_file("assertion.pub", new_pub); /* the old key goes */
    assert_int_equal(ltc_keyring_check(ring, 0), 1);
    char by_old2[1024];
    assert_int_equal(ltc_assertion_sign(old_k, "ar.li", "sales", "ltb", "/m", now, 30, by_old2, sizeof by_old2), 0);
    assert_int_equal(verify_with(ring, by_old2), -1);
    assert_int_equal(verify_with(ring, by_new), 0);
    ltc_keyring_close(ring);
    free(old_pub);
    free(new_pub);
    free(rsa_pub);
    EVP_PKEY_free(old_k);
    EVP_PKEY_free(new_k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stamps_see_a_rename_an_edit_and_a_removal),
        cmocka_unit_test(tls_source_applies_a_good_pair_and_refuses_a_bad_one),
        cmocka_unit_test(keyring_accepts_both_keys_during_an_overlap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
