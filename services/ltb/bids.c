/* bids.c - bids (投标): submit one for an opportunity, read it, mark it won (the deal goes to BTO through the
 * outbox, in the same transaction) or lost. Life cycle: SUBMITTED -> WON | LOST; at most one SUBMITTED bid per
 * opportunity (also enforced by a partial unique index).
 * Lock order everywhere: the opportunity first, then the bid. */
#include <stdio.h>
#include <string.h>

#include "ltb.h"
#include "ltc/audit.h"
#include "ltc/proto.h"

/* --- SQL ----------------------------------------------------------------------------------------------------- */

#define BID_COLS                                                                                                       \
    "id::text, opportunity_id::text, amount_minor, currency, state, lost_reason, competitor,"                          \
    " " LTC_SQL_MICROS("create_time") ", " LTC_SQL_MICROS("update_time")
static const char SQL_BID_GET[] = "SELECT " BID_COLS " FROM bids WHERE id = $1";
enum {
    BC_ID,
    BC_OPP,
    BC_AMOUNT,
    BC_CURRENCY,
    BC_STATE,
    BC_REASON,
    BC_COMPETITOR,
    BC_CTIME,
    BC_UTIME
};
static const char SQL_BID_OUT[] = "SELECT id::text FROM bids WHERE opportunity_id = $1 AND state = 'SUBMITTED'";
static const char SQL_BID_INSERT[] =
    "INSERT INTO bids (id, opportunity_id, amount_minor, currency, state, admission_decision_id, created_by)"
    " VALUES ($1, $2, $3, $4, 'SUBMITTED', $5, $6)";
/* The bid and its opportunity, both locked in one round trip, the opportunity first (the rows are locked in the
 * order of FOR UPDATE OF). */
static const char SQL_BID_LOCK[] =
    "SELECT o.id::text, o.stage, o.currency, o.collected_minor, b.state"
    " FROM opportunities o JOIN bids b ON b.opportunity_id = o.id WHERE b.id = $1 FOR UPDATE OF o, b";
/* The decision of a locked bid in one round trip: the bid's new state, the opportunity's new stage (version bumped)
 * and its stage history row; returns the opportunity (LTB_OPP_COLS) then the bid (BID_COLS) as they are now.
 * $1 bid, $2 opportunity, $3 the stage_changes row's id, $4 the actor; $5 the reason and $6 the competitor when
 * the decision has them. */
#define BID_DECIDE(bid_set, opp_set, stage, reason)                                                                    \
    "WITH wb AS (UPDATE bids SET " bid_set ", update_time = now() WHERE id = $1 RETURNING " BID_COLS "),"              \
    " wo AS (UPDATE opportunities o SET " opp_set ", version = o.version + 1, update_time = now() WHERE o.id = $2"     \
    "       RETURNING " LTB_OPP_COLS "),"                                                                              \
    " ws AS (INSERT INTO stage_changes (id, opportunity_id, stage, actor, reason)"                                     \
    "        VALUES ($3, $2, '" stage "', $4, " reason "))"                                                            \
    " SELECT wo.*, wb.* FROM wo, wb"
static const char SQL_BID_WIN[] = BID_DECIDE("state = 'WON'", "stage = 'WON', won_bid_id = $1", "WON", "''");
static const char SQL_BID_LOSE[] = BID_DECIDE("state = 'LOST', lost_reason = $5, competitor = $6",
                                              "stage = 'LOST', lost_reason = $5, lost_competitor = $6", "LOST", "$5");
/* WithdrawBid: the bid WITHDRAWN with its reason, the opportunity back to QUALIFIED. */
static const char SQL_BID_WITHDRAW[] =
    BID_DECIDE("state = 'WITHDRAWN', lost_reason = $5", "stage = 'QUALIFIED'", "QUALIFIED", "'bid withdrawn: ' || $5");

/* --- rows ---------------------------------------------------------------------------------------------------- */

/* The bid of row 0 of r, whose BID_COLS start at column `o`. */
static Ltc__Ltb__V1__Bid *bid_from_row(ltc_call *c, const PGresult *r, int o) {
    Ltc__Ltb__V1__Bid *b = LTC_NEW(c, Ltc__Ltb__V1__Bid, LTC__LTB__V1__BID__INIT);
    b->name = ltc_call_printf(c, "bids/%s", ltc_pg_str(r, 0, o + BC_ID));
    b->opportunity = ltc_call_printf(c, "opportunities/%s", ltc_pg_str(r, 0, o + BC_OPP));
    b->amount = ltc_money_msg(c, ltc_pg_str(r, 0, o + BC_CURRENCY), ltc_pg_i64(r, 0, o + BC_AMOUNT));
    b->state = (Ltc__Ltb__V1__BidState)ltc_enum_from_db(&ltc__ltb__v1__bid_state__descriptor, "BID_STATE_",
                                                        ltc_pg_str(r, 0, o + BC_STATE));
    b->lost_reason = ltc_call_strdup(c, ltc_pg_str(r, 0, o + BC_REASON));
    b->competitor = ltc_call_strdup(c, ltc_pg_str(r, 0, o + BC_COMPETITOR));
    b->create_time = ltc_ts_from_pg(c, r, 0, o + BC_CTIME);
    b->update_time = ltc_ts_from_pg(c, r, 0, o + BC_UTIME);
    return b;
}

int ltb_load_bid(ltc_call *c, ltc_status *st, const char *id, Ltc__Ltb__V1__Bid **out) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_BID_GET, 1, p);
    if (!r) return -1;
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "BID_NOT_FOUND", "bid %s does not exist", id);
    *out = bid_from_row(c, r, 0);
    return 0;
}

/* Decides the locked bid `id` of opportunity opp_id with `sql` (SQL_BID_WIN; SQL_BID_LOSE with reason x1 and
 * competitor x2; SQL_BID_WITHDRAW with reason x1, x2 NULL): the bid and the whole opportunity as they are after it. */
static int bid_decide(ltc_call *c, ltc_status *st, const char *sql, const char *id, const char *opp_id, const char *x1,
                      const char *x2, Ltc__Ltb__V1__Bid **bid, Ltc__Ltb__V1__Opportunity **opp) {
    char sid[LTC_UUID_LEN + 1];
    ltc_uuid_new(sid);
    const char *p[] = {id, opp_id, sid, ltb_actor(c), x1, x2};
    PGresult *r = ltc_call_query(c, st, sql, x1 ? (x2 ? 6 : 5) : 4, p);
    if (!r) return -1;
    if (PQntuples(r) != 1) /* both rows are locked by this transaction */
        return ltc_status_set(st, LTC_INTERNAL, "BID_DECISION_LOST", "bid %s was not updated", id);
    *bid = bid_from_row(c, r, LTB_OPP_NCOLS);
    const char *bid_target = ltc_call_printf(c, "bids/%s", id);
    ltc_audit_change(c, bid_target, "state", "SUBMITTED",
                     ltc_enum_to_db(&ltc__ltb__v1__bid_state__descriptor, "BID_STATE_", (*bid)->state));
    if (x1) ltc_audit_change(c, bid_target, "lost_reason", NULL, x1);
    if (ltb_opp_from_result(c, st, r, opp) != 0) return -1;
    ltb_audit_stage(c, opp_id, LTB_STAGE(BIDDING), (*opp)->stage);
    if (x2 && x2[0]) ltc_audit_change(c, ltc_call_printf(c, "opportunities/%s", opp_id), "lost_competitor", NULL, x2);
    return 0;
}

/* Locks the opportunity of bid `id`, then the bid, and checks that the bid is SUBMITTED and its opportunity
 * BIDDING. NOT_FOUND (BID_NOT_FOUND); FAILED_PRECONDITION (BID_NOT_SUBMITTED, OPPORTUNITY_NOT_BIDDING). */
static int lock_submitted_bid(ltc_call *c, ltc_status *st, const char *id, ltb_opp_locked *opp) {
    const char *p[] = {id};
    PGresult *r = ltc_call_query(c, st, SQL_BID_LOCK, 1, p);
    if (!r) return -1;
    /* bids.opportunity_id is NOT NULL and references opportunities: no row means no bid */
    if (PQntuples(r) == 0) return ltc_status_set(st, LTC_NOT_FOUND, "BID_NOT_FOUND", "bid %s does not exist", id);
    snprintf(opp->id, sizeof opp->id, "%s", ltc_pg_str(r, 0, 0));
    opp->stage = ltb_stage_parse(ltc_pg_str(r, 0, 1));
    snprintf(opp->currency, sizeof opp->currency, "%s", ltc_pg_str(r, 0, 2));
    opp->collected_minor = ltc_pg_i64(r, 0, 3);
    const char *state = ltc_pg_str(r, 0, 4);
    if (strcmp(state, "SUBMITTED") != 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "BID_NOT_SUBMITTED", "bid %s is %s, not SUBMITTED", id,
                              state);
    if (opp->stage != LTB_STAGE(BIDDING))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OPPORTUNITY_NOT_BIDDING",
                              "opportunity %s is %s, not BIDDING", opp->id, ltb_stage_text(opp->stage));
    return 0;
}

/* --- handlers ------------------------------------------------------------------------------------------------ */

/* CreateBid: records a SUBMITTED bid; the opportunity moves QUALIFIED -> BIDDING (with a stage history row).
 * INVALID_ARGUMENT (bid.opportunity, bid.amount, also a currency other than the expected amount's);
 * NOT_FOUND (OPPORTUNITY_NOT_FOUND); FAILED_PRECONDITION (OPPORTUNITY_NOT_BIDDABLE unless QUALIFIED or BIDDING,
 * BID_ALREADY_OUT when a SUBMITTED bid exists; the admission gate: CUSTOMER_BLOCKED, ADMISSION_REQUIRED,
 * ADMISSION_REFUSED, ADMISSION_EXCEEDED). The bid records the admission decision it passed on. */
int ltb_create_bid(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__CreateBidRequest *req = (const void *)m;
    const Ltc__Ltb__V1__Bid *in = req->bid;
    char opp_id[LTC_UUID_LEN + 1];
    ltc_money amount = {{0}, 0};
    if (!in) return ltc_status_bad_field(st, "bid", "required");
    ltc_name_parse(in->opportunity, "opportunities", "bid.opportunity", opp_id, st);
    if (ltc_money_from_proto(in->amount, "bid.amount", 0, &amount, st) == 0 && amount.minor <= 0)
        ltc_status_bad_field(st, "bid.amount", "must be positive");
    if (st->code != LTC_OK) return -1;

    ltb_opp_locked opp;
    if (ltb_opp_lock(c, st, opp_id, &opp) != 0) return -1;
    if (strcmp(opp.currency, amount.currency) != 0)
        return ltc_status_bad_field(st, "bid.amount.currency_code", "must be %s, the opportunity's currency, not %s",
                                    opp.currency, amount.currency);
    if (opp.stage != LTB_STAGE(QUALIFIED) && opp.stage != LTB_STAGE(BIDDING))
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "OPPORTUNITY_NOT_BIDDABLE",
                              "opportunity %s is %s, not QUALIFIED or BIDDING", opp_id, ltb_stage_text(opp.stage));
    const char *po[] = {opp_id};
    PGresult *r = ltc_call_query(c, st, SQL_BID_OUT, 1, po);
    if (!r) return -1;
    if (PQntuples(r) > 0)
        return ltc_status_set(st, LTC_FAILED_PRECONDITION, "BID_ALREADY_OUT",
                              "opportunity %s already has bid %s out (SUBMITTED)", opp_id, ltc_pg_str(r, 0, 0));
    const char *admission = NULL; /* the order-admission gate (admission.c), always */
    if (ltb_admission_gate(c, st, opp_id, &amount, &admission) != 0) return -1;

    char id[LTC_UUID_LEN + 1];
    ltc_uuid_new(id);
    const char *pb[] = {id, opp_id, ltc_sql_i64(c, amount.minor), amount.currency, admission, ltb_actor(c)};
    if (!ltc_call_query(c, st, SQL_BID_INSERT, 6, pb)) return -1;
    if (opp.stage == LTB_STAGE(QUALIFIED) && ltb_opp_enter_stage(c, st, opp_id, LTB_STAGE(BIDDING), NULL) != 0)
        return -1;
    const char *bid_target = ltc_call_printf(c, "bids/%s", id);
    ltc_audit_change(c, bid_target, "state", NULL, "SUBMITTED");
    ltc_audit_change_money(c, bid_target, "amount", amount.currency, 0, 0, amount.minor, 1);
    if (opp.stage == LTB_STAGE(QUALIFIED)) ltb_audit_stage(c, opp_id, opp.stage, LTB_STAGE(BIDDING));

    Ltc__Ltb__V1__CreateBidResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__CreateBidResponse, LTC__LTB__V1__CREATE_BID_RESPONSE__INIT);
    if (ltb_load_bid(c, st, id, &resp->bid) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* GetBid: one bid. INVALID_ARGUMENT for a malformed name, NOT_FOUND (BID_NOT_FOUND). */
int ltb_get_bid(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__GetBidRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "bids", "name", id, st) != 0) return -1;
    Ltc__Ltb__V1__GetBidResponse *resp = LTC_NEW(c, Ltc__Ltb__V1__GetBidResponse, LTC__LTB__V1__GET_BID_RESPONSE__INIT);
    if (ltb_load_bid(c, st, id, &resp->bid) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* MarkBidWon: SUBMITTED -> WON; the opportunity BIDDING -> WON with won_bid, and the deal is queued for BTO
 * (AcceptWonBid, deal id = the opportunity's id, handoffs.c) in the same transaction. INVALID_ARGUMENT (name);
 * NOT_FOUND (BID_NOT_FOUND); FAILED_PRECONDITION (BID_NOT_SUBMITTED, OPPORTUNITY_NOT_BIDDING). */
int ltb_mark_bid_won(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__MarkBidWonRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->name, "bids", "name", id, st) != 0) return -1;

    ltb_opp_locked opp;
    if (lock_submitted_bid(c, st, id, &opp) != 0) return -1;
    Ltc__Ltb__V1__MarkBidWonResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__MarkBidWonResponse, LTC__LTB__V1__MARK_BID_WON_RESPONSE__INIT);
    if (bid_decide(c, st, SQL_BID_WIN, id, opp.id, NULL, NULL, &resp->bid, &resp->opportunity) != 0) return -1;

    if (ltb_handoff_won_bid(c, st, opp.id, id) != 0) return -1;
    *out = &resp->base;
    return 0;
}

/* MarkBidLost: SUBMITTED -> LOST with a reason (and the competitor who won); the opportunity BIDDING -> LOST; DTC
 * is told (AcceptOpportunityClosed, LOST) in the same transaction when the opportunity had an admission decision.
 * INVALID_ARGUMENT (name, reason, competitor); NOT_FOUND (BID_NOT_FOUND); FAILED_PRECONDITION (BID_NOT_SUBMITTED,
 * OPPORTUNITY_NOT_BIDDING). */
int ltb_mark_bid_lost(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__MarkBidLostRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "bids", "name", id, st);
    ltc_check_text(req->reason, "reason", 1, 500, st);
    ltc_check_text(req->competitor, "competitor", 0, 200, st);
    if (st->code != LTC_OK) return -1;

    ltb_opp_locked opp;
    if (lock_submitted_bid(c, st, id, &opp) != 0) return -1;
    Ltc__Ltb__V1__MarkBidLostResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__MarkBidLostResponse, LTC__LTB__V1__MARK_BID_LOST_RESPONSE__INIT);
    if (bid_decide(c, st, SQL_BID_LOSE, id, opp.id, req->reason, req->competitor ? req->competitor : "", &resp->bid,
                   &resp->opportunity) != 0)
        return -1;
    if (ltb_handoff_opportunity_lost(c, st, opp.id) != 0) return -1; /* DTC drops its admission reservation */
    *out = &resp->base;
    return 0;
}

/* WithdrawBid: SUBMITTED -> WITHDRAWN with a reason; the opportunity BIDDING -> QUALIFIED (a stage history row with
 * the reason), where it may be bid again, lost or not pursued. Its admission decision stays as it is.
 * INVALID_ARGUMENT (name, reason); NOT_FOUND (BID_NOT_FOUND); FAILED_PRECONDITION (BID_NOT_SUBMITTED,
 * OPPORTUNITY_NOT_BIDDING). */
int ltb_withdraw_bid(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__WithdrawBidRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    ltc_name_parse(req->name, "bids", "name", id, st);
    ltc_check_text(req->reason, "reason", 1, 480, st);
    if (st->code != LTC_OK) return -1;

    ltb_opp_locked opp;
    if (lock_submitted_bid(c, st, id, &opp) != 0) return -1;
    Ltc__Ltb__V1__WithdrawBidResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__WithdrawBidResponse, LTC__LTB__V1__WITHDRAW_BID_RESPONSE__INIT);
    if (bid_decide(c, st, SQL_BID_WITHDRAW, id, opp.id, req->reason, NULL, &resp->bid, &resp->opportunity) != 0)
        return -1;
    *out = &resp->base;
    return 0;
}
