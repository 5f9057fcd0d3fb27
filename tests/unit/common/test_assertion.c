/* Unit tests of common/src/assertion.c: the gateway's signed identity, verified by a stage. Keys are made here with
 * OpenSSL (Ed25519), written as PEM and read back as the services read them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ltc/assertion.h"

static EVP_PKEY *priv, *pub, *other_priv;
static char dir[64];

static EVP_PKEY *roundtrip(EVP_PKEY *k, int private_key, const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (private_key)
        assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_PUBKEY(f, k), 1);
    fclose(f);
    char err[200];
    EVP_PKEY *back = ltc_assertion_load_key(path, private_key, err, sizeof err);
    if (!back) fail_msg("%s", err);
    return back;
}

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ltc-unit-assertion-XXXXXX");
    assert_non_null(mkdtemp(dir));
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *o = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    assert_non_null(o);
    priv = roundtrip(k, 1, "gw.key");
    pub = roundtrip(k, 0, "gw.pub");
    other_priv = roundtrip(o, 1, "other.key");
    EVP_PKEY_free(k);
    EVP_PKEY_free(o);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ltc_assertion_free_key(priv);
    ltc_assertion_free_key(pub);
    ltc_assertion_free_key(other_priv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#define M "/ltc.ltb.v1.LeadToBidService/GetLead"

static void expect(const char *token, const char *aud, const char *method, time_t now, const char *reason) {
    char sub[129] = "", roles[96] = "";
    ltc_status st = {0};
    int rc = ltc_assertion_verify(&pub, 1, token, aud, method, now, sub, roles, &st);
    if (reason) {
        if (rc == 0) fail_msg("accepted an assertion that should fail with %s", reason);
        assert_int_equal(st.code, LTC_UNAUTHENTICATED);
        assert_string_equal(st.reason, reason);
        assert_string_equal(sub, "");
    } else {
        if (rc != 0) fail_msg("refused a good assertion: %s %s", st.reason, st.message);
    }
    ltc_status_clear(&st);
}

static void test_good_once_then_replayed(void **state) {
    (void)state;
    time_t now = time(NULL);
    char t[1024];
    assert_int_equal(ltc_assertion_sign(priv, "ar.li.na", "sales,manager", "ltb", M, now, 30, t, sizeof t), 0);
    char sub[129], roles[96];
    ltc_status st = {0};
    assert_int_equal(ltc_assertion_verify(&pub, 1, t, "ltb", M, now, sub, roles, &st), 0);
    assert_string_equal(sub, "ar.li.na");
    assert_string_equal(roles, "sales,manager");
    expect(t, "ltb", M, now, "ASSERTION_REPLAYED"); /* the same assertion again: refused */
    /* the same user, method and second: another assertion (its own jti), accepted */
    char t2[1024];
    assert_int_equal(ltc_assertion_sign(priv, "ar.li.na", "sales,manager", "ltb", M, now, 30, t2, sizeof t2), 0);
    assert_string_not_equal(t, t2);
    expect(t2, "ltb", M, now, NULL);
}

static void test_bound_to_stage_method_and_time(void **state) {
    (void)state;
    time_t now = time(NULL);
    char t[1024];
    assert_int_equal(ltc_assertion_sign(priv, "ar.li.na", "sales", "ltb", M, now, 30, t, sizeof t), 0);
    expect(t, "dtc", M, now, "ASSERTION_FOR_ANOTHER_STAGE");
    expect(t, "ltb", "/ltc.ltb.v1.LeadToBidService/CreateLead", now, "ASSERTION_FOR_ANOTHER_METHOD");
    expect(t, "ltb", M, now + 30 + LTC_ASSERTION_SKEW + 1, "ASSERTION_EXPIRED");
    expect(t, "ltb", M, now - LTC_ASSERTION_SKEW - 1, "ASSERTION_EXPIRED"); /* issued in the future */
    assert_int_equal(ltc_assertion_sign(priv, "ar.li.na", "sales", "ltb", M, now, 3600, t, sizeof t), 0);
    expect(t, "ltb", M, now, "ASSERTION_EXPIRED"); /* a life over the maximum */
}

static void test_forged_tampered_malformed(void **state) {
    (void)state;
    time_t now = time(NULL);
    char t[1024];
    assert_int_equal(ltc_assertion_sign(other_priv, "ar.li.na", "admin", "ltb", M, now, 30, t, sizeof t), 0);
    expect(t, "ltb", M, now, "BAD_ASSERTION"); /* signed by a key that is not the gateway's */
    assert_int_equal(ltc_assertion_sign(priv, "ar.li.na", "sales", "ltb", M, now, 30, t, sizeof t), 0);
    char *dot = strchr(t + 3, '.');
    assert_non_null(dot);
    char tampered[1024];
    snprintf(tampered, sizeof tampered, "%s", t);
    tampered[5] = tampered[5] == 'A' ? 'B' : 'A'; /* a payload byte changed: the signature no longer matches */
    expect(tampered, "ltb", M, now, "BAD_ASSERTION");
    const char *junk[] = {"", "v1.", "v2.abc.def", "v1.abc", "v1.a.b.c", "v1.!!!!.AAAA", "x-ltc-principal: admin"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) expect(junk[i], "ltb", M, now, "BAD_ASSERTION");
    expect(NULL, "ltb", M, now, "BAD_ASSERTION");
    char err[200];
    assert_null(ltc_assertion_load_key("/nonexistent/key.pem", 1, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
}

/* The acting principal of a hand-off: the assertion of the user's call, carried on by the outbox row. */
static void expect_carried(const char *token, const char *reason) {
    char sub[129] = "", roles[96] = "", aud[17] = "";
    ltc_status st = {0};
    int rc = ltc_assertion_verify_carried(&pub, 1, token, sub, roles, aud, &st);
    if (!reason) {
        if (rc != 0) fail_msg("refused: %s %s", st.reason, st.message);
    } else {
        assert_int_equal(rc, -1);
        assert_string_equal(st.reason, reason);
        assert_int_equal(st.code, LTC_UNAUTHENTICATED);
        assert_string_equal(sub, "");
    }
    ltc_status_clear(&st);
}

static void test_carried_through_handoffs(void **state) {
    (void)state;
    time_t now = time(NULL);
    char t[1024];
    assert_int_equal(ltc_assertion_sign(priv, "ar.li.na", "sales", "ltb", M, now, 30, t, sizeof t), 0);
    /* the call used it (accepted once), and its hand-offs carry it on, late and more than once: still the user */
    expect(t, "ltb", M, now, NULL);
    char sub[129], roles[96], aud[17];
    ltc_status st = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ltc_assertion_verify_carried(&pub, 1, t, sub, roles, aud, &st), 0);
        assert_string_equal(sub, "ar.li.na");
        assert_string_equal(roles, "sales");
        assert_string_equal(aud, "ltb");
    }
    /* an hour later (a receiver that was down): the same answer; the call's own check would say expired */
    expect(t, "ltb", M, now + 3600, "ASSERTION_EXPIRED");
    expect_carried(t, NULL);
    /* not the gateway's key, a changed byte, junk: refused as BAD_ACTING_PRINCIPAL */
    char forged[1024];
    assert_int_equal(ltc_assertion_sign(other_priv, "ar.li.na", "admin", "ltb", M, now, 30, forged, sizeof forged), 0);
    expect_carried(forged, "BAD_ACTING_PRINCIPAL");
    char tampered[1024];
    snprintf(tampered, sizeof tampered, "%s", t);
    tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
    expect_carried(tampered, "BAD_ACTING_PRINCIPAL");
    expect_carried("", "BAD_ACTING_PRINCIPAL");
    expect_carried("ar.li.na", "BAD_ACTING_PRINCIPAL");
    /* signed by the gateway but for no stage (an audience the gateway never asserts to): refused */
    assert_int_equal(ltc_assertion_sign(priv, "ar.li.na", "sales", "gateway", M, now, 30, t, sizeof t), 0);
    expect_carried(t, "BAD_ACTING_PRINCIPAL");
    assert_int_equal(ltc_assertion_sign(priv, "ar.li.na", "sales", "dtc", "GetInvoice", now, 30, t, sizeof t), 0);
    expect_carried(t, "BAD_ACTING_PRINCIPAL"); /* not a method path of ours */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_once_then_replayed),
        cmocka_unit_test(test_bound_to_stage_method_and_time),
        cmocka_unit_test(test_forged_tampered_malformed),
        cmocka_unit_test(test_carried_through_handoffs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
