#!/usr/bin/python3
"""Standard Update methods through the gateway (AIP-134 update_mask, AIP-154 etag): UpdateLead, UpdateOpportunity,
UpdateProduct. Only the masked fields change; an empty mask or "*" writes every updatable field; a mask path that is
unknown, output only or immutable is INVALID_ARGUMENT naming update_mask; a stale etag is ABORTED ETAG_MISMATCH; state
fields never change; the resource's own state rules hold (NEW leads, open opportunities); requests are idempotent by
request_id; a refused update leaves the row as it was (its version in the database is unchanged)."""

import sys
import uuid
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import grpc  # noqa: E402
from google.protobuf import field_mask_pb2  # noqa: E402

import harness as h  # noqa: E402
from harness import lc  # noqa: E402

C = grpc.StatusCode


def mask(*paths):
    return field_mask_pb2.FieldMask(paths=list(paths))


def new_lead(stubs, **kw):
    """A NEW lead of a party of its own (company name, e-mail and phone of its own: CreateLead refuses a lead that
    matches a customer or a NEW lead, DUPLICATE_LEAD, and these leads stay NEW)."""
    u = uuid.uuid4().hex[:8]
    base = dict(source=lc.ltb.LEAD_SOURCE_EVENT, company_name=f"Update Co {u}", contact_name="Li Lei",
                contact_email=f"li.lei.{u}@update.example", contact_phone=h.lead_to_cash.unique_phone())
    base.update(kw)
    return stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lc.ltb.Lead(**base), request_id=lc.new_id())).lead


def lead_version(name):
    return h.sql_int("SELECT version FROM ltb.leads WHERE id = :'id'", id=lc.name_id(name))


def opp_version(name):
    return h.sql_int("SELECT version FROM ltb.opportunities WHERE id = :'id'", id=lc.name_id(name))


def product_version(name):
    return h.sql_int("SELECT version FROM bto.products WHERE id = :'id'", id=lc.name_id(name))


class UpdateLeadTest(h.StackTestCase):
    def update(self, lead, paths=None, request_id=None):
        return self.stubs.ltb.UpdateLead(lc.ltb.UpdateLeadRequest(
            lead=lead, update_mask=None if paths is None else mask(*paths), request_id=request_id or lc.new_id())).lead

    def test_masked_field_only(self):
        lead = new_lead(self.stubs)
        got = self.update(lc.ltb.Lead(name=lead.name, contact_phone="+86 21 9999", contact_name="not written",
                                      company_name="", etag=lead.etag), ["contact_phone"])
        self.assertEqual(got.contact_phone, "+86 21 9999")
        self.assertEqual((got.contact_name, got.company_name, got.contact_email),
                         (lead.contact_name, lead.company_name, lead.contact_email))
        self.assertNotEqual(got.etag, lead.etag)
        self.assertEqual(got.state, lc.ltb.LEAD_STATE_NEW)
        self.assertEqual(got.create_time, lead.create_time)
        self.assertGreaterEqual(got.update_time.ToMicroseconds(), lead.update_time.ToMicroseconds())
        self.assertEqual(self.stubs.ltb.GetLead(lc.ltb.GetLeadRequest(name=lead.name)).lead, got)

    def test_empty_mask_writes_every_updatable_field(self):
        for paths in (None, [], ["*"]):
            with self.subTest(paths=paths):
                lead = new_lead(self.stubs)
                got = self.update(lc.ltb.Lead(name=lead.name, company_name="Renamed Ltd", contact_name="Han Meimei",
                                              source=lc.ltb.LEAD_SOURCE_PARTNER), paths)
                self.assertEqual((got.company_name, got.contact_name, got.contact_email, got.contact_phone),
                                 ("Renamed Ltd", "Han Meimei", "", ""))   # the unset ones are cleared
                self.assertEqual(got.source, lead.source)                  # immutable, not written

    def test_empty_mask_still_requires_company_name(self):
        lead = new_lead(self.stubs)
        before = lead_version(lead.name)
        d = h.expect_error(lambda: self.update(lc.ltb.Lead(name=lead.name, contact_name="x"), []), C.INVALID_ARGUMENT)
        self.assertDetails(d, reason="INVALID_ARGUMENT", fields=["lead.company_name"])
        self.assertEqual(lead_version(lead.name), before)

    def test_bad_mask_paths(self):
        lead = new_lead(self.stubs)
        before = lead_version(lead.name)
        for path in ("state", "name", "etag", "create_time", "update_time", "opportunity", "disqualify_reason",
                     "source", "no_such_field", "contact_name.first", "CompanyName", ""):
            with self.subTest(path=path):
                d = h.expect_error(lambda: self.update(lc.ltb.Lead(name=lead.name, contact_name="x"),
                                                       ["contact_name", path]), C.INVALID_ARGUMENT)
                self.assertDetails(d, reason="INVALID_ARGUMENT", fields=["update_mask"])
                self.assertIn(path, d.violations[0][1])
        self.assertEqual(lead_version(lead.name), before)
        self.assertEqual(self.stubs.ltb.GetLead(lc.ltb.GetLeadRequest(name=lead.name)).lead.contact_name,
                         lead.contact_name)

    def test_all_bad_fields_reported(self):
        lead = new_lead(self.stubs)
        d = h.expect_error(lambda: self.update(lc.ltb.Lead(name=lead.name, contact_email="no-at-sign",
                                                           contact_phone="9" * 41), ["contact_email", "contact_phone",
                                                                                     "state"]),
                           C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["update_mask", "lead.contact_email", "lead.contact_phone"])

    def test_fields_outside_the_mask_are_not_validated(self):
        lead = new_lead(self.stubs)
        got = self.update(lc.ltb.Lead(name=lead.name, contact_name="Zhou", contact_phone="9" * 500),
                          ["contact_name"])
        self.assertEqual((got.contact_name, got.contact_phone), ("Zhou", lead.contact_phone))

    def test_stale_etag_aborted(self):
        lead = new_lead(self.stubs)
        fresh = self.update(lc.ltb.Lead(name=lead.name, contact_name="first", etag=lead.etag), ["contact_name"])
        before = lead_version(lead.name)
        d = h.expect_error(lambda: self.update(lc.ltb.Lead(name=lead.name, contact_name="second", etag=lead.etag),
                                               ["contact_name"]), C.ABORTED)
        self.assertDetails(d, reason="ETAG_MISMATCH")
        self.assertEqual(lead_version(lead.name), before)
        got = self.update(lc.ltb.Lead(name=lead.name, contact_name="second", etag=fresh.etag), ["contact_name"])
        self.assertEqual(got.contact_name, "second")
        # no etag: no check
        got = self.update(lc.ltb.Lead(name=lead.name, contact_name="third"), ["contact_name"])
        self.assertEqual(got.contact_name, "third")

    def test_only_new_leads(self):
        deal = h.new_deal(self.stubs)
        deal.run_until("qualify")
        lead = self.stubs.ltb.GetLead(lc.ltb.GetLeadRequest(name=deal.r["lead"])).lead
        d = h.expect_error(lambda: self.update(lc.ltb.Lead(name=lead.name, contact_name="late"), ["contact_name"]),
                           C.FAILED_PRECONDITION)
        self.assertDetails(d, reason="LEAD_NOT_NEW")
        self.assertEqual(self.stubs.ltb.GetLead(lc.ltb.GetLeadRequest(name=lead.name)).lead, lead)

    def test_state_never_written(self):
        lead = new_lead(self.stubs)
        got = self.update(lc.ltb.Lead(name=lead.name, contact_name="x", state=lc.ltb.LEAD_STATE_DISQUALIFIED,
                                      disqualify_reason="sneaky", opportunity="opportunities/" + lc.new_id()),
                          ["contact_name"])
        self.assertEqual((got.state, got.disqualify_reason, got.opportunity), (lc.ltb.LEAD_STATE_NEW, "", ""))

    def test_not_found_and_bad_name(self):
        d = h.expect_error(lambda: self.update(lc.ltb.Lead(name="leads/" + lc.new_id(), contact_name="x"),
                                               ["contact_name"]), C.NOT_FOUND)
        self.assertDetails(d, reason="LEAD_NOT_FOUND")
        for bad in ("", "leads/42", "bids/" + lc.new_id()):
            with self.subTest(name=bad):
                d = h.expect_error(lambda: self.update(lc.ltb.Lead(name=bad, contact_name="x"), ["contact_name"]),
                                   C.INVALID_ARGUMENT)
                self.assertDetails(d, fields=["lead.name"])
        d = h.expect_error(lambda: self.stubs.ltb.UpdateLead(lc.ltb.UpdateLeadRequest(request_id=lc.new_id())),
                           C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["lead"])

    def test_idempotent_by_request_id(self):
        lead = new_lead(self.stubs)
        rid = lc.new_id()
        req = lc.ltb.Lead(name=lead.name, contact_name="once", etag=lead.etag)
        first = self.update(req, ["contact_name"], request_id=rid)
        second = self.update(req, ["contact_name"], request_id=rid)   # the etag is stale now: still the first answer
        self.assertEqual(first, second)
        self.assertEqual(lead_version(lead.name), int(first.etag, 16))
        d = h.expect_error(lambda: self.update(lc.ltb.Lead(name=lead.name, contact_name="twice"), ["contact_name"],
                                               request_id=rid), C.ALREADY_EXISTS)
        self.assertDetails(d, reason="IDEMPOTENCY_KEY_REUSED")


class UpdateOpportunityTest(h.StackTestCase):
    def qualified(self):
        deal = h.new_deal(self.stubs)
        deal.run_until("qualify")
        return self.stubs.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=deal.r["opportunity"])).opportunity

    def update(self, opp, paths=None, request_id=None):
        return self.stubs.ltb.UpdateOpportunity(lc.ltb.UpdateOpportunityRequest(
            opportunity=opp, update_mask=None if paths is None else mask(*paths),
            request_id=request_id or lc.new_id())).opportunity

    def test_masked_fields(self):
        o = self.qualified()
        got = self.update(lc.ltb.Opportunity(name=o.name, title="Bigger sorting line", win_probability_bps=7500,
                                             expected_amount=lc.money(750000_00), etag=o.etag),
                          ["title", "win_probability_bps", "expected_amount"])
        self.assertEqual((got.title, got.win_probability_bps, lc.to_minor(got.expected_amount)),
                         ("Bigger sorting line", 7500, 750000_00))
        self.assertEqual(got.expected_close_date, o.expected_close_date)
        self.assertEqual((got.stage, got.iron_triangle, list(got.requirements), list(got.stage_history)),
                         (o.stage, o.iron_triangle, list(o.requirements), list(o.stage_history)))
        self.assertNotEqual(got.etag, o.etag)

    def test_clear_close_date(self):
        o = self.qualified()
        self.assertTrue(o.HasField("expected_close_date"))
        got = self.update(lc.ltb.Opportunity(name=o.name), ["expected_close_date"])
        self.assertFalse(got.HasField("expected_close_date"))
        got = self.update(lc.ltb.Opportunity(name=o.name, expected_close_date=lc.days_ahead(90)),
                          ["expected_close_date"])
        self.assertEqual(lc.fmt_date(got.expected_close_date), lc.fmt_date(lc.days_ahead(90)))

    def test_bad_values_and_paths(self):
        o = self.qualified()
        before = opp_version(o.name)
        d = h.expect_error(lambda: self.update(lc.ltb.Opportunity(
            name=o.name, title="", win_probability_bps=10001, expected_amount=lc.money(-5)),
            ["title", "win_probability_bps", "expected_amount", "stage"]), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["update_mask", "opportunity.title", "opportunity.win_probability_bps",
                                      "opportunity.expected_amount"])
        for path in ("stage", "iron_triangle", "requirements", "lead", "deal", "won_bid", "collected_amount",
                     "stage_history", "customer_name", "expected_amount.units", "nope"):
            with self.subTest(path=path):
                d = h.expect_error(lambda: self.update(lc.ltb.Opportunity(name=o.name, title="t"), [path]),
                                   C.INVALID_ARGUMENT)
                self.assertDetails(d, fields=["update_mask"])
        d = h.expect_error(lambda: self.update(lc.ltb.Opportunity(name=o.name, expected_amount=lc.money(5, "USD")),
                                               ["expected_amount"]), C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["opportunity.expected_amount.currency_code"])
        self.assertEqual(opp_version(o.name), before)

    def test_stale_etag(self):
        o = self.qualified()
        self.update(lc.ltb.Opportunity(name=o.name, title="v2", etag=o.etag), ["title"])
        d = h.expect_error(lambda: self.update(lc.ltb.Opportunity(name=o.name, title="v3", etag=o.etag), ["title"]),
                           C.ABORTED)
        self.assertDetails(d, reason="ETAG_MISMATCH")
        self.assertEqual(self.stubs.ltb.GetOpportunity(lc.ltb.GetOpportunityRequest(name=o.name)).opportunity.title,
                         "v2")

    def test_bidding_ok_won_refused(self):
        deal = h.new_deal(self.stubs)
        deal.run_until("create_bid")
        got = self.update(lc.ltb.Opportunity(name=deal.r["opportunity"], win_probability_bps=9000),
                          ["win_probability_bps"])
        self.assertEqual((got.stage, got.win_probability_bps), (lc.ltb.OPPORTUNITY_STAGE_BIDDING, 9000))
        deal.run_until("mark_won")
        before = opp_version(deal.r["opportunity"])
        d = h.expect_error(lambda: self.update(lc.ltb.Opportunity(name=deal.r["opportunity"], title="after"),
                                               ["title"]), C.FAILED_PRECONDITION)
        self.assertDetails(d, reason="OPPORTUNITY_CLOSED")
        self.assertEqual(opp_version(deal.r["opportunity"]), before)

    def test_not_found(self):
        d = h.expect_error(lambda: self.update(lc.ltb.Opportunity(name="opportunities/" + lc.new_id(), title="x"),
                                               ["title"]), C.NOT_FOUND)
        self.assertDetails(d, reason="OPPORTUNITY_NOT_FOUND")


class UpdateProductTest(h.StackTestCase):
    def product(self, **kw):
        base = dict(sku=f"UPD-{uuid.uuid4().hex[:10]}", display_name="Conveyor belt", list_price=lc.money(10000),
                    unit_cost=lc.money(6000), lead_time_days=5)
        base.update(kw)
        return self.stubs.bto.CreateProduct(lc.bto.CreateProductRequest(product=lc.bto.Product(**base),
                                                                        request_id=lc.new_id())).product

    def update(self, p, paths=None, request_id=None):
        return self.stubs.bto.UpdateProduct(lc.bto.UpdateProductRequest(
            product=p, update_mask=None if paths is None else mask(*paths),
            request_id=request_id or lc.new_id())).product

    def test_new_product_has_etag(self):
        p = self.product()
        self.assertTrue(p.etag)
        self.assertEqual(p.update_time, p.create_time)
        self.assertEqual(self.stubs.bto.GetProduct(lc.bto.GetProductRequest(name=p.name)).product, p)

    def test_masked_fields(self):
        p = self.product()
        got = self.update(lc.bto.Product(name=p.name, display_name="Conveyor belt, 2 m", lead_time_days=12,
                                         sku="IGNORED", etag=p.etag), ["display_name", "lead_time_days"])
        self.assertEqual((got.display_name, got.lead_time_days, got.sku), ("Conveyor belt, 2 m", 12, p.sku))
        self.assertEqual((got.list_price, got.unit_cost), (p.list_price, p.unit_cost))
        self.assertNotEqual(got.etag, p.etag)

    def test_prices_and_currency(self):
        p = self.product()
        got = self.update(lc.bto.Product(name=p.name, list_price=lc.money(12000)), ["list_price"])
        self.assertEqual((lc.to_minor(got.list_price), lc.to_minor(got.unit_cost)), (12000, 6000))
        before = product_version(p.name)
        for paths, prod, field in (
                (["list_price"], lc.bto.Product(name=p.name, list_price=lc.money(100, "USD")), "product.list_price"),
                (["unit_cost"], lc.bto.Product(name=p.name, unit_cost=lc.money(100, "USD")), "product.unit_cost"),
                (["list_price", "unit_cost"], lc.bto.Product(name=p.name, list_price=lc.money(100, "USD"),
                                                             unit_cost=lc.money(50, "EUR")), "product.unit_cost"),
                (["list_price"], lc.bto.Product(name=p.name, list_price=lc.money(0)), "product.list_price"),
                (["list_price"], lc.bto.Product(name=p.name, list_price=lc.money(-100)), "product.list_price"),
                (["unit_cost"], lc.bto.Product(name=p.name, unit_cost=lc.money(-1)), "product.unit_cost"),
                (["lead_time_days"], lc.bto.Product(name=p.name, lead_time_days=-1), "product.lead_time_days"),
                (["display_name"], lc.bto.Product(name=p.name, display_name="x" * 201), "product.display_name")):
            with self.subTest(paths=paths, field=field):
                d = h.expect_error(lambda: self.update(prod, paths), C.INVALID_ARGUMENT)
                self.assertDetails(d, fields=[field])
        self.assertEqual(product_version(p.name), before)
        got = self.update(lc.bto.Product(name=p.name, list_price=lc.money(100, "USD"), unit_cost=lc.money(40, "USD")),
                          ["list_price", "unit_cost"])
        self.assertEqual((got.list_price.currency_code, got.unit_cost.currency_code), ("USD", "USD"))

    def test_bad_paths(self):
        p = self.product()
        for path in ("sku", "name", "etag", "create_time", "update_time", "list_price.units", "price"):
            with self.subTest(path=path):
                d = h.expect_error(lambda: self.update(lc.bto.Product(name=p.name, display_name="n"), [path]),
                                   C.INVALID_ARGUMENT)
                self.assertDetails(d, fields=["update_mask"])

    def test_empty_mask(self):
        p = self.product()
        got = self.update(lc.bto.Product(name=p.name, display_name="Everything", list_price=lc.money(2000)), [])
        self.assertEqual((got.display_name, lc.to_minor(got.list_price), lc.to_minor(got.unit_cost),
                          got.lead_time_days), ("Everything", 2000, 0, 0))
        d = h.expect_error(lambda: self.update(lc.bto.Product(name=p.name, display_name="no price"), []),
                           C.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["product.list_price"])

    def test_stale_etag_and_not_found(self):
        p = self.product()
        self.update(lc.bto.Product(name=p.name, display_name="a", etag=p.etag), ["display_name"])
        d = h.expect_error(lambda: self.update(lc.bto.Product(name=p.name, display_name="b", etag=p.etag),
                                               ["display_name"]), C.ABORTED)
        self.assertDetails(d, reason="ETAG_MISMATCH")
        d = h.expect_error(lambda: self.update(lc.bto.Product(name="products/" + lc.new_id(), display_name="b"),
                                               ["display_name"]), C.NOT_FOUND)
        self.assertDetails(d, reason="PRODUCT_NOT_FOUND")

    def test_priced_quotes_keep_their_prices(self):
        deal = h.new_deal(self.stubs)
        deal.run_until("create_quote")
        a = deal.r["products"]["A"]
        q0 = self.stubs.bto.GetQuote(lc.bto.GetQuoteRequest(name=deal.r["quote"])).quote
        self.update(lc.bto.Product(name=a, list_price=lc.money(999999)), ["list_price"])
        q1 = self.stubs.bto.GetQuote(lc.bto.GetQuoteRequest(name=deal.r["quote"])).quote
        self.assertEqual(q0, q1)
        q2 = self.stubs.bto.CreateQuote(lc.bto.CreateQuoteRequest(
            quote=lc.bto.Quote(deal=deal.r["deal"], valid_until=lc.days_ahead(10),
                               lines=[lc.bto.QuoteLine(product=a, quantity=1)]), request_id=lc.new_id())).quote
        self.assertEqual(lc.to_minor(q2.lines[0].unit_list_price), 999999)


if __name__ == "__main__":
    h.main()
