/* service.c - the BTO service (bid to order, 标后): catalogue, deals handed over by LTB, quotes, contracts and orders.
 * Serves ltc.bto.v1.BidToOrderService (public, through the gateway) and ltc.bto.v1.IntakeService (hand-offs from
 * LTB and DTC); hands placed orders to OTD through the outbox. */
#include "bto.h"
#include "ltc/service.h"

#define BTO_SVC "/ltc.bto.v1.BidToOrderService/"
#define INTAKE_SVC "/ltc.bto.v1.IntakeService/"

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
    LTC_WRITE(BTO_SVC, bto, CreateProduct, create_product, bto_create_product, NULL),
    LTC_READ(BTO_SVC, bto, GetProduct, get_product, bto_get_product, NULL),
    LTC_READ(BTO_SVC, bto, ListProducts, list_products, bto_list_products, NULL),
    LTC_WRITE(BTO_SVC, bto, UpdateProduct, update_product, bto_update_product, NULL),
    LTC_READ(BTO_SVC, bto, GetDeal, get_deal, bto_get_deal, &DEAL),
    LTC_READ(BTO_SVC, bto, ListDeals, list_deals, bto_list_deals, NULL),
    LTC_WRITE(BTO_SVC, bto, CreateQuote, create_quote, bto_create_quote, &DEAL_OF_QUOTE),
    LTC_READ(BTO_SVC, bto, GetQuote, get_quote, bto_get_quote, &QUOTE),
    LTC_WRITE(BTO_SVC, bto, AcceptQuote, accept_quote, bto_accept_quote, &QUOTE),
    LTC_WRITE(BTO_SVC, bto, CreateContract, create_contract, bto_create_contract, &QUOTE_OF_CONTRACT),
    LTC_READ(BTO_SVC, bto, GetContract, get_contract, bto_get_contract, &CONTRACT),
    LTC_WRITE(BTO_SVC, bto, SignContract, sign_contract, bto_sign_contract, &CONTRACT),
    LTC_WRITE(BTO_SVC, bto, CreateOrder, create_order, bto_create_order, &CONTRACT_OF_ORDER),
    LTC_READ(BTO_SVC, bto, GetOrder, get_order, bto_get_order, &ORDER),
    LTC_HANDOFF(INTAKE_SVC, bto, AcceptWonBid, accept_won_bid, bto_accept_won_bid, "ltb"),
    LTC_HANDOFF(INTAKE_SVC, bto, AcceptOrderClosure, accept_order_closure, bto_accept_order_closure, "dtc"),
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
