#!/usr/bin/python3
"""lead_to_cash - drives one deal from lead to cash through the gateway, printing each stage as it happens.

    /usr/bin/python3 tests/clients/python/lead_to_cash.py --target 127.0.0.1:50051 [--quiet]

LTB: lead (a party of its own: company name, e-mail and phone of this run), qualification (iron triangle,
     requirements; the customer is created from the lead), order admission (credit, compliance, margin: ADMITTED),
     bid, won -> hand-off to BTO.
BTO: deal received, two products, a quote (one line discounted), accepted, contract (30% advance, 60% on
     acceptance, 10% retention), signed, order -> hand-off to OTD.
OTD: order received, a new resource (so that the review's capacity check finds one), reviewed (configuration,
     capacity, terms: every check passed), released, scheduled (promise date), shipped in two parts, each accepted ->
     hand-off to DTC.
DTC: invoices raised by the payment terms, each paid (the first in two parts) -> closure handed back to BTO and LTB.
Ends with the opportunity CASH_COLLECTED, the BTO order and contract CLOSED and the DTC order account CLOSED.

Exits 0 on success, 1 with a clear message on any failure or timeout (30 s per wait). Importable:
`run_deal(stubs, log=print) -> dict` (used by the integration tests), and the `Deal` class whose steps can be run
one at a time to bring a deal to a given stage.
"""

import argparse
import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import grpc  # noqa: E402

import ltc_client as lc  # noqa: E402

WAIT_S = 30.0
CURRENCY = "CNY"

# The catalogue of the demo: (suffix, display name, list price, unit cost, lead time days) in minor units.
PRODUCT_A = ("A", "Sorting robot arm", 123456, 80000, 20)
PRODUCT_B = ("B", "Vision kit", 50000, 30000, 10)
QTY_A, QTY_B = 3, 2
DISCOUNT_B_BPS = 1000            # 10% off product B: 500.00 -> 450.00, exact
EXPECTED_MARGIN_BPS = 2500       # the deal's expected margin (25%), above the admission policy's default minimum 10%
CUSTOMER_COUNTRY = "CN"          # the customer QualifyLead creates from the lead
PAYMENT_TERMS = (("PAYMENT_TERM_KIND_ADVANCE", 3000, 0),
                 ("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 6000, 30),
                 ("PAYMENT_TERM_KIND_RETENTION", 1000, 365))


class DealFailure(Exception):
    """A stage returned something the contract does not allow."""


def expected_total():
    """The quote total the catalogue and discounts above must give, in minor units."""
    unit_b = PRODUCT_B[2] - PRODUCT_B[2] * DISCOUNT_B_BPS // 10000
    return PRODUCT_A[2] * QTY_A + unit_b * QTY_B


def unique_phone():
    """A mobile number of its own in international form, "+86 13x xxxx xxxx" (E.164 +8613xxxxxxxxx): each lead is a
    party of its own, and CreateLead refuses a lead whose phone matches a customer or NEW lead (DUPLICATE_LEAD)."""
    n = uuid.uuid4().int % 1_000_000_000
    return f"+86 13{n // 100_000_000} {n // 10_000 % 10_000:04d} {n % 10_000:04d}"


def _enum_name(enum_type, value):
    try:
        return enum_type.Name(value)
    except ValueError:
        return str(value)


class Deal:
    """One deal driven through the gateway. Each step checks what the contract promises and records what it saw in
    `self.r` (names, amounts in minor units, states by stage)."""

    def __init__(self, stubs, log=print, run_id=None, wait_s=WAIT_S):
        self.s = stubs
        self.log = log or (lambda *_: None)
        self.run = run_id or uuid.uuid4().hex[:8]
        self.wait_s = wait_s
        self.r = {"run": self.run, "currency": CURRENCY, "states": {}, "expected_total": expected_total()}
        self._next = 0          # index in STEPS of the next step to run

    # --- helpers ---------------------------------------------------------------------------------------------

    def _say(self, stage, text):
        self.log(f"{stage:<4} {text}")

    def _check(self, cond, what):
        if not cond:
            raise DealFailure(what)

    def _state(self, key, enum_type, value, want=None):
        name = _enum_name(enum_type, value)
        self.r["states"][key] = name
        if want is not None:
            self._check(name == want, f"{key}: state {name}, expected {want}")
        return name

    def _minor(self, m, what):
        try:
            return lc.to_minor(m, CURRENCY)
        except ValueError as e:
            raise DealFailure(f"{what}: {e}") from None

    def _wait(self, fn, what):
        return lc.wait_for(fn, self.wait_s, what=what)

    # --- LTB -------------------------------------------------------------------------------------------------

    def create_lead(self):
        req = lc.ltb.CreateLeadRequest(
            lead=lc.ltb.Lead(source=lc.ltb.LEAD_SOURCE_REFERRAL, company_name=f"Huaxin Logistics {self.run}",
                             contact_name="Wang Fang", contact_email=f"wang.fang+{self.run}@huaxin.example",
                             contact_phone=unique_phone()),
            request_id=lc.new_id())
        lead = self.s.ltb.CreateLead(req).lead
        self._check(lead.name.startswith("leads/"), f"lead name {lead.name!r}")
        self._state("lead_created", lc.ltb.LeadState, lead.state, "LEAD_STATE_NEW")
        self.r["lead"] = lead.name
        self.r["customer_name"] = lead.company_name
        self._say("LTB", f"lead {lead.name} created ({lead.company_name}, {lead.contact_phone})")
        return lead

    def qualify(self):
        self.r["iron_triangle"] = ("ar.li.na", "sr.zhang.wei", "fr.chen.jie")
        ar, sr, fr = self.r["iron_triangle"]
        req = lc.ltb.QualifyLeadRequest(
            name=self.r["lead"], opportunity_title="Warehouse sorting line",
            iron_triangle=lc.types.IronTriangle(account_owner=ar, solution_owner=sr, fulfilment_owner=fr),
            expected_amount=lc.money(500000_00, CURRENCY), expected_close_date=lc.days_ahead(45),
            win_probability_bps=6000,
            requirements=[lc.ltb.Requirement(code="THROUGHPUT", description="3 sorting cells, 1200 parcels/hour",
                                             quantity=3),
                          lc.ltb.Requirement(code="VISION", description="barcode and damage detection", quantity=2)],
            customer_country_code=CUSTOMER_COUNTRY, customer_billing_currency=CURRENCY, request_id=lc.new_id())
        resp = self.s.ltb.QualifyLead(req)
        self._state("lead_qualified", lc.ltb.LeadState, resp.lead.state, "LEAD_STATE_QUALIFIED")
        opp = resp.opportunity
        self._state("opportunity_qualified", lc.ltb.OpportunityStage, opp.stage, "OPPORTUNITY_STAGE_QUALIFIED")
        self._check(opp.name.startswith("opportunities/"), f"opportunity name {opp.name!r}")
        self._check(resp.lead.opportunity == opp.name, f"lead.opportunity {resp.lead.opportunity!r} != {opp.name}")
        self._check(opp.deal == "deals/" + lc.name_id(opp.name), f"opportunity.deal {opp.deal!r} is not deals/<id>")
        self._check(len(opp.requirements) == 2, f"opportunity has {len(opp.requirements)} requirements, expected 2")
        self._check(opp.customer.startswith("customers/"), f"opportunity.customer {opp.customer!r}")
        self._check(resp.lead.customer == opp.customer, f"lead.customer {resp.lead.customer!r} != {opp.customer}")
        self.r["opportunity"] = opp.name
        self.r["deal"] = "deals/" + lc.name_id(opp.name)
        self.r["customer"] = opp.customer
        self._say("LTB", f"lead qualified -> opportunity {opp.name} (AR {ar}, SR {sr}, FR {fr}), "
                         f"customer {opp.customer}")
        return resp

    def admit(self):
        """The order-admission gate (docs/credit.md): credit (DTC), compliance, margin; the bid needs ADMITTED."""
        amount = expected_total()
        resp = self.s.ltb.RequestOrderAdmission(lc.ltb.RequestOrderAdmissionRequest(
            opportunity=self.r["opportunity"], amount=lc.money(amount, CURRENCY),
            expected_margin_bps=EXPECTED_MARGIN_BPS, request_id=lc.new_id()))
        d = resp.decision
        self._check(d.name.startswith(self.r["opportunity"] + "/admissionDecisions/"), f"decision name {d.name!r}")
        failed = [f"{_enum_name(lc.ltb.AdmissionCheck, c.check)}: {','.join(c.reasons)}" for c in d.checks
                  if not c.passed]
        self._state("admission", lc.ltb.AdmissionOutcome, d.outcome, "ADMISSION_OUTCOME_ADMITTED")
        self._check(not failed, f"admitted with failed checks {failed}")
        self._check(self._minor(d.admitted_amount, "decision.admitted_amount") == amount,
                    f"admitted amount {lc.fmt_money(d.admitted_amount)}, asked {lc.fmt_minor(amount, CURRENCY)}")
        self._check(resp.opportunity.admission.name == d.name,
                    f"opportunity.admission {resp.opportunity.admission.name!r} != {d.name}")
        self.r["admission"] = d.name
        self.r["admitted_amount"] = amount
        checks = ", ".join(_enum_name(lc.ltb.AdmissionCheck, c.check)[len("ADMISSION_CHECK_"):].lower()
                           for c in d.checks)
        self._say("LTB", f"order admission ADMITTED for {lc.fmt_money(d.admitted_amount)} ({checks} passed; "
                         f"margin {d.expected_margin_bps / 100:.2f}% >= {d.minimum_margin_bps / 100:.2f}%)")
        return d

    def create_bid(self):
        amount = expected_total()
        bid = self.s.ltb.CreateBid(lc.ltb.CreateBidRequest(
            bid=lc.ltb.Bid(opportunity=self.r["opportunity"], amount=lc.money(amount, CURRENCY)),
            request_id=lc.new_id())).bid
        self._check(bid.name.startswith("bids/"), f"bid name {bid.name!r}")
        self._state("bid_created", lc.ltb.BidState, bid.state, "BID_STATE_SUBMITTED")
        self.r["bid"] = bid.name
        self.r["bid_amount"] = self._minor(bid.amount, "bid.amount")
        self._check(self.r["bid_amount"] == amount, f"bid amount {self.r['bid_amount']} != {amount} sent")
        opp = self.s.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=self.r["opportunity"])).opportunity
        self._state("opportunity_bidding", lc.ltb.OpportunityStage, opp.stage, "OPPORTUNITY_STAGE_BIDDING")
        self._say("LTB", f"bid {bid.name} submitted for {lc.fmt_money(bid.amount)}")
        return bid

    def mark_won(self):
        resp = self.s.ltb.MarkBidWon(lc.ltb.MarkBidWonRequest(name=self.r["bid"], request_id=lc.new_id()))
        self._state("bid_won", lc.ltb.BidState, resp.bid.state, "BID_STATE_WON")
        self._state("opportunity_won", lc.ltb.OpportunityStage, resp.opportunity.stage, "OPPORTUNITY_STAGE_WON")
        self._check(resp.opportunity.won_bid == self.r["bid"],
                    f"opportunity.won_bid {resp.opportunity.won_bid!r} != {self.r['bid']}")
        self._say("LTB", "bid won -> handed to BTO")
        return resp

    # --- BTO -------------------------------------------------------------------------------------------------

    def get_bto_deal(self):
        return self.s.bto.GetDeal(lc.bto.GetDealRequest(name=self.r["deal"])).deal

    def wait_bto_deal(self):
        deal = self._wait(self.get_bto_deal, f"BTO to receive {self.r['deal']}")
        self._state("bto_deal_received", lc.bto.DealState, deal.state, "DEAL_STATE_OPEN")
        self._check(deal.opportunity == self.r["opportunity"], f"deal.opportunity {deal.opportunity!r}")
        self._check(deal.bid == self.r["bid"], f"deal.bid {deal.bid!r}")
        self._check(deal.customer_name == self.r["customer_name"], f"deal.customer_name {deal.customer_name!r}")
        self._check(deal.customer.customer == self.r["customer"],
                    f"deal.customer {deal.customer.customer!r} != {self.r['customer']}")
        t = deal.iron_triangle
        self._check((t.account_owner, t.solution_owner, t.fulfilment_owner) == self.r["iron_triangle"],
                    f"deal.iron_triangle {t}")
        self._check(len(deal.requirements) == 2, f"deal has {len(deal.requirements)} requirements, expected 2")
        self.r["bto_deal_amount"] = self._minor(deal.expected_amount, "deal.expected_amount")
        self._check(self.r["bto_deal_amount"] == self.r["bid_amount"],
                    f"BTO deal amount {self.r['bto_deal_amount']} != bid amount {self.r['bid_amount']}")
        self._say("BTO", f"deal received (hand-off) {deal.name}, {lc.fmt_money(deal.expected_amount)}")
        return deal

    def create_products(self):
        self.r["products"] = {}
        for suffix, title, price, cost, lead_days in (PRODUCT_A, PRODUCT_B):
            sku = f"LTC-{self.run}-{suffix}"
            p = self.s.bto.CreateProduct(lc.bto.CreateProductRequest(
                product=lc.bto.Product(sku=sku, display_name=title, list_price=lc.money(price, CURRENCY),
                                       unit_cost=lc.money(cost, CURRENCY), lead_time_days=lead_days),
                request_id=lc.new_id())).product
            self._check(p.name.startswith("products/") and p.sku == sku, f"product {p.name!r} sku {p.sku!r}")
            self._check(self._minor(p.list_price, "product.list_price") == price, f"product list price {p.list_price}")
            self.r["products"][suffix] = p.name
            self.r.setdefault("skus", {})[p.name] = sku
            self._say("BTO", f"product {sku} {p.name} at {lc.fmt_money(p.list_price)}")

    def create_quote(self):
        a, b = self.r["products"]["A"], self.r["products"]["B"]
        q = self.s.bto.CreateQuote(lc.bto.CreateQuoteRequest(
            quote=lc.bto.Quote(deal=self.r["deal"], valid_until=lc.days_ahead(30),
                               lines=[lc.bto.QuoteLine(product=a, quantity=QTY_A),
                                      lc.bto.QuoteLine(product=b, quantity=QTY_B, discount_bps=DISCOUNT_B_BPS)]),
            request_id=lc.new_id())).quote
        self._check(q.name.startswith("quotes/"), f"quote name {q.name!r}")
        self._state("quote_created", lc.bto.QuoteState, q.state, "QUOTE_STATE_DRAFT")
        self._check(q.version >= 1, f"quote version {q.version}")
        self._check(len(q.lines) == 2, f"quote has {len(q.lines)} lines")
        line_sum = 0
        for i, ln in enumerate(q.lines):
            unit = self._minor(ln.unit_price, f"quote.lines[{i}].unit_price")
            total = self._minor(ln.line_total, f"quote.lines[{i}].line_total")
            self._check(total == unit * ln.quantity, f"quote line {i}: {ln.quantity} x {unit} != {total}")
            line_sum += total
        self.r["quote"] = q.name
        self.r["quote_total"] = self._minor(q.total, "quote.total")
        self.r["quote_lines"] = [(ln.product, ln.quantity, self._minor(ln.unit_price, "unit_price"),
                                  self._minor(ln.line_total, "line_total")) for ln in q.lines]
        self._check(self.r["quote_total"] == line_sum, f"quote total {self.r['quote_total']} != lines {line_sum}")
        self._say("BTO", f"quote {q.name} v{q.version}: {len(q.lines)} lines, total {lc.fmt_money(q.total)}")
        return q

    def accept_quote(self):
        q = self.s.bto.AcceptQuote(lc.bto.AcceptQuoteRequest(name=self.r["quote"], request_id=lc.new_id())).quote
        self._state("quote_accepted", lc.bto.QuoteState, q.state, "QUOTE_STATE_ACCEPTED")
        self._say("BTO", "quote accepted")
        return q

    def create_contract(self):
        terms = [lc.types.PaymentTerm(kind=lc.types.PaymentTermKind.Value(k), share_bps=bps, due_days=days)
                 for k, bps, days in PAYMENT_TERMS]
        c = self.s.bto.CreateContract(lc.bto.CreateContractRequest(
            contract=lc.bto.Contract(quote=self.r["quote"], payment_terms=terms,
                                     requested_delivery_date=lc.days_ahead(60)),
            request_id=lc.new_id())).contract
        self._check(c.name.startswith("contracts/"), f"contract name {c.name!r}")
        self._state("contract_created", lc.bto.ContractState, c.state, "CONTRACT_STATE_DRAFT")
        self._check(c.deal == self.r["deal"], f"contract.deal {c.deal!r} != {self.r['deal']}")
        self._check(len(c.payment_terms) == 3, f"contract has {len(c.payment_terms)} payment terms")
        self.r["contract"] = c.name
        self.r["contract_total"] = self._minor(c.total, "contract.total")
        self._say("BTO", f"contract {c.name} drafted: 30% advance, 60% on acceptance (30 d), 10% retention (365 d)")
        return c

    def sign_contract(self):
        c = self.s.bto.SignContract(lc.bto.SignContractRequest(name=self.r["contract"], signed_by="Zhao Min",
                                                               request_id=lc.new_id())).contract
        self._state("contract_signed", lc.bto.ContractState, c.state, "CONTRACT_STATE_SIGNED")
        self._say("BTO", f"contract signed by {c.signed_by}")
        return c

    def create_order(self):
        o = self.s.bto.CreateOrder(lc.bto.CreateOrderRequest(contract=self.r["contract"],
                                                             request_id=lc.new_id())).order
        self._check(o.name.startswith("orders/"), f"order name {o.name!r}")
        self._state("bto_order_placed", lc.bto.OrderState, o.state, "ORDER_STATE_PLACED")
        self._check(o.contract == self.r["contract"], f"order.contract {o.contract!r}")
        self._check(o.deal == self.r["deal"], f"order.deal {o.deal!r}")
        self.r["order"] = o.name
        self.r["order_total"] = self._minor(o.total, "order.total")
        self.r["order_lines"] = [(ln.product, ln.quantity) for ln in o.lines]
        d = self.get_bto_deal()
        self._state("bto_deal_ordered", lc.bto.DealState, d.state)
        self._say("BTO", f"order {o.name} placed, {lc.fmt_money(o.total)} -> handed to OTD")
        return o

    # --- OTD -------------------------------------------------------------------------------------------------

    def get_otd_order(self):
        return self.s.otd.GetOrder(lc.otd.GetOrderRequest(name=self.r["order"])).order

    def wait_otd_order(self):
        o = self._wait(self.get_otd_order, f"OTD to receive {self.r['order']}")
        self._state("otd_order_received", lc.otd.OrderState, o.state, "ORDER_STATE_RECEIVED")
        self._check(o.contract == self.r["contract"] and o.deal == self.r["deal"],
                    f"OTD order contract/deal {o.contract!r} {o.deal!r}")
        self._check(o.customer.customer == self.r["customer"],
                    f"OTD order.customer {o.customer.customer!r} != {self.r['customer']}")
        self.r["otd_order_total"] = self._minor(o.total, "otd order.total")
        self._check(self.r["otd_order_total"] == self.r["order_total"],
                    f"OTD order total {self.r['otd_order_total']} != BTO {self.r['order_total']}")
        self._check(len(o.payment_terms) == 3, f"OTD order has {len(o.payment_terms)} payment terms")
        self._say("OTD", f"order received (hand-off) {o.name}, {len(o.lines)} lines")
        return o

    def review(self):
        o = self.s.otd.ReviewOrder(lc.otd.ReviewOrderRequest(name=self.r["order"], approved=True,
                                                             comment="configuration, credit, capacity, terms ok",
                                                             request_id=lc.new_id())).order
        self._state("otd_order_reviewed", lc.otd.OrderState, o.state, "ORDER_STATE_REVIEWED")
        self._say("OTD", "order reviewed: approved")
        return o

    def release(self):
        o = self.s.otd.ReleaseOrder(lc.otd.ReleaseOrderRequest(name=self.r["order"], request_id=lc.new_id())).order
        self._state("otd_order_released", lc.otd.OrderState, o.state, "ORDER_STATE_RELEASED")
        self._say("OTD", "order released to production")
        return o

    def create_resource(self):
        res = self.s.otd.CreateResource(lc.otd.CreateResourceRequest(
            resource=lc.otd.Resource(display_name=f"Assembly line {self.run}", daily_capacity=10),
            request_id=lc.new_id())).resource
        self._check(res.name.startswith("resources/"), f"resource name {res.name!r}")
        self.r["resource"] = res.name
        self._say("OTD", f"resource {res.name} ({res.display_name}, {res.daily_capacity}/day)")
        return res

    def schedule(self):
        o = self.s.otd.ScheduleOrder(lc.otd.ScheduleOrderRequest(name=self.r["order"], request_id=lc.new_id())).order
        self._state("otd_order_scheduled", lc.otd.OrderState, o.state, "ORDER_STATE_SCHEDULED")
        self._check(o.promise_date.year > 0, "scheduled order has no promise date")
        self.r["promise_date"] = lc.fmt_date(o.promise_date)
        self.r["late"] = o.late
        self._say("OTD", f"order scheduled: promise date {self.r['promise_date']}"
                         f" (requested {lc.fmt_date(o.requested_delivery_date)}{', LATE' if o.late else ''})")
        return o

    def ship(self, lines, key):
        sh = self.s.otd.CreateShipment(lc.otd.CreateShipmentRequest(
            shipment=lc.otd.Shipment(order=self.r["order"],
                                     lines=[lc.otd.ShipmentLine(product=p, quantity=q) for p, q in lines]),
            request_id=lc.new_id())).shipment
        self._check(sh.name.startswith("shipments/"), f"shipment name {sh.name!r}")
        self._state(f"{key}_created", lc.otd.ShipmentState, sh.state, "SHIPMENT_STATE_SHIPPED")
        amount = self._minor(sh.amount, "shipment.amount")
        self.r.setdefault("shipments", []).append((sh.name, amount))
        self._say("OTD", f"shipment {sh.name} shipped: "
                         + ", ".join(f"{q} x {self.r['skus'].get(p, p)}" for p, q in lines)
                         + f", {lc.fmt_money(sh.amount)}")
        return sh

    def accept(self, shipment, key, want_order_state):
        resp = self.s.otd.RecordAcceptance(lc.otd.RecordAcceptanceRequest(
            name=shipment, accepted=True, note="inspected on site, accepted", request_id=lc.new_id()))
        self._state(f"{key}_accepted", lc.otd.ShipmentState, resp.shipment.state, "SHIPMENT_STATE_ACCEPTED")
        st = self._state(f"otd_order_after_{key}", lc.otd.OrderState, resp.order.state, want_order_state)
        self._say("OTD", f"shipment accepted by the customer (order {st[len('ORDER_STATE_'):]}) -> handed to DTC")
        return resp

    def ship_and_accept(self):
        a, b = self.r["products"]["A"], self.r["products"]["B"]
        s1 = self.ship([(a, 2)], "shipment1")
        self._state("otd_order_after_shipment1_created", lc.otd.OrderState, self.get_otd_order().state,
                    "ORDER_STATE_PARTIALLY_SHIPPED")
        self.accept(s1.name, "shipment1", "ORDER_STATE_PARTIALLY_SHIPPED")
        s2 = self.ship([(a, QTY_A - 2), (b, QTY_B)], "shipment2")
        self.accept(s2.name, "shipment2", "ORDER_STATE_CLOSED")
        total_shipped = sum(amt for _, amt in self.r["shipments"])
        self._check(total_shipped == self.r["order_total"],
                    f"shipments total {total_shipped} != order total {self.r['order_total']}")

    # --- DTC -------------------------------------------------------------------------------------------------

    def list_invoices(self):
        out, token = [], ""
        while True:
            resp = self.s.dtc.ListInvoices(lc.dtc.ListInvoicesRequest(order=self.r["order"], page_size=500,
                                                                      page_token=token))
            out.extend(resp.invoices)
            token = resp.next_page_token
            if not token:
                return out

    def get_account(self):
        name = "orderAccounts/" + lc.name_id(self.r["order"])
        return self.s.dtc.GetOrderAccount(lc.dtc.GetOrderAccountRequest(name=name)).order_account

    def wait_invoices(self):
        total = self.r["order_total"]

        def ready():
            acct = self.get_account()
            invs = self.list_invoices()
            s = sum(self._minor(i.amount, "invoice.amount") for i in invs)
            return (acct, invs) if s == total else None

        acct, invs = self._wait(ready, f"DTC invoices of {self.r['order']} to add up to {lc.fmt_minor(total)}")
        self._state("dtc_account_invoiced", lc.dtc.OrderAccountState, acct.state, "ORDER_ACCOUNT_STATE_OPEN")
        for i in invs:
            self._check(i.order == self.r["order"], f"invoice {i.name} of order {i.order!r}")
            self._check(i.state == lc.dtc.INVOICE_STATE_UNPAID, f"invoice {i.name} is {i.state}")
        self.r["invoices"] = [(i.name, _enum_name(lc.types.PaymentTermKind, i.term_kind),
                               self._minor(i.amount, "invoice.amount"), lc.fmt_date(i.due_date)) for i in invs]
        self.r["invoice_total"] = sum(x[2] for x in self.r["invoices"])
        self.r["dtc_order_total"] = self._minor(acct.order_total, "order_account.order_total")
        self._check(acct.customer.customer == self.r["customer"],
                    f"DTC order_account.customer {acct.customer.customer!r} != {self.r['customer']}")
        for name, kind, amount, due in self.r["invoices"]:
            self._say("DTC", f"invoice {name} {kind[len('PAYMENT_TERM_KIND_'):]} {lc.fmt_minor(amount)} due {due}")
        self._say("DTC", f"{len(invs)} invoices raised (hand-offs), total {lc.fmt_minor(self.r['invoice_total'])}")
        return invs

    def pay(self, invoice, amount, ref):
        resp = self.s.dtc.RecordPayment(lc.dtc.RecordPaymentRequest(
            payment=lc.dtc.Payment(invoice=invoice, amount=lc.money(amount, CURRENCY), reference=ref),
            request_id=lc.new_id()))
        self._check(resp.payment.name.startswith("payments/"), f"payment name {resp.payment.name!r}")
        self.r.setdefault("payments", []).append((resp.payment.name, invoice, amount))
        return resp

    def pay_all(self):
        for n, (inv, _kind, amount, _due) in enumerate(self.r["invoices"]):
            if n == 0 and amount >= 2:
                first = amount // 2
                resp = self.pay(inv, first, f"BANK-{self.run}-{n}a")
                self._check(resp.invoice.state == lc.dtc.INVOICE_STATE_PARTLY_PAID,
                            f"invoice {inv} after a part payment is {resp.invoice.state}")
                self._say("DTC", f"payment {lc.fmt_minor(first)} on {inv} (part 1/2, invoice PARTLY_PAID)")
                resp = self.pay(inv, amount - first, f"BANK-{self.run}-{n}b")
                self._say("DTC", f"payment {lc.fmt_minor(amount - first)} on {inv} (part 2/2)")
            else:
                resp = self.pay(inv, amount, f"BANK-{self.run}-{n}")
                self._say("DTC", f"payment {lc.fmt_minor(amount)} on {inv}")
            self._check(resp.invoice.state == lc.dtc.INVOICE_STATE_PAID, f"invoice {inv} not PAID after payment")
        self.r["paid_total"] = sum(p[2] for p in self.r["payments"])
        self.r["dtc_paid_amount"] = self._minor(resp.order_account.paid_amount, "order_account.paid_amount")
        self._state("dtc_account_after_last_payment", lc.dtc.OrderAccountState, resp.order_account.state)

    def wait_closure(self):
        def account_closed():
            a = self.get_account()
            return a if a.state == lc.dtc.ORDER_ACCOUNT_STATE_CLOSED else None

        acct = self._wait(account_closed, "the DTC order account to close")
        self._state("dtc_account_final", lc.dtc.OrderAccountState, acct.state, "ORDER_ACCOUNT_STATE_CLOSED")
        self._say("DTC", "order account CLOSED -> closure handed to BTO and LTB")

        def opp_collected():
            o = self.s.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=self.r["opportunity"])).opportunity
            return o if o.stage == lc.ltb.OPPORTUNITY_STAGE_CASH_COLLECTED else None

        opp = self._wait(opp_collected, f"opportunity {self.r['opportunity']} to reach CASH_COLLECTED")
        self._state("opportunity_final", lc.ltb.OpportunityStage, opp.stage, "OPPORTUNITY_STAGE_CASH_COLLECTED")
        self.r["ltb_collected"] = self._minor(opp.collected_amount, "opportunity.collected_amount")
        self.r["stage_history"] = [_enum_name(lc.ltb.OpportunityStage, h.stage) for h in opp.stage_history]
        self._say("LTB", f"opportunity CASH_COLLECTED: {lc.fmt_money(opp.collected_amount)}")

        def order_closed():
            o = self.s.bto.GetOrder(lc.bto.GetOrderRequest(name=self.r["order"])).order
            return o if o.state == lc.bto.ORDER_STATE_CLOSED else None

        o = self._wait(order_closed, f"BTO order {self.r['order']} to close")
        self._state("bto_order_final", lc.bto.OrderState, o.state, "ORDER_STATE_CLOSED")
        self.r["bto_collected"] = self._minor(o.collected_amount, "order.collected_amount")

        def contract_closed():
            c = self.s.bto.GetContract(lc.bto.GetContractRequest(name=self.r["contract"])).contract
            return c if c.state == lc.bto.CONTRACT_STATE_CLOSED else None

        c = self._wait(contract_closed, f"BTO contract {self.r['contract']} to close")
        self._state("bto_contract_final", lc.bto.ContractState, c.state, "CONTRACT_STATE_CLOSED")
        self._state("bto_deal_final", lc.bto.DealState, self.get_bto_deal().state)
        self._say("BTO", f"order CLOSED ({lc.fmt_money(o.collected_amount)} collected), contract CLOSED")

    # --- the whole flow --------------------------------------------------------------------------------------

    STEPS = ("create_lead", "qualify", "admit", "create_bid", "mark_won", "wait_bto_deal", "create_products",
             "create_quote", "accept_quote", "create_contract", "sign_contract", "create_order", "wait_otd_order",
             "create_resource", "review", "release", "schedule", "ship_and_accept", "wait_invoices", "pay_all",
             "wait_closure")

    def run_until(self, last_step):
        """Runs the steps not yet run, in order, up to and including `last_step`."""
        stop = self.STEPS.index(last_step)
        while self._next <= stop:
            step = self.STEPS[self._next]
            getattr(self, step)()
            self._next += 1
        return self.r

    def run_all(self):
        return self.run_until(self.STEPS[-1])


class PeopleDeal(Deal):
    """A Deal with each step run by the person who does it in an LTC organisation, each with a token of their own:
    the account owner (sales), the solution owner (solution: quotes, and the catalogue), the fulfilment owner, and
    finance for payments. `connect(subject, roles)` returns Stubs authenticated as that person."""

    TRIANGLE = ("ar.li.na", "sr.zhang.wei", "fr.chen.jie")
    PEOPLE = {"ar": ("ar.li.na", "sales"), "sr": ("sr.zhang.wei", "solution"), "fr": ("fr.chen.jie", "fulfilment"),
              "fin": ("fin.zhao.min", "finance")}
    ACTOR = {
        "create_lead": "ar", "qualify": "ar", "admit": "ar", "create_bid": "ar", "mark_won": "ar",
        "wait_bto_deal": "ar",
        "create_products": "sr", "create_quote": "sr", "accept_quote": "ar", "create_contract": "ar",
        "sign_contract": "ar", "create_order": "ar", "wait_otd_order": "fr", "review": "fr", "release": "fr",
        "create_resource": "fr", "schedule": "fr", "ship_and_accept": "fr", "wait_invoices": "fin",
        "pay_all": "fin", "wait_closure": "ar",
    }

    def __init__(self, connect, log=print, **kw):
        self.people = {k: connect(sub, role) for k, (sub, role) in self.PEOPLE.items()}
        super().__init__(self.people["ar"], log=log, **kw)

    def run_until(self, last_step):
        stop = self.STEPS.index(last_step)
        while self._next <= stop:
            step = self.STEPS[self._next]
            self.s = self.people[self.ACTOR[step]]
            getattr(self, step)()
            self._next += 1
        return self.r

    def close(self):
        for stubs in self.people.values():
            stubs.close()


def run_deal(stubs, log=print):
    """Drives one deal from lead to cash; returns the names, amounts (minor units) and states seen.
    Raises DealFailure, lc.WaitTimeout or grpc.RpcError on failure."""
    return Deal(stubs, log=log).run_all()


def summary_lines(r):
    cur = r["currency"]
    return [
        f"DEAL {r['deal']} ({r['customer_name']})",
        f"  LTB  customer {r['customer']}; admission {r['admission']}: "
        f"{r['states']['admission'][len('ADMISSION_OUTCOME_'):]} for {lc.fmt_minor(r['admitted_amount'], cur)}",
        f"  LTB  opportunity {r['opportunity']}: {r['states'].get('opportunity_final')}, collected "
        f"{lc.fmt_minor(r['ltb_collected'], cur)}",
        f"  BTO  order {r['order']}: {r['states'].get('bto_order_final')}, collected "
        f"{lc.fmt_minor(r['bto_collected'], cur)}; contract {r['contract']}: {r['states'].get('bto_contract_final')}",
        f"  OTD  promise date {r['promise_date']}, {len(r['shipments'])} shipments accepted",
        f"  DTC  order account {r['states'].get('dtc_account_final')}: {len(r['invoices'])} invoices "
        f"{lc.fmt_minor(r['invoice_total'], cur)}, {len(r['payments'])} payments {lc.fmt_minor(r['paid_total'], cur)}",
        f"  amounts: bid {lc.fmt_minor(r['bid_amount'], cur)}, quote {lc.fmt_minor(r['quote_total'], cur)}, "
        f"order {lc.fmt_minor(r['order_total'], cur)}",
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description="Drive one deal from lead to cash through the LTC gateway.")
    default_target = os.environ.get("LTC_GATEWAY_TARGET") or \
        f"127.0.0.1:{50051 + int(os.environ.get('LTC_PORT_OFFSET') or 0)}"
    ap.add_argument("--target", default=default_target,
                    help="gateway address HOST:PORT (default $LTC_GATEWAY_TARGET, else 127.0.0.1:50051 shifted by "
                         "$LTC_PORT_OFFSET)")
    ap.add_argument("--quiet", action="store_true", help="print only the final state")
    ap.add_argument("--ca-file", default=os.environ.get("LTC_CA_FILE"),
                    help="CA certificate of the gateway's TLS (default $LTC_CA_FILE; none: plaintext)")
    ap.add_argument("--token", default=os.environ.get("LTC_TOKEN"),
                    help="bearer token for the gateway (default $LTC_TOKEN)")
    ap.add_argument("--token-command",
                    help="run the deal as its people, each with a token printed by this command given SUBJECT ROLES "
                         "(e.g. 'scripts/stack token'); instead of --token")
    args = ap.parse_args(argv)
    log = (lambda *_: None) if args.quiet else (lambda line: print(line, flush=True))
    deal = None
    try:
        if args.token_command:
            def connect(subject, roles):
                tok = subprocess.run(shlex.split(args.token_command) + [subject, roles], check=True,
                                     capture_output=True, text=True).stdout.strip()
                return lc.Stubs(args.target, ca_file=args.ca_file, token=tok)
            deal = PeopleDeal(connect, log=log)
            for key, (sub, role) in PeopleDeal.PEOPLE.items():
                log(f"     {sub} ({role}) signs in with a token of their own")
            try:
                r = deal.run_all()
            finally:
                deal.close()
        else:
            with lc.Stubs(args.target, ca_file=args.ca_file, token=args.token) as stubs:
                deal = Deal(stubs, log=log)
                r = deal.run_all()
    except (DealFailure, lc.WaitTimeout, grpc.RpcError, subprocess.CalledProcessError) as e:
        where = f" (deal {deal.r.get('deal', '-')}, run {deal.run})" if deal else ""
        print(f"FAILED{where}: {lc.describe_error(e)}", file=sys.stderr)
        return 1
    for line in summary_lines(r):
        print(line)
    print("OK: lead to cash complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
