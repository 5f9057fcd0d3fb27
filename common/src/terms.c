/* terms.c - payment terms: stored kind text and validation (see ltc/terms.h). */
#include "ltc/terms.h"

#include <string.h>

#include "ltc/db.h"
#include "ltc/proto.h"

#define KIND_PREFIX "PAYMENT_TERM_KIND_"

const char *ltc_term_kind_to_db(Ltc__Type__V1__PaymentTermKind kind) {
    if (kind == LTC__TYPE__V1__PAYMENT_TERM_KIND__PAYMENT_TERM_KIND_UNSPECIFIED) return NULL;
    return ltc_enum_to_db(&ltc__type__v1__payment_term_kind__descriptor, KIND_PREFIX, (int)kind);
}

Ltc__Type__V1__PaymentTermKind ltc_term_kind_from_db(const char *text) {
    return (Ltc__Type__V1__PaymentTermKind)ltc_enum_from_db(&ltc__type__v1__payment_term_kind__descriptor, KIND_PREFIX,
                                                            text);
}

int ltc_check_payment_terms(ltc_call *c, Ltc__Type__V1__PaymentTerm *const *terms, size_t n, const char *field,
                            size_t max_terms, ltc_status *st) {
    if (n == 0) return ltc_status_bad_field(st, field, "at least one payment term is required");
    if (n > max_terms) return ltc_status_bad_field(st, field, "at most %zu payment terms", max_terms);
    int ok = 1;
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        const Ltc__Type__V1__PaymentTerm *t = terms[i];
        if (!t) {
            ltc_status_bad_field(st, ltc_call_printf(c, "%s[%zu]", field, i), "required");
            ok = 0;
            continue;
        }
        if (!ltc_term_kind_to_db(t->kind)) {
            ltc_status_bad_field(st, ltc_call_printf(c, "%s[%zu].kind", field, i), "unknown or unspecified kind");
            ok = 0;
        }
        if (t->share_bps < 1 || t->share_bps > 10000) {
            ltc_status_bad_field(st, ltc_call_printf(c, "%s[%zu].share_bps", field, i), "must be 1 to 10000");
            ok = 0;
        }
        const char *ms = t->milestone ? t->milestone : "";
        if (t->kind == LTC__TYPE__V1__PAYMENT_TERM_KIND__PAYMENT_TERM_KIND_MILESTONE) {
            size_t len = strlen(ms);
            if (len < 1 || len > LTC_TERM_MAX_MILESTONE) {
                ltc_status_bad_field(st, ltc_call_printf(c, "%s[%zu].milestone", field, i),
                                     "a MILESTONE term names its milestone (1 to %d characters)",
                                     LTC_TERM_MAX_MILESTONE);
                ok = 0;
            } else {
                for (size_t j = 0; j < i; j++)
                    if (terms[j] && terms[j]->milestone && strcmp(terms[j]->milestone, ms) == 0) {
                        ltc_status_bad_field(st, ltc_call_printf(c, "%s[%zu].milestone", field, i),
                                             "milestone \"%s\" is named by %s[%zu] already", ms, field, j);
                        ok = 0;
                        break;
                    }
            }
        } else if (ms[0]) {
            ltc_status_bad_field(st, ltc_call_printf(c, "%s[%zu].milestone", field, i),
                                 "only a MILESTONE term names a milestone");
            ok = 0;
        }
        if (t->due_days < 0 || t->due_days > LTC_TERM_MAX_DUE_DAYS) {
            ltc_status_bad_field(st, ltc_call_printf(c, "%s[%zu].due_days", field, i), "must be 0 to %d",
                                 LTC_TERM_MAX_DUE_DAYS);
            ok = 0;
        }
        sum += t->share_bps;
    }
    if (!ok) return -1;
    if (sum != 10000) return ltc_status_bad_field(st, field, "shares add up to %lld bps, not 10000", (long long)sum);
    return 0;
}

Ltc__Type__V1__PaymentTerm **ltc_terms_from_pg(ltc_call *c, const PGresult *r, int first_row, int n_rows, int col) {
    Ltc__Type__V1__PaymentTerm **terms = ltc_call_alloc(c, sizeof *terms * (size_t)(n_rows > 0 ? n_rows : 1));
    int milestone_col = PQfnumber(r, "milestone");
    for (int i = 0; i < n_rows; i++) {
        int row = first_row + i;
        Ltc__Type__V1__PaymentTerm *t = LTC_NEW(c, Ltc__Type__V1__PaymentTerm, LTC__TYPE__V1__PAYMENT_TERM__INIT);
        t->kind = ltc_term_kind_from_db(ltc_pg_str(r, row, col));
        t->share_bps = (int32_t)ltc_pg_i64(r, row, col + 1);
        t->due_days = (int32_t)ltc_pg_i64(r, row, col + 2);
        if (milestone_col >= 0 && !PQgetisnull(r, row, milestone_col))
            t->milestone = ltc_call_strdup(c, PQgetvalue(r, row, milestone_col));
        terms[i] = t;
    }
    return terms;
}
