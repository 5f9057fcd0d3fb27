#!/usr/bin/python3
"""LTB's customer master through the gateway on the plaintext stack (docs/credit.md, "Customers", "Matching rules",
"Merging"): the SQL normalisation on the documented examples, duplicates refused with the matches named in the
ErrorInfo metadata, "a different party" (distinct_from), FindDuplicateCustomers' reasons, ListCustomers' filters and
pages, UpdateCustomer's mask and etag, a merge and its tombstone, and QualifyLead creating the customer from its lead.
Block and unblock need two people: tests/integration/test_customers_credit.py (secure stack) covers them."""

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
RUN = uuid.uuid4().hex[:8]


def mask(*paths):
    return field_mask_pb2.FieldMask(paths=list(paths))


def phone():
    return f"021 6{uuid.uuid4().int % 10_000_000:07d}"


def matches(d):
    return [x for x in d.error_info.metadata.get("matches", "").split(",") if x]


class CustomersTest(h.StackTestCase):
    def create(self, legal_name, distinct_from=(), **kw):
        contact = lc.ltb.Contact(display_name="Li Wei", email=kw.pop("email", f"li.{uuid.uuid4().hex[:6]}@c-{RUN}.example"),
                                 phone=kw.pop("phone", phone()), title="Buyer")
        c = lc.ltb.Customer(legal_name=legal_name, country_code=kw.pop("country_code", "CN"), billing_currency="CNY",
                            account_owner="sales.li", contacts=[contact], **kw)
        return self.stubs.ltb.CreateCustomer(lc.ltb.CreateCustomerRequest(
            customer=c, request_id=lc.new_id(), distinct_from=list(distinct_from))).customer

    def test_normalisation_examples_of_the_design(self):
        def one(q, **p):
            # "|" after the value: psql prints nothing for an empty result, which sql() would drop
            return h.sql(q.replace("SELECT normalize_", "SELECT ltb.normalize_") + " || '|'", **p)[0][0][:-1]
        for name in ("Huaxin Logistics Co., Ltd.", "HUAXIN LOGISTICS LTD", "Huaxin-Logistics", "ＨＵＡＸＩＮ Logistics Inc"):
            self.assertEqual(one("SELECT normalize_company_name(:'n')", n=name), "huaxinlogistics", name)
        self.assertEqual(one("SELECT normalize_company_name(:'n')", n="上海华信物流有限公司"), "上海华信物流")
        self.assertEqual(one("SELECT normalize_company_name(:'n')", n="上海华信物流股份有限公司"), "上海华信物流")
        self.assertEqual(one("SELECT normalize_company_name(:'n')", n="Company Ltd"), "companyltd")
        self.assertEqual(one("SELECT normalize_email(:'e')", e=" Wang.Fang@Huaxin.Example "), "wang.fang@huaxin.example")
        for p, region in (("021-5555-0100", "CN"), ("+86 21 5555 0100", ""), ("0086 21 55550100", "US"),
                          ("+86 (21) 5555-0100 ext 12", "")):
            self.assertEqual(one("SELECT normalize_phone(:'p', :'r')", p=p, r=region), "+862155550100", p)
        self.assertEqual(one("SELECT normalize_phone(:'p', :'r')", p="(415) 555-0100", r="US"), "+14155550100")
        self.assertEqual(one("SELECT normalize_phone(:'p', :'r')", p="021-5555-0100", r=""), "")
        self.assertEqual(one("SELECT normalize_phone(:'p', :'r')", p="12", r="CN"), "")
        self.assertEqual(one("SELECT normalize_tax_id(:'t')", t="91310000-ma1fl"), "91310000MA1FL")

    def test_duplicates_distinct_parties_and_reasons(self):
        tel = phone()
        first = self.create(f"Dup {RUN} Trading Co., Ltd.", phone=tel, tax_id=f"TX-{RUN}")
        self.assertEqual(first.normalized_name, f"dup{RUN}trading")
        self.assertEqual(first.contacts[0].normalized_phone, "+8621" + tel.replace(" ", "")[3:])
        self.assertTrue(first.etag)
        # name, tax id (same country), phone: each alone is a match
        for kw in (dict(legal_name=f"DUP-{RUN.upper()} TRADING LIMITED"), dict(legal_name=f"Other {RUN}", tax_id=f"tx{RUN}"),
                   dict(legal_name=f"Third {RUN}", phone="+86 21 " + tel[4:])):
            d = h.expect_error(lambda: self.create(kw.pop("legal_name"), **kw), C.ALREADY_EXISTS)
            self.assertEqual(d.reason, "DUPLICATE_CUSTOMER")
            self.assertEqual(matches(d), [first.name])
        # the same tax id in another country is another party
        self.create(f"Abroad {RUN}", tax_id=f"TX-{RUN}", country_code="DE")
        # a different party, confirmed
        second = self.create(f"Dup {RUN} Trading GmbH", distinct_from=[first.name])
        self.assertEqual(second.normalized_name, first.normalized_name)
        # the probe finds both, each once with its reasons, customers first
        found = self.stubs.ltb.FindDuplicateCustomers(lc.ltb.FindDuplicateCustomersRequest(
            company_name=f"dup {RUN} trading", phone="+86 21 " + tel[4:])).matches
        by = {m.customer: {(r.field, r.normalized_value) for r in m.reasons} for m in found}
        self.assertEqual(by[first.name], {(lc.ltb.MATCH_FIELD_COMPANY_NAME, f"dup{RUN}trading"),
                                          (lc.ltb.MATCH_FIELD_PHONE, first.contacts[0].normalized_phone)})
        self.assertEqual(by[second.name], {(lc.ltb.MATCH_FIELD_COMPANY_NAME, f"dup{RUN}trading")})
        # a lead of the company is a duplicate of both customers, unless it names its customer
        lead = lc.ltb.Lead(source=lc.ltb.LEAD_SOURCE_INBOUND, company_name=f"DUP {RUN} TRADING")
        d = h.expect_error(lambda: self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lead, request_id=lc.new_id())),
                           C.ALREADY_EXISTS)
        self.assertEqual((d.reason, sorted(matches(d))), ("DUPLICATE_LEAD", sorted([first.name, second.name])))
        lead.customer = first.name
        d = h.expect_error(lambda: self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lead, request_id=lc.new_id())),
                           C.ALREADY_EXISTS)
        self.assertEqual(matches(d), [second.name])
        got = self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lead, request_id=lc.new_id(),
                                                                 distinct_from=[second.name])).lead
        self.assertEqual((got.customer, got.normalized_company_name), (first.name, f"dup{RUN}trading"))
        # bad names in distinct_from
        d = h.expect_error(lambda: self.create(f"Bad {RUN}", distinct_from=["deals/x"]), C.INVALID_ARGUMENT)
        self.assertIn("distinct_from[0]", d.fields)

    def test_list_update_and_merge(self):
        a = self.create(f"Listme {RUN} Alpha Ltd")
        b = self.create(f"Listme {RUN} Beta Ltd")
        c = self.create(f"Listme {RUN} Gamma Ltd")
        page = self.stubs.ltb.ListCustomers(lc.ltb.ListCustomersRequest(name_contains=f"LISTME {RUN}", page_size=2))
        self.assertEqual([x.name for x in page.customers], [a.name, b.name])
        self.assertTrue(page.next_page_token)
        rest = self.stubs.ltb.ListCustomers(lc.ltb.ListCustomersRequest(name_contains=f"listme {RUN}", page_size=2,
                                                                        page_token=page.next_page_token))
        self.assertEqual([x.name for x in rest.customers], [c.name])
        self.assertEqual(rest.next_page_token, "")
        self.assertEqual(len(self.stubs.ltb.ListCustomers(lc.ltb.ListCustomersRequest(
            name_contains=f"listme {RUN}", account_owner="nobody")).customers), 0)
        # update: the masked field only; a stale etag is refused; output-only paths are refused
        up = self.stubs.ltb.UpdateCustomer(lc.ltb.UpdateCustomerRequest(customer=lc.ltb.Customer(
            name=a.name, account_owner="sales.wang", legal_name="ignored", etag=a.etag),
            update_mask=mask("account_owner"), request_id=lc.new_id())).customer
        self.assertEqual((up.account_owner, up.legal_name), ("sales.wang", a.legal_name))
        d = h.expect_error(lambda: self.stubs.ltb.UpdateCustomer(lc.ltb.UpdateCustomerRequest(customer=lc.ltb.Customer(
            name=a.name, account_owner="x", etag=a.etag), update_mask=mask("account_owner"), request_id=lc.new_id())),
            C.ABORTED)
        self.assertEqual(d.reason, "ETAG_MISMATCH")
        d = h.expect_error(lambda: self.stubs.ltb.UpdateCustomer(lc.ltb.UpdateCustomerRequest(customer=lc.ltb.Customer(
            name=a.name), update_mask=mask("normalized_name"), request_id=lc.new_id())), C.INVALID_ARGUMENT)
        self.assertIn("update_mask", d.fields)
        # renaming b to a's name is a duplicate
        d = h.expect_error(lambda: self.stubs.ltb.UpdateCustomer(lc.ltb.UpdateCustomerRequest(customer=lc.ltb.Customer(
            name=b.name, legal_name=a.legal_name.upper()), update_mask=mask("legal_name"), request_id=lc.new_id())),
            C.ALREADY_EXISTS)
        self.assertEqual((d.reason, matches(d)), ("DUPLICATE_CUSTOMER", [a.name]))
        # merge c into a: tombstone, writes to it refused, merge of itself refused
        resp = self.stubs.ltb.MergeCustomers(lc.ltb.MergeCustomersRequest(survivor=a.name, merged=c.name,
                                                                          reason="same party", request_id=lc.new_id()))
        self.assertEqual((resp.merged.state, resp.merged.merged_into), (lc.ltb.CUSTOMER_STATE_MERGED, a.name))
        self.assertEqual(len(resp.survivor.contacts), 2)
        tomb = self.stubs.ltb.GetCustomer(lc.ltb.GetCustomerRequest(name=c.name)).customer
        self.assertEqual(tomb.merged_into, a.name)
        d = h.expect_error(lambda: self.stubs.ltb.UpdateCustomer(lc.ltb.UpdateCustomerRequest(customer=lc.ltb.Customer(
            name=c.name, account_owner="x"), update_mask=mask("account_owner"), request_id=lc.new_id())),
            C.FAILED_PRECONDITION)
        self.assertEqual(d.reason, "CUSTOMER_MERGED")
        d = h.expect_error(lambda: self.stubs.ltb.MergeCustomers(lc.ltb.MergeCustomersRequest(
            survivor=a.name, merged=a.name, reason="x", request_id=lc.new_id())), C.INVALID_ARGUMENT)
        merged = self.stubs.ltb.ListCustomers(lc.ltb.ListCustomersRequest(name_contains=f"listme {RUN}",
                                                                          state=lc.ltb.CUSTOMER_STATE_MERGED))
        self.assertEqual([x.name for x in merged.customers], [c.name])
        d = h.expect_error(lambda: self.stubs.ltb.GetCustomer(lc.ltb.GetCustomerRequest(
            name="customers/" + str(uuid.uuid4()))), C.NOT_FOUND)
        self.assertEqual(d.reason, "CUSTOMER_NOT_FOUND")

    def test_qualify_links_or_creates_the_customer(self):
        tri = lc.types.IronTriangle(account_owner="sales.li", solution_owner="sol.wu", fulfilment_owner="ful.he")
        lead = self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lc.ltb.Lead(
            source=lc.ltb.LEAD_SOURCE_EVENT, company_name=f"Fresh {RUN} Co., Ltd.", contact_name="Zhao Min",
            contact_email=f"zm@fresh-{RUN}.example", contact_phone="+86 " + phone()[1:]), request_id=lc.new_id())).lead
        self.assertEqual(lead.customer, "")
        d = h.expect_error(lambda: self.stubs.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(
            name=lead.name, opportunity_title="t", iron_triangle=tri, expected_amount=lc.money(100_00, "USD"),
            request_id=lc.new_id())), C.INVALID_ARGUMENT)
        self.assertIn("customer_country_code", d.fields)
        q = self.stubs.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(
            name=lead.name, opportunity_title="t", iron_triangle=tri, expected_amount=lc.money(100_00, "USD"),
            customer_country_code="SG", request_id=lc.new_id()))
        cust = self.stubs.ltb.GetCustomer(lc.ltb.GetCustomerRequest(name=q.lead.customer)).customer
        self.assertEqual(q.opportunity.customer, cust.name)
        self.assertEqual((cust.legal_name, cust.country_code, cust.billing_currency, cust.account_owner),
                         (f"Fresh {RUN} Co., Ltd.", "SG", "USD", "sales.li"))
        self.assertEqual(cust.contacts[0].display_name, "Zhao Min")
        opps = self.stubs.ltb.ListOpportunities(lc.ltb.ListOpportunitiesRequest(customer=cust.name)).opportunities
        self.assertEqual([o.name for o in opps], [q.opportunity.name])
        # a second lead of that company links to the existing customer when named
        lead2 = self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=lc.ltb.Lead(
            source=lc.ltb.LEAD_SOURCE_EVENT, company_name=f"FRESH {RUN}", customer=cust.name),
            request_id=lc.new_id())).lead
        q2 = self.stubs.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(
            name=lead2.name, opportunity_title="t2", iron_triangle=tri, expected_amount=lc.money(5_00, "USD"),
            request_id=lc.new_id()))
        self.assertEqual(q2.opportunity.customer, cust.name)
        leads = self.stubs.ltb.ListLeads(lc.ltb.ListLeadsRequest(customer=cust.name)).leads
        self.assertEqual(sorted(x.name for x in leads), sorted([lead.name, lead2.name]))


if __name__ == "__main__":
    h.main()
