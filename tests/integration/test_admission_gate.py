#!/usr/bin/python3
"""The order-admission gate of LTB (docs/credit.md, "The gate in each stage"), against LTB's own port with forwarded
principals (plaintext stack: forwarded principals are taken as given), with DTC stopped: the credit question gets no
answer, so every admission is REFUSED with CREDIT_SERVICE_UNAVAILABLE (fail closed), stored like any decision. Then:
a manager (not the requester) overrides it; CreateBid passes up to the admitted amount plus the tolerance and
records the decision; a bid above it is ADMISSION_EXCEEDED; no decision is ADMISSION_REQUIRED, a refusal
ADMISSION_REFUSED; a BLOCKED customer stops a bid whatever the decision and its compliance refusal cannot be
overridden; the policy is read and changed with an etag (stale: ABORTED) and its history kept; MarkBidLost queues
AcceptOpportunityClosed for DTC. The customer is set up by SQL so the test does not depend on the customer RPCs."""

import sys
import threading
import time
import uuid
from concurrent import futures
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import grpc  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402

import harness as h  # noqa: E402
from harness import lc  # noqa: E402

C = grpc.StatusCode
CUR = "CNY"
AMOUNT = 100000_00


def who(principal, roles):
    return [("x-ltc-principal", principal), ("x-ltc-roles", roles)]


SALES = who("sales.admission", "sales")
MANAGER = who("manager.admission", "manager")


class GateBase(h.StackTestCase):
    """LTB's own port with forwarded principals; DTC stopped."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ltb = lc.Stubs(h.target("ltb"))
        h.stop("dtc")   # no answer to CheckCredit: fail closed

    @classmethod
    def tearDownClass(cls):
        h.ensure_started("dtc")
        cls.ltb.close()
        super().tearDownClass()

    def opportunity(self):
        """A QUALIFIED opportunity of a new ACTIVE customer, owned by sales.admission."""
        run = uuid.uuid4().hex[:8]
        lead = self.ltb.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lc.ltb.Lead(
            source=lc.ltb.LEAD_SOURCE_EVENT, company_name=f"Admission Gate {run}", contact_name="Li Lei",
            contact_email=f"li.lei+{run}@gate.example", contact_phone=f"+86 21 {int(run, 16) % 10**8:08d}"),
            request_id=lc.new_id()), metadata=SALES).lead
        cust = str(uuid.uuid4())
        h.sql("INSERT INTO ltb.customers (id, legal_name, country_code, billing_currency, account_owner)"
              " VALUES (:'id', :'name', 'CN', 'CNY', 'sales.admission')", id=cust, name=f"Admission Gate {run}")
        h.sql("UPDATE ltb.leads SET customer_id = :'c' WHERE id = :'l'", c=cust, l=lc.name_id(lead.name))
        opp = self.ltb.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(
            name=lead.name, opportunity_title="Sorting line",
            iron_triangle=lc.types.IronTriangle(account_owner="sales.admission", solution_owner="sr.admission",
                                                fulfilment_owner="fr.admission"),
            expected_amount=lc.money(AMOUNT, CUR), win_probability_bps=5000, customer_country_code="CN",
            request_id=lc.new_id()), metadata=SALES).opportunity
        # before the customer RPCs link it, QualifyLead leaves it unset
        h.sql("UPDATE ltb.opportunities SET customer_id = :'c' WHERE id = :'o' AND customer_id IS NULL", c=cust,
              o=lc.name_id(opp.name))
        return opp, cust

    def admit(self, opp, margin=1500, amount=None, md=SALES, request_id=None):
        return self.ltb.ltb.RequestOrderAdmission(lc.ltb.RequestOrderAdmissionRequest(
            opportunity=opp.name, expected_margin_bps=margin, amount=amount,
            request_id=request_id or lc.new_id()), metadata=md)

    def bid(self, opp, amount):
        return self.ltb.ltb.CreateBid(lc.ltb.CreateBidRequest(
            bid=lc.ltb.Bid(opportunity=opp.name, amount=lc.money(amount, CUR)), request_id=lc.new_id()),
            metadata=SALES)

    def refused(self, fn, code, reason):
        self.assertDetails(h.expect_error(fn, code), code=code, reason=reason)

class AdmissionGateTest(GateBase):
    """The gate while DTC does not answer."""

    def test_no_credit_answer_refuses_and_a_manager_overrides(self):
        opp, _ = self.opportunity()
        self.refused(lambda: self.bid(opp, AMOUNT), C.FAILED_PRECONDITION, "ADMISSION_REQUIRED")
        rid = lc.new_id()
        resp = self.admit(opp, request_id=rid)
        d = resp.decision
        self.assertEqual(d.outcome, lc.ltb.ADMISSION_OUTCOME_REFUSED, str(d))
        checks = {c.check: c for c in d.checks}
        self.assertEqual([c.check for c in d.checks], [lc.ltb.ADMISSION_CHECK_CREDIT, lc.ltb.ADMISSION_CHECK_COMPLIANCE,
                                                       lc.ltb.ADMISSION_CHECK_MARGIN])
        self.assertEqual(list(checks[lc.ltb.ADMISSION_CHECK_CREDIT].reasons), ["CREDIT_SERVICE_UNAVAILABLE"])
        self.assertTrue(checks[lc.ltb.ADMISSION_CHECK_COMPLIANCE].passed)
        self.assertTrue(checks[lc.ltb.ADMISSION_CHECK_MARGIN].passed)
        self.assertEqual(d.credit_decision, "")
        self.assertFalse(d.HasField("credit_limit"))
        self.assertEqual(lc.to_minor(d.admitted_amount, CUR), AMOUNT)
        self.assertEqual((d.requested_by, d.minimum_margin_bps, d.expected_margin_bps),
                         ("sales.admission", 1000, 1500))
        self.assertEqual(resp.opportunity.admission.name, d.name)
        # a repeat with the same request_id replays the stored decision
        self.assertEqual(self.admit(opp, request_id=rid).decision.name, d.name)

        self.refused(lambda: self.bid(opp, AMOUNT), C.FAILED_PRECONDITION, "ADMISSION_REFUSED")
        # four eyes: the requester cannot override their own request
        self.refused(lambda: self.ltb.ltb.OverrideOrderAdmission(lc.ltb.OverrideOrderAdmissionRequest(
            opportunity=opp.name, reason="mine", request_id=lc.new_id()),
            metadata=who("sales.admission", "manager")), C.FAILED_PRECONDITION, "ADMISSION_NOT_OVERRIDABLE")
        o = self.ltb.ltb.OverrideOrderAdmission(lc.ltb.OverrideOrderAdmissionRequest(
            opportunity=opp.name, reason="credit service down, CFO agreed", request_id=lc.new_id()),
            metadata=MANAGER).decision
        self.assertEqual((o.outcome, o.override_by, o.override_reason, o.name),
                         (lc.ltb.ADMISSION_OUTCOME_OVERRIDDEN, "manager.admission",
                          "credit service down, CFO agreed", d.name))
        self.refused(lambda: self.ltb.ltb.OverrideOrderAdmission(lc.ltb.OverrideOrderAdmissionRequest(
            opportunity=opp.name, reason="again", request_id=lc.new_id()), metadata=MANAGER),
            C.FAILED_PRECONDITION, "ADMISSION_NOT_REFUSED")

        # up to admitted x 1.10 passes, one fen more does not
        self.refused(lambda: self.bid(opp, AMOUNT * 11 // 10 + 1), C.FAILED_PRECONDITION, "ADMISSION_EXCEEDED")
        b = self.bid(opp, AMOUNT * 11 // 10).bid
        self.assertEqual(h.sql_value("SELECT admission_decision_id::text FROM ltb.bids WHERE id = :'b'",
                                     b=lc.name_id(b.name)), lc.name_id(d.name))
        # a new admission while the bid is out is refused
        self.refused(lambda: self.admit(opp), C.FAILED_PRECONDITION, "BID_ALREADY_OUT")
        # the bid lost: DTC is told to drop any admission reservation of the opportunity
        self.ltb.ltb.MarkBidLost(lc.ltb.MarkBidLostRequest(name=b.name, reason="price", request_id=lc.new_id()),
                                 metadata=SALES)
        self.assertEqual(h.sql_int("SELECT count(*) FROM ltb.outbox WHERE deal_id = :'o'"
                                   " AND method = '/ltc.dtc.v1.IntakeService/AcceptOpportunityClosed'",
                                   o=lc.name_id(opp.name)), 1)
        listed = self.ltb.ltb.ListAdmissionDecisions(lc.ltb.ListAdmissionDecisionsRequest(
            opportunity=opp.name), metadata=SALES).decisions
        self.assertEqual([x.outcome for x in listed], [lc.ltb.ADMISSION_OUTCOME_OVERRIDDEN])

    def test_margin_and_supersede(self):
        opp, _ = self.opportunity()
        d1 = self.admit(opp, margin=999).decision
        margin = [c for c in d1.checks if c.check == lc.ltb.ADMISSION_CHECK_MARGIN][0]
        self.assertEqual(list(margin.reasons), ["MARGIN_BELOW_MINIMUM"])
        d2 = self.admit(opp, margin=2000).decision
        listed = self.ltb.ltb.ListAdmissionDecisions(lc.ltb.ListAdmissionDecisionsRequest(
            opportunity=opp.name, page_size=1), metadata=SALES)
        self.assertEqual(len(listed.decisions), 1)
        self.assertTrue(listed.decisions[0].superseded)
        self.assertEqual(listed.decisions[0].name, d1.name)
        nxt = self.ltb.ltb.ListAdmissionDecisions(lc.ltb.ListAdmissionDecisionsRequest(
            opportunity=opp.name, page_token=listed.next_page_token), metadata=SALES).decisions
        self.assertEqual([x.name for x in nxt], [d2.name])
        self.assertFalse(nxt[0].superseded)
        self.refused(lambda: self.admit(opp, amount=lc.money(5, "USD")), C.INVALID_ARGUMENT, "INVALID_ARGUMENT")

    def test_blocked_customer(self):
        opp, cust = self.opportunity()
        self.admit(opp)
        self.ltb.ltb.OverrideOrderAdmission(lc.ltb.OverrideOrderAdmissionRequest(
            opportunity=opp.name, reason="ok", request_id=lc.new_id()), metadata=MANAGER)
        h.sql("UPDATE ltb.customers SET state = 'BLOCKED', block_reason = 'SANCTIONS', block_note = 'list',"
              " block_time = now() WHERE id = :'c'", c=cust)
        self.refused(lambda: self.bid(opp, AMOUNT), C.FAILED_PRECONDITION, "CUSTOMER_BLOCKED")
        d = self.admit(opp).decision
        comp = [c for c in d.checks if c.check == lc.ltb.ADMISSION_CHECK_COMPLIANCE][0]
        self.assertEqual(list(comp.reasons), ["CUSTOMER_BLOCKED"])
        self.refused(lambda: self.ltb.ltb.OverrideOrderAdmission(lc.ltb.OverrideOrderAdmissionRequest(
            opportunity=opp.name, reason="strategic", request_id=lc.new_id()), metadata=MANAGER),
            C.FAILED_PRECONDITION, "ADMISSION_NOT_OVERRIDABLE")

    def test_policy(self):
        p = self.ltb.ltb.GetAdmissionPolicy(lc.ltb.GetAdmissionPolicyRequest(name="admissionPolicy"),
                                            metadata=SALES).admission_policy
        self.assertEqual(p.name, "admissionPolicy")
        n = h.sql_int("SELECT count(*) FROM ltb.admission_policy_changes")
        q = self.ltb.ltb.UpdateAdmissionPolicy(lc.ltb.UpdateAdmissionPolicyRequest(
            admission_policy=lc.ltb.AdmissionPolicy(name="admissionPolicy", credit_check_deadline_ms=1500,
                                                    etag=p.etag),
            update_mask=field_mask_pb2.FieldMask(paths=["credit_check_deadline_ms"]), request_id=lc.new_id()),
            metadata=MANAGER).admission_policy
        self.assertEqual((q.credit_check_deadline_ms, q.minimum_margin_bps, q.update_by),
                         (1500, p.minimum_margin_bps, "manager.admission"))
        self.assertNotEqual(q.etag, p.etag)
        self.refused(lambda: self.ltb.ltb.UpdateAdmissionPolicy(lc.ltb.UpdateAdmissionPolicyRequest(
            admission_policy=lc.ltb.AdmissionPolicy(credit_check_deadline_ms=p.credit_check_deadline_ms,
                                                    etag=p.etag),
            update_mask=field_mask_pb2.FieldMask(paths=["credit_check_deadline_ms"]), request_id=lc.new_id()),
            metadata=MANAGER), C.ABORTED, "ETAG_MISMATCH")
        self.refused(lambda: self.ltb.ltb.UpdateAdmissionPolicy(lc.ltb.UpdateAdmissionPolicyRequest(
            admission_policy=lc.ltb.AdmissionPolicy(credit_check_deadline_ms=5),
            update_mask=field_mask_pb2.FieldMask(paths=["credit_check_deadline_ms", "update_by"]),
            request_id=lc.new_id()), metadata=MANAGER), C.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        self.ltb.ltb.UpdateAdmissionPolicy(lc.ltb.UpdateAdmissionPolicyRequest(
            admission_policy=lc.ltb.AdmissionPolicy(credit_check_deadline_ms=p.credit_check_deadline_ms),
            update_mask=field_mask_pb2.FieldMask(paths=["credit_check_deadline_ms"]), request_id=lc.new_id()),
            metadata=MANAGER)
        self.assertEqual(h.sql_int("SELECT count(*) FROM ltb.admission_policy_changes"), n + 2)


class FakeDtc:
    """DTC's CheckCredit and AcceptOpportunityClosed on DTC's port (the real DTC stopped): answers as told, records
    what it was asked and handed."""

    def __init__(self, target):
        from ltc.dtc.v1 import credit_service_pb2, credit_service_pb2_grpc, intake_service_pb2  # noqa: F401
        from ltc.dtc.v1 import intake_service_pb2_grpc, resources_pb2
        self.r = resources_pb2
        self.asked, self.closed = [], []
        self.reasons, self.reserved, self.delay = [], True, 0.0
        fake = self

        class Credit(credit_service_pb2_grpc.CreditServiceServicer):
            def CheckCredit(self, req, ctx):
                fake.asked.append(req)
                time.sleep(fake.delay)
                d = fake.r.CreditDecision(
                    name=f"creditDecisions/{uuid.uuid4()}", customer=req.customer.customer, stage=req.stage,
                    reference=req.reference, amount=req.amount,
                    outcome=fake.r.CREDIT_OUTCOME_REFUSED if fake.reasons else fake.r.CREDIT_OUTCOME_APPROVED,
                    reasons=fake.reasons, limit=lc.money(AMOUNT * 2, CUR), exposure=lc.money(AMOUNT // 2, CUR),
                    stage_checked=True, reserved=fake.reserved and not fake.reasons, caller="ltb")
                fake.last = d
                return credit_service_pb2.CheckCreditResponse(decision=d)

        class Intake(intake_service_pb2_grpc.IntakeServiceServicer):
            def AcceptOpportunityClosed(self, req, ctx):
                fake.closed.append(req)
                return intake_service_pb2.AcceptOpportunityClosedResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        credit_service_pb2_grpc.add_CreditServiceServicer_to_server(Credit(), self.server)
        intake_service_pb2_grpc.add_IntakeServiceServicer_to_server(Intake(), self.server)
        if self.server.add_insecure_port(target) == 0:
            raise RuntimeError(f"cannot listen on {target}")
        self.server.start()

    def stop(self):
        self.server.stop(0)


class AdmissionWithCreditTest(GateBase):
    """The gate with a credit service that answers (a fake DTC)."""
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dtc = FakeDtc(h.target("dtc"))

    @classmethod
    def tearDownClass(cls):
        cls.dtc.stop()
        super().tearDownClass()

    def setUp(self):
        self.dtc.reasons, self.dtc.reserved, self.dtc.delay = [], True, 0.0

    def answered(self, opp, **kw):
        """Admission once LTB's channel to DTC's port has reconnected (the first questions may fail closed)."""
        d = None
        for _ in range(50):
            d = self.admit(opp, **kw).decision
            if d.credit_decision:
                return d
            time.sleep(0.2)
        self.fail(f"DTC's port never answered: {d}")

    def closed(self, opp, n):
        lc.wait_for(lambda: len([c for c in self.dtc.closed if c.opportunity == opp.name]) >= n, 15,
                    interval=0.1, what="AcceptOpportunityClosed at DTC")
        return [c for c in self.dtc.closed if c.opportunity == opp.name]

    def test_admitted_refused_superseded(self):
        opp, cust = self.opportunity()
        d1 = self.answered(opp)
        self.assertEqual(d1.outcome, lc.ltb.ADMISSION_OUTCOME_ADMITTED, str(d1))
        q = self.dtc.asked[-1]
        self.assertEqual((q.stage, q.reference, q.deal, q.customer.customer, lc.to_minor(q.amount, CUR)),
                         (self.dtc.r.CREDIT_STAGE_ADMISSION, opp.name, "deals/" + lc.name_id(opp.name),
                          f"customers/{cust}", AMOUNT))
        self.assertEqual(d1.credit_decision, self.dtc.last.name)
        self.assertEqual((lc.to_minor(d1.credit_limit, CUR), lc.to_minor(d1.credit_exposure, CUR)),
                         (AMOUNT * 2, AMOUNT // 2))
        # refused by DTC: reasons mapped; the reservation of d1 is dropped, naming d1's credit decision
        self.dtc.reasons = [self.dtc.r.CREDIT_REFUSAL_REASON_LIMIT_EXCEEDED, self.dtc.r.CREDIT_REFUSAL_REASON_MANUAL_HOLD]
        d2 = self.answered(opp)
        self.assertEqual(d2.outcome, lc.ltb.ADMISSION_OUTCOME_REFUSED)
        credit = [c for c in d2.checks if c.check == lc.ltb.ADMISSION_CHECK_CREDIT][0]
        self.assertEqual(list(credit.reasons), ["CREDIT_LIMIT_EXCEEDED", "CREDIT_ON_HOLD"])
        c = self.closed(opp, 1)
        self.assertEqual((c[0].reason, c[0].credit_decision, c[0].customer),
                         ("ADMISSION_SUPERSEDED", d1.credit_decision, f"customers/{cust}"))
        # admitted again (reserving: nothing to drop), then the expected amount grows past the tolerance
        self.dtc.reasons = []
        d3 = self.answered(opp)
        self.assertEqual(d3.outcome, lc.ltb.ADMISSION_OUTCOME_ADMITTED)
        got = self.ltb.ltb.UpdateOpportunity(lc.ltb.UpdateOpportunityRequest(
            opportunity=lc.ltb.Opportunity(name=opp.name, expected_amount=lc.money(AMOUNT * 2, CUR)),
            update_mask=field_mask_pb2.FieldMask(paths=["expected_amount"]), request_id=lc.new_id()),
            metadata=SALES).opportunity
        self.assertTrue(got.admission.superseded)
        self.assertEqual(got.admission.name, d3.name)
        c = self.closed(opp, 2)
        self.assertEqual((c[1].reason, c[1].credit_decision), ("ADMISSION_SUPERSEDED", d3.credit_decision))
        self.refused(lambda: self.bid(opp, AMOUNT), C.FAILED_PRECONDITION, "ADMISSION_REQUIRED")

    def test_deadline_fails_closed(self):
        opp, _ = self.opportunity()
        self.answered(opp)   # connected
        p = self.ltb.ltb.GetAdmissionPolicy(lc.ltb.GetAdmissionPolicyRequest(), metadata=SALES).admission_policy
        mask = field_mask_pb2.FieldMask(paths=["credit_check_deadline_ms"])
        self.ltb.ltb.UpdateAdmissionPolicy(lc.ltb.UpdateAdmissionPolicyRequest(
            admission_policy=lc.ltb.AdmissionPolicy(credit_check_deadline_ms=300), update_mask=mask,
            request_id=lc.new_id()), metadata=MANAGER)
        try:
            self.dtc.delay = 1.5
            t0 = time.monotonic()
            d = self.admit(opp).decision
            self.assertLess(time.monotonic() - t0, 1.4)
            self.assertEqual(d.outcome, lc.ltb.ADMISSION_OUTCOME_REFUSED)
            credit = [c for c in d.checks if c.check == lc.ltb.ADMISSION_CHECK_CREDIT][0]
            self.assertEqual(list(credit.reasons), ["CREDIT_SERVICE_UNAVAILABLE"])
            self.assertEqual(d.credit_decision, "")
        finally:
            self.dtc.delay = 0.0
            self.ltb.ltb.UpdateAdmissionPolicy(lc.ltb.UpdateAdmissionPolicyRequest(
                admission_policy=lc.ltb.AdmissionPolicy(credit_check_deadline_ms=p.credit_check_deadline_ms),
                update_mask=mask, request_id=lc.new_id()), metadata=MANAGER)


if __name__ == "__main__":
    h.main()
