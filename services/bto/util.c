/* util.c - small helpers shared by the BTO handlers: money and names for responses, statement parameters,
 * timestamps in, and the stored text of states. */
#include <string.h>

#include "bto.h"
#include "ltc/ids.h"
#include "ltc/money.h"

Ltc__Type__V1__Money *bto_money(ltc_call *c, const char *currency, int64_t minor) {
    Ltc__Type__V1__Money *m = LTC_NEW(c, Ltc__Type__V1__Money, LTC__TYPE__V1__MONEY__INIT);
    ltc_money_to_proto(currency, minor, m);
    return m;
}

Ltc__Type__V1__Money *bto_money_pg(ltc_call *c, const PGresult *r, int row, int minor_col, int currency_col) {
    if (ltc_pg_isnull(r, row, minor_col) || ltc_pg_isnull(r, row, currency_col))
        return NULL;
    return bto_money(c, ltc_pg_str(r, row, currency_col), ltc_pg_i64(r, row, minor_col));
}

char *bto_name(ltc_call *c, const char *collection, const char *id) {
    if (!id)
        return ltc_call_strdup(c, "");
    return ltc_call_printf(c, "%s/%s", collection, id);
}

char *bto_i64(ltc_call *c, int64_t v) {
    return ltc_call_printf(c, "%lld", (long long)v);
}

char *bto_array(ltc_call *c, const char *const *items, size_t n) {
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += strlen(items[i]) + 1;
    char *out = ltc_call_alloc(c, len);
    char *p = out;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        size_t k = strlen(items[i]);
        memcpy(p, items[i], k);
        p += k;
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

int bto_ts_micros(const Google__Protobuf__Timestamp *ts, const char *field, int64_t *micros, int *present,
                  ltc_status *st) {
    *present = 0;
    *micros = 0;
    if (!ts)
        return 0;
    /* 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59Z */
    if (ts->seconds < 0 || ts->seconds > 253402300799LL)
        return ltc_status_bad_field(st, field, "must be between 1970-01-01 and 9999-12-31");
    if (ts->nanos < 0 || ts->nanos > 999999999)
        return ltc_status_bad_field(st, field, "nanos must be 0 to 999999999");
    *micros = ts->seconds * 1000000 + ts->nanos / 1000;
    *present = 1;
    return 0;
}

int bto_check_uuid(const char *s, const char *field, ltc_status *st) {
    if (!s || !*s)
        return ltc_status_bad_field(st, field, "required");
    if (!ltc_uuid_valid(s))
        return ltc_status_bad_field(st, field, "must be a UUID");
    return 0;
}

static int eq(const char *a, const char *b) {
    return a && strcmp(a, b) == 0;
}

Ltc__Bto__V1__DealState bto_deal_state(const char *s) {
    if (eq(s, "OPEN"))
        return LTC__BTO__V1__DEAL_STATE__DEAL_STATE_OPEN;
    if (eq(s, "ORDERED"))
        return LTC__BTO__V1__DEAL_STATE__DEAL_STATE_ORDERED;
    if (eq(s, "CLOSED"))
        return LTC__BTO__V1__DEAL_STATE__DEAL_STATE_CLOSED;
    return LTC__BTO__V1__DEAL_STATE__DEAL_STATE_UNSPECIFIED;
}

Ltc__Bto__V1__QuoteState bto_quote_state(const char *s) {
    if (eq(s, "DRAFT"))
        return LTC__BTO__V1__QUOTE_STATE__QUOTE_STATE_DRAFT;
    if (eq(s, "ACCEPTED"))
        return LTC__BTO__V1__QUOTE_STATE__QUOTE_STATE_ACCEPTED;
    if (eq(s, "REJECTED"))
        return LTC__BTO__V1__QUOTE_STATE__QUOTE_STATE_REJECTED;
    return LTC__BTO__V1__QUOTE_STATE__QUOTE_STATE_UNSPECIFIED;
}

Ltc__Bto__V1__ContractState bto_contract_state(const char *s) {
    if (eq(s, "DRAFT"))
        return LTC__BTO__V1__CONTRACT_STATE__CONTRACT_STATE_DRAFT;
    if (eq(s, "SIGNED"))
        return LTC__BTO__V1__CONTRACT_STATE__CONTRACT_STATE_SIGNED;
    if (eq(s, "CLOSED"))
        return LTC__BTO__V1__CONTRACT_STATE__CONTRACT_STATE_CLOSED;
    return LTC__BTO__V1__CONTRACT_STATE__CONTRACT_STATE_UNSPECIFIED;
}

Ltc__Bto__V1__OrderState bto_order_state(const char *s) {
    if (eq(s, "PLACED"))
        return LTC__BTO__V1__ORDER_STATE__ORDER_STATE_PLACED;
    if (eq(s, "CLOSED"))
        return LTC__BTO__V1__ORDER_STATE__ORDER_STATE_CLOSED;
    return LTC__BTO__V1__ORDER_STATE__ORDER_STATE_UNSPECIFIED;
}

static const struct {
    Ltc__Type__V1__PaymentTermKind kind;
    const char *name;
} TERM_KINDS[] = {
    {LTC__TYPE__V1__PAYMENT_TERM_KIND__PAYMENT_TERM_KIND_ADVANCE, "ADVANCE"},
    {LTC__TYPE__V1__PAYMENT_TERM_KIND__PAYMENT_TERM_KIND_ON_DELIVERY, "ON_DELIVERY"},
    {LTC__TYPE__V1__PAYMENT_TERM_KIND__PAYMENT_TERM_KIND_ON_ACCEPTANCE, "ON_ACCEPTANCE"},
    {LTC__TYPE__V1__PAYMENT_TERM_KIND__PAYMENT_TERM_KIND_RETENTION, "RETENTION"},
};

Ltc__Type__V1__PaymentTermKind bto_term_kind(const char *s) {
    for (size_t i = 0; i < sizeof TERM_KINDS / sizeof TERM_KINDS[0]; i++)
        if (eq(s, TERM_KINDS[i].name))
            return TERM_KINDS[i].kind;
    return LTC__TYPE__V1__PAYMENT_TERM_KIND__PAYMENT_TERM_KIND_UNSPECIFIED;
}

const char *bto_term_kind_name(Ltc__Type__V1__PaymentTermKind k) {
    for (size_t i = 0; i < sizeof TERM_KINDS / sizeof TERM_KINDS[0]; i++)
        if (TERM_KINDS[i].kind == k)
            return TERM_KINDS[i].name;
    return NULL;
}
