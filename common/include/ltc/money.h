/* ltc/money.h - money as integer minor units plus an ISO 4217 code, and its conversion from and to
 * ltc.type.v1.Money (units + nanos). Never floating point. All arithmetic is overflow-checked. */
#ifndef LTC_MONEY_H
#define LTC_MONEY_H

#include <stdint.h>

#include "ltc/server.h"
#include "ltc/status.h"

typedef struct ltc_money {
    char currency[4]; /* "CNY", NUL-terminated */
    int64_t minor;    /* amount in the currency's minor unit (fen, cents; yen for JPY) */
} ltc_money;

/* Number of minor-unit digits of an ISO 4217 currency (2 for CNY/USD/EUR, 0 for JPY/KRW, 3 for KWD/BHD...), or -1
 * when the code is not a known currency. */
int ltc_currency_digits(const char *code);

/* Converts a Money message field (units/nanos) to minor units. Fails with INVALID_ARGUMENT naming `field` when the
 * message is missing (callers with an optional amount check for NULL first), the currency is unknown, units and nanos disagree in sign, nanos is out of
 * range, the amount is finer than the minor unit, or it overflows. `allow_negative` 0 also refuses amounts < 0. */
struct Ltc__Type__V1__Money;
int ltc_money_from_proto(const struct Ltc__Type__V1__Money *m, const char *field, int allow_negative, ltc_money *out,
                         ltc_status *st);

/* Fills `out` (already initialised) from minor units. currency must be a known code (an unknown one is written as
 * "XXX" with the amount taken as whole units). currency_code points into a static table. */
void ltc_money_to_proto(const char *currency, int64_t minor, struct Ltc__Type__V1__Money *out);

/* A Money message in the call's arena for minor units of `currency` (the one constructor every stage uses; see
 * ltc_money_to_proto for an unknown code). Never NULL. */
struct Ltc__Type__V1__Money *ltc_money_msg(ltc_call *c, const char *currency, int64_t minor);
/* A Money message from a result's minor-units and currency columns of `row`; NULL when either is SQL NULL (an
 * optional amount). */
struct Ltc__Type__V1__Money *ltc_money_msg_pg(ltc_call *c, const PGresult *r, int row, int minor_col, int currency_col);

/* Overflow-checked arithmetic: return 0, or -1 on overflow (out untouched). */
int ltc_i64_add(int64_t a, int64_t b, int64_t *out);
int ltc_i64_mul(int64_t a, int64_t b, int64_t *out);
/* floor(amount * bps / 10000) for amount >= 0 and 0 <= bps <= 10000, without overflow for any int64 amount. */
int64_t ltc_apply_bps(int64_t amount, int32_t bps);
/* floor(a * b / c) for a, b >= 0, c > 0 using 128-bit intermediate; -1 on overflow of the result. */
int ltc_muldiv(int64_t a, int64_t b, int64_t c, int64_t *out);

#endif
