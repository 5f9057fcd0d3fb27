#!/usr/bin/python3
"""Contract billing (issue #16 with #14), through the gateway: MILESTONE payment terms and the ADVANCE billed at
contract signature.

- a contract's MILESTONE terms name their milestone (named, unique per contract, none on other kinds), carried to
  OTD and DTC with the order;
- ReportBillingMilestone invoices that term exactly once; a repeat answers the first invoice; an unknown name is
  NOT_FOUND with the names the order has; bad input names its field;
- under the billing policy AT_CONTRACT_SIGNATURE the signature (BTO's new AcceptContractSigned hand-off, exactly once)
  bills the ADVANCE, and the placement never bills it again; a signed contract cancelled before its order credits it.

    /usr/bin/python3 tests/integration/test_contract_billing.py
"""
import sys
import uuid
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))

import grpc  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402

import harness as h  # noqa: E402
import ltc_client as lc  # noqa: E402

dtc, bto, K = lc.dtc, lc.bto, lc.types
INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND


def term(kind, bps, days=30, milestone=""):
    return K.PaymentTerm(kind=K.PaymentTermKind.Value("PAYMENT_TERM_KIND_" + kind), share_bps=bps, due_days=days,
                         milestone=milestone)


MILESTONE_TERMS = [term("ADVANCE", 2000, 0), term("MILESTONE", 3000, 15, "site survey"),
                   term("MILESTONE", 5000, 30, "go-live")]


def uid(name):
    return name.split("/")[1]


class ContractBilling(h.StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.intake = h.intake("dtc")

    @classmethod
    def tearDownClass(cls):
        cls.intake.close()
        super().tearDownClass()

    # --- helpers ------------------------------------------------------------------------------------------------

    def accepted_deal(self):
        deal = h.new_deal(self.stubs)
        deal.run_until("accept_quote")
        return deal

    def contract(self, deal, terms):
        return self.stubs.bto.CreateContract(bto.CreateContractRequest(
            contract=bto.Contract(quote=deal.r["quote"], payment_terms=terms,
                                  requested_delivery_date=lc.days_ahead(60)),
            request_id=lc.new_id())).contract

    def sign(self, contract):
        return self.stubs.bto.SignContract(bto.SignContractRequest(name=contract.name, signed_by="Zhao Min",
                                                                   request_id=lc.new_id())).contract

    def order(self, contract):
        return self.stubs.bto.CreateOrder(bto.CreateOrderRequest(contract=contract.name,
                                                                 request_id=lc.new_id())).order

    def account(self, order):
        return self.stubs.dtc.GetOrderAccount(dtc.GetOrderAccountRequest(
            name="orderAccounts/" + uid(order))).order_account

    def invoices(self, order):
        return list(self.stubs.dtc.ListInvoices(dtc.ListInvoicesRequest(order=order, page_size=100)).invoices)

    def report(self, order, milestone, **kw):
        kw.setdefault("request_id", lc.new_id())
        return self.stubs.dtc.ReportBillingMilestone(dtc.ReportBillingMilestoneRequest(order=order,
                                                                                       milestone=milestone, **kw))

    def advance_policy(self, mode):
        return self.stubs.dtc.UpdateBillingPolicy(dtc.UpdateBillingPolicyRequest(
            billing_policy=dtc.BillingPolicy(advance_billing=mode),
            update_mask=field_mask_pb2.FieldMask(paths=["advance_billing"]), request_id=lc.new_id())).billing_policy

    def outbox(self, stage, deal, method):
        """(delivered, parked, handoff_id, payload hex) of a stage's hand-offs of the deal for `method`, in order."""
        return h.sql(f"SELECT delivered_time IS NOT NULL, parked_time IS NOT NULL, handoff_id, encode(payload, 'hex') "
                     f"FROM {stage}.outbox WHERE deal_id = :'d' AND method LIKE :'m' ORDER BY seq",
                     d=uid(deal.r["deal"]), m=f"%/{method}")

    def delivered(self, stage, deal, method, n=1):
        h.wait_until(lambda: [(r[0], r[1]) for r in self.outbox(stage, deal, method)] == [("t", "f")] * n,
                     what=f"{n} {method} hand-off(s) of {stage} delivered, none parked")

    # --- MILESTONE terms ----------------------------------------------------------------------------------------

    def test_milestone_terms_are_named_and_unique(self):
        deal = self.accepted_deal()
        cases = [([term("ADVANCE", 5000), term("MILESTONE", 5000)], "contract.payment_terms[1].milestone"),
                 ([term("MILESTONE", 5000, milestone="go-live"), term("MILESTONE", 5000, milestone="go-live")],
                  "contract.payment_terms[1].milestone"),
                 ([term("ADVANCE", 5000, milestone="go-live"), term("ON_ACCEPTANCE", 5000)],
                  "contract.payment_terms[0].milestone"),
                 ([term("MILESTONE", 10000, milestone="x" * 65)], "contract.payment_terms[0].milestone")]
        for terms, field in cases:
            d = h.expect_error(lambda: self.contract(deal, terms), INVALID)
            self.assertDetails(d, fields=[field])
        c = self.contract(deal, MILESTONE_TERMS)
        self.assertEqual([(t.kind, t.milestone) for t in c.payment_terms],
                         [(K.PAYMENT_TERM_KIND_ADVANCE, ""), (K.PAYMENT_TERM_KIND_MILESTONE, "site survey"),
                          (K.PAYMENT_TERM_KIND_MILESTONE, "go-live")])

    def test_milestone_term_billed_once_when_reported(self):
        deal = self.accepted_deal()
        c = self.sign(self.contract(deal, MILESTONE_TERMS))
        o = self.order(c)
        total = lc.to_minor(o.total)
        # the names travel with the order to OTD and DTC; the placement bills the ADVANCE only
        otd_order = lc.wait_for(lambda: self.stubs.otd.GetOrder(lc.otd.GetOrderRequest(name=o.name)).order)
        self.assertEqual([t.milestone for t in otd_order.payment_terms], ["", "site survey", "go-live"])
        acct = lc.wait_for(lambda: self.account(o.name), what="DTC's account of the order")
        self.assertEqual([t.milestone for t in acct.payment_terms], ["", "site survey", "go-live"])
        h.wait_until(lambda: len(self.invoices(o.name)) == 1, what="the advance invoice")
        self.assertEqual(self.invoices(o.name)[0].term_kind, K.PAYMENT_TERM_KIND_ADVANCE)

        # bad input names its field; an unknown milestone (names are exact) is NOT_FOUND listing the order's names
        for kw, field in [(dict(order="orders/x", milestone="go-live"), "order"),
                          (dict(order=o.name, milestone=""), "milestone"),
                          (dict(order=o.name, milestone="go-live", request_id=""), "request_id")]:
            d = h.expect_error(lambda: self.report(**kw), INVALID)
            self.assertDetails(d, fields=[field])
        d = h.expect_error(lambda: self.report(o.name, "Go-Live"), NOT_FOUND)
        self.assertDetails(d, reason="MILESTONE_NOT_FOUND")
        self.assertIn('"site survey", "go-live"', d.message)
        d = h.expect_error(lambda: self.report(f"orders/{uuid.uuid4()}", "go-live"), NOT_FOUND)
        self.assertDetails(d, reason="ORDER_ACCOUNT_NOT_FOUND")

        # go-live reached: its term (the last: the rest of the split) is invoiced in full, dated the report
        req = dict(reached_date=K.Date(year=2026, month=11, day=20))
        first = self.report(o.name, "go-live", **req)
        self.assertFalse(first.already_reported)
        inv = self.stubs.dtc.GetInvoice(dtc.GetInvoiceRequest(name=first.invoice)).invoice
        share = total - total * 2000 // 10000 - total * 3000 // 10000
        self.assertEqual((inv.term_kind, lc.to_minor(inv.amount), inv.billing_event, inv.invoice_date, inv.due_date),
                         (K.PAYMENT_TERM_KIND_MILESTONE, share, dtc.BILLING_EVENT_MILESTONE,
                          K.Date(year=2026, month=11, day=20), K.Date(year=2026, month=12, day=20)))
        # reported again (another request): the same invoice, nothing new
        again = self.report(o.name, "go-live")
        self.assertTrue(again.already_reported)
        self.assertEqual(again.invoice, first.invoice)
        self.assertEqual(len(self.invoices(o.name)), 2)
        # the survey: the last term; the invoices add up to the order total exactly
        self.report(o.name, "site survey")
        invs = self.invoices(o.name)
        self.assertEqual(sorted(i.term_kind for i in invs),
                         [K.PAYMENT_TERM_KIND_ADVANCE, K.PAYMENT_TERM_KIND_MILESTONE, K.PAYMENT_TERM_KIND_MILESTONE])
        self.assertEqual(sum(lc.to_minor(i.amount) for i in invs), total)
        self.assertEqual(lc.to_minor(self.account(o.name).invoiced_amount), total)

    # --- the ADVANCE at contract signature ----------------------------------------------------------------------

    def test_advance_policy_validated(self):
        d = h.expect_error(lambda: self.advance_policy(dtc.ADVANCE_BILLING_UNSPECIFIED), INVALID)
        self.assertDetails(d, fields=["billing_policy.advance_billing"])
        p = self.stubs.dtc.GetBillingPolicy(dtc.GetBillingPolicyRequest(name="billingPolicy")).billing_policy
        self.assertEqual(p.advance_billing, dtc.ADVANCE_BILLING_AT_ORDER_PLACEMENT)   # the default

    def test_advance_billed_at_signature_exactly_once(self):
        self.advance_policy(dtc.ADVANCE_BILLING_AT_CONTRACT_SIGNATURE)
        try:
            deal = self.accepted_deal()
            deal.run_until("sign_contract")   # 30% ADVANCE / 60% ON_ACCEPTANCE / 10% RETENTION
            self.delivered("bto", deal, "AcceptContractSigned")
            order = "orders/" + h.sql_value("SELECT order_id FROM bto.contracts WHERE id = :'k'",
                                            k=uid(deal.r["contract"]))
            invs = self.invoices(order)   # before any order exists
            total = deal.r["contract_total"]
            self.assertEqual([(i.term_kind, lc.to_minor(i.amount), i.billing_event) for i in invs],
                             [(K.PAYMENT_TERM_KIND_ADVANCE, total * 3000 // 10000,
                               dtc.BILLING_EVENT_CONTRACT_SIGNED)])

            # the hand-off is applied once: BTO's own payload again answers the same; another id is refused
            _, _, handoff, payload = self.outbox("bto", deal, "AcceptContractSigned")[0]
            msg = dtc.AcceptContractSignedRequest.FromString(bytes.fromhex(payload))
            self.assertEqual(list(self.intake.dtc.AcceptContractSigned(msg).invoices), [invs[0].name])
            msg.handoff_id = lc.new_id()
            d = h.expect_error(lambda: self.intake.dtc.AcceptContractSigned(msg), grpc.StatusCode.ALREADY_EXISTS)
            self.assertDetails(d, reason="CONTRACT_ALREADY_SIGNED")
            self.assertEqual(len(self.invoices(order)), 1)

            # the order takes the id fixed at signature; its placement bills no advance again
            deal.run_until("create_order")
            self.assertEqual(deal.r["order"], order)
            self.delivered("bto", deal, "AcceptOrderPlaced")
            self.assertEqual(h.sql_value("SELECT placed_handoff_id IS NOT NULL FROM dtc.order_accounts "
                                         "WHERE id = :'o'", o=uid(order)), "t")
            self.assertEqual([i.name for i in self.invoices(order)], [invs[0].name])
            self.assertEqual(h.sql_int("SELECT count(*) FROM bto.outbox WHERE deal_id = :'d' "
                                       "AND method LIKE '%/AcceptContractSigned'", d=uid(deal.r["deal"])), 1)
            # and the rest of the deal bills the other terms as before: the invoices add up to the total
            deal.run_until("wait_invoices")
            self.assertEqual(sum(lc.to_minor(i.amount) for i in self.invoices(order)), total)
            self.assertEqual(sum(1 for i in self.invoices(order) if i.term_kind == K.PAYMENT_TERM_KIND_ADVANCE), 1)
        finally:
            self.advance_policy(dtc.ADVANCE_BILLING_AT_ORDER_PLACEMENT)

    def test_signed_contract_cancelled_before_its_order(self):
        # under the default policy DTC only records the signature: the cancellation has nothing to undo
        deal = self.accepted_deal()
        deal.run_until("sign_contract")
        self.stubs.bto.CancelContract(bto.CancelContractRequest(name=deal.r["contract"], reason="lost budget",
                                                                request_id=lc.new_id()))
        self.delivered("bto", deal, "AcceptOrderCancelled")
        # under AT_CONTRACT_SIGNATURE the advance billed at signature is credited in full
        self.advance_policy(dtc.ADVANCE_BILLING_AT_CONTRACT_SIGNATURE)
        try:
            deal = self.accepted_deal()
            deal.run_until("sign_contract")
            self.delivered("bto", deal, "AcceptContractSigned")
            order = "orders/" + h.sql_value("SELECT order_id FROM bto.contracts WHERE id = :'k'",
                                            k=uid(deal.r["contract"]))
            self.stubs.bto.CancelContract(bto.CancelContractRequest(name=deal.r["contract"], reason="lost budget",
                                                                    request_id=lc.new_id()))
            self.delivered("bto", deal, "AcceptOrderCancelled")
            acct = self.account(order)
            self.assertEqual(acct.state, dtc.ORDER_ACCOUNT_STATE_CANCELLED)
            self.assertEqual(lc.to_minor(acct.credited_amount), lc.to_minor(acct.invoiced_amount))
            self.assertGreater(lc.to_minor(acct.invoiced_amount), 0)
        finally:
            self.advance_policy(dtc.ADVANCE_BILLING_AT_ORDER_PLACEMENT)

    def test_contract_signed_handoff_bad_input(self):
        d = h.expect_error(lambda: self.intake.dtc.AcceptContractSigned(dtc.AcceptContractSignedRequest(
            handoff_id=lc.new_id(), contract="contracts/x", order="", deal=f"deals/{uuid.uuid4()}",
            payment_terms=[term("MILESTONE", 10000)])), INVALID)
        self.assertDetails(d, fields=["contract", "order", "iron_triangle", "contract_total",
                                      "payment_terms[0].milestone"])


if __name__ == "__main__":
    h.main()
