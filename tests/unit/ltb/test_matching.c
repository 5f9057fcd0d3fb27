/* Unit tests of LTB's duplicate matching, the pure part (services/ltb/matching.c): key rows grouped into one match per
 * party with each reason once, customers first; confirmations through distinct_from; the "matches" metadata.
 * (Normalisation itself is SQL only, migrations/002_customers.sql: see matching.h.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "matching.h"

#define C1 "11111111-1111-4111-8111-111111111111"
#define C2 "22222222-2222-4222-8222-222222222222"
#define L1 "33333333-3333-4333-8333-333333333333"

static const ltb_match_row ROWS[] = {
    {"LEAD", L1, "HX Cargo", "PHONE", "+862155550100"},
    {"CUSTOMER", C1, "Huaxin Logistics Co., Ltd.", "COMPANY_NAME", "huaxinlogistics"},
    {"CUSTOMER", C2, "HX Freight", "PHONE", "+862155550100"},
    {"CUSTOMER", C1, "Huaxin Logistics Co., Ltd.", "EMAIL", "wang.fang@huaxin.example"},
    {"CUSTOMER", C1, "Huaxin Logistics Co., Ltd.", "PHONE", "+862155550100"},
    {"CUSTOMER", C1, "Huaxin Logistics Co., Ltd.", "PHONE", "+862155550100"}, /* a second contact, same phone */
    {"LEAD", L1, "HX Cargo", "EMAIL", "wang.fang@huaxin.example"},
};
#define NROWS (sizeof ROWS / sizeof ROWS[0])

static void test_group_one_match_per_party_customers_first(void **state) {
    (void)state;
    ltb_match m[8];
    size_t n = ltb_match_group(ROWS, NROWS, m, 8);
    assert_int_equal(n, 3);
    assert_string_equal(m[0].id, C1);
    assert_false(m[0].is_lead);
    assert_int_equal(m[0].n_reasons, 3); /* name, e-mail, phone once */
    assert_string_equal(m[0].reasons[0].field, "COMPANY_NAME");
    assert_string_equal(m[0].reasons[1].field, "EMAIL");
    assert_string_equal(m[0].reasons[2].field, "PHONE");
    assert_string_equal(m[1].id, C2);
    assert_int_equal(m[1].n_reasons, 1);
    assert_string_equal(m[2].id, L1);
    assert_true(m[2].is_lead);
    assert_int_equal(m[2].n_reasons, 2);
    assert_string_equal(m[2].display, "HX Cargo");
}

static void test_group_respects_max_and_empty(void **state) {
    (void)state;
    ltb_match m[1];
    assert_int_equal(ltb_match_group(ROWS, NROWS, m, 1), 1);
    assert_string_equal(m[0].id, C1);
    assert_int_equal(m[0].n_reasons, 3);
    assert_int_equal(ltb_match_group(ROWS, 0, m, 1), 0);
    const ltb_match_row bad[] = {{"CUSTOMER", "", "x", "EMAIL", "a@b.c"}};
    assert_int_equal(ltb_match_group(bad, 1, m, 1), 0);
}

static void test_names_and_confirmation(void **state) {
    (void)state;
    ltb_match m[8];
    size_t n = ltb_match_group(ROWS, NROWS, m, 8);
    char buf[512];
    assert_string_equal(ltb_match_names(m, n, buf, sizeof buf), "customers/" C1 ",customers/" C2 ",leads/" L1);

    const char *none[] = {NULL};
    assert_int_equal(ltb_match_unconfirmed(m, n, none, 0), 3);
    const char *some[] = {"customers/" C2, "leads/" L1};
    size_t open = ltb_match_unconfirmed(m, n, some, 2);
    assert_int_equal(open, 1);
    assert_string_equal(ltb_match_names(m, open, buf, sizeof buf), "customers/" C1);
    const char *all[] = {"leads/" L1, "customers/" C1, "customers/" C2};
    assert_int_equal(ltb_match_unconfirmed(m, n, all, 3), 0);
    /* a lead's id named as a customer is not a confirmation */
    const char *wrong[] = {"customers/" L1, "customers/" C1, "customers/" C2};
    open = ltb_match_unconfirmed(m, n, wrong, 3);
    assert_int_equal(open, 1);
    assert_true(m[0].is_lead);
}

static void test_names_cut_whole_and_at_twenty(void **state) {
    (void)state;
    ltb_match m[25];
    memset(m, 0, sizeof m);
    static char ids[25][40];
    for (int i = 0; i < 25; i++) {
        snprintf(ids[i], sizeof ids[i], "%036d", i);
        m[i].id = ids[i];
    }
    char buf[2048];
    ltb_match_names(m, 25, buf, sizeof buf);
    size_t commas = 0;
    for (char *p = buf; *p; p++) commas += *p == ',';
    assert_int_equal(commas, LTB_MATCH_NAMES_MAX - 1);
    char small[60]; /* room for one name (46) only */
    ltb_match_names(m, 25, small, sizeof small);
    assert_int_equal(strlen(small), strlen("customers/") + 36);
    assert_null(strchr(small, ','));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_one_match_per_party_customers_first),
        cmocka_unit_test(test_group_respects_max_and_empty),
        cmocka_unit_test(test_names_and_confirmation),
        cmocka_unit_test(test_names_cut_whole_and_at_twenty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
