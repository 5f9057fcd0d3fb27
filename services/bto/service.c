/* service.c - the BTO service (bid to order, 标后): catalogue, deals handed over by LTB, quotes, contracts and orders.
 * Serves ltc.bto.v1.BidToOrderService (public, through the gateway) and ltc.bto.v1.IntakeService (hand-offs from
 * LTB and DTC); hands placed orders to OTD through the outbox. */
#include "bto.h"
#include "ltc/service.h"

#define BTO_SVC "/ltc.bto.v1.BidToOrderService/"
#define INTAKE_SVC "/ltc.bto.v1.IntakeService/"

#define DESC(snake) &ltc__bto__v1__##snake##_request__descriptor, &ltc__bto__v1__##snake##_response__descriptor
#define READ(rpc, snake, fn, owner) {BTO_SVC #rpc, DESC(snake), fn, LTC_METHOD_READ, NULL, NULL, owner}
#define WRITE(rpc, snake, fn, owner) {BTO_SVC #rpc, DESC(snake), fn, LTC_METHOD_WRITE, "request_id", NULL, owner}
#define INTAKE(rpc, snake, fn, from) \
    {INTAKE_SVC #rpc, DESC(snake), fn, LTC_METHOD_WRITE | LTC_METHOD_KEY_REQUIRED, "handoff_id", from, NULL}

/* Where a request's deal record finds its iron triangle (ownership checks, docs/security.md). */
#define TRIANGLE "SELECT d.account_owner, d.solution_owner, d.fulfilment_owner FROM "
#define DEAL_SQL TRIANGLE "deals d WHERE d.id = $1"
#define QUOTE_SQL TRIANGLE "quotes q JOIN deals d ON d.id = q.deal_id WHERE q.id = $1"
#define CONTRACT_SQL TRIANGLE "contracts c JOIN deals d ON d.id = c.deal_id WHERE c.id = $1"
#define ORDER_SQL TRIANGLE "orders o JOIN deals d ON d.id = o.deal_id WHERE o.id = $1"
static const ltc_owner_lookup DEAL = {"name", DEAL_SQL}, DEAL_OF_QUOTE = {"quote.deal", DEAL_SQL},
                              QUOTE = {"name", QUOTE_SQL}, QUOTE_OF_CONTRACT = {"contract.quote", QUOTE_SQL},
                              CONTRACT = {"name", CONTRACT_SQL}, CONTRACT_OF_ORDER = {"contract", CONTRACT_SQL},
                              ORDER = {"name", ORDER_SQL};

static const ltc_method METHODS[] = {
    WRITE(CreateProduct, create_product, bto_create_product, NULL),
    READ(GetProduct, get_product, bto_get_product, NULL),
    READ(ListProducts, list_products, bto_list_products, NULL),
    WRITE(UpdateProduct, update_product, bto_update_product, NULL),
    READ(GetDeal, get_deal, bto_get_deal, &DEAL),
    READ(ListDeals, list_deals, bto_list_deals, NULL),
    WRITE(CreateQuote, create_quote, bto_create_quote, &DEAL_OF_QUOTE),
    READ(GetQuote, get_quote, bto_get_quote, &QUOTE),
    WRITE(AcceptQuote, accept_quote, bto_accept_quote, &QUOTE),
    WRITE(CreateContract, create_contract, bto_create_contract, &QUOTE_OF_CONTRACT),
    READ(GetContract, get_contract, bto_get_contract, &CONTRACT),
    WRITE(SignContract, sign_contract, bto_sign_contract, &CONTRACT),
    WRITE(CreateOrder, create_order, bto_create_order, &CONTRACT_OF_ORDER),
    READ(GetOrder, get_order, bto_get_order, &ORDER),
    INTAKE(AcceptWonBid, accept_won_bid, bto_accept_won_bid, "ltb"),
    INTAKE(AcceptOrderClosure, accept_order_closure, bto_accept_order_closure, "dtc"),
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
