/* Unit tests of common/src/status.c: codes, field violations, and the google.rpc.Status wire form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "ltc/status.h"

static void test_set_returns_minus_one_and_fills(void **state) {
    (void)state;
    ltc_status st = {0};
    assert_int_equal(ltc_status_set(&st, LTC_FAILED_PRECONDITION, "LEAD_NOT_NEW", "lead %s is %s", "x", "QUALIFIED"),
                     -1);
    assert_int_equal(st.code, LTC_FAILED_PRECONDITION);
    assert_string_equal(st.reason, "LEAD_NOT_NEW");
    assert_string_equal(st.message, "lead x is QUALIFIED");
    ltc_status_set(&st, LTC_NOT_FOUND, NULL, "gone");
    assert_string_equal(st.reason, "NOT_FOUND"); /* derived from the code */
    ltc_status_clear(&st);
    assert_int_equal(st.code, LTC_OK);
}

static void test_bad_fields_accumulate(void **state) {
    (void)state;
    ltc_status st = {0};
    assert_int_equal(ltc_status_bad_field(&st, "lead.company_name", "required"), -1);
    ltc_status_bad_field(&st, "lead.source", "must not be %s", "LEAD_SOURCE_UNSPECIFIED");
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_int_equal(st.n_violations, 2);
    assert_string_equal(st.violations[0].field, "lead.company_name");
    assert_string_equal(st.violations[1].description, "must not be LEAD_SOURCE_UNSPECIFIED");
    assert_non_null(strstr(st.message, "lead.company_name"));         /* the message names the first bad field */
    for (int i = 0; i < 40; i++) ltc_status_bad_field(&st, "f", "x"); /* bounded, no overflow */
    assert_int_equal(st.n_violations, LTC_STATUS_MAX_VIOLATIONS);
}

static void test_bad_field_replaces_other_status(void **state) {
    (void)state;
    ltc_status st = {0};
    ltc_status_set(&st, LTC_NOT_FOUND, "X", "y");
    ltc_status_bad_field(&st, "name", "malformed");
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_int_equal(st.n_violations, 1);
}

static void test_retryable_codes(void **state) {
    (void)state;
    assert_true(ltc_code_is_retryable(LTC_UNAVAILABLE));
    assert_true(ltc_code_is_retryable(LTC_DEADLINE_EXCEEDED));
    assert_true(ltc_code_is_retryable(LTC_ABORTED));
    assert_false(ltc_code_is_retryable(LTC_INVALID_ARGUMENT));
    assert_false(ltc_code_is_retryable(LTC_FAILED_PRECONDITION));
    assert_false(ltc_code_is_retryable(LTC_ALREADY_EXISTS));
    assert_false(ltc_code_is_retryable(LTC_OK));
    assert_string_equal(ltc_code_name(LTC_UNAUTHENTICATED), "UNAUTHENTICATED");
    assert_string_equal(ltc_code_name((ltc_code)99), "UNKNOWN");
}

static void test_details_round_trip(void **state) {
    (void)state;
    ltc_status st = {0};
    ltc_status_bad_field(&st, "quote.lines[1].quantity", "must be positive");
    ltc_status_bad_field(&st, "quote.deal", "required");
    size_t n = 0;
    uint8_t *bytes = ltc_status_pack_details(&st, "bto.ltc", "req-1", &n);
    assert_non_null(bytes);

    /* decode with the generated types, as any client would */
    Google__Rpc__Status *s = google__rpc__status__unpack(NULL, n, bytes);
    assert_non_null(s);
    assert_int_equal(s->code, 3);
    assert_int_equal(s->n_details, 2);
    assert_string_equal(s->details[0]->type_url, "type.googleapis.com/google.rpc.ErrorInfo");
    Google__Rpc__ErrorInfo *info =
        google__rpc__error_info__unpack(NULL, s->details[0]->value.len, s->details[0]->value.data);
    assert_string_equal(info->reason, "INVALID_ARGUMENT");
    assert_string_equal(info->domain, "bto.ltc");
    assert_int_equal(info->n_metadata, 1);
    assert_string_equal(info->metadata[0]->key, "request_id");
    assert_string_equal(info->metadata[0]->value, "req-1");
    google__rpc__error_info__free_unpacked(info, NULL);
    assert_string_equal(s->details[1]->type_url, "type.googleapis.com/google.rpc.BadRequest");
    google__rpc__status__free_unpacked(s, NULL);

    ltc_status back = {0};
    assert_int_equal(ltc_status_unpack_details(&back, bytes, n), 0);
    assert_string_equal(back.reason, "INVALID_ARGUMENT");
    assert_int_equal(back.n_violations, 2);
    assert_string_equal(back.violations[0].field, "quote.lines[1].quantity");
    free(bytes);

    /* raw details (from a peer) are passed through byte for byte */
    ltc_status raw = {0};
    raw.code = LTC_NOT_FOUND;
    raw.raw_details = malloc(3);
    memcpy(raw.raw_details, "\x08\x05\x12", 3);
    raw.raw_details_len = 3;
    uint8_t *copy = ltc_status_pack_details(&raw, "gateway.ltc", NULL, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(copy, "\x08\x05\x12", 3);
    free(copy);
    ltc_status_clear(&raw);
}

/* ltc_status_meta: extra ErrorInfo metadata after request_id, at most LTC_STATUS_MAX_META; cleared with the status. */
static void test_metadata_entries(void **state) {
    (void)state;
    ltc_status st = {0};
    ltc_status_set(&st, LTC_ALREADY_EXISTS, "DUPLICATE_CUSTOMER", "matches");
    assert_int_equal(ltc_status_meta(&st, "matches", "%s,%s", "customers/a", "leads/b"), -1);
    ltc_status_meta(&st, "second", "2");
    ltc_status_meta(&st, "third", "dropped");
    assert_int_equal(st.n_meta, LTC_STATUS_MAX_META);
    assert_string_equal(st.reason, "DUPLICATE_CUSTOMER");
    size_t n = 0;
    uint8_t *bytes = ltc_status_pack_details(&st, "ltb.ltc", "req-2", &n);
    Google__Rpc__Status *s = google__rpc__status__unpack(NULL, n, bytes);
    assert_non_null(s);
    Google__Rpc__ErrorInfo *info =
        google__rpc__error_info__unpack(NULL, s->details[0]->value.len, s->details[0]->value.data);
    assert_int_equal(info->n_metadata, 3);
    assert_string_equal(info->metadata[0]->key, "request_id");
    assert_string_equal(info->metadata[1]->key, "matches");
    assert_string_equal(info->metadata[1]->value, "customers/a,leads/b");
    assert_string_equal(info->metadata[2]->value, "2");
    google__rpc__error_info__free_unpacked(info, NULL);
    google__rpc__status__free_unpacked(s, NULL);
    free(bytes);
    /* without a request id, the entries alone */
    bytes = ltc_status_pack_details(&st, "ltb.ltc", NULL, &n);
    s = google__rpc__status__unpack(NULL, n, bytes);
    info = google__rpc__error_info__unpack(NULL, s->details[0]->value.len, s->details[0]->value.data);
    assert_int_equal(info->n_metadata, 2);
    google__rpc__error_info__free_unpacked(info, NULL);
    google__rpc__status__free_unpacked(s, NULL);
    free(bytes);
    ltc_status_clear(&st);
    assert_int_equal(st.n_meta, 0);
}

static void test_unpack_rejects_garbage(void **state) {
    (void)state;
    ltc_status st = {0};
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(ltc_status_unpack_details(&st, junk, sizeof junk), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_returns_minus_one_and_fills),
        cmocka_unit_test(test_bad_fields_accumulate),
        cmocka_unit_test(test_bad_field_replaces_other_status),
        cmocka_unit_test(test_retryable_codes),
        cmocka_unit_test(test_details_round_trip),
        cmocka_unit_test(test_metadata_entries),
        cmocka_unit_test(test_unpack_rejects_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
