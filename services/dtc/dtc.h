/* services/dtc/dtc.h - private declarations of the DTC service (deliver to cash, 回款): order accounts, invoices
 * raised from payment terms, payments, closure and its hand-offs back to BTO and LTB. */
#ifndef LTC_DTC_H
#define LTC_DTC_H

#include <stdint.h>

#include "ltc/dtc/v1/dtc_service.pb-c.h"
#include "ltc/dtc/v1/intake_service.pb-c.h"
#include "ltc/dtc/v1/resources.pb-c.h"
#include "ltc/ids.h"
#include "ltc/money.h"
#include "ltc/proto.h"
#include "ltc/server.h"
#include "ltc/sqltext.h"
#include "ltc/status.h"
#include "ltc/terms.h"
#include "split.h"

/* --- accounts.c: order accounts, intake of accepted deliveries, invoices -------------------------------------- */

/* Loads the order account `account_id` (a UUID) with its terms into a new message in the call's arena. 0, -1 with
 * NOT_FOUND "ORDER_ACCOUNT_NOT_FOUND", or -1 with the database's status. */
int dtc_load_account(ltc_call *c, ltc_status *st, const char *account_id, Ltc__Dtc__V1__OrderAccount **out);

/* Loads one invoice (a UUID) into a new message in the call's arena. 0, -1 with NOT_FOUND "INVOICE_NOT_FOUND", or
 * -1 with the database's status. */
int dtc_load_invoice(ltc_call *c, ltc_status *st, const char *invoice_id, Ltc__Dtc__V1__Invoice **out);

/* Handlers (see the comments at their definitions). */
int dtc_accept_delivery(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_order_account(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_get_invoice(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_list_invoices(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- payments.c: payments and closure ---------------------------------------------------------------------------- */

/* Closes the OPEN account `account_id` (already locked FOR UPDATE by the caller) when it is fully accepted, fully
 * invoiced and every invoice is PAID: state CLOSED with close_time, the order closure (and the contract closure when
 * none of the contract's accounts is open any more) recorded, and the hand-offs to BTO (AcceptOrderClosure) and LTB
 * (AcceptCashCollected) queued, all in the call's transaction. Sets *closed to 1 when it closed now, else 0.
 * 0 or -1. */
int dtc_maybe_close(ltc_call *c, ltc_status *st, const char *account_id, int *closed);

int dtc_record_payment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* The service's definition (service.c), run by main.c and driven by the fuzz targets. */
#include "ltc/service.h"
ltc_service_def dtc_service(void);

#endif
