/* otd.h - private declarations of the OTD service (order to deliver): the handlers of
 * ltc.otd.v1.OrderToDeliveryService and ltc.otd.v1.IntakeService, the order/shipment loaders they share, and the
 * pure finite-capacity fill used by the scheduler (capacity.h).
 * Files: intake.c (what the stage receives: its IntakeService handlers), handoffs.c (what it sends: each hand-off
 * built from the stage's rows and queued with ltc_outbox_put), one file per resource (handlers, loader
 * <stage>_load_<resource>), and main.c/service.c. Functions that query take (c, st, ...); validators take st last,
 * like ltc_check_text. Resources: orders.c, scheduling.c (resources and schedules), shipments.c. */
#ifndef LTC_OTD_H
#define LTC_OTD_H

#include <stddef.h>
#include <stdint.h>

#include "ltc/ids.h"
#include "ltc/money.h"
#include "ltc/proto.h"
#include "ltc/server.h"
#include "ltc/sqltext.h"
#include "ltc/status.h"
#include "ltc/terms.h"

#include "ltc/otd/v1/intake_service.pb-c.h"
#include "ltc/otd/v1/otd_service.pb-c.h"
#include "ltc/otd/v1/resources.pb-c.h"

#include "capacity.h"

/* Upper bounds on repeated fields, so that one request cannot hold a worker for long. */
#define OTD_MAX_LINES 1000
#define OTD_MAX_TERMS 100

/* --- handlers (intake.c) ------------------------------------------------------------------------------- */
int otd_accept_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (orders.c) ------------------------------------------------------------------------------- */
int otd_get_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_list_orders(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_review_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_release_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (scheduling.c) --------------------------------------------------------------------------- */
int otd_create_resource(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_schedule_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (shipments.c) ---------------------------------------------------------------------------- */
int otd_create_shipment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_get_shipment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_record_acceptance(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- loaders (the resource file of each): the whole resource into *out, in the arena; does not lock --------- */

/* The whole order `id` (lines, payment terms). NOT_FOUND "ORDER_NOT_FOUND" when it does not exist. 0 or -1. */
int otd_load_order(ltc_call *c, ltc_status *st, const char *id, Ltc__Otd__V1__Order **out);

/* The shipment `id` with its lines (shipments.c). NOT_FOUND "SHIPMENT_NOT_FOUND". 0 or -1. */
int otd_load_shipment(ltc_call *c, ltc_status *st, const char *id, Ltc__Otd__V1__Shipment **out);

/* --- hand-offs OTD sends (handoffs.c): built from OTD's records in the caller's transaction and queued there ---- */

/* The accepted shipment `shipment_id` (its acceptance applied in this transaction) with its order's facts and
 * payment terms to DTC, AcceptDelivery, under `handoff_id` (the id recorded on the shipment). 0 or -1. */
int otd_handoff_delivery(ltc_call *c, ltc_status *st, const char *shipment_id, const char *handoff_id);

/* --- order helpers (orders.c) -------------------------------------------------------------------------- */

/* Locks the order row (SELECT ... FOR UPDATE) and returns its stored state text (in the arena) in *state.
 * NOT_FOUND "ORDER_NOT_FOUND" when it does not exist. 0 or -1. */
int otd_order_lock(ltc_call *c, ltc_status *st, const char *id, const char **state);

/* Sets the order's state (and update_time). 0 or -1. */
int otd_order_set_state(ltc_call *c, ltc_status *st, const char *id, const char *state);

/* The service's definition (service.c), run by main.c and driven by the fuzz targets. */
#include "ltc/service.h"
ltc_service_def otd_service(void);

#endif
