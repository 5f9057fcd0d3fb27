/* services/dtc/main.c - the DTC process (deliver to cash, 回款): order accounts, invoices, payments and closure.
 * Serves ltc.dtc.v1.DeliveryToCashService (clients, through the gateway) and ltc.dtc.v1.IntakeService (OTD's
 * accepted-delivery hand-off); hands closures back to BTO and LTB through its outbox. */
#include "dtc.h"
#include "ltc/service.h"

#define DTC_SVC "/ltc.dtc.v1.DeliveryToCashService/"
#define DTC_INTAKE "/ltc.dtc.v1.IntakeService/"

static const ltc_method METHODS[] = {
    {DTC_SVC "GetOrderAccount", &ltc__dtc__v1__get_order_account_request__descriptor,
     &ltc__dtc__v1__get_order_account_response__descriptor, dtc_get_order_account, LTC_METHOD_READ, NULL},
    {DTC_SVC "GetInvoice", &ltc__dtc__v1__get_invoice_request__descriptor,
     &ltc__dtc__v1__get_invoice_response__descriptor, dtc_get_invoice, LTC_METHOD_READ, NULL},
    {DTC_SVC "ListInvoices", &ltc__dtc__v1__list_invoices_request__descriptor,
     &ltc__dtc__v1__list_invoices_response__descriptor, dtc_list_invoices, LTC_METHOD_READ, NULL},
    {DTC_SVC "RecordPayment", &ltc__dtc__v1__record_payment_request__descriptor,
     &ltc__dtc__v1__record_payment_response__descriptor, dtc_record_payment, LTC_METHOD_WRITE, "request_id"},
    {DTC_INTAKE "AcceptDelivery", &ltc__dtc__v1__accept_delivery_request__descriptor,
     &ltc__dtc__v1__accept_delivery_response__descriptor, dtc_accept_delivery,
     LTC_METHOD_WRITE | LTC_METHOD_KEY_REQUIRED, "handoff_id"},
};

static const char *const HEALTH[] = {"ltc.dtc.v1.DeliveryToCashService", "ltc.dtc.v1.IntakeService", NULL};
static const char *const PEERS[] = {"bto", "ltb", NULL};

/* The DTC service: its method table, health names, hand-off peers and migrations. */
ltc_service_def dtc_service(void) {
    ltc_service_def def = {
        .name = "dtc",
        .default_listen = "127.0.0.1:50064",
        .methods = METHODS,
        .n_methods = sizeof METHODS / sizeof METHODS[0],
        .health_services = HEALTH,
        .peers = PEERS,
        .migrations = ltc_service_migrations,
        .n_migrations = ltc_service_migrations_count,
    };
    return def;
}
