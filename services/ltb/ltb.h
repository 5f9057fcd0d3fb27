/* ltb.h - private declarations of the LTB service (lead to bid, 标前): the handlers that main.c puts in its method
 * table and the helpers the resource files share. Every function here runs inside a call (ltc_call): what it builds
 * lives in the call's arena; on -1 the status is set and the caller returns -1 as is.
 * Files: intake.c (what the stage receives: its IntakeService handlers), handoffs.c (what it sends: each hand-off
 * built from the stage's rows and queued with ltc_outbox_put), one file per resource (handlers, loader
 * <stage>_load_<resource>), and main.c/service.c. Functions that query take (c, st, ...); validators take st last,
 * like ltc_check_text. Resources: leads.c, opportunities.c, bids.c, updates.c (the Update methods), admission.c
 * (the order-admission gate; its pure rules in admission_rules.c). */
#ifndef LTB_H
#define LTB_H

#include <stdint.h>

#include "ltc/bto/v1/intake_service.pb-c.h"
#include "ltc/ids.h"
#include "ltc/ltb/v1/intake_service.pb-c.h"
#include "ltc/ltb/v1/ltb_service.pb-c.h"
#include "ltc/ltb/v1/resources.pb-c.h"
#include "ltc/type/v1/customer.pb-c.h"
#include "ltc/money.h"
#include "ltc/proto.h"
#include "ltc/server.h"
#include "ltc/sqltext.h"
#include "ltc/status.h"

/* --- handlers (signature of ltc_unary_handler) ------------------------------------------------------------- */

int ltb_create_lead(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_get_lead(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_list_leads(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_update_lead(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_qualify_lead(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_disqualify_lead(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

int ltb_get_opportunity(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_list_opportunities(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_update_opportunity(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

int ltb_create_bid(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_get_bid(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_mark_bid_won(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_mark_bid_lost(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* admission.c: the order-admission gate (docs/credit.md) */
int ltb_request_order_admission(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_override_order_admission(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_list_admission_decisions(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_get_admission_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_update_admission_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_create_customer(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_get_customer(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_list_customers(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_update_customer(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_block_customer(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_unblock_customer(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_find_duplicate_customers(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_merge_customers(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

int ltb_accept_cash_collected(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_accept_milestone(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* pipeline.c: the opportunity's life beyond bids (issue #18) and the pipeline policy */
int ltb_get_pipeline_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_update_pipeline_policy(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_record_lead_engagement(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_get_lead_score(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_set_win_probability(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_decide_bid(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_lose_opportunity(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_reopen_opportunity(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_list_stale_opportunities(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* bids.c */
int ltb_withdraw_bid(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
/* timeline.c and reports.c: the hub's views of deals */
int ltb_get_deal_timeline(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_get_funnel_report(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);
int ltb_get_velocity_report(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st);

/* --- shared helpers ---------------------------------------------------------------------------------------- */

/* LTB_STAGE(WON) is LTC__LTB__V1__OPPORTUNITY_STAGE__OPPORTUNITY_STAGE_WON. */
#define LTB_STAGE(x) LTC__LTB__V1__OPPORTUNITY_STAGE__OPPORTUNITY_STAGE_##x

/* Stage of an opportunity <-> its text in the database ('QUALIFIED'...). Unknown text -> UNSPECIFIED. */
const char *ltb_stage_text(Ltc__Ltb__V1__OpportunityStage s);
Ltc__Ltb__V1__OpportunityStage ltb_stage_parse(const char *s);

/* The opportunity row as a state-changing handler sees it after locking it (SELECT ... FOR UPDATE). */
typedef struct ltb_opp_locked {
    char id[LTC_UUID_LEN + 1];
    Ltc__Ltb__V1__OpportunityStage stage;
    char currency[4];
    int64_t collected_minor;
} ltb_opp_locked;

/* Locks opportunity `id` for the rest of the transaction. NOT_FOUND (OPPORTUNITY_NOT_FOUND) when unknown. 0 or -1. */
int ltb_opp_lock(ltc_call *c, ltc_status *st, const char *id, ltb_opp_locked *out);
/* Appends a stage_changes row: opportunity `id` entered `stage` now (the transaction's time), moved by the caller's
 * principal. 0 or -1. */
int ltb_stage_record(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__OpportunityStage stage);
/* The same with the reason of the change (lost, not pursued, reopened, withdrawn; NULL: none). 0 or -1. */
int ltb_stage_record_why(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__OpportunityStage stage,
                         const char *reason);
/* Records for the audit trail (ltc/audit.h) that opportunity `id` moved from stage `from` to `to`. */
void ltb_audit_stage(ltc_call *c, const char *id, Ltc__Ltb__V1__OpportunityStage from,
                     Ltc__Ltb__V1__OpportunityStage to);
/* The caller's principal, "" when none. */
const char *ltb_actor(ltc_call *c);
/* True when s has no control characters (below U+0020, or DEL), so it may be packed with LTB_SEP_*. NULL is fine. */
int ltb_text_plain(const char *s);
/* Moves the locked opportunity `id` to `stage`: sets it (and won_bid_id when won_bid is not NULL), bumps version and
 * update_time, appends a stage_changes row. 0 or -1. */
int ltb_opp_enter_stage(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__OpportunityStage stage,
                        const char *won_bid);
/* The columns of an opportunity (table alias o) in the order ltb_opp_from_result reads them: the first LTB_OPP_NCOLS
 * columns of a SELECT or a RETURNING clause. */
/* The default probability of the opportunity's stage (pipeline policy), and its effective one: the manual override
 * when one was set in the current (open) stage, else the default. */
#define LTB_OPP_STAGE_BPS "COALESCE((SELECT sp.bps FROM stage_probabilities sp WHERE sp.stage = o.stage), 0)"
#define LTB_OPP_WIN_BPS                                                                                                \
    "CASE WHEN o.probability_override_stage = o.stage AND o.stage IN ('QUALIFIED', 'BIDDING')"                         \
    " THEN o.probability_override_bps ELSE " LTB_OPP_STAGE_BPS " END"
/* The separators of packed text columns: items of a list, and fields of a record. */
#define LTB_SEP_ITEM '\x1f'
#define LTB_SEP_FIELD '\x1e'
#define LTB_OPP_COLS                                                                                                                                                                                                                                    \
    "o.id::text, o.lead_id::text, o.customer_name, o.title, o.account_owner, o.solution_owner,"                                                                                                                                                         \
    " o.fulfilment_owner, o.expected_minor, o.currency, " LTC_SQL_DATE(                                                                                                                                                                                 \
        "o.expected_close_date") ", " LTB_OPP_WIN_BPS                                                                                                                                                                                                   \
                                 ", o.stage, o.won_bid_id::text, o.collected_minor, " LTC_SQL_MICROS("o.create_time") ", " LTC_SQL_MICROS(                                                                                                              \
                                     "o.update_time") ", o.version, o.seq, o.customer_id::text, " LTB_OPP_STAGE_BPS                                                                                                                                     \
                                                      ", o.probability_override_bps,"                                                                                                                                                                   \
                                                      " o.probability_override_reason, o.probability_override_by, " LTC_SQL_MICROS(                                                                                                                     \
                                                          "o.probability_override_time") ", o.probability_override_stage,"                                                                                                                              \
                                                                                         " array_to_string(o.competitor_names, E'\\x1f'),"                                                                                                              \
                                                                                         " array_to_string(o.competitor_notes, E'\\x1f'),"                                                                                                              \
                                                                                         " o.lost_reason, o.lost_competitor, " LTC_SQL_MICROS(                                                                                                          \
                                                                                             "GREATEST(o.update_time, (SELECT max(b.update_time)"                                                                                                       \
                                                                                             " FROM bids b WHERE b.opportunity_id = o.id))") ","                                                                                                        \
                                                                                                                                             " (SELECT d.id::text || E'\\x1e' || d.outcome || E'\\x1e' || d.decided_by || E'\\x1e' || " LTC_SQL_MICROS( \
                                                                                                                                                 "d.decide_time") "::text || E'\\x1e' || array_to_string(d.reasons, E'\\x1f')"                          \
                                                                                                                                                                  " FROM bid_decisions d WHERE d.opportunity_id = o.id ORDER BY d.seq DESC LIMIT 1)"
#define LTB_OPP_NCOLS 31
/* The whole opportunity of row 0 of r (LTB_OPP_COLS first), with its requirements and stage history read in one
 * more query. 0 or -1. */
int ltb_opp_from_result(ltc_call *c, ltc_status *st, const PGresult *r, Ltc__Ltb__V1__Opportunity **out);
/* The Opportunity of row i of an LTB_OPP_COLS result without requirements, stage history and admission. */
Ltc__Ltb__V1__Opportunity *ltb_opp_from_row(ltc_call *c, const PGresult *r, int i);
/* Fills requirements, stage history and admission of opps[0..n) (rows 0..n of the LTB_OPP_COLS result r). */
int ltb_opp_details(ltc_call *c, ltc_status *st, const PGresult *r, Ltc__Ltb__V1__Opportunity **opps, size_t n);
/* --- loaders (the resource file of each): the whole resource into *out, in the arena; NOT_FOUND when unknown ---- */

/* The whole opportunity (requirements, stage history, won bid, collected amount). NOT_FOUND when unknown. */
int ltb_load_opportunity(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__Opportunity **out);
/* The lead. NOT_FOUND (LEAD_NOT_FOUND) when unknown. */
int ltb_load_lead(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__Lead **out);

/* The bid (bids.c). NOT_FOUND (BID_NOT_FOUND) when unknown. */
int ltb_load_bid(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__Bid **out);

/* --- the admission gate for the other handlers (admission.c) ------------------------------------------------ */

/* CreateBid's gate for a bid of `amount` on the locked opportunity opp_id: the customer not BLOCKED now (read
 * live), a current ADMITTED or OVERRIDDEN decision, the bid in its currency and within the admitted amount plus
 * the decision's tolerance. 0 with *decision_id (the decision the bid passed on, in the arena), or -1:
 * FAILED_PRECONDITION (CUSTOMER_BLOCKED, ADMISSION_REQUIRED, ADMISSION_REFUSED, ADMISSION_EXCEEDED). */
int ltb_admission_gate(ltc_call *c, ltc_status *st, const char *opp_id, const ltc_money *amount,
                       const char **decision_id);
/* UpdateOpportunity set the locked opportunity's expected amount to expected_minor: a current decision it exceeds
 * (beyond the decision's tolerance) is superseded, and DTC told to drop its reservation if it reserved. 0 or -1. */
int ltb_admission_supersede_exceeded(ltc_call *c, ltc_status *st, const char *opp_id, int64_t expected_minor);
/* Sets opps[k]->admission to the latest decision (with its checks) of each opportunity, two queries whatever n. */
int ltb_admission_attach(ltc_call *c, ltc_status *st, Ltc__Ltb__V1__Opportunity **opps, size_t n);

/* --- hand-offs LTB sends (handoffs.c): built from LTB's records in the caller's transaction and queued there ---- */

/* The won bid `bid_id` of opportunity `opp_id` (both just decided in this transaction) to BTO, AcceptWonBid, deal id
 * = the opportunity's id, with a new hand-off id. 0 or -1 (the database's status, or INTERNAL). */
int ltb_handoff_won_bid(ltc_call *c, ltc_status *st, const char *opp_id, const char *bid_id);

/* Opportunity opp_id of customer customer_id is closed for credit: to DTC, AcceptOpportunityClosed with `reason`
 * ("LOST", "ADMISSION_SUPERSEDED") and the credit decision whose reservation goes (NULL: any), deal id = the
 * opportunity's id, with a new hand-off id. 0 or -1. */
int ltb_handoff_opportunity_closed(ltc_call *c, ltc_status *st, const char *opp_id, const char *customer_id,
                                   const char *reason, const char *credit_decision_id);
/* MarkBidLost: AcceptOpportunityClosed (LOST) to DTC when the opportunity ever had an admission decision (it may
 * hold a reservation there). 0 or -1. */
int ltb_handoff_opportunity_lost(ltc_call *c, ltc_status *st, const char *opp_id);
/* --- customers (customers.c) ------------------------------------------------------------------------------- */

/* The whole customer (contacts too); a tombstone as it is. NOT_FOUND (CUSTOMER_NOT_FOUND) when unknown. */
int ltb_load_customer(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__Customer **out);
/* Share-locks customer `id` for the transaction and checks it may get new records: FAILED_PRECONDITION
 * CUSTOMER_MERGED (a tombstone), CUSTOMER_BLOCKED (unless allow_blocked); NOT_FOUND (CUSTOMER_NOT_FOUND). 0 or -1. */
int ltb_customer_usable(ltc_call *c, ltc_status *st, const char *id, int allow_blocked);
/* Validators: an ISO 3166-1 alpha-2 country (empty allowed unless required); a distinct_from list. */
void ltb_check_country(const char *s, const char *field, int required, ltc_status *st);
void ltb_check_distinct_from(ltc_call *c, char **names, size_t n, ltc_status *st);

/* A party to match against live customers (and NEW leads when with_leads): raw values, normalised by the SQL
 * functions of migration 002. `region` reads national phone numbers ("" : international only). not_customer: a
 * customer left out, with its NEW leads; not_lead: a lead left out (NULL: none). */
typedef struct ltb_party_probe {
    const char *name, *tax_id, *country, *region;
    const char *const *emails;
    size_t n_emails;
    const char *const *phones;
    size_t n_phones;
    int with_leads;
    const char *not_customer, *not_lead;
} ltb_party_probe;
struct ltb_match;
/* The matches of a probe, grouped by party (matching.h), in the arena; with lock, first the advisory locks of its
 * keys (creates). 0 or -1. */
int ltb_party_match(ltc_call *c, ltc_status *st, const ltb_party_probe *p, int lock, struct ltb_match **out, size_t *n);
/* ALREADY_EXISTS (DUPLICATE_LEAD for subject_kind "LEAD", else DUPLICATE_CUSTOMER; metadata "matches") unless every
 * match is named in `distinct`; else records each confirmation (party_distinctions: subject_kind, subject_id). */
int ltb_party_refuse_duplicates(ltc_call *c, ltc_status *st, struct ltb_match *m, size_t n, const char *const *distinct,
                                size_t nd, const char *subject_kind, const char *subject_id);
/* Creates ACTIVE customer x (validated) after matching it (DUPLICATE_CUSTOMER unless confirmed), with its contacts,
 * and hands the new customer to BTO, OTD and DTC. Its new id in id_out. 0 or -1. */
int ltb_customer_insert(ltc_call *c, ltc_status *st, const Ltc__Ltb__V1__Customer *x, char *const *distinct, size_t nd,
                        char id_out[LTC_UUID_LEN + 1]);

/* The snapshot of customer `id` as every hand-off carries it (handoffs.c). 0 or -1 (CUSTOMER_NOT_FOUND). */
int ltb_customer_snapshot(ltc_call *c, ltc_status *st, const char *id, Ltc__Type__V1__CustomerSnapshot **out);
/* AcceptCustomerChanged to BTO, OTD and DTC (deal id = the customer's id, so its changes arrive in order): customer
 * `id` as it is now, `change`, the survivor's id when MERGED (else NULL), the note (DTC; NULL: none). 0 or -1. */
int ltb_handoff_customer_changed(ltc_call *c, ltc_status *st, const char *id, Ltc__Type__V1__CustomerChange change,
                                 const char *survivor_id, const char *note);

/* True when s has the shape "name@domain.tld" (leads.c; used by CreateLead and UpdateLead). */
int ltb_email_shape_ok(const char *s);

/* The etag of a row version: lower-case hex, in the arena. */
char *ltb_etag(ltc_call *c, int64_t version);

/* The service's definition (service.c), run by main.c and driven by the fuzz targets. */
#include "ltc/service.h"
ltc_service_def ltb_service(void);

#endif
