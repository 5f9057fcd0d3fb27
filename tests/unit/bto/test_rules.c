/* Unit tests of BTO's configuration rules engine (services/bto/rules.c): requires, excludes, min/max quantity and
 * bundle-needs-one-of; every broken rule is reported (not only the first); rules of products not configured never
 * apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

static const char *const BASE_OPTS[] = {"base"};
static const char *const EXCL[] = {"competitor", "legacy"};
static const char *const COMPONENTS[] = {"cell-a", "cell-b"};

static const bto_rule RULES[] = {
    {"r/requires", BTO_RULE_REQUIRES, "option", BASE_OPTS, 1, 0},
    {"r/excludes", BTO_RULE_EXCLUDES, "base", EXCL, 2, 0},
    {"r/min", BTO_RULE_MIN_QUANTITY, "cell-a", NULL, 0, 2},
    {"r/max", BTO_RULE_MAX_QUANTITY, "option", NULL, 0, 4},
    {"r/bundle", BTO_RULE_BUNDLE_NEEDS_ONE_OF, "bundle", COMPONENTS, 2, 0},
};
#define N_RULES (sizeof RULES / sizeof RULES[0])

static void test_valid_configuration(void **state) {
    (void)state;
    const bto_config_line lines[] = {{"base", 1}, {"option", 4}, {"bundle", 1}, {"CELL-A", 2}};
    bto_rule_violation v[8];
    assert_int_equal(bto_rules_check(lines, 4, RULES, N_RULES, v, 8), 0);
}

static void test_every_broken_rule_named(void **state) {
    (void)state;
    /* option without base (requires), option x5 (max), bundle without components, and legacy + competitor would be
     * excluded only with base present: absent here */
    const bto_config_line lines[] = {{"option", 5}, {"bundle", 1}, {"legacy", 1}};
    bto_rule_violation v[8];
    size_t n = bto_rules_check(lines, 3, RULES, N_RULES, v, 8);
    assert_int_equal(n, 3);
    assert_int_equal(v[0].rule, 0);
    assert_int_equal(v[0].line, 0);
    assert_string_equal(v[0].other, "base");
    assert_int_equal(v[1].rule, 3);
    assert_int_equal(v[2].rule, 4);
    assert_int_equal(v[2].line, 1);
    char buf[200];
    assert_string_equal(bto_rule_describe(RULES, lines, &v[0], buf, sizeof buf),
                        "r/requires: products/option requires products/base");
    assert_string_equal(bto_rule_describe(RULES, lines, &v[1], buf, sizeof buf),
                        "r/max: products/option allows a quantity of at most 4 (has 5)");
    assert_string_equal(bto_rule_describe(RULES, lines, &v[2], buf, sizeof buf),
                        "r/bundle: bundle products/bundle needs one of its 2 components");
}

static void test_excludes_each_product_and_min(void **state) {
    (void)state;
    const bto_config_line lines[] = {{"base", 1}, {"competitor", 1}, {"legacy", 3}, {"cell-a", 1}};
    bto_rule_violation v[8];
    size_t n = bto_rules_check(lines, 4, RULES, N_RULES, v, 8);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].other, "competitor");
    assert_string_equal(v[1].other, "legacy");
    assert_int_equal(v[2].rule, 2);
    assert_int_equal(v[2].line, 3);
    /* only max_out written, but all counted */
    assert_int_equal(bto_rules_check(lines, 4, RULES, N_RULES, v, 1), 3);
}

static void test_unknown_kind_is_broken(void **state) {
    (void)state;
    const bto_rule odd[] = {{"r/odd", (bto_rule_kind)99, "base", NULL, 0, 0}};
    const bto_config_line lines[] = {{"base", 1}};
    bto_rule_violation v[1];
    assert_int_equal(bto_rules_check(lines, 1, odd, 1, v, 1), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_configuration),
        cmocka_unit_test(test_every_broken_rule_named),
        cmocka_unit_test(test_excludes_each_product_and_min),
        cmocka_unit_test(test_unknown_kind_is_broken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
