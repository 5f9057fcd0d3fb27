/* Unit tests of BTO's cost-down search (services/bto/suggest.c): cheapest valid configurations first, every
 * requirement met, rules respected, a product covering two requirements counted once, and a generated catalogue of
 * 300 products answered within the node budget (no timing assert: the bound is the node count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "suggest.h"

static const bto_capability THRU1[] = {{"THROUGHPUT", 1}}, THRU3[] = {{"THROUGHPUT", 3}}, VIS1[] = {{"VISION", 1}};
static const bto_capability BOTH[] = {{"THROUGHPUT", 1}, {"VISION", 1}};

static void test_cheapest_first_and_merge(void **state) {
    (void)state;
    const bto_candidate cands[] = {
        {"cell-slow", 30000, 20000, THRU1, 1}, /* 3 x 300 = 900 */
        {"cell-fast", 50000, 30000, THRU3, 1}, /* 1 x 500 = 500 */
        {"camera", 10000, 4000, VIS1, 1},      /* 2 x 100 = 200 */
        {"combo", 25000, 10000, BOTH, 2},      /* 3 x 250 = 750 covers both */
    };
    const bto_requirement reqs[] = {{"THROUGHPUT", 3}, {"VISION", 2}};
    bto_suggestion out[3];
    long nodes = 0;
    size_t n = bto_suggest(reqs, 2, cands, 4, NULL, 0, out, 3, &nodes);
    assert_true(n >= 2);
    assert_int_equal(out[0].total, 70000); /* cell-fast + 2 cameras */
    assert_int_equal(out[0].cost, 30000 + 8000);
    assert_int_equal(out[1].total, 75000); /* combo x 3 alone (merged: counted once) */
    assert_int_equal(out[1].n, 1);
    for (size_t i = 1; i < n; i++) assert_true(out[i - 1].total <= out[i].total);
    assert_true(nodes > 0);
}

static void test_rules_exclude_a_configuration(void **state) {
    (void)state;
    const bto_candidate cands[] = {
        {"cell-fast", 50000, 30000, THRU3, 1}, {"camera", 10000, 4000, VIS1, 1}, {"camera-pro", 20000, 5000, VIS1, 1}};
    static const char *const CAM[] = {"camera"};
    const bto_rule rules[] = {{"r/x", BTO_RULE_EXCLUDES, "cell-fast", CAM, 1, 0}};
    const bto_requirement reqs[] = {{"THROUGHPUT", 3}, {"VISION", 2}};
    bto_suggestion out[2];
    size_t n = bto_suggest(reqs, 2, cands, 3, rules, 1, out, 2, NULL);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].total, 50000 + 40000); /* camera-pro, since camera is excluded */
}

static void test_uncoverable_requirement(void **state) {
    (void)state;
    const bto_candidate cands[] = {{"cell", 100, 50, THRU1, 1}};
    const bto_requirement reqs[] = {{"VISION", 1}};
    bto_suggestion out[1];
    assert_int_equal(bto_suggest(reqs, 1, cands, 1, NULL, 0, out, 1, NULL), 0);
}

/* 300 products, 12 requirement codes, each product covering 1 to 3 codes: answered within the node budget, the
 * first suggestion the cheapest, each meeting every requirement. */
static void test_generated_catalogue_of_300(void **state) {
    (void)state;
    enum {
        N = 300,
        R = 12
    };
    static char ids[N][16], codes[R][16];
    static bto_capability caps[N][3];
    static bto_candidate cands[N];
    bto_requirement reqs[R];
    for (int r = 0; r < R; r++) {
        snprintf(codes[r], sizeof codes[r], "REQ%d", r);
        reqs[r] = (bto_requirement){codes[r], 1 + r % 4};
    }
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "p%03d", i);
        size_t nc = 1 + i % 3;
        for (size_t k = 0; k < nc; k++) {
            seed = seed * 1103515245u + 12345u;
            caps[i][k] = (bto_capability){codes[(i + k * 5) % R], 1 + (seed >> 16) % 3};
        }
        seed = seed * 1103515245u + 12345u;
        int64_t price = 1000 + (seed >> 16) % 100000;
        cands[i] = (bto_candidate){ids[i], price, price / 2, caps[i], nc};
    }
    bto_suggestion out[5];
    long nodes = 0;
    size_t n = bto_suggest(reqs, R, cands, N, NULL, 0, out, 5, &nodes);
    assert_int_equal(n, 5);
    assert_true(nodes <= BTO_SUGGEST_NODE_BUDGET + 1);
    for (size_t s = 0; s < n; s++) {
        if (s) assert_true(out[s - 1].total <= out[s].total);
        for (int r = 0; r < R; r++) {
            int64_t covered = 0;
            for (size_t j = 0; j < out[s].n; j++) {
                const bto_candidate *c = &cands[out[s].product[j]];
                for (size_t k = 0; k < c->n_caps; k++)
                    if (strcmp(c->caps[k].code, codes[r]) == 0) covered += out[s].quantity[j] * c->caps[k].per_unit;
            }
            assert_true(covered >= reqs[r].needed);
        }
    }
    printf("300 products, 12 requirements: %ld search nodes, cheapest %lld\n", nodes, (long long)out[0].total);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cheapest_first_and_merge),
        cmocka_unit_test(test_rules_exclude_a_configuration),
        cmocka_unit_test(test_uncoverable_requirement),
        cmocka_unit_test(test_generated_catalogue_of_300),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
