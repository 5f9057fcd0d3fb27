/* fuzz_filter.c - libFuzzer target for the list filter and order_by parsers (common/src/filter.c, ltc/filter.h).
 * Input: the first byte picks order_by (odd) or filter (even); the rest is the text.
 * Properties, besides no crash / UB:
 *   a refusal is INVALID_ARGUMENT naming "filter" (or "order_by") with well-formed details;
 *   an accepted filter has at most LTC_FILTER_MAX_TERMS terms, each on a whitelisted field with an operator that
 *     field allows, no (field, operator) twice, values within LTC_FILTER_MAX_VALUE, ENUM values from the list, DATE
 *     values of 10 characters, INT values that print back as their number;
 *   printing the accepted terms back (quoted, escaped) and parsing that gives the same terms (a round trip). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "ltc/filter.h"

static const char *const STAGES[] = {"QUALIFIED", "BIDDING", "WON", "LOST", NULL};
static const ltc_filter_field FIELDS[] = {
    {"stage", LTC_FILTER_ENUM, LTC_FILTER_EQ | LTC_FILTER_NE, STAGES, "OPPORTUNITY_STAGE_"},
    {"owner", LTC_FILTER_STRING, LTC_FILTER_EQ, NULL, NULL},
    {"create_time", LTC_FILTER_DATE, LTC_FILTER_RANGE, NULL, NULL},
    {"expected_amount.units", LTC_FILTER_INT, LTC_FILTER_RANGE, NULL, NULL},
};
#define NF (sizeof FIELDS / sizeof FIELDS[0])

static const char *op_text(unsigned op) {
    return op == LTC_FILTER_EQ   ? "="
           : op == LTC_FILTER_NE ? "!="
           : op == LTC_FILTER_LT ? "<"
           : op == LTC_FILTER_LE ? "<="
           : op == LTC_FILTER_GT ? ">"
                                 : ">=";
}

static void check_filter(const char *text) {
    ltc_filter f;
    ltc_status st = {0};
    if (ltc_filter_parse(text, FIELDS, NF, &f, &st) != 0) {
        fuzz_check_failure(&st, "filter");
        FUZZ_REQUIRE(st.code == LTC_INVALID_ARGUMENT && st.n_violations >= 1, "code %d", (int)st.code);
        FUZZ_REQUIRE(strcmp(st.violations[0].field, "filter") == 0, "field %s", st.violations[0].field);
        return;
    }
    FUZZ_REQUIRE(f.n <= LTC_FILTER_MAX_TERMS, "%zu terms", f.n);
    static char again[LTC_FILTER_MAX_TERMS * (2 * LTC_FILTER_MAX_VALUE + 64) + 1];
    size_t w = 0;
    again[0] = '\0';
    for (size_t k = 0; k < f.n; k++) {
        const ltc_filter_term *t = &f.terms[k];
        FUZZ_REQUIRE(t->field < NF, "field %zu", t->field);
        FUZZ_REQUIRE(FIELDS[t->field].ops & t->op, "op %u on %s", t->op, FIELDS[t->field].name);
        FUZZ_REQUIRE(strlen(t->value) <= LTC_FILTER_MAX_VALUE, "value length %zu", strlen(t->value));
        for (size_t j = 0; j < k; j++)
            FUZZ_REQUIRE(!(f.terms[j].field == t->field && f.terms[j].op == t->op), "term %zu twice", k);
        if (FIELDS[t->field].type == LTC_FILTER_DATE) FUZZ_REQUIRE(strlen(t->value) == 10, "date %s", t->value);
        if (FIELDS[t->field].type == LTC_FILTER_INT) {
            char n[32];
            snprintf(n, sizeof n, "%lld", (long long)t->number);
            FUZZ_REQUIRE(strcmp(n, t->value) == 0, "int %s vs %s", n, t->value);
        }
        w += (size_t)snprintf(again + w, sizeof again - w, "%s%s %s \"", k ? " AND " : "", FIELDS[t->field].name,
                              op_text(t->op));
        for (const char *p = t->value; *p; p++) {
            if (*p == '"' || *p == '\\') again[w++] = '\\';
            again[w++] = *p;
        }
        again[w++] = '"';
        again[w] = '\0';
    }
    ltc_filter g;
    ltc_status st2 = {0};
    FUZZ_REQUIRE(ltc_filter_parse(again, FIELDS, NF, &g, &st2) == 0, "round trip of %s refused", again);
    FUZZ_REQUIRE(g.n == f.n, "round trip: %zu terms, was %zu", g.n, f.n);
    for (size_t k = 0; k < f.n; k++)
        FUZZ_REQUIRE(g.terms[k].field == f.terms[k].field && g.terms[k].op == f.terms[k].op &&
                         strcmp(g.terms[k].value, f.terms[k].value) == 0,
                     "round trip term %zu differs", k);
}

static void check_order_by(const char *text) {
    static const char *const ORD[] = {"create_time", "expected_amount"};
    int field = 0, desc = 0;
    ltc_status st = {0};
    if (ltc_order_by_parse(text, ORD, 2, &field, &desc, &st) != 0) {
        fuzz_check_failure(&st, "order_by");
        FUZZ_REQUIRE(strcmp(st.violations[0].field, "order_by") == 0, "field %s", st.violations[0].field);
        return;
    }
    FUZZ_REQUIRE(field >= -1 && field < 2, "field %d", field);
    FUZZ_REQUIRE(desc == 0 || desc == 1, "desc %d", desc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] & 1)
        check_order_by(text);
    else
        check_filter(text);
    free(text);
    return 0;
}
