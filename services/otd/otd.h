/* otd.h - private declarations of the OTD service (order to deliver): the handlers of
 * ltc.otd.v1.OrderToDeliveryService and ltc.otd.v1.IntakeService, the order/shipment loaders they share, and the
 * pure finite-capacity scheduler (scheduler.h).
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
#include "ltc/customer.h"
#include "ltc/server.h"
#include "ltc/sqltext.h"
#include "ltc/status.h"
#include "ltc/terms.h"

#include "ltc/dtc/v1/credit_service.pb-c.h"
#include "ltc/otd/v1/intake_service.pb-c.h"
#include "ltc/otd/v1/otd_service.pb-c.h"
#include "ltc/otd/v1/resources.pb-c.h"

#include "scheduler.h"

/* Upper bounds on repeated fields, so that one request cannot hold a worker for long. */
#define OTD_MAX_LINES 1000
#define OTD_MAX_TERMS 100

/* --- handlers (intake.c) ------------------------------------------------------------------------------- */
int otd_accept_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (customers.c) ---------------------------------------------------------------------------- */
int otd_accept_customer_changed(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- customers (customers.c): the snapshot that came with each order, kept current by LTB's changes ---------- */

/* SQL columns of an order's customer snapshot (p: the table's alias with its dot, or ""), read by
 * ltc_customer_from_pg (ltc/customer.h). */
#define OTD_CUSTOMER_COLS(p) LTC_CUSTOMER_COLS(p)

/* --- credit (credit.c): the questions to DTC at release and at shipment --------------------------------- */

#define OTD_MAX_CREDIT_REASONS 8
enum {
    OTD_CREDIT_APPROVED = 1,
    OTD_CREDIT_REFUSED = 2,
    OTD_CREDIT_UNANSWERED = 3, /* no answer in time, an error status, or a malformed decision: fail closed */
};
typedef struct otd_credit_answer {
    int outcome;
    char decision_id[LTC_UUID_LEN + 1]; /* DTC's decision (lower case); "" when unanswered */
    /* REFUSED: DTC's CreditRefusalReason names; UNANSWERED: "CREDIT_SERVICE_UNAVAILABLE". Static strings. */
    const char *reasons[OTD_MAX_CREDIT_REASONS];
    size_t n_reasons;
} otd_credit_answer;

/* Reads DTC's answer (pure): APPROVED (no reasons) or REFUSED (1 to OTD_MAX_CREDIT_REASONS reasons known to this
 * build) with a "creditDecisions/{uuid}" name; 0. Anything else (NULL too) is UNANSWERED with the one reason
 * "CREDIT_SERVICE_UNAVAILABLE"; -1. */
int otd_credit_read(const Ltc__Dtc__V1__CheckCreditResponse *resp, otd_credit_answer *a);
/* The short outcome name stored in credit_checks: "APPROVED", "REFUSED", "UNAVAILABLE" (pure). */
const char *otd_credit_outcome_db(const otd_credit_answer *a);
/* The order state a release answer leads to (pure): "RELEASED" when APPROVED, else "CREDIT_HOLD". */
const char *otd_credit_release_state(const otd_credit_answer *a);
/* Asks DTC CheckCredit(stage, reference "orders/{order_id}", deal, amount) with the deadline LTC_CREDIT_DEADLINE_MS
 * (default 2000 ms; bounded by the caller's) and reads the answer into *a. Never fails: no answer is UNANSWERED. */
void otd_credit_check(ltc_call *c, Ltc__Dtc__V1__CreditStage stage, const Ltc__Type__V1__CustomerSnapshot *customer,
                      const char *order_id, const char *deal_id, const char *currency, int64_t amount_minor,
                      otd_credit_answer *a);
/* Records the answer in credit_checks (stage "RELEASE" or "SHIPMENT"), by the caller's principal. 0 or -1. */
int otd_credit_record(ltc_call *c, ltc_status *st, const char *order_id, const char *stage, const otd_credit_answer *a);

/* --- handlers (orders.c) ------------------------------------------------------------------------------- */
int otd_get_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_list_orders(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_review_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_release_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_clear_hold(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_cancel_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- handlers (scheduling.c) --------------------------------------------------------------------------- */
int otd_create_resource(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_schedule_order(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_schedule_orders(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_set_resource_calendar(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_set_routing(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_check_availability(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- scheduling (scheduling.c), in the caller's transaction ------------------------------------------------ */

/* Places (or re-promises) the order `id` behind every other order's bookings, which do not move; its promise moved
 * -> AcceptPromiseChanged to BTO and ORDER_PROMISED / ORDER_REPROMISED to LTB (`reason` says why it moved).
 * FAILED_PRECONDITION ORDER_NOT_RELEASED, and when `strict` NO_CAPACITY_RESOURCE, NO_ROUTING, CAPACITY_EXHAUSTED
 * (not strict: an order that does not fit stays RELEASED without a promise). 0 or -1. */
int otd_schedule_one(ltc_call *c, ltc_status *st, const char *id, int strict, const char *reason);
/* Every open order placed again from nothing (EDD within priority classes); *res lists what moved and what is late.
 * 0 or -1. */
int otd_reschedule_all(ltc_call *c, ltc_status *st, const char *reason, Ltc__Otd__V1__ScheduleResult *res);
/* The CAPACITY review check of order `id` (locked by the caller): *reason NULL when it can be made by its requested
 * date behind the load booked now (booking nothing), else why not ("NO_ROUTING:<skus>", "CAPACITY_EXHAUSTED",
 * "PROMISE_AFTER_REQUESTED_DATE:<date>"). 0 or -1. */
int otd_capacity_feasible(ltc_call *c, ltc_status *st, const char *id, const char **reason);

/* --- handlers (shipments.c) ---------------------------------------------------------------------------- */
int otd_create_shipment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_get_shipment(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_record_acceptance(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_set_delivery_tolerance(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int otd_create_return(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* What a line may still ship (pure): its quantity plus floor(quantity x bps / 10000) over-delivery, less what shipped;
 * never negative. */
int64_t otd_shippable(int64_t quantity, int64_t shipped, int64_t bps);

/* The value of q units of a line of `quantity` units worth `net` minor units, after `done` units of it were priced
 * already (pure): the line's amount pro rata, cumulated and rounded half away from zero, so that
 * value = round(net x (done + q) / quantity) - round(net x done / quantity). The part that completes the line takes
 * the rest, and parts that cover the line add up to net exactly, however it is split. 128-bit intermediates.
 * 0 with *value, or -1 (quantity <= 0, done or q negative, net negative, or a result beyond int64). */
int otd_line_value(int64_t net, int64_t quantity, int64_t done, int64_t q, int64_t *value);

/* --- loaders (the resource file of each): the whole resource into *out, in the arena; does not lock --------- */

/* The whole order `id` (lines, payment terms). NOT_FOUND "ORDER_NOT_FOUND" when it does not exist. 0 or -1. */
int otd_load_order(ltc_call *c, ltc_status *st, const char *id, Ltc__Otd__V1__Order **out);

/* The shipment `id` with its lines (shipments.c). NOT_FOUND "SHIPMENT_NOT_FOUND". 0 or -1. */
int otd_load_shipment(ltc_call *c, ltc_status *st, const char *id, Ltc__Otd__V1__Shipment **out);

/* --- hand-offs OTD sends (handoffs.c): built from OTD's records in the caller's transaction and queued there ---- */

/* The accepted shipment `shipment_id` (its acceptance applied in this transaction) with its order's facts and
 * payment terms to DTC, AcceptDelivery, under `handoff_id` (the id recorded on the shipment). 0 or -1. */
int otd_handoff_delivery(ltc_call *c, ltc_status *st, const char *shipment_id, const char *handoff_id);

/* The shipment `shipment_id` that just left to DTC (AcceptShipment: its lines at the order's prices, for ON_DELIVERY
 * billing). 0 or -1. */
int otd_handoff_shipment(ltc_call *c, ltc_status *st, const char *shipment_id, int order_fully_shipped);

/* The return `return_id` (an RMA of an accepted shipment) to DTC (AcceptReturn, under `handoff_id`, the id recorded on
 * the return) and the milestone RETURNED to LTB. 0 or -1. */
int otd_handoff_return(ltc_call *c, ltc_status *st, const char *return_id, const char *handoff_id);

/* The CANCELLED order `order_id` to BTO and DTC (AcceptOrderCancelled, each its own hand-off id) and the milestone
 * ORDER_CANCELLED to LTB. 0 or -1. */
int otd_handoff_cancelled(ltc_call *c, ltc_status *st, const char *order_id);

/* A promise made (previous NULL) or moved (promise NULL: no longer fits) to BTO (AcceptPromiseChanged) and LTB
 * (milestone ORDER_PROMISED or ORDER_REPROMISED). Dates "YYYY-MM-DD". 0 or -1. */
int otd_handoff_promise(ltc_call *c, ltc_status *st, const char *order_id, const char *deal_id, const char *previous,
                        const char *promise, int late, const char *reason);

/* A milestone of kind `kind` (ltc.type.v1.MilestoneKind) of the order to LTB; amount and detail may be NULL. */
int otd_milestone(ltc_call *c, ltc_status *st, const char *deal_id, const char *order_id, int kind,
                  const ltc_money *amount, const char *detail);

/* A Date message in the arena from "YYYY-MM-DD"; NULL for NULL or "". */
Ltc__Type__V1__Date *otd_date_msg(ltc_call *c, const char *ymd);

/* --- order helpers (orders.c) -------------------------------------------------------------------------- */

/* Locks the order row (SELECT ... FOR UPDATE) and returns its stored state text (in the arena) in *state.
 * NOT_FOUND "ORDER_NOT_FOUND" when it does not exist. 0 or -1. */
int otd_order_lock(ltc_call *c, ltc_status *st, const char *id, const char **state);

/* Sets the order's state (and update_time). 0 or -1. */
int otd_order_set_state(ltc_call *c, ltc_status *st, const char *id, const char *state);
/* The audit trail's change of the order's state (ltc/audit.h): `old` (the locked row's) to the state of `now`. */
void otd_audit_order_state(ltc_call *c, const char *id, const char *old, const Ltc__Otd__V1__Order *now);

/* The service's definition (service.c), run by main.c and driven by the fuzz targets. */
#include "ltc/service.h"
ltc_service_def otd_service(void);

#endif
