/* service.c - the OTD service (order to deliver): ltc.otd.v1.OrderToDeliveryService for clients (through the
 * gateway) and ltc.otd.v1.IntakeService for the hand-offs from BTO (orders) and LTB (customer changes); asks DTC for
 * credit at release and shipment; hands accepted deliveries and cancellations to DTC, cancellations and promises
 * to BTO, milestones to LTB; answers BTO's availability questions (internal ltc.otd.v1.AvailabilityService). */
#include <stddef.h>

#include "ltc/otd/v1/availability_service.pb-c.h"
#include "ltc/service.h"
#include "otd.h"

/* The services served, by their protoc-c service descriptors (proto/ltc/otd/v1): the method table below must
 * name each of their RPCs once (ltc/methods.h checks it at start). */
#define OTD_SVC ltc__otd__v1__order_to_delivery_service__descriptor
#define INTAKE_SVC ltc__otd__v1__intake_service__descriptor
#define AVAIL_SVC ltc__otd__v1__availability_service__descriptor

/* Where a request's deal record finds its iron triangle (ownership checks, docs/security.md). */
#define ORDER_SQL "SELECT account_owner, solution_owner, fulfilment_owner FROM orders WHERE id = $1"
#define SHIPMENT_SQL                                                                                                   \
    "SELECT o.account_owner, o.solution_owner, o.fulfilment_owner FROM shipments s "                                   \
    "JOIN orders o ON o.id = s.order_id WHERE s.id = $1"
static const ltc_owner_lookup ORDER_READ = {"name", ORDER_SQL, .by_handler = 1}; /* GetOrder checks the order it read */
static const ltc_owner_lookup ORDER = {"name", ORDER_SQL}, ORDER_OF_SHIPMENT = {"shipment.order", ORDER_SQL},
                              SHIPMENT = {"name", SHIPMENT_SQL}, SHIPMENT_OF_RETURN = {"rma.shipment", SHIPMENT_SQL};

static const ltc_method METHODS[] = {
    LTC_READ(OTD_SVC, GetOrder, otd_get_order, &ORDER_READ),
    LTC_READ(OTD_SVC, ListOrders, otd_list_orders, NULL),
    LTC_WRITE(OTD_SVC, ReviewOrder, otd_review_order, &ORDER),
    LTC_WRITE(OTD_SVC, ReleaseOrder, otd_release_order, &ORDER),
    LTC_WRITE(OTD_SVC, ClearHold, otd_clear_hold, &ORDER),
    LTC_WRITE(OTD_SVC, CancelOrder, otd_cancel_order, &ORDER),
    LTC_WRITE(OTD_SVC, CreateResource, otd_create_resource, NULL),
    LTC_WRITE(OTD_SVC, ScheduleOrder, otd_schedule_order, &ORDER),
    /* capacity-wide: no single deal owns them (fulfilment, managers, admins) */
    LTC_WRITE(OTD_SVC, ScheduleOrders, otd_schedule_orders, NULL),
    LTC_WRITE(OTD_SVC, SetResourceCalendar, otd_set_resource_calendar, NULL),
    LTC_WRITE(OTD_SVC, SetRouting, otd_set_routing, NULL),
    LTC_WRITE(OTD_SVC, SetDeliveryTolerance, otd_set_delivery_tolerance, &ORDER),
    LTC_WRITE(OTD_SVC, CreateShipment, otd_create_shipment, &ORDER_OF_SHIPMENT),
    LTC_READ(OTD_SVC, GetShipment, otd_get_shipment, &SHIPMENT),
    LTC_WRITE(OTD_SVC, RecordAcceptance, otd_record_acceptance, &SHIPMENT),
    LTC_WRITE(OTD_SVC, CreateReturn, otd_create_return, &SHIPMENT_OF_RETURN),
    LTC_HANDOFF(INTAKE_SVC, AcceptOrder, otd_accept_order, "bto"),
    LTC_HANDOFF(INTAKE_SVC, AcceptCustomerChanged, otd_accept_customer_changed, "ltb"),
    /* internal: available-to-promise for BTO's quotes, answered live, never replayed, books nothing */
    {.handler = otd_check_availability,
     .flags = LTC_METHOD_READ,
     .callers = "bto",
     .service = &AVAIL_SVC,
     .rpc = "CheckAvailability"},
};

static const char *const HEALTH[] = {"ltc.otd.v1.OrderToDeliveryService", "ltc.otd.v1.IntakeService",
                                     "ltc.otd.v1.AvailabilityService", NULL};
static const char *const PEERS[] = {"dtc", "bto", "ltb",
                                    NULL};       /* hand-offs: AcceptDelivery; order events; milestones */
static const char *const ASKS[] = {"dtc", NULL}; /* CreditService/CheckCredit at release and shipment */
static const char *const ENV[] = {
    "LTC_CREDIT_DEADLINE_MS",
    "deadline of the credit question to DTC at release and shipment",
    NULL,
};

/* The OTD service: its method table, health names, hand-off peers and migrations. */
ltc_service_def otd_service(void) {
    ltc_service_def def = {
        .name = "otd",
        .default_listen = "127.0.0.1:50063",
        .methods = METHODS,
        .n_methods = sizeof METHODS / sizeof METHODS[0],
        .health_services = HEALTH,
        .peers = PEERS,
        .asks = ASKS,
        .env = ENV,
        .migrations = ltc_service_migrations,
        .n_migrations = ltc_service_migrations_count,
    };
    return def;
}
