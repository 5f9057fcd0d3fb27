/* service.c - the LTB process (lead to bid, 标前): ltc.ltb.v1.LeadToBidService for clients (through the gateway),
 * ltc.ltb.v1.IntakeService for DTC's hand-off, and the outbox relay that hands won bids to BTO and customer changes
 * to BTO, OTD and DTC. */
#include <stddef.h>

#include "ltb.h"
#include "ltc/service.h"

/* The services served, by their protoc-c service descriptors (proto/ltc/ltb/v1): the method table below must
 * name each of their RPCs once (ltc/methods.h checks it at start). */
#define LTB_SVC ltc__ltb__v1__lead_to_bid_service__descriptor
#define INTAKE_SVC ltc__ltb__v1__intake_service__descriptor

/* Where a request's deal record finds its iron triangle (ownership checks, docs/security.md). */
#define OPPORTUNITY_SQL "SELECT account_owner, solution_owner, fulfilment_owner FROM opportunities WHERE id = $1"
#define BID_SQL                                                                                                        \
    "SELECT o.account_owner, o.solution_owner, o.fulfilment_owner FROM bids b "                                        \
    "JOIN opportunities o ON o.id = b.opportunity_id WHERE b.id = $1"
static const ltc_owner_lookup OPPORTUNITY = {"name", OPPORTUNITY_SQL};
static const ltc_owner_lookup OPPORTUNITY_READ = {"name", OPPORTUNITY_SQL, .by_handler = 1}; /* GetOpportunity */
static const ltc_owner_lookup OPPORTUNITY_OF_UPDATE = {"opportunity.name", OPPORTUNITY_SQL};
static const ltc_owner_lookup OPPORTUNITY_OF_BID = {"bid.opportunity", OPPORTUNITY_SQL};
static const ltc_owner_lookup BID = {"name", BID_SQL};
static const ltc_owner_lookup OPPORTUNITY_OF_ADMISSION = {"opportunity", OPPORTUNITY_SQL};
static const ltc_owner_lookup DEAL_READ = {"deal", OPPORTUNITY_SQL, .by_handler = 1}; /* GetDealTimeline */

static const ltc_method METHODS[] = {
    LTC_WRITE(LTB_SVC, CreateLead, ltb_create_lead, NULL),
    LTC_READ(LTB_SVC, GetLead, ltb_get_lead, NULL),
    LTC_READ(LTB_SVC, ListLeads, ltb_list_leads, NULL),
    LTC_WRITE(LTB_SVC, UpdateLead, ltb_update_lead, NULL),
    LTC_WRITE(LTB_SVC, QualifyLead, ltb_qualify_lead, NULL),
    LTC_WRITE(LTB_SVC, DisqualifyLead, ltb_disqualify_lead, NULL),
    LTC_READ(LTB_SVC, GetOpportunity, ltb_get_opportunity, &OPPORTUNITY_READ),
    LTC_READ(LTB_SVC, ListOpportunities, ltb_list_opportunities, NULL),
    LTC_WRITE(LTB_SVC, UpdateOpportunity, ltb_update_opportunity, &OPPORTUNITY_OF_UPDATE),
    LTC_WRITE(LTB_SVC, CreateBid, ltb_create_bid, &OPPORTUNITY_OF_BID),
    LTC_READ(LTB_SVC, GetBid, ltb_get_bid, &BID),
    LTC_WRITE(LTB_SVC, MarkBidWon, ltb_mark_bid_won, &BID),
    LTC_WRITE(LTB_SVC, MarkBidLost, ltb_mark_bid_lost, &BID),
    LTC_WRITE(LTB_SVC, RequestOrderAdmission, ltb_request_order_admission, &OPPORTUNITY_OF_ADMISSION),
    LTC_WRITE(LTB_SVC, OverrideOrderAdmission, ltb_override_order_admission, &OPPORTUNITY_OF_ADMISSION),
    LTC_READ(LTB_SVC, ListAdmissionDecisions, ltb_list_admission_decisions, &OPPORTUNITY_OF_ADMISSION),
    LTC_READ(LTB_SVC, GetAdmissionPolicy, ltb_get_admission_policy, NULL),
    LTC_WRITE(LTB_SVC, UpdateAdmissionPolicy, ltb_update_admission_policy, NULL),
    LTC_WRITE(LTB_SVC, CreateCustomer, ltb_create_customer, NULL),
    LTC_READ(LTB_SVC, GetCustomer, ltb_get_customer, NULL),
    LTC_READ(LTB_SVC, ListCustomers, ltb_list_customers, NULL),
    LTC_WRITE(LTB_SVC, UpdateCustomer, ltb_update_customer, NULL), /* account owner: checked by the handler */
    LTC_WRITE(LTB_SVC, BlockCustomer, ltb_block_customer, NULL),
    LTC_WRITE(LTB_SVC, UnblockCustomer, ltb_unblock_customer, NULL),
    LTC_READ(LTB_SVC, FindDuplicateCustomers, ltb_find_duplicate_customers, NULL),
    LTC_WRITE(LTB_SVC, MergeCustomers, ltb_merge_customers, NULL),
    LTC_READ(LTB_SVC, GetPipelinePolicy, ltb_get_pipeline_policy, NULL),
    LTC_WRITE(LTB_SVC, UpdatePipelinePolicy, ltb_update_pipeline_policy, NULL),
    LTC_WRITE(LTB_SVC, RecordLeadEngagement, ltb_record_lead_engagement, NULL),
    LTC_READ(LTB_SVC, GetLeadScore, ltb_get_lead_score, NULL),
    LTC_WRITE(LTB_SVC, SetWinProbability, ltb_set_win_probability, &OPPORTUNITY),
    LTC_WRITE(LTB_SVC, DecideBid, ltb_decide_bid, &OPPORTUNITY),
    LTC_WRITE(LTB_SVC, WithdrawBid, ltb_withdraw_bid, &BID),
    LTC_WRITE(LTB_SVC, LoseOpportunity, ltb_lose_opportunity, &OPPORTUNITY),
    LTC_WRITE(LTB_SVC, ReopenOpportunity, ltb_reopen_opportunity, &OPPORTUNITY),
    LTC_READ(LTB_SVC, ListStaleOpportunities, ltb_list_stale_opportunities, NULL),
    LTC_READ(LTB_SVC, GetDealTimeline, ltb_get_deal_timeline, &DEAL_READ),
    LTC_READ(LTB_SVC, GetFunnelReport, ltb_get_funnel_report, NULL),
    LTC_READ(LTB_SVC, GetVelocityReport, ltb_get_velocity_report, NULL),
    LTC_HANDOFF(INTAKE_SVC, AcceptCashCollected, ltb_accept_cash_collected, "dtc"),
    LTC_HANDOFF(INTAKE_SVC, AcceptMilestone, ltb_accept_milestone, "bto,otd,dtc"),
};

static const char *const HEALTH[] = {"ltc.ltb.v1.LeadToBidService", "ltc.ltb.v1.IntakeService", NULL};
static const char *const PEERS[] = {"bto", "otd", "dtc", NULL};
static const char *const ASKS[] = {"dtc", NULL}; /* CheckCredit at admission (admission.c) */

/* The LTB service: its method table, health names, hand-off peers and migrations. */
ltc_service_def ltb_service(void) {
    ltc_service_def def = {
        .name = "ltb",
        .default_listen = "127.0.0.1:50061",
        .methods = METHODS,
        .n_methods = sizeof METHODS / sizeof METHODS[0],
        .health_services = HEALTH,
        .peers = PEERS,
        .asks = ASKS,
        .migrations = ltc_service_migrations,
        .n_migrations = ltc_service_migrations_count,
    };
    return def;
}
