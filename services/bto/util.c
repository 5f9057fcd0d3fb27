/* util.c - small helpers shared by the BTO handlers: names for responses, timestamps and hand-off ids in. (Money,
 * statement parameters, enums and payment terms come from common: ltc/money.h, ltc/sqltext.h, ltc/proto.h,
 * ltc/terms.h.) */
#include <stdio.h>
#include <string.h>

#include "bto.h"
#include "ltc/ids.h"
#include "ltc/milestone.h"

char *bto_name(ltc_call *c, const char *collection, const char *id) {
    if (!id) return ltc_call_strdup(c, "");
    return ltc_call_printf(c, "%s/%s", collection, id);
}

int bto_ts_micros(const Google__Protobuf__Timestamp *ts, const char *field, int64_t *micros, int *present,
                  ltc_status *st) {
    *present = 0;
    *micros = 0;
    if (!ts) return 0;
    /* 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59Z */
    if (ts->seconds < 0 || ts->seconds > 253402300799LL)
        return ltc_status_bad_field(st, field, "must be between 1970-01-01 and 9999-12-31");
    if (ts->nanos < 0 || ts->nanos > 999999999) return ltc_status_bad_field(st, field, "nanos must be 0 to 999999999");
    *micros = ts->seconds * 1000000 + ts->nanos / 1000;
    *present = 1;
    return 0;
}

int bto_check_uuid(const char *s, const char *field, ltc_status *st) {
    if (!s || !*s) return ltc_status_bad_field(st, field, "required");
    if (!ltc_uuid_valid(s)) return ltc_status_bad_field(st, field, "must be a UUID");
    return 0;
}

int bto_code_valid(const char *s, size_t max) {
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return 0;
    return 1;
}

char *bto_sql_text_array(ltc_call *c, const char *const *items, size_t n) {
    size_t len = 3;
    for (size_t i = 0; i < n; i++) len += 2 * strlen(items[i] ? items[i] : "") + 3;
    char *out = ltc_call_alloc(c, len), *p = out;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = ',';
        *p++ = '"';
        for (const char *s = items[i] ? items[i] : ""; *s; s++) {
            if (*s == '"' || *s == '\\') *p++ = '\\';
            *p++ = *s;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

int bto_milestone(ltc_call *c, ltc_status *st, const char *deal_id, int kind, const char *record, const char *currency,
                  int64_t minor, const char *date, const char *detail) {
    ltc_money amount = {{0}, minor};
    if (currency) snprintf(amount.currency, sizeof amount.currency, "%s", currency);
    ltc_milestone ms = {.deal_id = deal_id,
                        .stage = LTC__TYPE__V1__MILESTONE_STAGE__MILESTONE_STAGE_BTO,
                        .kind = kind,
                        .record = record,
                        .amount = currency ? &amount : NULL,
                        .date = date ? date : "",
                        .detail = detail};
    return ltc_milestone_put(c, st, &ms);
}
