/* service.c - the BTO service (bid to order, 标后): catalogue, deals handed over by LTB, quotes, contracts and orders.
 * Serves ltc.bto.v1.BidToOrderService (public, through the gateway) and ltc.bto.v1.IntakeService (hand-offs from
 * LTB and DTC); asks DTC for credit before placing an order and hands placed orders to OTD and DTC through the
 * outbox. */
#include "bto.h"
#include "ltc/service.h"

/* The services served, by their protoc-c service descriptors (proto/ltc/bto/v1): the method table below must
 * name each of their RPCs once (ltc/methods.h checks it at start). */
#define BTO_SVC ltc__bto__v1__bid_to_order_service__descriptor
#define INTAKE_SVC ltc__bto__v1__intake_service__descriptor

/* Where a request's deal record finds its iron triangle (ownership checks, docs/security.md). */
#define TRIANGLE "SELECT d.account_owner, d.solution_owner, d.fulfilment_owner FROM "
#define DEAL_SQL TRIANGLE "deals d WHERE d.id = $1"
#define QUOTE_SQL TRIANGLE "quotes q JOIN deals d ON d.id = q.deal_id WHERE q.id = $1"
#define CONTRACT_SQL TRIANGLE "contracts c JOIN deals d ON d.id = c.deal_id WHERE c.id = $1"
#define ORDER_SQL TRIANGLE "orders o JOIN deals d ON d.id = o.deal_id WHERE o.id = $1"
static const ltc_owner_lookup DEAL = {"name", DEAL_SQL}, DEAL_OF_QUOTE = {"quote.deal", DEAL_SQL},
                              QUOTE = {"name", QUOTE_SQL}, QUOTE_OF_CONTRACT = {"contract.quote", QUOTE_SQL},
                              CONTRACT = {"name", CONTRACT_SQL}, CONTRACT_OF_ORDER = {"contract", CONTRACT_SQL},
                              ORDER = {"name", ORDER_SQL}, DEAL_OF_SUGGESTION = {"deal", DEAL_SQL},
                              DEAL_READ = {"name", DEAL_SQL, .by_handler = 1}; /* GetDeal checks the deal it read */

static const ltc_method METHODS[] = {
    LTC_WRITE(BTO_SVC, CreateProduct, bto_create_product, NULL),
    LTC_READ(BTO_SVC, GetProduct, bto_get_product, NULL),
    LTC_READ(BTO_SVC, ListProducts, bto_list_products, NULL),
    LTC_WRITE(BTO_SVC, UpdateProduct, bto_update_product, NULL),
    LTC_WRITE(BTO_SVC, CreatePriceBook, bto_create_price_book, NULL),
    LTC_READ(BTO_SVC, GetPriceBook, bto_get_price_book, NULL),
    LTC_WRITE(BTO_SVC, SetTaxRate, bto_set_tax_rate, NULL),
    LTC_READ(BTO_SVC, ListTaxRates, bto_list_tax_rates, NULL),
    LTC_WRITE(BTO_SVC, CreateConfigurationRule, bto_create_configuration_rule, NULL),
    LTC_READ(BTO_SVC, ValidateConfiguration, bto_validate_configuration, NULL),
    LTC_READ(BTO_SVC, SuggestConfigurations, bto_suggest_configurations, &DEAL_OF_SUGGESTION),
    LTC_READ(BTO_SVC, GetDeal, bto_get_deal, &DEAL_READ),
    LTC_WRITE(BTO_SVC, SetDealCustomerGroup, bto_set_deal_customer_group, &DEAL),
    LTC_READ(BTO_SVC, ListDeals, bto_list_deals, NULL),
    LTC_WRITE(BTO_SVC, CreateQuote, bto_create_quote, &DEAL_OF_QUOTE),
    LTC_READ(BTO_SVC, GetQuote, bto_get_quote, &QUOTE),
    LTC_WRITE(BTO_SVC, AcceptQuote, bto_accept_quote, &QUOTE),
    LTC_WRITE(BTO_SVC, SendQuote, bto_send_quote, &QUOTE),
    LTC_WRITE(BTO_SVC, RejectQuote, bto_reject_quote, &QUOTE),
    LTC_WRITE(BTO_SVC, ApproveQuote, bto_approve_quote, NULL),
    LTC_WRITE(BTO_SVC, DenyQuote, bto_deny_quote, NULL),
    LTC_READ(BTO_SVC, GetDiscountPolicy, bto_get_discount_policy, NULL),
    LTC_WRITE(BTO_SVC, SetDiscountPolicy, bto_set_discount_policy, NULL),
    LTC_WRITE(BTO_SVC, CreateContract, bto_create_contract, &QUOTE_OF_CONTRACT),
    LTC_READ(BTO_SVC, GetContract, bto_get_contract, &CONTRACT),
    LTC_WRITE(BTO_SVC, SignContract, bto_sign_contract, &CONTRACT),
    LTC_WRITE(BTO_SVC, CancelContract, bto_cancel_contract, &CONTRACT),
    LTC_WRITE(BTO_SVC, AmendContract, bto_amend_contract, &CONTRACT),
    LTC_WRITE(BTO_SVC, CreateOrder, bto_create_order, &CONTRACT_OF_ORDER),
    LTC_READ(BTO_SVC, GetOrder, bto_get_order, &ORDER),
    LTC_HANDOFF(INTAKE_SVC, AcceptWonBid, bto_accept_won_bid, "ltb"),
    LTC_HANDOFF(INTAKE_SVC, AcceptOrderClosure, bto_accept_order_closure, "dtc"),
    LTC_HANDOFF(INTAKE_SVC, AcceptCustomerChanged, bto_accept_customer_changed, "ltb"),
    LTC_HANDOFF(INTAKE_SVC, AcceptOrderCancelled, bto_accept_order_cancelled, "otd"),
    LTC_HANDOFF(INTAKE_SVC, AcceptPromiseChanged, bto_accept_promise_changed, "otd"),
};

static const char *const HEALTH[] = {"ltc.bto.v1.BidToOrderService", "ltc.bto.v1.IntakeService", NULL};
static const char *const PEERS[] = {"otd", "dtc", "ltb", NULL}; /* hand-offs: AcceptOrder, AcceptOrderPlaced */
/* CreditService/CheckCredit at placement; AvailabilityService/CheckAvailability when a quote is sent */
static const char *const ASKS[] = {"dtc", "otd", NULL};
static const char *const ENV[] = {
    "LTC_CREDIT_DEADLINE_MS",
    "deadline of the credit question to DTC at order placement",
    "LTC_ATP_DEADLINE_MS",
    "deadline of the availability question to OTD at SendQuote",
    NULL,
};

/* The BTO service: its method table, health names, hand-off peers and migrations. */
ltc_service_def bto_service(void) {
    ltc_service_def def = {
        .name = "bto",
        .default_listen = "127.0.0.1:50062",
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
