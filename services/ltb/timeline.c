/* timeline.c - the CRM hub's view of one deal (issue #18): GetDealTimeline merges LTB's own events (the lead's
 * capture, each stage entered, admission decisions and overrides, bids, bid/no-bid decisions) with every milestone
 * the other stages reported (deal_milestones), in time order, and the time the deal spent in each stage of the flow
 * (hub_rules.c: ltb_flow_spans). One statement; each branch is an index scan on the deal's id
 * (docs/performance.md). */
#include <string.h>
#include <time.h>

#include "hub_rules.h"
#include "ltb.h"
#include "ltc/ltb/v1/reports.pb-c.h"
#include "ltc/proto.h"
#include "ltc/type/v1/milestone.pb-c.h"

/* --- SQL ----------------------------------------------------------------------------------------------------- */

static const char SQL_DEAL[] =
    "SELECT stage, account_owner, solution_owner, fulfilment_owner FROM opportunities WHERE id = $1";
/* Every event of deal $1: kind, stage, milestone kind, opportunity stage, record, actor, time (micros), amount,
 * currency, date, detail, a tie-breaker (source order, then arrival). */
#define EV_MICROS(col) LTC_SQL_MICROS(col)
static const char SQL_EVENTS[] = "SELECT 'LEAD_CREATED', 'LTB', NULL, NULL, 'leads/' || l.id, l.created_by, " EV_MICROS(
    "l.create_time") ", NULL::bigint, NULL, NULL, l.company_name, 0, l.seq"
                     " FROM opportunities o JOIN leads l ON l.id = o.lead_id WHERE o.id = $1"
                     " UNION ALL SELECT 'STAGE_ENTERED', 'LTB', NULL, s.stage, 'opportunities/' || s.opportunity_id,"
                     " s.actor, " EV_MICROS(
                         "s.create_time") ", NULL, NULL, NULL, s.reason, 1, s.seq"
                                          " FROM stage_changes s WHERE s.opportunity_id = $1"
                                          " UNION ALL SELECT 'ADMISSION_DECIDED', 'LTB', NULL, NULL,"
                                          " 'opportunities/' || d.opportunity_id || '/admissionDecisions/' || d.id,"
                                          " d.requested_by, " EV_MICROS(
                                              "d.decide_time") ", d.admitted_minor, d.currency, NULL, d.outcome, 2, d.seq"
                                                               " FROM admission_decisions d WHERE d.opportunity_id = $1"
                                                               " UNION ALL SELECT 'ADMISSION_DECIDED', 'LTB', NULL, NULL,"
                                                               " 'opportunities/' || d.opportunity_id || '/admissionDecisions/' || d.id,"
                                                               " d.override_by, " EV_MICROS(
                                                                   "d.override_time") ", d.admitted_minor, d.currency, NULL,"
                                                                                      " 'OVERRIDDEN: ' || d.override_reason, 2, d.seq"
                                                                                      " FROM admission_decisions d WHERE d.opportunity_id = $1 AND d.override_time IS NOT NULL"
                                                                                      " UNION ALL SELECT 'BID_SUBMITTED', 'LTB', NULL, NULL, 'bids/' || b.id, b.created_by,"
                                                                                      " " EV_MICROS(
                                                                                          "b.create_time") ", b.amount_minor, b.currency, NULL, b.state, 3, b.seq"
                                                                                                           " FROM bids b WHERE b.opportunity_id = $1"
                                                                                                           " UNION ALL SELECT 'BID_DECIDED', 'LTB', NULL, NULL,"
                                                                                                           " 'opportunities/' || x.opportunity_id || '/bidDecisions/' || x.id, x.decided_by,"
                                                                                                           " " EV_MICROS(
                                                                                                               "x.decide_time") ", NULL, NULL, NULL,"
                                                                                                                                " x.outcome || ': ' || array_to_string(x.reasons, '; '), 4, x.seq"
                                                                                                                                " FROM bid_decisions x WHERE x.opportunity_id = $1"
                                                                                                                                " UNION ALL SELECT 'MILESTONE', m.stage, m.kind, NULL, m.record, m.actor,"
                                                                                                                                " " EV_MICROS("m.occur_time") ", m.amount_minor, m.currency, " LTC_SQL_DATE(
                                                                                                                                    "m.on_date") ", m.detail, 5, m.seq"
                                                                                                                                                 " FROM deal_milestones m WHERE m.deal_id = $1"
                                                                                                                                                 " ORDER BY 7, 12, 13";
enum {
    EC_KIND,
    EC_STAGE,
    EC_MS_KIND,
    EC_OPP_STAGE,
    EC_RECORD,
    EC_ACTOR,
    EC_TIME,
    EC_AMOUNT,
    EC_CURRENCY,
    EC_DATE,
    EC_DETAIL
};

static int64_t now_micros(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sets the flow's start times from one event (the first of each kind counts). */
static void note_flow(ltb_flow_times *f, const char *kind, const char *opp_stage, const char *ms_kind, int64_t t) {
    if (strcmp(kind, "LEAD_CREATED") == 0 && !f->lead_created) f->lead_created = t;
    if (strcmp(kind, "STAGE_ENTERED") == 0 && opp_stage) {
        if (strcmp(opp_stage, "WON") == 0 && !f->won) f->won = t;
        if (strcmp(opp_stage, "CASH_COLLECTED") == 0 && !f->cash_collected) f->cash_collected = t;
    }
    if (strcmp(kind, "MILESTONE") == 0 && ms_kind) {
        if (strcmp(ms_kind, "ORDER_PLACED") == 0 && !f->order_placed) f->order_placed = t;
        if (strcmp(ms_kind, "ACCEPTED") == 0 && !f->first_accepted) f->first_accepted = t;
    }
}

/* GetDealTimeline: every event of the deal in time order and the stages' durations; the deal's owners are checked on
 * its row (by_handler, service.c). INVALID_ARGUMENT (deal); NOT_FOUND (DEAL_NOT_FOUND); PERMISSION_DENIED
 * NOT_IN_IRON_TRIANGLE. */
int ltb_get_deal_timeline(ltc_call *c, const ProtobufCMessage *m, ProtobufCMessage **out, ltc_status *st) {
    const Ltc__Ltb__V1__GetDealTimelineRequest *req = (const void *)m;
    char id[LTC_UUID_LEN + 1];
    if (ltc_name_parse(req->deal, "deals", "deal", id, st) != 0) return -1;
    const char *p[] = {id};
    PGresult *rd = ltc_call_query(c, st, SQL_DEAL, 1, p);
    if (!rd) return -1;
    if (PQntuples(rd) == 0)
        return ltc_status_set(st, LTC_NOT_FOUND, "DEAL_NOT_FOUND", "deal %s is not an opportunity of LTB", id);
    if (ltc_call_check_owners(c, ltc_pg_str(rd, 0, 1), ltc_pg_str(rd, 0, 2), ltc_pg_str(rd, 0, 3), req->deal, st) != 0)
        return -1;
    PGresult *r = ltc_call_query(c, st, SQL_EVENTS, 1, p);
    if (!r) return -1;

    Ltc__Ltb__V1__DealTimeline *tl = LTC_NEW(c, Ltc__Ltb__V1__DealTimeline, LTC__LTB__V1__DEAL_TIMELINE__INIT);
    tl->deal = ltc_call_printf(c, "deals/%s", id);
    tl->opportunity = ltc_call_printf(c, "opportunities/%s", id);
    tl->current_stage = ltb_stage_parse(ltc_pg_str(rd, 0, 0));
    int n = PQntuples(r);
    tl->events = ltc_call_alloc(c, sizeof *tl->events * (size_t)(n ? n : 1));
    ltb_flow_times flow = {0};
    for (int i = 0; i < n; i++) {
        Ltc__Ltb__V1__TimelineEvent *e = LTC_NEW(c, Ltc__Ltb__V1__TimelineEvent, LTC__LTB__V1__TIMELINE_EVENT__INIT);
        const char *kind = ltc_pg_str(r, i, EC_KIND);
        const char *ms_kind = ltc_pg_isnull(r, i, EC_MS_KIND) ? NULL : ltc_pg_str(r, i, EC_MS_KIND);
        const char *opp_stage = ltc_pg_isnull(r, i, EC_OPP_STAGE) ? NULL : ltc_pg_str(r, i, EC_OPP_STAGE);
        e->kind = (Ltc__Ltb__V1__TimelineEventKind)ltc_enum_from_db(&ltc__ltb__v1__timeline_event_kind__descriptor,
                                                                    "TIMELINE_EVENT_KIND_", kind);
        e->stage = (Ltc__Type__V1__MilestoneStage)ltc_enum_from_db(&ltc__type__v1__milestone_stage__descriptor,
                                                                   "MILESTONE_STAGE_", ltc_pg_str(r, i, EC_STAGE));
        if (ms_kind)
            e->milestone_kind = (Ltc__Type__V1__MilestoneKind)ltc_enum_from_db(
                &ltc__type__v1__milestone_kind__descriptor, "MILESTONE_KIND_", ms_kind);
        if (opp_stage) e->opportunity_stage = ltb_stage_parse(opp_stage);
        e->record = ltc_call_strdup(c, ltc_pg_str(r, i, EC_RECORD));
        e->actor = ltc_call_strdup(c, ltc_pg_str(r, i, EC_ACTOR));
        e->time = ltc_ts_from_pg(c, r, i, EC_TIME);
        if (!ltc_pg_isnull(r, i, EC_AMOUNT))
            e->amount = ltc_money_msg(c, ltc_pg_str(r, i, EC_CURRENCY), ltc_pg_i64(r, i, EC_AMOUNT));
        e->date = ltc_date_from_pg(c, r, i, EC_DATE);
        e->detail = ltc_call_strdup(c, ltc_pg_str(r, i, EC_DETAIL));
        note_flow(&flow, kind, opp_stage, ms_kind, ltc_pg_i64(r, i, EC_TIME));
        tl->events[tl->n_events++] = e;
    }

    ltb_stage_span spans[4];
    size_t ns = ltb_flow_spans(&flow, now_micros(), spans);
    tl->stage_durations = ltc_call_alloc(c, sizeof *tl->stage_durations * (ns ? ns : 1));
    for (size_t k = 0; k < ns; k++) {
        Ltc__Ltb__V1__StageDuration *d = LTC_NEW(c, Ltc__Ltb__V1__StageDuration, LTC__LTB__V1__STAGE_DURATION__INIT);
        d->stage = (Ltc__Type__V1__MilestoneStage)spans[k].stage;
        d->start_time = ltc_ts_from_micros(c, spans[k].start, 0);
        d->end_time = ltc_ts_from_micros(c, spans[k].end, spans[k].open);
        d->duration_seconds = spans[k].seconds;
        d->open = spans[k].open;
        tl->stage_durations[tl->n_stage_durations++] = d;
    }
    if (flow.cash_collected && flow.lead_created && flow.cash_collected > flow.lead_created)
        tl->lead_to_cash_seconds = (flow.cash_collected - flow.lead_created) / 1000000;

    Ltc__Ltb__V1__GetDealTimelineResponse *resp =
        LTC_NEW(c, Ltc__Ltb__V1__GetDealTimelineResponse, LTC__LTB__V1__GET_DEAL_TIMELINE_RESPONSE__INIT);
    resp->timeline = tl;
    *out = &resp->base;
    return 0;
}
