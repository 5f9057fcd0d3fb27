/* service.c - the BTO service (bid to order, 标后): catalogue, deals handed over by LTB, quotes, contracts and orders.
 * Serves ltc.bto.v1.BidToOrderService (public, through the gateway) and ltc.bto.v1.IntakeService (hand-offs from
 * LTB and DTC); hands placed orders to OTD through the outbox. */
#include "bto.h"
#include "ltc/service.h"

#define BTO_SVC "/ltc.bto.v1.BidToOrderService/"
#define INTAKE_SVC "/ltc.bto.v1.IntakeService/"

#define READ(rpc, snake, fn) \
    {BTO_SVC #rpc, &ltc__bto__v1__##snake##_request__descriptor, &ltc__bto__v1__##snake##_response__descriptor, fn, \
     LTC_METHOD_READ, NULL}
#define WRITE(rpc, snake, fn) \
    {BTO_SVC #rpc, &ltc__bto__v1__##snake##_request__descriptor, &ltc__bto__v1__##snake##_response__descriptor, fn, \
     LTC_METHOD_WRITE, "request_id"}
#define INTAKE(rpc, snake, fn) \
    {INTAKE_SVC #rpc, &ltc__bto__v1__##snake##_request__descriptor,                                                \
     &ltc__bto__v1__##snake##_response__descriptor, fn, LTC_METHOD_WRITE | LTC_METHOD_KEY_REQUIRED, "handoff_id"}

static const ltc_method METHODS[] = {
    WRITE(CreateProduct, create_product, bto_create_product),
    READ(GetProduct, get_product, bto_get_product),
    READ(ListProducts, list_products, bto_list_products),
    WRITE(UpdateProduct, update_product, bto_update_product),
    READ(GetDeal, get_deal, bto_get_deal),
    READ(ListDeals, list_deals, bto_list_deals),
    WRITE(CreateQuote, create_quote, bto_create_quote),
    READ(GetQuote, get_quote, bto_get_quote),
    WRITE(AcceptQuote, accept_quote, bto_accept_quote),
    WRITE(CreateContract, create_contract, bto_create_contract),
    READ(GetContract, get_contract, bto_get_contract),
    WRITE(SignContract, sign_contract, bto_sign_contract),
    WRITE(CreateOrder, create_order, bto_create_order),
    READ(GetOrder, get_order, bto_get_order),
    INTAKE(AcceptWonBid, accept_won_bid, bto_accept_won_bid),
    INTAKE(AcceptOrderClosure, accept_order_closure, bto_accept_order_closure),
};

static const char *const HEALTH[] = {"ltc.bto.v1.BidToOrderService", "ltc.bto.v1.IntakeService", NULL};
static const char *const PEERS[] = {"otd", NULL};

/* The BTO service: its method table, health names, hand-off peers and migrations. */
ltc_service_def bto_service(void) {
    ltc_service_def def = {
        .name = "bto",
        .default_listen = "127.0.0.1:50062",
        .methods = METHODS,
        .n_methods = sizeof METHODS / sizeof METHODS[0],
        .health_services = HEALTH,
        .peers = PEERS,
        .migrations = ltc_service_migrations,
        .n_migrations = ltc_service_migrations_count,
    };
    return def;
}
