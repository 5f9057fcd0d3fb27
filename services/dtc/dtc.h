/* services/dtc/dtc.h - private declarations of the DTC service (deliver to cash, 回款): intake.c (what DTC receives),
 * accounts.c (order accounts and their closure), invoices.c, payments.c, handoffs.c (what DTC sends: closures back
 * to BTO and LTB) and split.h (the pure invoice split). Calls go one way: intake.c and payments.c use accounts.c and
 * invoices.c (loaders, closure), accounts.c uses handoffs.c; accounts.c never calls payments.c. */
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

/* --- handlers (see the comments at their definitions) ------------------------------------------------------------ */

/* intake.c */
int dtc_accept_delivery(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* accounts.c */
int dtc_get_order_account(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* invoices.c */
int dtc_get_invoice(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int dtc_list_invoices(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* payments.c */
int dtc_record_payment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- loaders (the resource file of each): a new message in the call's arena --------------------------------------- */

/* The order account `account_id` (a UUID) with its terms (accounts.c). 0, -1 with NOT_FOUND
 * "ORDER_ACCOUNT_NOT_FOUND", or -1 with the database's status. */
int dtc_load_account(ltc_call *c, ltc_status *st, const char *account_id, Ltc__Dtc__V1__OrderAccount **out);
/* One invoice (a UUID) (invoices.c). 0, -1 with NOT_FOUND "INVOICE_NOT_FOUND", or -1 with the database's status. */
int dtc_load_invoice(ltc_call *c, ltc_status *st, const char *invoice_id, Ltc__Dtc__V1__Invoice **out);

/* --- the account's closure (accounts.c) --------------------------------------------------------------------------- */

/* Closes the OPEN account `account_id` (already locked FOR UPDATE by the caller) when it is fully accepted, fully
 * invoiced and every invoice is PAID: state CLOSED with close_time, the order closure (and the contract closure when
 * none of the contract's accounts is open any more) recorded, and its hand-offs queued (dtc_handoff_closure), all in
 * the call's transaction. Sets *closed to 1 when it closed now, else 0. 0 or -1. */
int dtc_close_account_if_settled(ltc_call *c, ltc_status *st, const char *account_id, int *closed);

/* --- hand-offs DTC sends (handoffs.c): built from DTC's records in the caller's transaction and queued there ------ */

/* The closure of account `account_id` (CLOSED in this transaction) to BTO (AcceptOrderClosure) and LTB
 * (AcceptCashCollected), each with a new hand-off id, the deal's id ordering them. 0 or -1. */
int dtc_handoff_closure(ltc_call *c, ltc_status *st, const char *account_id);

/* The service's definition (service.c), run by main.c and driven by the fuzz targets. */
#include "ltc/service.h"
ltc_service_def dtc_service(void);

#endif
