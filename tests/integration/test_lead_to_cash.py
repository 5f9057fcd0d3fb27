#!/usr/bin/python3
"""One deal from lead to cash through the gateway: every stage's state, the final closure, and money conserved
(bid recorded, order total == quote total == sum of invoices == sum of payments == collected in LTB and BTO)."""

import sys
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from harness import lc, lead_to_cash  # noqa: E402


class LeadToCashTest(h.StackTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lines = []
        cls.error = None
        try:
            cls.r = lead_to_cash.run_deal(cls.stubs, log=lambda line: (cls.lines.append(line), print(line)))
        except Exception as e:  # reported by each test, so the summary says where it stopped
            cls.error = lc.describe_error(e)
            cls.r = None

    def setUp(self):
        if self.error:
            self.fail(f"the deal did not complete: {self.error}\nlast stage: {self.lines[-1] if self.lines else '-'}")

    def test_ltb_states(self):
        s = self.r["states"]
        self.assertEqual(s["lead_created"], "LEAD_STATE_NEW")
        self.assertEqual(s["lead_qualified"], "LEAD_STATE_QUALIFIED")
        self.assertEqual(s["opportunity_qualified"], "OPPORTUNITY_STAGE_QUALIFIED")
        self.assertEqual(s["opportunity_bidding"], "OPPORTUNITY_STAGE_BIDDING")
        self.assertEqual(s["bid_created"], "BID_STATE_SUBMITTED")
        self.assertEqual(s["bid_won"], "BID_STATE_WON")
        self.assertEqual(s["opportunity_won"], "OPPORTUNITY_STAGE_WON")
        self.assertEqual(s["opportunity_final"], "OPPORTUNITY_STAGE_CASH_COLLECTED")
        self.assertEqual(s["admission"], "ADMISSION_OUTCOME_ADMITTED")

    def test_customer_created_from_the_lead_and_admission(self):
        # QualifyLead created the customer from the lead (legal name = company name, the lead's contact); it is
        # the opportunity's, listed by customer; the bid went out on the ADMITTED decision, for the bid amount
        r = self.r
        self.assertTrue(r["customer"].startswith("customers/"), r["customer"])
        c = self.stubs.ltb.GetCustomer(lc.ltb.GetCustomerRequest(name=r["customer"])).customer
        self.assertEqual((c.legal_name, c.state, c.country_code, c.billing_currency),
                         (r["customer_name"], lc.ltb.CUSTOMER_STATE_ACTIVE, lead_to_cash.CUSTOMER_COUNTRY, "CNY"))
        lead = self.stubs.ltb.GetLead(lc.ltb.GetLeadRequest(name=r["lead"])).lead
        self.assertEqual(lead.customer, r["customer"])
        self.assertEqual([(x.email, x.normalized_phone) for x in c.contacts],
                         [(lead.contact_email, lead.normalized_phone)])
        self.assertTrue(lead.normalized_phone.startswith("+8613"), lead.normalized_phone)
        opps = self.stubs.ltb.ListOpportunities(lc.ltb.ListOpportunitiesRequest(customer=r["customer"])).opportunities
        self.assertEqual([o.name for o in opps], [r["opportunity"]])
        decisions = self.stubs.ltb.ListAdmissionDecisions(lc.ltb.ListAdmissionDecisionsRequest(
            opportunity=r["opportunity"])).decisions
        self.assertEqual([(d.name, d.outcome, d.superseded) for d in decisions],
                         [(r["admission"], lc.ltb.ADMISSION_OUTCOME_ADMITTED, False)])
        d = decisions[0]
        self.assertEqual(lc.to_minor(d.admitted_amount, "CNY"), r["bid_amount"])
        self.assertEqual((d.expected_margin_bps, d.minimum_margin_bps), (lead_to_cash.EXPECTED_MARGIN_BPS, 1000))
        self.assertEqual([(x.check, x.passed) for x in d.checks],
                         [(lc.ltb.ADMISSION_CHECK_CREDIT, True), (lc.ltb.ADMISSION_CHECK_COMPLIANCE, True),
                          (lc.ltb.ADMISSION_CHECK_MARGIN, True)])

    def test_ltb_stage_history(self):
        self.assertEqual(self.r["stage_history"],
                         ["OPPORTUNITY_STAGE_QUALIFIED", "OPPORTUNITY_STAGE_BIDDING", "OPPORTUNITY_STAGE_WON",
                          "OPPORTUNITY_STAGE_CASH_COLLECTED"])

    def test_bto_states(self):
        s = self.r["states"]
        self.assertEqual(s["bto_deal_received"], "DEAL_STATE_OPEN")
        self.assertEqual(s["quote_created"], "QUOTE_STATE_DRAFT")
        self.assertEqual(s["quote_accepted"], "QUOTE_STATE_ACCEPTED")
        self.assertEqual(s["contract_created"], "CONTRACT_STATE_DRAFT")
        self.assertEqual(s["contract_signed"], "CONTRACT_STATE_SIGNED")
        self.assertEqual(s["bto_order_placed"], "ORDER_STATE_PLACED")
        self.assertEqual(s["bto_deal_ordered"], "DEAL_STATE_ORDERED")
        self.assertEqual(s["bto_order_final"], "ORDER_STATE_CLOSED")
        self.assertEqual(s["bto_contract_final"], "CONTRACT_STATE_CLOSED")
        self.assertEqual(s["bto_deal_final"], "DEAL_STATE_CLOSED")

    def test_otd_states(self):
        s = self.r["states"]
        self.assertEqual(s["otd_order_received"], "ORDER_STATE_RECEIVED")
        self.assertEqual(s["otd_order_reviewed"], "ORDER_STATE_REVIEWED")
        self.assertEqual(s["otd_order_released"], "ORDER_STATE_RELEASED")
        self.assertEqual(s["otd_order_scheduled"], "ORDER_STATE_SCHEDULED")
        self.assertEqual(s["otd_order_after_shipment1_created"], "ORDER_STATE_PARTIALLY_SHIPPED")
        self.assertEqual(s["shipment1_accepted"], "SHIPMENT_STATE_ACCEPTED")
        self.assertEqual(s["otd_order_after_shipment1"], "ORDER_STATE_PARTIALLY_SHIPPED")
        self.assertEqual(s["shipment2_accepted"], "SHIPMENT_STATE_ACCEPTED")
        self.assertEqual(s["otd_order_after_shipment2"], "ORDER_STATE_CLOSED")
        self.assertRegex(self.r["promise_date"], r"^\d{4}-\d\d-\d\d$")

    def test_dtc_states(self):
        s = self.r["states"]
        self.assertEqual(s["dtc_account_invoiced"], "ORDER_ACCOUNT_STATE_OPEN")
        self.assertEqual(s["dtc_account_after_last_payment"], "ORDER_ACCOUNT_STATE_CLOSED")
        self.assertEqual(s["dtc_account_final"], "ORDER_ACCOUNT_STATE_CLOSED")
        # each term billed by its own event (docs/receivables.md): the ADVANCE once at placement, ON_ACCEPTANCE per
        # accepted shipment (2), the RETENTION once at final acceptance
        kinds = sorted(k for _, k, _, _ in self.r["invoices"])
        self.assertEqual(kinds, sorted(["PAYMENT_TERM_KIND_ADVANCE", "PAYMENT_TERM_KIND_RETENTION"]
                                       + ["PAYMENT_TERM_KIND_ON_ACCEPTANCE"] * 2))

    def test_amounts_conserved(self):
        r = self.r
        total = r["expected_total"]
        self.assertEqual(r["bid_amount"], total, "bid amount as sent")
        self.assertEqual(r["bto_deal_amount"], r["bid_amount"], "BTO deal records the bid amount")
        self.assertEqual(r["quote_total"], total, "quote total from the catalogue and the discount")
        self.assertEqual(r["contract_total"], r["quote_total"], "contract total == quote total")
        self.assertEqual(r["order_total"], r["quote_total"], "order total == quote total")
        self.assertEqual(r["otd_order_total"], r["order_total"], "OTD order total == BTO order total")
        self.assertEqual(sum(a for _, a in r["shipments"]), r["order_total"], "shipments add up to the order")
        self.assertEqual(r["dtc_order_total"], r["order_total"], "DTC order total == BTO order total")
        self.assertEqual(r["invoice_total"], r["order_total"], "invoices add up to the order total")
        self.assertEqual(r["paid_total"], r["invoice_total"], "payments add up to the invoices")
        self.assertEqual(r["dtc_paid_amount"], r["paid_total"], "DTC paid amount == payments")
        self.assertEqual(r["ltb_collected"], r["paid_total"], "LTB collected == payments")
        self.assertEqual(r["bto_collected"], r["paid_total"], "BTO collected == payments")

    def test_invoice_split_by_terms(self):
        # per shipment: the three terms' invoices add up to the accepted amount, each close to its share
        by_kind = {}
        for _, kind, amount, _ in self.r["invoices"]:
            by_kind[kind] = by_kind.get(kind, 0) + amount
        total = self.r["order_total"]
        for kind, bps in (("PAYMENT_TERM_KIND_ADVANCE", 3000), ("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 6000),
                          ("PAYMENT_TERM_KIND_RETENTION", 1000)):
            self.assertLessEqual(abs(by_kind[kind] - total * bps // 10000), 2, f"{kind} share of the total")

    def test_first_invoice_paid_in_two_parts(self):
        first = self.r["invoices"][0][0]
        self.assertEqual(len([p for p in self.r["payments"] if p[1] == first]), 2)
        self.assertEqual(len(self.r["payments"]), len(self.r["invoices"]) + 1)

    def test_stage_lines_printed(self):
        for needle in ("LTB  lead leads/", "LTB  order admission ADMITTED", "LTB  bid won -> handed to BTO",
                       "BTO  deal received (hand-off)",
                       "OTD  order received (hand-off)", "OTD  order scheduled: promise date",
                       "LTB  opportunity CASH_COLLECTED"):
            self.assertTrue(any(line.startswith(needle) for line in self.lines), f"no line starting {needle!r}")

    def test_demo_script_runs(self):
        # the command-line demo itself, quiet, against the same gateway
        import subprocess
        p = subprocess.run([sys.executable, str(Path(lead_to_cash.__file__)), "--target", h.target("gateway"),
                            "--quiet"], capture_output=True, text=True, timeout=240)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("OK: lead to cash complete", p.stdout)
        self.assertNotIn("LTB  lead", p.stdout, "--quiet printed the stages")


if __name__ == "__main__":
    h.main()
