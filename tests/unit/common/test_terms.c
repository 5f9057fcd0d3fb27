/* Unit tests of common/src/terms.c: the stored text of payment term kinds and the validation of a list of terms
 * (shared by BTO's contracts, OTD's orders and DTC's accounts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ltc/server.h"
#include "ltc/terms.h"

#define KIND(x) LTC__TYPE__V1__PAYMENT_TERM_KIND__PAYMENT_TERM_KIND_##x

static int setup(void **state) {
    *state = ltc_call_create_detached(NULL);
    return *state ? 0 : -1;
}

static int teardown(void **state) {
    ltc_call_destroy_detached(*state);
    return 0;
}

static Ltc__Type__V1__PaymentTerm term(Ltc__Type__V1__PaymentTermKind kind, int32_t bps, int32_t due) {
    Ltc__Type__V1__PaymentTerm t = LTC__TYPE__V1__PAYMENT_TERM__INIT;
    t.kind = kind;
    t.share_bps = bps;
    t.due_days = due;
    return t;
}

static void test_kind_text(void **state) {
    (void)state;
    assert_string_equal(ltc_term_kind_to_db(KIND(ADVANCE)), "ADVANCE");
    assert_string_equal(ltc_term_kind_to_db(KIND(ON_DELIVERY)), "ON_DELIVERY");
    assert_string_equal(ltc_term_kind_to_db(KIND(ON_ACCEPTANCE)), "ON_ACCEPTANCE");
    assert_string_equal(ltc_term_kind_to_db(KIND(RETENTION)), "RETENTION");
    assert_null(ltc_term_kind_to_db(KIND(UNSPECIFIED)));
    assert_null(ltc_term_kind_to_db((Ltc__Type__V1__PaymentTermKind)99));
    assert_null(ltc_term_kind_to_db((Ltc__Type__V1__PaymentTermKind)-1));
    assert_int_equal(ltc_term_kind_from_db("RETENTION"), KIND(RETENTION));
    assert_int_equal(ltc_term_kind_from_db("ADVANCE"), KIND(ADVANCE));
    assert_int_equal(ltc_term_kind_from_db("advance"), KIND(UNSPECIFIED));
    assert_int_equal(ltc_term_kind_from_db(""), KIND(UNSPECIFIED));
    assert_int_equal(ltc_term_kind_from_db(NULL), KIND(UNSPECIFIED));
    assert_int_equal(ltc_term_kind_from_db("PAYMENT_TERM_KIND_ADVANCE"), KIND(UNSPECIFIED));
}

static void test_valid_terms(void **state) {
    ltc_call *c = *state;
    Ltc__Type__V1__PaymentTerm a = term(KIND(ADVANCE), 3000, 0), b = term(KIND(ON_ACCEPTANCE), 6000, 30),
                               r = term(KIND(RETENTION), 1000, 3650);
    Ltc__Type__V1__PaymentTerm *terms[] = {&a, &b, &r};
    ltc_status st = {0};
    assert_int_equal(ltc_check_payment_terms(c, terms, 3, "payment_terms", 10, &st), 0);
    assert_int_equal(st.code, LTC_OK);
    Ltc__Type__V1__PaymentTerm all = term(KIND(ON_DELIVERY), 10000, 0);
    Ltc__Type__V1__PaymentTerm *one[] = {&all};
    assert_int_equal(ltc_check_payment_terms(c, one, 1, "payment_terms", 1, &st), 0);
}

static void test_count(void **state) {
    ltc_call *c = *state;
    Ltc__Type__V1__PaymentTerm a = term(KIND(ADVANCE), 5000, 0), b = term(KIND(ADVANCE), 5000, 0);
    Ltc__Type__V1__PaymentTerm *terms[] = {&a, &b};
    ltc_status st = {0};
    assert_int_equal(ltc_check_payment_terms(c, terms, 0, "contract.payment_terms", 10, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_string_equal(st.violations[0].field, "contract.payment_terms");
    ltc_status_clear(&st);
    assert_int_equal(ltc_check_payment_terms(c, terms, 2, "contract.payment_terms", 1, &st), -1);
    assert_int_equal(st.n_violations, 1);
    assert_string_equal(st.violations[0].field, "contract.payment_terms");
}

/* Every bad field of every term is named; the sum is only checked when each term is valid. */
static void test_bad_fields(void **state) {
    ltc_call *c = *state;
    Ltc__Type__V1__PaymentTerm a = term(KIND(UNSPECIFIED), 0, -1);
    Ltc__Type__V1__PaymentTerm b = term((Ltc__Type__V1__PaymentTermKind)42, 10001, 3651);
    Ltc__Type__V1__PaymentTerm *terms[] = {&a, &b};
    ltc_status st = {0};
    assert_int_equal(ltc_check_payment_terms(c, terms, 2, "payment_terms", 10, &st), -1);
    assert_int_equal(st.code, LTC_INVALID_ARGUMENT);
    assert_int_equal(st.n_violations, 6);
    const char *want[] = {"payment_terms[0].kind", "payment_terms[0].share_bps", "payment_terms[0].due_days",
                          "payment_terms[1].kind", "payment_terms[1].share_bps", "payment_terms[1].due_days"};
    for (int i = 0; i < 6; i++) assert_string_equal(st.violations[i].field, want[i]);
}

static void test_shares_must_add_up(void **state) {
    ltc_call *c = *state;
    Ltc__Type__V1__PaymentTerm a = term(KIND(ADVANCE), 3000, 0), b = term(KIND(RETENTION), 6999, 90);
    Ltc__Type__V1__PaymentTerm *terms[] = {&a, &b};
    ltc_status st = {0};
    assert_int_equal(ltc_check_payment_terms(c, terms, 2, "contract.payment_terms", 10, &st), -1);
    assert_int_equal(st.n_violations, 1);
    assert_string_equal(st.violations[0].field, "contract.payment_terms");
    assert_non_null(strstr(st.violations[0].description, "9999"));
    ltc_status_clear(&st);
    b.share_bps = 7001;
    assert_int_equal(ltc_check_payment_terms(c, terms, 2, "contract.payment_terms", 10, &st), -1);
    assert_non_null(strstr(st.violations[0].description, "10001"));
}

static void test_milestone_names(void **state) {
    ltc_call *c = *state;
    Ltc__Type__V1__PaymentTerm a = term(KIND(ADVANCE), 2000, 0), m1 = term(KIND(MILESTONE), 3000, 15),
                               m2 = term(KIND(MILESTONE), 5000, 30);
    Ltc__Type__V1__PaymentTerm *terms[] = {&a, &m1, &m2};
    m1.milestone = "site survey";
    m2.milestone = "go-live";
    ltc_status st = {0};
    assert_int_equal(ltc_check_payment_terms(c, terms, 3, "t", 10, &st), 0);
    assert_string_equal(ltc_term_kind_to_db(KIND(MILESTONE)), "MILESTONE");
    /* unnamed, a duplicate, a name on another kind, too long: each named by its field */
    char longname[66];
    memset(longname, 'x', 65);
    longname[65] = '\0';
    char *cases[][3] = {
        {"", "go-live", ""}, {"go-live", "go-live", ""}, {"site", "go-live", "x"}, {longname, "go-live", ""}};
    const char *fields[] = {"t[1].milestone", "t[2].milestone", "t[0].milestone", "t[1].milestone"};
    for (int k = 0; k < 4; k++) {
        m1.milestone = cases[k][0];
        m2.milestone = cases[k][1];
        a.milestone = cases[k][2];
        ltc_status bad = {0};
        assert_int_equal(ltc_check_payment_terms(c, terms, 3, "t", 10, &bad), -1);
        assert_int_equal(bad.code, LTC_INVALID_ARGUMENT);
        assert_int_equal(bad.n_violations, 1);
        assert_string_equal(bad.violations[0].field, fields[k]);
        ltc_status_clear(&bad);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_text),
        cmocka_unit_test(test_valid_terms),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_shares_must_add_up),
        cmocka_unit_test(test_milestone_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
