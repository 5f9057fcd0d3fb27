/* service.c - the LTB process (lead to bid, 标前): ltc.ltb.v1.LeadToBidService for clients (through the gateway),
 * ltc.ltb.v1.IntakeService for DTC's hand-off, and the outbox relay that hands won bids to BTO. */
#include <stddef.h>

#include "ltb.h"
#include "ltc/service.h"

#define LTB_SVC "/ltc.ltb.v1.LeadToBidService/"
#define READ LTC_METHOD_READ, NULL, NULL
#define WRITE LTC_METHOD_WRITE, "request_id", NULL
#define HANDOFF_FROM(peer) LTC_METHOD_WRITE | LTC_METHOD_KEY_REQUIRED, "handoff_id", peer, NULL
#define DESC(x) &ltc__ltb__v1__##x##_request__descriptor, &ltc__ltb__v1__##x##_response__descriptor

/* Where a request's deal record finds its iron triangle (ownership checks, docs/security.md). */
#define OPPORTUNITY_SQL "SELECT account_owner, solution_owner, fulfilment_owner FROM opportunities WHERE id = $1"
#define BID_SQL                                                                                                   \
    "SELECT o.account_owner, o.solution_owner, o.fulfilment_owner FROM bids b "                                   \
    "JOIN opportunities o ON o.id = b.opportunity_id WHERE b.id = $1"
static const ltc_owner_lookup OPPORTUNITY = {"name", OPPORTUNITY_SQL};
static const ltc_owner_lookup OPPORTUNITY_OF_UPDATE = {"opportunity.name", OPPORTUNITY_SQL};
static const ltc_owner_lookup OPPORTUNITY_OF_BID = {"bid.opportunity", OPPORTUNITY_SQL};
static const ltc_owner_lookup BID = {"name", BID_SQL};

static const ltc_method METHODS[] = {
    {LTB_SVC "CreateLead", DESC(create_lead), ltb_create_lead, WRITE},
    {LTB_SVC "GetLead", DESC(get_lead), ltb_get_lead, READ},
    {LTB_SVC "ListLeads", DESC(list_leads), ltb_list_leads, READ},
    {LTB_SVC "UpdateLead", DESC(update_lead), ltb_update_lead, WRITE},
    {LTB_SVC "QualifyLead", DESC(qualify_lead), ltb_qualify_lead, WRITE},
    {LTB_SVC "DisqualifyLead", DESC(disqualify_lead), ltb_disqualify_lead, WRITE},
    {LTB_SVC "GetOpportunity", DESC(get_opportunity), ltb_get_opportunity, READ, &OPPORTUNITY},
    {LTB_SVC "ListOpportunities", DESC(list_opportunities), ltb_list_opportunities, READ},
    {LTB_SVC "UpdateOpportunity", DESC(update_opportunity), ltb_update_opportunity, WRITE, &OPPORTUNITY_OF_UPDATE},
    {LTB_SVC "CreateBid", DESC(create_bid), ltb_create_bid, WRITE, &OPPORTUNITY_OF_BID},
    {LTB_SVC "GetBid", DESC(get_bid), ltb_get_bid, READ, &BID},
    {LTB_SVC "MarkBidWon", DESC(mark_bid_won), ltb_mark_bid_won, WRITE, &BID},
    {LTB_SVC "MarkBidLost", DESC(mark_bid_lost), ltb_mark_bid_lost, WRITE, &BID},
    {"/ltc.ltb.v1.IntakeService/AcceptCashCollected", DESC(accept_cash_collected), ltb_accept_cash_collected,
     HANDOFF_FROM("dtc")},
};

static const char *const HEALTH[] = {"ltc.ltb.v1.LeadToBidService", "ltc.ltb.v1.IntakeService", NULL};
static const char *const PEERS[] = {"bto", NULL};

/* The LTB service: its method table, health names, hand-off peers and migrations. */
ltc_service_def ltb_service(void) {
    ltc_service_def def = {
        .name = "ltb",
        .default_listen = "127.0.0.1:50061",
        .methods = METHODS,
        .n_methods = sizeof METHODS / sizeof METHODS[0],
        .health_services = HEALTH,
        .peers = PEERS,
        .migrations = ltc_service_migrations,
        .n_migrations = ltc_service_migrations_count,
    };
    return def;
}
