/* ltc/customer.h - the customer snapshot (ltc.type.v1.CustomerSnapshot) as every stage after LTB keeps it: checked
 * when a hand-off brings it, stored in six columns beside the stage's record, read back into a message. LTB owns
 * the customer (customers/{id}); the other stages keep what the last hand-off told them. */
#ifndef LTC_CUSTOMER_H
#define LTC_CUSTOMER_H

#include <libpq-fe.h>

#include "ltc/ids.h"
#include "ltc/server.h"
#include "ltc/status.h"
#include "ltc/type/v1/customer.pb-c.h"

/* The six columns of a stored snapshot, with the table's alias and its dot (or ""), in the order
 * ltc_customer_from_pg reads them. */
#define LTC_CUSTOMER_COLS(p)                                                                                           \
    p "customer_id, " p "customer_legal_name, " p "customer_tax_id, " p "customer_country_code, " p                    \
      "customer_billing_currency, " p "customer_account_owner"

/* Checks a CustomerSnapshot `field` of a request: customer "customers/{uuid}" (its id into id_out), legal_name 1 to
 * 200 characters, tax_id up to 64, country_code "" or two upper-case letters, billing_currency "" or an ISO 4217
 * code, account_owner up to 128. A missing snapshot is a violation when `required`, else id_out is "". Adds a
 * violation per bad field ("<field>.legal_name" ...) to st. 0 or -1 (INVALID_ARGUMENT). */
int ltc_customer_check(const Ltc__Type__V1__CustomerSnapshot *s, const char *field, int required,
                       char id_out[LTC_UUID_LEN + 1], ltc_status *st);

/* The snapshot from the six LTC_CUSTOMER_COLS columns of `row` starting at `col`; NULL when the customer id is NULL
 * (a record from before customers). Built in the call's arena. */
Ltc__Type__V1__CustomerSnapshot *ltc_customer_from_pg(ltc_call *c, const PGresult *r, int row, int col);

#endif
