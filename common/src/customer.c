/* customer.c - the customer snapshot every stage after LTB keeps (ltc/customer.h). */
#include "ltc/customer.h"

#include <stdio.h>
#include <string.h>

#include "ltc/db.h"
#include "ltc/proto.h"

/* True when s is "" or exactly n upper-case ASCII letters. */
static int upper_code(const char *s, size_t n) {
    if (!s || !*s) return 1;
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z') return 0;
    return 1;
}

int ltc_customer_check(const Ltc__Type__V1__CustomerSnapshot *s, const char *field, int required,
                       char id_out[LTC_UUID_LEN + 1], ltc_status *st) {
    id_out[0] = '\0';
    if (!s) return required ? ltc_status_bad_field(st, field, "required") : 0;
    char f[96];
    int bad = 0;
    snprintf(f, sizeof f, "%s.customer", field);
    if (ltc_name_parse(s->customer, "customers", f, id_out, st) != 0) bad = 1;
    snprintf(f, sizeof f, "%s.legal_name", field);
    if (ltc_check_text(s->legal_name, f, 1, 200, st) != 0) bad = 1;
    snprintf(f, sizeof f, "%s.tax_id", field);
    if (ltc_check_text(s->tax_id, f, 0, 64, st) != 0) bad = 1;
    snprintf(f, sizeof f, "%s.country_code", field);
    if (!upper_code(s->country_code, 2)) bad = ltc_status_bad_field(st, f, "must be an ISO 3166-1 alpha-2 code");
    snprintf(f, sizeof f, "%s.billing_currency", field);
    if (!upper_code(s->billing_currency, 3)) bad = ltc_status_bad_field(st, f, "must be an ISO 4217 code");
    snprintf(f, sizeof f, "%s.account_owner", field);
    if (ltc_check_text(s->account_owner, f, 0, 128, st) != 0) bad = 1;
    return bad ? -1 : 0;
}

Ltc__Type__V1__CustomerSnapshot *ltc_customer_from_pg(ltc_call *c, const PGresult *r, int row, int col) {
    if (PQgetisnull(r, row, col)) return NULL;
    Ltc__Type__V1__CustomerSnapshot *s =
        LTC_NEW(c, Ltc__Type__V1__CustomerSnapshot, LTC__TYPE__V1__CUSTOMER_SNAPSHOT__INIT);
    s->customer = ltc_call_printf(c, "customers/%s", ltc_pg_str(r, row, col));
    s->legal_name = ltc_call_strdup(c, ltc_pg_str(r, row, col + 1));
    s->tax_id = ltc_call_strdup(c, ltc_pg_str(r, row, col + 2));
    s->country_code = ltc_call_strdup(c, ltc_pg_str(r, row, col + 3));
    s->billing_currency = ltc_call_strdup(c, ltc_pg_str(r, row, col + 4));
    s->account_owner = ltc_call_strdup(c, ltc_pg_str(r, row, col + 5));
    return s;
}
