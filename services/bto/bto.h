/* bto.h - private declarations of the BTO service (bid to order, 标后): the handlers of BidToOrderService and
 * IntakeService, the loaders that build a resource message from the database (shared by the Get and the state
 * changes), and a few small helpers. Everything a loader or helper returns lives in the call's arena.
 * Files: intake.c (what the stage receives: its IntakeService handlers), handoffs.c (what it sends: each hand-off
 * built from the stage's rows and queued with ltc_outbox_put), one file per resource (handlers, loader
 * <stage>_load_<resource>), and main.c/service.c. Functions that query take (c, st, ...); validators take st last,
 * like ltc_check_text. Resources: catalogue.c, deals.c, quotes.c, contracts.c, orders.c;
 * util.c holds the few BTO-only helpers. */
#ifndef LTC_BTO_H
#define LTC_BTO_H

#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "ltc/bto/v1/bto_service.pb-c.h"
#include "ltc/bto/v1/intake_service.pb-c.h"
#include "ltc/money.h"
#include "ltc/proto.h"
#include "ltc/server.h"
#include "ltc/sqltext.h"
#include "ltc/status.h"
#include "ltc/terms.h"

#define BTO_MAX_QUOTE_LINES 200
#define BTO_MAX_PAYMENT_TERMS 10

/* --- handlers (catalogue.c) ------------------------------------------------------------------------------ */
int bto_create_product(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_get_product(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_list_products(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_update_product(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (deals.c) ---------------------------------------------------------------------------------- */
int bto_accept_won_bid(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_get_deal(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_list_deals(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (quotes.c) --------------------------------------------------------------------------------- */
int bto_create_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_get_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_accept_quote(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (contracts.c) ------------------------------------------------------------------------------ */
int bto_create_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_get_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_sign_contract(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (orders.c) --------------------------------------------------------------------------------- */
int bto_create_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_get_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int bto_accept_order_closure(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- loaders (one per resource file): the resource with its children into *out, in the arena. 0, or -1 with st
 * set (NOT_FOUND "<THING>_NOT_FOUND", or the database's status) -------------------------------------------------- */
int bto_load_deal(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Deal **out);
int bto_load_quote(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Quote **out);
int bto_load_contract(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Contract **out);
int bto_load_order(ltc_call *c, ltc_status *st, const char *id, Ltc__Bto__V1__Order **out);

/* --- hand-offs BTO sends (handoffs.c): built from BTO's records in the caller's transaction and queued there ---- */

/* The order `order_id` just placed (with its lines, its deal's customer and iron triangle, its contract's payment
 * terms and requested delivery date) to OTD, AcceptOrder, with a new hand-off id. 0 or -1. */
int bto_handoff_order(ltc_call *c, ltc_status *st, const char *order_id);

/* --- helpers (util.c) ------------------------------------------------------------------------------------ */
/* "collection/id", or "" when id is NULL. */
char *bto_name(ltc_call *c, const char *collection, const char *id);
/* Validates an optional Timestamp (NULL -> *present = 0) between 1970 and 9999 and converts it to microseconds
 * since the epoch. INVALID_ARGUMENT naming `field` when out of range. */
int bto_ts_micros(const Google__Protobuf__Timestamp *ts, const char *field, int64_t *micros, int *present,
                  ltc_status *st);
/* Checks a required UUID field (a hand-off id). */
int bto_check_uuid(const char *s, const char *field, ltc_status *st);
/* The service's definition (service.c), run by main.c and driven by the fuzz targets. */
#include "ltc/service.h"
ltc_service_def bto_service(void);

#endif
