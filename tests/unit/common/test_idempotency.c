/* Unit tests of common/src/idempotency.c and fields.c without a database: the idempotency key a request names and
 * its checks, fingerprints (the same request with unknown fields at any depth is the same request; any known
 * difference is another), packing without unknown fields leaving the message as it was, and dotted field paths.
 * Claiming and storing keys need PostgreSQL (tests/db, the integration suites). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "ltc/ltb/v1/ltb_service.pb-c.h"

static const ltc_method WRITE = {
    .path = "/ltc.ltb.v1.LeadToBidService/CreateLead", .flags = LTC_METHOD_WRITE, .idempotency_field = "request_id"};
static const ltc_method HANDOFF = {.path = "/ltc.ltb.v1.LeadToBidService/CreateLead",
                                   .flags = LTC_METHOD_WRITE | LTC_METHOD_KEY_REQUIRED,
                                   .idempotency_field = "request_id"};
static const ltc_method NO_KEY = {
    .path = "/ltc.ltb.v1.LeadToBidService/CreateLead", .flags = LTC_METHOD_WRITE, .idempotency_field = "no_such_field"};

static void test_key(void **state) {
    (void)state;
    Ltc__Ltb__V1__CreateLeadRequest req = LTC__LTB__V1__CREATE_LEAD_REQUEST__INIT;
    const char *key = "x";
    ltc_status st = {0};
    assert_int_equal(ltc_idempotency__key(&WRITE, &req.base, &key, &st), 0); /* "" is no key */
    assert_null(key);
    assert_int_equal(ltc_idempotency__key(&NO_KEY, &req.base, &key, &st), 0);
    assert_null(key);
    req.request_id = "retry-1";
    assert_int_equal(ltc_idempotency__key(&WRITE, &req.base, &key, &st), 0);
    assert_string_equal(key, "retry-1");

    char long_key[130];
    memset(long_key, 'k', 129);
    long_key[129] = 0;
    req.request_id = long_key;
    assert_int_equal(ltc_idempotency__key(&WRITE, &req.base, &key, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "128"));
    ltc_status_clear(&st);
    long_key[128] = 0; /* exactly 128: accepted */
    assert_int_equal(ltc_idempotency__key(&WRITE, &req.base, &key, &st), 0);

    /* hand-offs: required, and a UUID */
    req.request_id = "";
    assert_int_equal(ltc_idempotency__key(&HANDOFF, &req.base, &key, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "required"));
    ltc_status_clear(&st);
    req.request_id = "retry-1";
    assert_int_equal(ltc_idempotency__key(&HANDOFF, &req.base, &key, &st), -1);
    assert_non_null(strstr(st.message, "UUID"));
    ltc_status_clear(&st);
    req.request_id = "4f1c2d3e-0000-4000-8000-00000000a001";
    assert_int_equal(ltc_idempotency__key(&HANDOFF, &req.base, &key, &st), 0);
    assert_string_equal(key, req.request_id);
}

/* A CreateLeadRequest packed, with an unknown field (number 99, varint 1) appended to the lead, to the request,
 * or to both. */
static size_t request_bytes(uint8_t *buf, const char *company, int unknown_in_lead, int unknown_at_top) {
    Ltc__Ltb__V1__Lead lead = LTC__LTB__V1__LEAD__INIT;
    lead.company_name = (char *)company;
    uint8_t lead_buf[256];
    size_t lead_len = protobuf_c_message_pack(&lead.base, lead_buf);
    const uint8_t unknown[] = {0x98, 0x06, 0x01}; /* (99 << 3) | 0 as a varint, then 1 */
    if (unknown_in_lead) {
        memcpy(lead_buf + lead_len, unknown, sizeof unknown);
        lead_len += sizeof unknown;
    }
    size_t n = 0;
    buf[n++] = 0x0a; /* field 1 (lead), length-delimited */
    buf[n++] = (uint8_t)lead_len;
    memcpy(buf + n, lead_buf, lead_len);
    n += lead_len;
    const char *rid = "retry-1";
    buf[n++] = 0x12; /* field 2 (request_id) */
    buf[n++] = (uint8_t)strlen(rid);
    memcpy(buf + n, rid, strlen(rid));
    n += strlen(rid);
    if (unknown_at_top) {
        memcpy(buf + n, unknown, sizeof unknown);
        n += sizeof unknown;
    }
    return n;
}

static ProtobufCMessage *unpack(const uint8_t *buf, size_t n) {
    ProtobufCMessage *m = protobuf_c_message_unpack(&ltc__ltb__v1__create_lead_request__descriptor, NULL, n, buf);
    assert_non_null(m);
    return m;
}

static void fingerprint_of(ltc_call *c, const char *company, int in_lead, int at_top, uint8_t fp[32]) {
    uint8_t buf[512];
    ProtobufCMessage *m = unpack(buf, request_bytes(buf, company, in_lead, at_top));
    ltc_status st = {0};
    assert_int_equal(ltc_idempotency__fingerprint(c, m, fp, &st), 0);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_fingerprint_ignores_unknown_fields(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    uint8_t plain[32], top[32], nested[32], both[32], other[32];
    fingerprint_of(c, "Acme", 0, 0, plain);
    fingerprint_of(c, "Acme", 0, 1, top);
    fingerprint_of(c, "Acme", 1, 0, nested);
    fingerprint_of(c, "Acme", 1, 1, both);
    fingerprint_of(c, "Acme Ltd", 0, 0, other);
    assert_memory_equal(plain, top, 32);
    assert_memory_equal(plain, nested, 32);
    assert_memory_equal(plain, both, 32);
    assert_memory_not_equal(plain, other, 32);
    ltc_call_destroy_detached(c);
}

static void test_pack_known_leaves_the_message_as_it_was(void **state) {
    (void)state;
    ltc_call *c = ltc_call_create_detached(NULL);
    uint8_t buf[512], plain_buf[512];
    size_t n = request_bytes(buf, "Acme", 1, 1);
    size_t plain_n = request_bytes(plain_buf, "Acme", 0, 0);
    ProtobufCMessage *m = unpack(buf, n);
    const Ltc__Ltb__V1__CreateLeadRequest *req = (const void *)m;
    assert_int_equal(m->n_unknown_fields, 1);
    assert_int_equal(req->lead->base.n_unknown_fields, 1);
    size_t len = 0;
    uint8_t *known = ltc_fields__pack_known(c, m, &len);
    assert_non_null(known);
    assert_int_equal(len, plain_n);
    assert_memory_equal(known, plain_buf, plain_n);
    free(known);
    /* restored: packing it whole gives back what came in */
    assert_int_equal(m->n_unknown_fields, 1);
    assert_int_equal(req->lead->base.n_unknown_fields, 1);
    uint8_t *whole = ltc_fields__pack(m, &len);
    assert_int_equal(len, n);
    assert_memory_equal(whole, buf, n);
    free(whole);
    protobuf_c_message_free_unpacked(m, NULL);
    ltc_call_destroy_detached(c);
}

static void test_field_paths(void **state) {
    (void)state;
    Ltc__Ltb__V1__Lead lead = LTC__LTB__V1__LEAD__INIT;
    Ltc__Ltb__V1__CreateLeadRequest req = LTC__LTB__V1__CREATE_LEAD_REQUEST__INIT;
    lead.name = "leads/1";
    req.request_id = "r-1";
    assert_null(ltc_fields__string(&req.base, "lead.name")); /* no lead */
    req.lead = &lead;
    assert_string_equal(ltc_fields__string(&req.base, "lead.name"), "leads/1");
    assert_string_equal(ltc_fields__string(&req.base, "request_id"), "r-1");
    assert_null(ltc_fields__string(&req.base, "lead"));         /* a message, not a string */
    assert_null(ltc_fields__string(&req.base, "lead.source"));  /* an enum */
    assert_null(ltc_fields__string(&req.base, "request_id.x")); /* a string has no fields */
    assert_null(ltc_fields__string(&req.base, "nope"));
    assert_null(ltc_fields__string(&req.base, "lead.nope"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_fingerprint_ignores_unknown_fields),
        cmocka_unit_test(test_pack_known_leaves_the_message_as_it_was),
        cmocka_unit_test(test_field_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
