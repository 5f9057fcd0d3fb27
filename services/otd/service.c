/* service.c - the OTD service (order to deliver): ltc.otd.v1.OrderToDeliveryService for clients (through the
 * gateway) and ltc.otd.v1.IntakeService for the order hand-off from BTO; hands accepted deliveries to DTC. */
#include <stddef.h>

#include "ltc/service.h"
#include "otd.h"

#define OTD_SVC "/ltc.otd.v1.OrderToDeliveryService/"
#define WRITE LTC_METHOD_WRITE, "request_id"
#define READ LTC_METHOD_READ, NULL

static const ltc_method METHODS[] = {
    {OTD_SVC "GetOrder", &ltc__otd__v1__get_order_request__descriptor,
     &ltc__otd__v1__get_order_response__descriptor, otd_get_order, READ},
    {OTD_SVC "ListOrders", &ltc__otd__v1__list_orders_request__descriptor,
     &ltc__otd__v1__list_orders_response__descriptor, otd_list_orders, READ},
    {OTD_SVC "ReviewOrder", &ltc__otd__v1__review_order_request__descriptor,
     &ltc__otd__v1__review_order_response__descriptor, otd_review_order, WRITE},
    {OTD_SVC "ReleaseOrder", &ltc__otd__v1__release_order_request__descriptor,
     &ltc__otd__v1__release_order_response__descriptor, otd_release_order, WRITE},
    {OTD_SVC "CreateResource", &ltc__otd__v1__create_resource_request__descriptor,
     &ltc__otd__v1__create_resource_response__descriptor, otd_create_resource, WRITE},
    {OTD_SVC "ScheduleOrder", &ltc__otd__v1__schedule_order_request__descriptor,
     &ltc__otd__v1__schedule_order_response__descriptor, otd_schedule_order, WRITE},
    {OTD_SVC "CreateShipment", &ltc__otd__v1__create_shipment_request__descriptor,
     &ltc__otd__v1__create_shipment_response__descriptor, otd_create_shipment, WRITE},
    {OTD_SVC "GetShipment", &ltc__otd__v1__get_shipment_request__descriptor,
     &ltc__otd__v1__get_shipment_response__descriptor, otd_get_shipment, READ},
    {OTD_SVC "RecordAcceptance", &ltc__otd__v1__record_acceptance_request__descriptor,
     &ltc__otd__v1__record_acceptance_response__descriptor, otd_record_acceptance, WRITE},
    {"/ltc.otd.v1.IntakeService/AcceptOrder", &ltc__otd__v1__accept_order_request__descriptor,
     &ltc__otd__v1__accept_order_response__descriptor, otd_accept_order,
     LTC_METHOD_WRITE | LTC_METHOD_KEY_REQUIRED, "handoff_id"},
};

static const char *const HEALTH[] = {"ltc.otd.v1.OrderToDeliveryService", "ltc.otd.v1.IntakeService", NULL};
static const char *const PEERS[] = {"dtc", NULL};

/* The OTD service: its method table, health names, hand-off peers and migrations. */
ltc_service_def otd_service(void) {
    ltc_service_def def = {
        .name = "otd",
        .default_listen = "127.0.0.1:50063",
        .methods = METHODS,
        .n_methods = sizeof METHODS / sizeof METHODS[0],
        .health_services = HEALTH,
        .peers = PEERS,
        .migrations = ltc_service_migrations,
        .n_migrations = ltc_service_migrations_count,
    };
    return def;
}
