#!/usr/bin/python3
"""Errors through the gateway, each with its google.rpc.Status details decoded: INVALID_ARGUMENT naming the fields in
BadRequest, NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS, idempotency by request_id, UNIMPLEMENTED (unknown
methods, the internal IntakeServices), UNAVAILABLE when a service is down, and nothing half-written when a request
fails half-way."""

import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import grpc  # noqa: E402

import harness as h  # noqa: E402
from harness import lc  # noqa: E402

C = grpc.StatusCode


def lead_msg(**kw):
    """A lead of a party of its own (company name, e-mail, phone): CreateLead refuses one that matches a customer or
    a NEW lead (DUPLICATE_LEAD), and these leads stay NEW from one run to the next."""
    u = uuid.uuid4().hex[:8]
    base = dict(source=lc.ltb.LEAD_SOURCE_WEBSITE, company_name=f"Errors Test {u}",
                contact_email=f"qa.{u}@errors.example", contact_phone=h.lead_to_cash.unique_phone())
    base.update(kw)
    return lc.ltb.Lead(**base)


class ErrorsTest(h.StackTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # an OPEN deal with two products in BTO (quotes are priced against it)
        cls.open_deal = h.new_deal(cls.stubs)
        cls.open_deal.run_until("create_products")
        # an order RECEIVED in OTD, not released
        cls.received = h.new_deal(cls.stubs)
        cls.received.run_until("wait_otd_order")
        # a deal run to cash: its invoices are PAID
        cls.paid = h.new_deal(cls.stubs)
        cls.paid.run_all()

    # --- INVALID_ARGUMENT -----------------------------------------------------------------------------------

    def test_invalid_missing_company_name(self):
        d = h.expect_error(lambda: self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(
            lead=lead_msg(company_name=""), request_id=lc.new_id())), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["lead.company_name"])

    def test_invalid_all_bad_fields_reported(self):
        d = h.expect_error(lambda: self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(
            lead=lead_msg(company_name="", source=lc.ltb.LEAD_SOURCE_UNSPECIFIED), request_id=lc.new_id())),
            C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["lead.company_name", "lead.source"])

    def test_invalid_name_format(self):
        for bad in ("leads/not-a-uuid", "opportunities/" + lc.new_id(), lc.new_id(), ""):
            with self.subTest(name=bad):
                d = h.expect_error(lambda: self.stubs.ltb.GetLead(lc.ltb.GetLeadRequest(name=bad)),
                                   C.INVALID_ARGUMENT)
                self.assertDetails(d, fields=["name"])

    def test_invalid_negative_quantity(self):
        a, b = self.open_deal.r["products"]["A"], self.open_deal.r["products"]["B"]
        d = h.expect_error(lambda: self.stubs.bto.CreateQuote(lc.bto.CreateQuoteRequest(
            quote=lc.bto.Quote(deal=self.open_deal.r["deal"], valid_until=lc.days_ahead(10),
                               lines=[lc.bto.QuoteLine(product=a, quantity=-3),
                                      lc.bto.QuoteLine(product=b, quantity=1, discount_bps=20000)]),
            request_id=lc.new_id())), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["quote.lines[0].quantity", "quote.lines[1].discount_bps"])

    def test_invalid_unknown_enum_zero(self):
        d = h.expect_error(lambda: self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(
            lead=lead_msg(source=0), request_id=lc.new_id())), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["lead.source"])

    def test_invalid_unknown_enum_value(self):
        d = h.expect_error(lambda: self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(
            lead=lead_msg(source=99), request_id=lc.new_id())), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["lead.source"])

    def test_invalid_payment_term_kind_zero(self):
        terms = [lc.types.PaymentTerm(kind=0, share_bps=10000, due_days=0)]
        d = h.expect_error(lambda: self.stubs.bto.CreateContract(lc.bto.CreateContractRequest(
            contract=lc.bto.Contract(quote="quotes/" + lc.new_id(), payment_terms=terms,
                                     requested_delivery_date=lc.days_ahead(60)),
            request_id=lc.new_id())), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["contract.payment_terms[0].kind"])

    def test_invalid_money_finer_than_minor_unit(self):
        bad = lc.types.Money(currency_code="CNY", units=10, nanos=1)
        d = h.expect_error(lambda: self.stubs.bto.CreateProduct(lc.bto.CreateProductRequest(
            product=lc.bto.Product(sku=f"ERR-{uuid.uuid4().hex[:8]}", display_name="bad price", list_price=bad),
            request_id=lc.new_id())), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["product.list_price"])

    # --- NOT_FOUND ------------------------------------------------------------------------------------------

    def test_not_found(self):
        d = h.expect_error(lambda: self.stubs.ltb.GetLead(lc.ltb.GetLeadRequest(name="leads/" + lc.new_id())),
                           C.NOT_FOUND)
        self.assertDetails(d, reason="LEAD_NOT_FOUND")
        for call in (lambda: self.stubs.bto.GetDeal(lc.bto.GetDealRequest(name="deals/" + lc.new_id())),
                     lambda: self.stubs.otd.GetOrder(lc.otd.GetOrderRequest(name="orders/" + lc.new_id())),
                     lambda: self.stubs.dtc.GetInvoice(lc.dtc.GetInvoiceRequest(name="invoices/" + lc.new_id()))):
            d = h.expect_error(call, C.NOT_FOUND)
            self.assertDetails(d)
            self.assertTrue(d.reason.endswith("_NOT_FOUND"), str(d))

    # --- FAILED_PRECONDITION ------------------------------------------------------------------------------------

    def test_precondition_shipment_before_release(self):
        r = self.received.r
        d = h.expect_error(lambda: self.stubs.otd.CreateShipment(lc.otd.CreateShipmentRequest(
            shipment=lc.otd.Shipment(order=r["order"], lines=[lc.otd.ShipmentLine(product=r["products"]["A"],
                                                                                   quantity=1)]),
            request_id=lc.new_id())), C.FAILED_PRECONDITION)
        self.assertDetails(d)
        o = self.stubs.otd.GetOrder(lc.otd.GetOrderRequest(name=r["order"])).order
        self.assertEqual(o.state, lc.otd.ORDER_STATE_RECEIVED)
        self.assertEqual([ln.shipped_quantity for ln in o.lines], [0] * len(o.lines))

    def test_precondition_payment_on_paid_invoice(self):
        inv = self.paid.r["invoices"][-1][0]
        before = self.stubs.dtc.GetInvoice(lc.dtc.GetInvoiceRequest(name=inv)).invoice
        self.assertEqual(before.state, lc.dtc.INVOICE_STATE_PAID)
        d = h.expect_error(lambda: self.stubs.dtc.RecordPayment(lc.dtc.RecordPaymentRequest(
            payment=lc.dtc.Payment(invoice=inv, amount=lc.money(100), reference="late duplicate"),
            request_id=lc.new_id())), C.FAILED_PRECONDITION)
        self.assertDetails(d)
        after = self.stubs.dtc.GetInvoice(lc.dtc.GetInvoiceRequest(name=inv)).invoice
        self.assertEqual(lc.to_minor(after.paid_amount), lc.to_minor(before.paid_amount))

    def test_precondition_qualify_twice(self):
        deal = h.new_deal(self.stubs)
        deal.run_until("qualify")
        d = h.expect_error(lambda: self.stubs.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(
            name=deal.r["lead"], opportunity_title="again",
            iron_triangle=lc.types.IronTriangle(account_owner="a", solution_owner="s", fulfilment_owner="f"),
            expected_amount=lc.money(100), customer_country_code="CN", request_id=lc.new_id())),
            C.FAILED_PRECONDITION)
        self.assertDetails(d, reason="LEAD_NOT_NEW")

    def test_precondition_bid_needs_the_admission_gate(self):
        # no decision yet: ADMISSION_REQUIRED; a margin below the policy's minimum: REFUSED, the bid ADMISSION_REFUSED;
        # admitted, but a bid above the admitted amount plus the tolerance (10%): ADMISSION_EXCEEDED; nothing bid
        deal = h.new_deal(self.stubs)
        deal.run_until("qualify")
        opp = deal.r["opportunity"]
        amount = h.lead_to_cash.expected_total()

        def bid(minor):
            return lambda: self.stubs.ltb.CreateBid(lc.ltb.CreateBidRequest(
                bid=lc.ltb.Bid(opportunity=opp, amount=lc.money(minor)), request_id=lc.new_id()))

        self.assertDetails(h.expect_error(bid(amount), C.FAILED_PRECONDITION), reason="ADMISSION_REQUIRED")
        low = self.stubs.ltb.RequestOrderAdmission(lc.ltb.RequestOrderAdmissionRequest(
            opportunity=opp, amount=lc.money(amount), expected_margin_bps=500, request_id=lc.new_id())).decision
        self.assertEqual(low.outcome, lc.ltb.ADMISSION_OUTCOME_REFUSED, str(low))
        margin = [c for c in low.checks if c.check == lc.ltb.ADMISSION_CHECK_MARGIN]
        self.assertEqual([(c.passed, list(c.reasons)) for c in margin], [(False, ["MARGIN_BELOW_MINIMUM"])], str(low))
        self.assertEqual((low.expected_margin_bps, low.minimum_margin_bps), (500, 1000))
        self.assertDetails(h.expect_error(bid(amount), C.FAILED_PRECONDITION), reason="ADMISSION_REFUSED")
        deal.run_until("admit")         # a new request, margin 25%: ADMITTED, the refusal superseded
        decisions = self.stubs.ltb.ListAdmissionDecisions(lc.ltb.ListAdmissionDecisionsRequest(
            opportunity=opp)).decisions
        self.assertEqual([(x.outcome, x.superseded) for x in decisions],
                         [(lc.ltb.ADMISSION_OUTCOME_REFUSED, True), (lc.ltb.ADMISSION_OUTCOME_ADMITTED, False)])
        self.assertDetails(h.expect_error(bid(amount + amount // 10 + 1), C.FAILED_PRECONDITION),
                           reason="ADMISSION_EXCEEDED")
        got = self.stubs.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=opp)).opportunity
        self.assertEqual(got.stage, lc.ltb.OPPORTUNITY_STAGE_QUALIFIED)
        deal.run_until("create_bid")    # within the admitted amount: the bid goes out

    # --- ALREADY_EXISTS and idempotency ----------------------------------------------------------------------

    def test_already_exists_duplicate_sku(self):
        sku = f"LTC-{self.open_deal.run}-A"
        d = h.expect_error(lambda: self.stubs.bto.CreateProduct(lc.bto.CreateProductRequest(
            product=lc.bto.Product(sku=sku, display_name="duplicate", list_price=lc.money(100)),
            request_id=lc.new_id())), C.ALREADY_EXISTS)
        self.assertDetails(d)

    def test_idempotent_repeat_returns_first_response(self):
        rid = lc.new_id()
        req = lc.ltb.CreateLeadRequest(lead=lead_msg(company_name=f"Idem {rid[:8]}"), request_id=rid)
        first = self.stubs.ltb.CreateLead(req).lead
        second = self.stubs.ltb.CreateLead(req).lead
        self.assertEqual(first.name, second.name)
        self.assertEqual(first, second)

    def test_idempotent_state_change_repeat(self):
        deal = h.new_deal(self.stubs)
        deal.run_until("create_lead")
        req = lc.ltb.QualifyLeadRequest(
            name=deal.r["lead"], opportunity_title="idempotent qualify",
            iron_triangle=lc.types.IronTriangle(account_owner="a", solution_owner="s", fulfilment_owner="f"),
            expected_amount=lc.money(100000), customer_country_code="CN", request_id=lc.new_id())
        first = self.stubs.ltb.QualifyLead(req)
        second = self.stubs.ltb.QualifyLead(req)   # a retry, not a second qualification
        self.assertEqual(first.opportunity.name, second.opportunity.name)

    def test_idempotency_key_reused_with_other_body(self):
        rid = lc.new_id()
        self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lead_msg(company_name=f"Key One {rid[:8]}"),
                                                           request_id=rid))
        d = h.expect_error(lambda: self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(
            lead=lead_msg(company_name=f"Key Two {rid[:8]}"), request_id=rid)), C.ALREADY_EXISTS)
        self.assertDetails(d, reason="IDEMPOTENCY_KEY_REUSED")

    def test_idempotent_concurrent_repeats(self):
        # the same request 8 times at once: one lead, the same response to all
        rid = lc.new_id()
        company = f"Concurrent {rid[:8]}"
        req = lc.ltb.CreateLeadRequest(lead=lead_msg(company_name=company), request_id=rid)
        with ThreadPoolExecutor(8) as ex:
            names = list(ex.map(lambda _: self.stubs.ltb.CreateLead(req).lead.name, range(8)))
        self.assertEqual(len(set(names)), 1, names)
        self.assertEqual(h.sql_int("SELECT count(*) FROM ltb.leads WHERE company_name = :'c'", c=company), 1)

    def test_precondition_concurrent_full_payments(self):
        # six full payments of one invoice at once: one is applied, the others refused; never overpaid
        deal = h.new_deal(self.stubs)
        deal.run_until("wait_invoices")
        inv, _, amount, _ = deal.r["invoices"][0]

        def pay(_):
            try:
                return self.stubs.dtc.RecordPayment(lc.dtc.RecordPaymentRequest(
                    payment=lc.dtc.Payment(invoice=inv, amount=lc.money(amount)), request_id=lc.new_id())).invoice.state
            except grpc.RpcError as e:
                return e.code()
        with ThreadPoolExecutor(6) as ex:
            out = list(ex.map(pay, range(6)))
        self.assertEqual(out.count(lc.dtc.INVOICE_STATE_PAID), 1, out)
        self.assertEqual(out.count(C.FAILED_PRECONDITION), 5, out)
        got = self.stubs.dtc.GetInvoice(lc.dtc.GetInvoiceRequest(name=inv)).invoice
        self.assertEqual(lc.to_minor(got.paid_amount), amount)

    # --- UNIMPLEMENTED ------------------------------------------------------------------------------------------

    def test_unimplemented_unknown_method(self):
        for method in ("/ltc.ltb.v1.LeadToBidService/NoSuchMethod", "/ltc.nothing.v1.NothingService/Get",
                       "/grpc.nothing/x"):
            with self.subTest(method=method):
                h.expect_error(lambda: self.stubs.call_raw(method, b""), C.UNIMPLEMENTED)

    def test_intake_not_reachable_through_gateway(self):
        deal_id = lc.new_id()
        reqs = {
            "/ltc.bto.v1.IntakeService/AcceptWonBid": lc.bto.AcceptWonBidRequest(
                handoff_id=lc.new_id(), deal="deals/" + deal_id, opportunity="opportunities/" + deal_id,
                bid="bids/" + lc.new_id(), customer_name="Intruder Ltd",
                iron_triangle=lc.types.IronTriangle(account_owner="a", solution_owner="s", fulfilment_owner="f"),
                expected_amount=lc.money(100)),
            "/ltc.bto.v1.IntakeService/AcceptOrderClosure": lc.bto.AcceptOrderClosureRequest(
                handoff_id=lc.new_id(), order=self.paid.r["order"], contract=self.paid.r["contract"],
                collected_amount=lc.money(1)),
            "/ltc.ltb.v1.IntakeService/AcceptCashCollected": lc.ltb.AcceptCashCollectedRequest(
                handoff_id=lc.new_id(), deal=self.open_deal.r["deal"], order="orders/" + lc.new_id(),
                collected_amount=lc.money(1)),
            "/ltc.otd.v1.IntakeService/AcceptOrder": lc.otd.AcceptOrderRequest(
                handoff_id=lc.new_id(), order="orders/" + lc.new_id(), deal="deals/" + deal_id),
            "/ltc.dtc.v1.IntakeService/AcceptDelivery": lc.dtc.AcceptDeliveryRequest(
                handoff_id=lc.new_id(), shipment="shipments/" + lc.new_id(), order="orders/" + lc.new_id()),
        }
        for method, req in reqs.items():
            with self.subTest(method=method):
                h.expect_error(lambda: self.stubs.call_raw(method, req.SerializeToString()), C.UNIMPLEMENTED)
        # and nothing happened
        h.expect_error(lambda: self.stubs.bto.GetDeal(lc.bto.GetDealRequest(name="deals/" + deal_id)), C.NOT_FOUND)
        opp = self.stubs.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=self.open_deal.r["opportunity"]))
        self.assertEqual(opp.opportunity.stage, lc.ltb.OPPORTUNITY_STAGE_WON)

    # --- UNAVAILABLE --------------------------------------------------------------------------------------------

    def test_unavailable_when_service_stopped(self):
        acct = "orderAccounts/" + lc.name_id(self.paid.r["order"])
        call = lambda: self.stubs.dtc.GetOrderAccount(lc.dtc.GetOrderAccountRequest(name=acct))  # noqa: E731
        self.assertEqual(call().order_account.state, lc.dtc.ORDER_ACCOUNT_STATE_CLOSED)
        h.stop("dtc")
        try:
            t0 = time.monotonic()
            d = h.expect_error(call, C.UNAVAILABLE)
            elapsed = time.monotonic() - t0
            self.assertLess(elapsed, 5.0, f"UNAVAILABLE took {elapsed:.1f} s (deadline 10 s): not quick")
            self.assertDetails(d)
            # the other services still answer through the gateway
            self.stubs.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=self.paid.r["opportunity"]))
        finally:
            h.start("dtc")
        got = lc.wait_for(call, 30, what="DTC through the gateway after its restart")
        self.assertEqual(got.order_account.state, lc.dtc.ORDER_ACCOUNT_STATE_CLOSED)

    # --- nothing half-written -----------------------------------------------------------------------------------

    def _bto_counts(self):
        tables = [r[0] for r in h.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'bto' ORDER BY 1")]
        self.assertIn("quotes", tables)
        return {t: h.sql_int(f'SELECT count(*) FROM bto."{t}"') for t in tables}

    def test_nothing_half_written_on_failed_quote(self):
        r = self.open_deal.r
        usd = self.stubs.bto.CreateProduct(lc.bto.CreateProductRequest(
            product=lc.bto.Product(sku=f"LTC-{r['run']}-USD", display_name="priced in dollars",
                                   list_price=lc.money(9900, "USD")),
            request_id=lc.new_id())).product
        bad_lines = {
            "unknown product": lc.bto.QuoteLine(product="products/" + lc.new_id(), quantity=1),
            "other currency": lc.bto.QuoteLine(product=usd.name, quantity=1),
        }
        for what, bad in bad_lines.items():
            with self.subTest(bad_line=what):
                before = self._bto_counts()
                quotes_before = h.sql_int("SELECT count(*) FROM bto.quotes")
                d = h.expect_error_any(lambda: self.stubs.bto.CreateQuote(lc.bto.CreateQuoteRequest(
                    quote=lc.bto.Quote(deal=r["deal"], valid_until=lc.days_ahead(10),
                                       lines=[lc.bto.QuoteLine(product=r["products"]["A"], quantity=1), bad]),
                    request_id=lc.new_id())),
                    (C.INVALID_ARGUMENT, C.NOT_FOUND, C.FAILED_PRECONDITION))
                self.assertDetails(d)
                self.assertEqual(h.sql_int("SELECT count(*) FROM bto.quotes"), quotes_before)
                after = self._bto_counts()
                # the one row a refused call adds is its audit trail entry, with its outcome
                self.assertEqual(after.pop("audit_log"), before.pop("audit_log") + 1)
                self.assertEqual(after, before, "a failed CreateQuote left rows behind")
                last = h.sql("SELECT method, code FROM bto.audit_log ORDER BY seq DESC LIMIT 1")[0]
                self.assertEqual(list(last), ["/ltc.bto.v1.BidToOrderService/CreateQuote", d.code.name])
        # and the deal still takes a good quote
        q = self.stubs.bto.CreateQuote(lc.bto.CreateQuoteRequest(
            quote=lc.bto.Quote(deal=r["deal"], valid_until=lc.days_ahead(10),
                               lines=[lc.bto.QuoteLine(product=r["products"]["A"], quantity=1)]),
            request_id=lc.new_id())).quote
        self.assertEqual(q.state, lc.bto.QUOTE_STATE_DRAFT)


if __name__ == "__main__":
    h.main()
