/* service.c - the LTB process (lead to bid, 标前): ltc.ltb.v1.LeadToBidService for clients (through the gateway),
 * ltc.ltb.v1.IntakeService for DTC's hand-off, and the outbox relay that hands won bids to BTO. */
#include <stddef.h>

#include "ltb.h"
#include "ltc/service.h"

#define LTB_SVC "/ltc.ltb.v1.LeadToBidService/"
#define INTAKE_SVC "/ltc.ltb.v1.IntakeService/"

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
    LTC_WRITE(LTB_SVC, ltb, CreateLead, create_lead, ltb_create_lead, NULL),
    LTC_READ(LTB_SVC, ltb, GetLead, get_lead, ltb_get_lead, NULL),
    LTC_READ(LTB_SVC, ltb, ListLeads, list_leads, ltb_list_leads, NULL),
    LTC_WRITE(LTB_SVC, ltb, UpdateLead, update_lead, ltb_update_lead, NULL),
    LTC_WRITE(LTB_SVC, ltb, QualifyLead, qualify_lead, ltb_qualify_lead, NULL),
    LTC_WRITE(LTB_SVC, ltb, DisqualifyLead, disqualify_lead, ltb_disqualify_lead, NULL),
    LTC_READ(LTB_SVC, ltb, GetOpportunity, get_opportunity, ltb_get_opportunity, &OPPORTUNITY),
    LTC_READ(LTB_SVC, ltb, ListOpportunities, list_opportunities, ltb_list_opportunities, NULL),
    LTC_WRITE(LTB_SVC, ltb, UpdateOpportunity, update_opportunity, ltb_update_opportunity, &OPPORTUNITY_OF_UPDATE),
    LTC_WRITE(LTB_SVC, ltb, CreateBid, create_bid, ltb_create_bid, &OPPORTUNITY_OF_BID),
    LTC_READ(LTB_SVC, ltb, GetBid, get_bid, ltb_get_bid, &BID),
    LTC_WRITE(LTB_SVC, ltb, MarkBidWon, mark_bid_won, ltb_mark_bid_won, &BID),
    LTC_WRITE(LTB_SVC, ltb, MarkBidLost, mark_bid_lost, ltb_mark_bid_lost, &BID),
    LTC_HANDOFF(INTAKE_SVC, ltb, AcceptCashCollected, accept_cash_collected, ltb_accept_cash_collected, "dtc"),
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
