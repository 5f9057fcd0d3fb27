#!/usr/bin/python3
"""The opportunity's whole life in LTB (issue #18), through the gateway: win probability follows the stage (a manual
override needs a reason, is kept apart and ends with the stage), competitors, bid/no-bid (NO_BID closes it as
NOT_PURSUED), lost at any open stage but refused while a bid is out (withdraw it first), reopening with a reason
(the admission gate must be passed again), stale opportunities as of a business date, and lead scoring by the
pipeline policy's rules with engagement events, its explanation and route. test_hub.py reuses the fixtures."""

import datetime
import sys
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import google.protobuf.timestamp_pb2 as ts_pb2  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402
import grpc  # noqa: E402

import harness as h  # noqa: E402
from harness import lc  # noqa: E402
from harness import lead_to_cash as l2c  # noqa: E402

C = grpc.StatusCode
CUR = "CNY"
MARGIN_BPS = 2500


def run_id():
    return lc.new_id()[:8]


def new_lead(stubs, source=None, email=True, phone=True, name=True):
    """A NEW lead of a new company; returns the Lead."""
    run = run_id()
    lead = lc.ltb.Lead(source=source or lc.ltb.LEAD_SOURCE_REFERRAL, company_name=f"Hub Test Works {run}",
                       contact_name="Liu Yang" if name else "",
                       contact_email=f"liu.yang+{run}@hubtest.example" if email else "",
                       contact_phone=l2c.unique_phone() if phone else "")
    return stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lead, request_id=lc.new_id())).lead


def new_opp(stubs, ar="ar.hub", amount=100000_00, win_bps=0):
    """A QUALIFIED opportunity of a new lead and customer, AR `ar`; returns the Opportunity."""
    lead = new_lead(stubs)
    return stubs.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(
        name=lead.name, opportunity_title="Sorting line", win_probability_bps=win_bps,
        iron_triangle=lc.types.IronTriangle(account_owner=ar, solution_owner="sr.hub", fulfilment_owner="fr.hub"),
        expected_amount=lc.money(amount, CUR), customer_country_code="CN", customer_billing_currency=CUR,
        request_id=lc.new_id())).opportunity


def admit(stubs, opp, amount):
    d = stubs.ltb.RequestOrderAdmission(lc.ltb.RequestOrderAdmissionRequest(
        opportunity=opp.name, amount=lc.money(amount, CUR), expected_margin_bps=MARGIN_BPS,
        request_id=lc.new_id())).decision
    assert d.outcome == lc.ltb.ADMISSION_OUTCOME_ADMITTED, d
    return d


def bid(stubs, opp, amount):
    return stubs.ltb.CreateBid(lc.ltb.CreateBidRequest(
        bid=lc.ltb.Bid(opportunity=opp.name, amount=lc.money(amount, CUR)), request_id=lc.new_id())).bid


def get_opp(stubs, name):
    return stubs.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=name)).opportunity


def lose(stubs, name, reason, competitor=""):
    return stubs.ltb.LoseOpportunity(lc.ltb.LoseOpportunityRequest(
        name=name, reason=reason, competitor=competitor, request_id=lc.new_id())).opportunity


def no_bid(stubs, name, reasons):
    return stubs.ltb.DecideBid(lc.ltb.DecideBidRequest(
        name=name, decision=lc.ltb.BidDecision(outcome=lc.ltb.BID_DECISION_OUTCOME_NO_BID, reasons=reasons),
        request_id=lc.new_id())).opportunity


def stage_name(v):
    return lc.ltb.OpportunityStage.Name(v)


def default_policy(stubs):
    return stubs.ltb.GetPipelinePolicy(lc.ltb.GetPipelinePolicyRequest(name="pipelinePolicy")).pipeline_policy


def put_policy(stubs, policy, paths=()):
    return stubs.ltb.UpdatePipelinePolicy(lc.ltb.UpdatePipelinePolicyRequest(
        pipeline_policy=policy, update_mask=field_mask_pb2.FieldMask(paths=list(paths)) if paths else None,
        request_id=lc.new_id())).pipeline_policy


class OpportunityLifeTest(h.StackTestCase):
    def test_probability_follows_stage_and_override_needs_reason(self):
        s = self.stubs
        pol = default_policy(s)
        defaults = {p.stage: p.win_probability_bps for p in pol.stage_probabilities}
        opp = new_opp(s)
        self.assertEqual(opp.win_probability_bps, defaults[lc.ltb.OPPORTUNITY_STAGE_QUALIFIED])
        self.assertEqual(opp.stage_probability_bps, defaults[lc.ltb.OPPORTUNITY_STAGE_QUALIFIED])
        self.assertFalse(opp.HasField("probability_override"))

        d = h.expect_error(lambda: s.ltb.SetWinProbability(lc.ltb.SetWinProbabilityRequest(
            name=opp.name, win_probability_bps=12000, request_id=lc.new_id())), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["win_probability_bps", "reason"])

        got = s.ltb.SetWinProbability(lc.ltb.SetWinProbabilityRequest(
            name=opp.name, win_probability_bps=3500, reason="customer's budget approved",
            request_id=lc.new_id())).opportunity
        self.assertEqual(got.win_probability_bps, 3500)
        self.assertEqual(got.stage_probability_bps, defaults[lc.ltb.OPPORTUNITY_STAGE_QUALIFIED])
        self.assertEqual((got.probability_override.win_probability_bps, got.probability_override.reason,
                          got.probability_override.stage),
                         (3500, "customer's budget approved", lc.ltb.OPPORTUNITY_STAGE_QUALIFIED))

        # the stage moves: its default applies again, the override is kept apart (history) and no longer shown
        admit(s, opp, 90000_00)
        bid(s, opp, 90000_00)
        got = get_opp(s, opp.name)
        self.assertEqual(got.stage, lc.ltb.OPPORTUNITY_STAGE_BIDDING)
        self.assertEqual(got.win_probability_bps, defaults[lc.ltb.OPPORTUNITY_STAGE_BIDDING])
        self.assertFalse(got.HasField("probability_override"))
        self.assertEqual(h.sql_int("SELECT count(*) FROM ltb.probability_overrides WHERE opportunity_id = :'id'",
                                   id=lc.name_id(opp.name)), 1)

        # the legacy paths still set a probability (an override of the current stage, its reason says where from)
        legacy = new_opp(s, win_bps=6000)
        self.assertEqual(legacy.win_probability_bps, 6000)
        self.assertEqual(legacy.probability_override.reason, "given at QualifyLead")

    def test_lost_refused_while_bid_out_then_withdraw_lose_reopen(self):
        s = self.stubs
        opp = new_opp(s)
        admit(s, opp, 50000_00)
        b = bid(s, opp, 50000_00)
        d = h.expect_error(lambda: lose(s, opp.name, "budget cut"), C.FAILED_PRECONDITION)
        self.assertDetails(d, reason="BID_UNDECIDED")
        d = h.expect_error(lambda: s.ltb.WithdrawBid(lc.ltb.WithdrawBidRequest(name=b.name, request_id=lc.new_id())),
                           C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["reason"])
        w = s.ltb.WithdrawBid(lc.ltb.WithdrawBidRequest(name=b.name, reason="scope changed", request_id=lc.new_id()))
        self.assertEqual(w.bid.state, lc.ltb.BID_STATE_WITHDRAWN)
        self.assertEqual(w.bid.lost_reason, "scope changed")
        self.assertEqual(w.opportunity.stage, lc.ltb.OPPORTUNITY_STAGE_QUALIFIED)

        d = h.expect_error(lambda: lose(s, opp.name, ""), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["reason"])
        got = lose(s, opp.name, "budget cut", "Acme Sorters")
        self.assertEqual((got.stage, got.lost_reason, got.lost_competitor, got.win_probability_bps),
                         (lc.ltb.OPPORTUNITY_STAGE_LOST, "budget cut", "Acme Sorters", 0))
        last = got.stage_history[-1]
        self.assertEqual((last.stage, last.reason), (lc.ltb.OPPORTUNITY_STAGE_LOST, "budget cut"))
        self.assertDetails(h.expect_error(lambda: lose(s, opp.name, "again"), C.FAILED_PRECONDITION),
                           reason="OPPORTUNITY_CLOSED")
        self.assertDetails(h.expect_error(lambda: s.ltb.SetWinProbability(lc.ltb.SetWinProbabilityRequest(
            name=opp.name, win_probability_bps=100, reason="x", request_id=lc.new_id())), C.FAILED_PRECONDITION),
            reason="OPPORTUNITY_CLOSED")

        d = h.expect_error(lambda: s.ltb.ReopenOpportunity(lc.ltb.ReopenOpportunityRequest(
            name=opp.name, request_id=lc.new_id())), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["reason"])
        got = s.ltb.ReopenOpportunity(lc.ltb.ReopenOpportunityRequest(
            name=opp.name, reason="budget restored", request_id=lc.new_id())).opportunity
        self.assertEqual((got.stage, got.lost_reason, got.lost_competitor),
                         (lc.ltb.OPPORTUNITY_STAGE_QUALIFIED, "", ""))
        self.assertEqual(got.stage_history[-1].reason, "reopened: budget restored")
        self.assertTrue(got.admission.superseded, "a reopened opportunity must pass the gate again")
        self.assertDetails(h.expect_error(lambda: bid(s, opp, 50000_00), C.FAILED_PRECONDITION),
                           reason="ADMISSION_REQUIRED")
        self.assertDetails(h.expect_error(lambda: s.ltb.ReopenOpportunity(lc.ltb.ReopenOpportunityRequest(
            name=opp.name, reason="again", request_id=lc.new_id())), C.FAILED_PRECONDITION),
            reason="OPPORTUNITY_NOT_LOST")
        # lost straight from QUALIFIED, without any bid
        plain = new_opp(s)
        self.assertEqual(lose(s, plain.name, "no budget").stage, lc.ltb.OPPORTUNITY_STAGE_LOST)
        # the bid-lost path records its reason on the opportunity too
        other = new_opp(s)
        admit(s, other, 10000_00)
        ob = bid(s, other, 10000_00)
        lost = s.ltb.MarkBidLost(lc.ltb.MarkBidLostRequest(name=ob.name, reason="price", competitor="Beta",
                                                           request_id=lc.new_id())).opportunity
        self.assertEqual((lost.lost_reason, lost.lost_competitor), ("price", "Beta"))

    def test_bid_no_bid(self):
        s = self.stubs
        opp = new_opp(s)
        d = h.expect_error(lambda: s.ltb.DecideBid(lc.ltb.DecideBidRequest(
            name=opp.name, decision=lc.ltb.BidDecision(), request_id=lc.new_id())), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["decision.outcome", "decision.reasons"])
        got = no_bid(s, opp.name, ["no capacity in Q3", "margin too thin"])
        self.assertEqual(got.stage, lc.ltb.OPPORTUNITY_STAGE_NOT_PURSUED)
        self.assertEqual(got.lost_reason, "no capacity in Q3; margin too thin")
        self.assertEqual(got.bid_decision.outcome, lc.ltb.BID_DECISION_OUTCOME_NO_BID)
        self.assertEqual(list(got.bid_decision.reasons), ["no capacity in Q3", "margin too thin"])
        self.assertTrue(got.bid_decision.name.startswith(opp.name + "/bidDecisions/"))
        self.assertEqual(got.win_probability_bps, 0)
        self.assertDetails(h.expect_error(lambda: bid(s, opp, 1000), C.FAILED_PRECONDITION),
                           reason="OPPORTUNITY_NOT_BIDDABLE")
        self.assertDetails(h.expect_error(lambda: no_bid(s, opp.name, ["x"]), C.FAILED_PRECONDITION),
                           reason="OPPORTUNITY_NOT_QUALIFIED")
        s.ltb.ReopenOpportunity(lc.ltb.ReopenOpportunityRequest(name=opp.name, reason="capacity freed",
                                                                request_id=lc.new_id()))
        got = s.ltb.DecideBid(lc.ltb.DecideBidRequest(
            name=opp.name, decision=lc.ltb.BidDecision(outcome=lc.ltb.BID_DECISION_OUTCOME_BID, reasons=["fit"]),
            request_id=lc.new_id())).opportunity
        self.assertEqual((got.stage, got.bid_decision.outcome),
                         (lc.ltb.OPPORTUNITY_STAGE_QUALIFIED, lc.ltb.BID_DECISION_OUTCOME_BID))

    def test_competitors(self):
        s = self.stubs
        opp = new_opp(s)
        comps = [lc.ltb.Competitor(name="Acme Sorters", note="cheaper by 5%"), lc.ltb.Competitor(name="Beta")]
        got = s.ltb.UpdateOpportunity(lc.ltb.UpdateOpportunityRequest(
            opportunity=lc.ltb.Opportunity(name=opp.name, competitors=comps),
            update_mask=field_mask_pb2.FieldMask(paths=["competitors"]), request_id=lc.new_id())).opportunity
        self.assertEqual([(c.name, c.note) for c in got.competitors], [("Acme Sorters", "cheaper by 5%"),
                                                                        ("Beta", "")])
        # an update that does not name "competitors" keeps them
        got = s.ltb.UpdateOpportunity(lc.ltb.UpdateOpportunityRequest(
            opportunity=lc.ltb.Opportunity(name=opp.name, title="Sorting line II", expected_amount=lc.money(5, CUR)),
            request_id=lc.new_id())).opportunity
        self.assertEqual(len(got.competitors), 2)
        d = h.expect_error(lambda: s.ltb.UpdateOpportunity(lc.ltb.UpdateOpportunityRequest(
            opportunity=lc.ltb.Opportunity(name=opp.name, competitors=[lc.ltb.Competitor(name="A"),
                                                                       lc.ltb.Competitor(name="A"),
                                                                       lc.ltb.Competitor(name="")]),
            update_mask=field_mask_pb2.FieldMask(paths=["competitors"]), request_id=lc.new_id())), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["opportunity.competitors[1].name", "opportunity.competitors[2].name"])

    def _stale(self, as_of):
        names, token = set(), ""
        while True:
            r = self.stubs.ltb.ListStaleOpportunities(lc.ltb.ListStaleOpportunitiesRequest(
                as_of_date=lc.date(as_of), page_size=500, page_token=token))
            names |= {o.name for o in r.opportunities}
            token = r.next_page_token
            if not token:
                return names, r.stale_after_days

    def test_stale_as_of_business_date(self):
        s = self.stubs
        opp = new_opp(s)
        today = datetime.datetime.now(datetime.timezone.utc).date()
        names, days = self._stale(today)
        self.assertNotIn(opp.name, names)
        names, _ = self._stale(today + datetime.timedelta(days=days))
        self.assertIn(opp.name, names, f"no activity for {days} days: stale")
        names, _ = self._stale(today + datetime.timedelta(days=days - 1))
        self.assertNotIn(opp.name, names)
        lose(s, opp.name, "gone quiet")
        names, _ = self._stale(today + datetime.timedelta(days=days))
        self.assertNotIn(opp.name, names, "a closed opportunity is never stale")
        d = h.expect_error(lambda: s.ltb.ListStaleOpportunities(lc.ltb.ListStaleOpportunitiesRequest()),
                           C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["as_of_date"])

    def test_lead_score_rules_engagement_and_routes(self):
        s = self.stubs
        original = default_policy(s)
        try:
            lead = new_lead(s, source=lc.ltb.LEAD_SOURCE_REFERRAL)
            sc = s.ltb.GetLeadScore(lc.ltb.GetLeadScoreRequest(lead=lead.name)).score
            # default rules: REFERRAL 25, CONTACT_NAME 5, CONTACT_EMAIL 10, CONTACT_PHONE 5
            self.assertEqual(sc.score, 45)
            self.assertEqual(sc.queue, "inside-sales")
            self.assertEqual([(lc.ltb.LeadScoreFactor.Name(i.factor), i.key, i.points) for i in sc.items],
                             [("LEAD_SCORE_FACTOR_SOURCE", "REFERRAL", 25),
                              ("LEAD_SCORE_FACTOR_COMPLETENESS", "CONTACT_NAME", 5),
                              ("LEAD_SCORE_FACTOR_COMPLETENESS", "CONTACT_EMAIL", 10),
                              ("LEAD_SCORE_FACTOR_COMPLETENESS", "CONTACT_PHONE", 5)])
            t = ts_pb2.Timestamp()
            t.GetCurrentTime()
            for kind in ("DEMO_REQUESTED", "DEMO_REQUESTED", "MEETING_HELD"):
                r = s.ltb.RecordLeadEngagement(lc.ltb.RecordLeadEngagementRequest(
                    lead=lead.name, engagement=lc.ltb.LeadEngagement(
                        kind=lc.ltb.LeadEngagementKind.Value("LEAD_ENGAGEMENT_KIND_" + kind), occur_time=t,
                        note="booth visit"), request_id=lc.new_id()))
            self.assertTrue(r.engagement.name.startswith(lead.name + "/engagements/"))
            # DEMO_REQUESTED 2 x 20 capped at 20, MEETING_HELD 15: 45 + 20 + 15 = 80
            self.assertEqual((r.score.score, r.score.queue, r.score.engagement_count), (80, "field-sales", 3))
            demo = [i for i in r.score.items if i.key == "DEMO_REQUESTED"][0]
            self.assertEqual((demo.points, demo.detail), (20, "2 x DEMO_REQUESTED at 20, capped at 20"))

            future = ts_pb2.Timestamp(seconds=t.seconds + 86400)
            d = h.expect_error(lambda: s.ltb.RecordLeadEngagement(lc.ltb.RecordLeadEngagementRequest(
                lead=lead.name, engagement=lc.ltb.LeadEngagement(occur_time=future), request_id=lc.new_id())),
                C.INVALID_ARGUMENT)
            self.assertDetails(d, fields=["engagement.kind", "engagement.occur_time"])

            # the rule set is configurable: a policy change re-scores at once
            p = lc.ltb.PipelinePolicy(lead_score_rules=[
                lc.ltb.LeadScoreRule(factor=lc.ltb.LEAD_SCORE_FACTOR_ENGAGEMENT, key="MEETING_HELD", points=50)],
                lead_routes=[lc.ltb.LeadRoute(min_score=0, queue="marketing"),
                             lc.ltb.LeadRoute(min_score=50, queue="key-accounts")])
            put_policy(s, p, ["lead_score_rules", "lead_routes"])
            sc = s.ltb.GetLeadScore(lc.ltb.GetLeadScoreRequest(lead=lead.name)).score
            self.assertEqual((sc.score, sc.queue, len(sc.items)), (50, "key-accounts", 1))

            bad = lc.ltb.PipelinePolicy(stage_probabilities=[
                lc.ltb.StageProbability(stage=lc.ltb.OPPORTUNITY_STAGE_WON, win_probability_bps=10000)],
                stale_after_days=0, lead_routes=[lc.ltb.LeadRoute(min_score=10, queue="x")],
                lead_score_rules=[lc.ltb.LeadScoreRule(factor=lc.ltb.LEAD_SCORE_FACTOR_SOURCE, key="bad key")])
            d = h.expect_error(lambda: put_policy(s, bad), C.INVALID_ARGUMENT)
            self.assertDetails(d, fields=["pipeline_policy.stage_probabilities", "pipeline_policy.stale_after_days",
                                          "pipeline_policy.lead_routes", "pipeline_policy.lead_score_rules[0].key"])
            stale = lc.ltb.PipelinePolicy(stale_after_days=7, etag="deadbeef")
            self.assertDetails(h.expect_error(lambda: put_policy(s, stale, ["stale_after_days"]), C.ABORTED),
                               reason="ETAG_MISMATCH")
        finally:
            original.ClearField("etag")
            put_policy(s, original)
        self.assertEqual(default_policy(s).lead_routes, original.lead_routes)


    def _list_opps(self, flt, order_by="", page_size=1):
        got, token = [], ""
        while True:
            r = self.stubs.ltb.ListOpportunities(lc.ltb.ListOpportunitiesRequest(
                filter=flt, order_by=order_by, page_size=page_size, page_token=token))
            got += list(r.opportunities)
            token = r.next_page_token
            if not token:
                return got

    def test_list_filters_and_order_by(self):
        s = self.stubs
        ar = f"ar.filter.{run_id()}"
        small, mid, big = (new_opp(s, ar=ar, amount=a) for a in (1000_00, 2000_00, 3000_00))
        lose(s, small.name, "too small")
        q = f'account_owner = "{ar}"'
        self.assertEqual([o.name for o in self._list_opps(q)], [big.name, mid.name, small.name], "newest first")
        got = self._list_opps(q + " AND expected_amount.units >= 1500", "expected_amount desc")
        self.assertEqual([o.name for o in got], [big.name, mid.name])
        got = self._list_opps(q, "expected_amount")
        self.assertEqual([o.name for o in got], [small.name, mid.name, big.name])
        got = self._list_opps(q + " AND stage = OPPORTUNITY_STAGE_LOST", page_size=50)
        self.assertEqual([o.name for o in got], [small.name])
        got = self._list_opps(q + " AND stage != LOST AND expected_amount.units < 3000", page_size=50)
        self.assertEqual([o.name for o in got], [mid.name])
        today = datetime.datetime.now(datetime.timezone.utc).date()
        got = self._list_opps(f'owner = "{ar}" AND create_time = "{today}" AND win_probability_bps >= 1000', page_size=50)
        self.assertEqual({o.name for o in got}, {mid.name, big.name})
        for bad_filter in ("title = x", "stage = WON OR stage = LOST", "create_time >= 2026-13-01",
                           "customer = leads/x", "owner ~ x"):
            d = h.expect_error(lambda: s.ltb.ListOpportunities(lc.ltb.ListOpportunitiesRequest(filter=bad_filter)),
                               C.INVALID_ARGUMENT)
            self.assertDetails(d, fields=["filter"])
        d = h.expect_error(lambda: s.ltb.ListOpportunities(lc.ltb.ListOpportunitiesRequest(order_by="title")),
                           C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["order_by"])

        lead = new_lead(s)
        got = s.ltb.ListLeads(lc.ltb.ListLeadsRequest(
            filter=f'company_name = "{lead.company_name}" AND state = NEW AND source = LEAD_SOURCE_REFERRAL'
                   f' AND create_time >= {today}')).leads
        self.assertEqual([x.name for x in got], [lead.name])
        self.assertEqual(len(s.ltb.ListLeads(lc.ltb.ListLeadsRequest(
            filter=f'company_name = "{lead.company_name}" AND state != NEW')).leads), 0)
        first = s.ltb.ListLeads(lc.ltb.ListLeadsRequest(order_by="create_time", page_size=2))
        second = s.ltb.ListLeads(lc.ltb.ListLeadsRequest(order_by="create_time", page_size=2,
                                                         page_token=first.next_page_token))
        seqs = [x.create_time.ToMicroseconds() for x in list(first.leads) + list(second.leads)]
        self.assertEqual(seqs, sorted(seqs), "oldest first across pages")
        self.assertDetails(h.expect_error(lambda: s.ltb.ListLeads(lc.ltb.ListLeadsRequest(filter="state = OPEN")),
                                          C.INVALID_ARGUMENT), fields=["filter"])


if __name__ == "__main__":
    h.main()
