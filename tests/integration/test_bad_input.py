#!/usr/bin/python3
"""Bad input through the gateway: every case gets a clear status (code, and the google.rpc.Status details when our
code decided) and leaves nothing stored: the row counts of every table of the four service schemas (idempotency keys
and outboxes included) are the same before and after. The processes keep serving afterwards.

- truncated or garbage protobuf bytes: INVALID_ARGUMENT MALFORMED_REQUEST; bytes that are not UTF-8 in a string:
  INVALID_ARGUMENT naming the field;
- unknown enum numbers (99, -1, the int32 extremes): INVALID_ARGUMENT naming the field;
- a message over LTC_MAX_MESSAGE_BYTES (4 MiB by default): RESOURCE_EXHAUSTED MESSAGE_TOO_LARGE (gRPC itself cuts
  only messages more than 64 KiB over); a message under it with a string far over its documented length:
  INVALID_ARGUMENT;
- strings over their documented length (counted in characters, not bytes), request_id over 128 characters;
- negative (or zero where positive is documented) quantities, amounts, capacities, shares, days, probabilities;
  money whose units and nanos disagree in sign or whose nanos are out of range;
- unknown fields (proto3): ignored; the resource is stored as without them, reads return no unknown fields, and a
  retry with the same request_id but without them is the same request."""

import sys
import uuid
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import grpc  # noqa: E402

import harness as h  # noqa: E402
from harness import lc  # noqa: E402

C = grpc.StatusCode
SCHEMAS = ("ltb", "bto", "otd", "dtc")
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
CREATE_LEAD = "/ltc.ltb.v1.LeadToBidService/CreateLead"


def rid():
    return lc.new_id()


def fake(collection):
    return f"{collection}/{lc.new_id()}"


def triangle():
    return lc.types.IronTriangle(account_owner="ar", solution_owner="sr", fulfilment_owner="fr")


def money(units, nanos=0, currency="CNY"):
    return lc.types.Money(currency_code=currency, units=units, nanos=nanos)


def good_lead(**kw):
    base = dict(source=lc.ltb.LEAD_SOURCE_WEBSITE, company_name=f"Bad Input Co {uuid.uuid4().hex[:8]}")
    base.update(kw)
    return lc.ltb.Lead(**base)


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, wire_type, payload):
    """One encoded field: payload is an int for varints, bytes for length-delimited."""
    key = varint(number << 3 | wire_type)
    if wire_type == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


class BadInputTest(h.StackTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        h.wait_until(cls._quiet, timeout=60, what="every outbox to have no pending hand-off")
        tables = h.sql("SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('ltb', 'bto', 'otd', 'dtc') "
                       "ORDER BY 1, 2")
        cls.count_sql = " UNION ALL ".join(f"SELECT '{s}.{t}', count(*) FROM \"{s}\".\"{t}\"" for s, t in tables)

    @staticmethod
    def _quiet():
        return all(h.sql_int(f"SELECT count(*) FROM {s}.outbox WHERE delivered_time IS NULL AND parked_time IS NULL")
                   == 0 for s in SCHEMAS)

    def counts(self):
        return {name: int(n) for name, n in h.sql(self.count_sql)}

    def refused(self, call, code, fields=(), reason=None, details=True):
        """Runs call(), which must fail with `code` (details checked unless details=False) and store nothing."""
        before = self.counts()
        d = h.expect_error(call, code)
        if details:
            self.assertDetails(d, code=code, reason=reason, fields=fields)
        after = self.counts()
        changed = {k: v - before.get(k, 0) for k, v in after.items() if before.get(k) != v}
        # the audit trail records a refused write (one row in the stage that refused it), nothing else may change
        audited = sum(changed.pop(k) for k in [k for k in changed if k.endswith(".audit_log")])
        self.assertIn(audited, (0, 1), f"a refused request wrote {audited} audit rows: {d}")
        self.assertEqual(changed, {}, f"a refused request changed row counts: {d}")
        return d

    def tearDown(self):
        # whatever was sent, every process still answers
        for name in h.PROCESSES:
            h.wait_ready(name, timeout=10)

    # --- bytes that are not the request message -----------------------------------------------------------------

    def test_truncated_and_garbage_bytes(self):
        good = lc.ltb.CreateLeadRequest(lead=good_lead(contact_email="t@bad.example"), request_id=rid())
        raw = good.SerializeToString()
        cases = {
            "truncated in a length": raw[:1],
            "truncated in a nested string": raw[:-3],
            "truncated in a varint": field(2, 2, rid().encode())[:1] + b"\x80",
            "0xff bytes": b"\xff" * 32,
            "length beyond the end": b"\x0a\x7f\x10\x01",
            "wrong wire type for a message": b"\x08\x01",
            "wrong wire type for a string": field(1, 2, field(3, 0, 5)),
            "group wire type": b"\x0b\x0c",
            "field number 0": b"\x00\x01",
            "varint of 11 bytes": b"\x10" + b"\xff" * 10 + b"\x01",
        }
        for what, data in cases.items():
            with self.subTest(case=what):
                self.refused(lambda: self.stubs.call_raw(CREATE_LEAD, data), C.INVALID_ARGUMENT,
                             reason="MALFORMED_REQUEST")
        # the same through every public service
        for method in ("/ltc.bto.v1.BidToOrderService/CreateQuote", "/ltc.otd.v1.OrderToDeliveryService/CreateShipment",
                       "/ltc.dtc.v1.DeliveryToCashService/RecordPayment", "/ltc.ltb.v1.LeadToBidService/UpdateLead"):
            with self.subTest(method=method):
                self.refused(lambda: self.stubs.call_raw(method, b"\x0a\x05\x0a\x03ab"), C.INVALID_ARGUMENT,
                             reason="MALFORMED_REQUEST")

    def test_string_that_is_not_utf8(self):
        lead = field(2, 0, 1) + field(3, 2, b"Bad \xff\xfe Co")
        data = field(1, 2, lead) + field(2, 2, rid().encode())
        self.refused(lambda: self.stubs.call_raw(CREATE_LEAD, data), C.INVALID_ARGUMENT,
                     fields=["lead.company_name"])

    # --- enums --------------------------------------------------------------------------------------------------

    def test_unknown_enum_values(self):
        for value in (99, 8, -1, 2**31 - 1, -2**31):
            with self.subTest(source=value):
                self.refused(lambda: self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(
                    lead=good_lead(source=value), request_id=rid())), C.INVALID_ARGUMENT, fields=["lead.source"])
        for value in (99, 6, -1):   # 6: the first number after MILESTONE (5)
            with self.subTest(payment_term_kind=value):
                self.refused(lambda: self.stubs.bto.CreateContract(lc.bto.CreateContractRequest(
                    contract=lc.bto.Contract(quote=fake("quotes"), requested_delivery_date=lc.days_ahead(30),
                                             payment_terms=[lc.types.PaymentTerm(kind=value, share_bps=10000)]),
                    request_id=rid())), C.INVALID_ARGUMENT, fields=["contract.payment_terms[0].kind"])

    # --- size ---------------------------------------------------------------------------------------------------

    def test_message_over_the_limit(self):
        big = lc.ltb.CreateLeadRequest(lead=good_lead(company_name="x" * (MAX_MESSAGE_BYTES + 100)),
                                       request_id=rid()).SerializeToString()
        self.assertGreater(len(big), MAX_MESSAGE_BYTES)
        for name in ("gateway", "ltb"):
            with self.subTest(process=name):
                ch = grpc.insecure_channel(h.target(name))
                try:
                    d = self.refused(lambda: lc.call_raw(ch, CREATE_LEAD, big), C.RESOURCE_EXHAUSTED, details=False)
                finally:
                    ch.close()
                # just over the limit: our own refusal, with details
                self.assertIsNotNone(d.status, "no error details")
                self.assertEqual(d.reason, "MESSAGE_TOO_LARGE", str(d))

    def test_large_message_under_the_limit_with_a_huge_string(self):
        self.refused(lambda: self.stubs.ltb.CreateLead(lc.ltb.CreateLeadRequest(
            lead=good_lead(company_name="y" * (3 * 1024 * 1024)), request_id=rid())),
            C.INVALID_ARGUMENT, fields=["lead.company_name"])

    # --- strings over their documented length -------------------------------------------------------------------

    def test_strings_over_their_length(self):
        s, n = self.stubs, fake
        long_email = "a" * 243 + "@example.com"                    # 255 characters, well formed
        self.assertEqual(len(long_email), 255)
        cases = [
            ("lead.company_name", lambda: s.ltb.CreateLead(lc.ltb.CreateLeadRequest(
                lead=good_lead(company_name="华" * 201), request_id=rid()))),
            ("lead.contact_name", lambda: s.ltb.CreateLead(lc.ltb.CreateLeadRequest(
                lead=good_lead(contact_name="n" * 201), request_id=rid()))),
            ("lead.contact_email", lambda: s.ltb.CreateLead(lc.ltb.CreateLeadRequest(
                lead=good_lead(contact_email=long_email), request_id=rid()))),
            ("lead.contact_phone", lambda: s.ltb.CreateLead(lc.ltb.CreateLeadRequest(
                lead=good_lead(contact_phone="1" * 41), request_id=rid()))),
            ("request_id", lambda: s.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=good_lead(), request_id="r" * 129))),
            ("reason", lambda: s.ltb.DisqualifyLead(lc.ltb.DisqualifyLeadRequest(
                name=n("leads"), reason="r" * 501, request_id=rid()))),
            ("opportunity_title", lambda: s.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(
                name=n("leads"), opportunity_title="t" * 201, iron_triangle=triangle(), expected_amount=money(1),
                request_id=rid()))),
            ("iron_triangle.account_owner", lambda: s.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(
                name=n("leads"), opportunity_title="t", expected_amount=money(1), request_id=rid(),
                iron_triangle=lc.types.IronTriangle(account_owner="a" * 129, solution_owner="s",
                                                    fulfilment_owner="f")))),
            ("requirements[0].code", lambda: s.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(
                name=n("leads"), opportunity_title="t", iron_triangle=triangle(), expected_amount=money(1),
                requirements=[lc.ltb.Requirement(code="C" * 65)], request_id=rid()))),
            ("requirements[0].description", lambda: s.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(
                name=n("leads"), opportunity_title="t", iron_triangle=triangle(), expected_amount=money(1),
                requirements=[lc.ltb.Requirement(code="C", description="d" * 1001)], request_id=rid()))),
            ("requirements", lambda: s.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(
                name=n("leads"), opportunity_title="t", iron_triangle=triangle(), expected_amount=money(1),
                requirements=[lc.ltb.Requirement(code=f"C{i}") for i in range(101)], request_id=rid()))),
            ("competitor", lambda: s.ltb.MarkBidLost(lc.ltb.MarkBidLostRequest(
                name=n("bids"), reason="price", competitor="c" * 201, request_id=rid()))),
            ("product.display_name", lambda: s.bto.CreateProduct(lc.bto.CreateProductRequest(
                product=lc.bto.Product(sku=f"S-{uuid.uuid4().hex[:8]}", display_name="d" * 201,
                                       list_price=money(1)), request_id=rid()))),
            ("product.sku", lambda: s.bto.CreateProduct(lc.bto.CreateProductRequest(
                product=lc.bto.Product(sku="S" * 65, display_name="d", list_price=money(1)), request_id=rid()))),
            ("signed_by", lambda: s.bto.SignContract(lc.bto.SignContractRequest(
                name=n("contracts"), signed_by="s" * 201, request_id=rid()))),
            ("comment", lambda: s.otd.ReviewOrder(lc.otd.ReviewOrderRequest(
                name=n("orders"), approved=False, comment="c" * 501, request_id=rid()))),
            ("resource.display_name", lambda: s.otd.CreateResource(lc.otd.CreateResourceRequest(
                resource=lc.otd.Resource(display_name="r" * 201, daily_capacity=1), request_id=rid()))),
            ("note", lambda: s.otd.RecordAcceptance(lc.otd.RecordAcceptanceRequest(
                name=n("shipments"), accepted=False, note="n" * 501, request_id=rid()))),
            ("payment.reference", lambda: s.dtc.RecordPayment(lc.dtc.RecordPaymentRequest(
                payment=lc.dtc.Payment(invoice=n("invoices"), amount=money(1), reference="r" * 101),
                request_id=rid()))),
        ]
        for fld, call in cases:
            with self.subTest(field=fld):
                self.refused(call, C.INVALID_ARGUMENT, fields=[fld])
        # the limits count characters: 200 characters, 192 of them Chinese (584 bytes), are a valid company name
        # (one of this run: a lead matching another NEW lead's company name would be a duplicate)
        name = "华" * 192 + uuid.uuid4().hex[:8]
        lead = s.ltb.CreateLead(lc.ltb.CreateLeadRequest(lead=good_lead(company_name=name), request_id=rid())).lead
        self.assertEqual(lead.company_name, name)

    # --- negative quantities and amounts ------------------------------------------------------------------------

    def test_negative_quantities_and_amounts(self):
        s, n = self.stubs, fake

        def qualify(**kw):
            base = dict(name=n("leads"), opportunity_title="t", iron_triangle=triangle(), expected_amount=money(1),
                        request_id=rid())
            base.update(kw)
            return lambda: s.ltb.QualifyLead(lc.ltb.QualifyLeadRequest(**base))

        def product(**kw):
            base = dict(sku=f"NEG-{uuid.uuid4().hex[:8]}", display_name="d", list_price=money(10))
            base.update(kw)
            return lambda: s.bto.CreateProduct(lc.bto.CreateProductRequest(product=lc.bto.Product(**base),
                                                                           request_id=rid()))

        def quote_line(**kw):
            line = dict(product=n("products"), quantity=1)
            line.update(kw)
            return lambda: s.bto.CreateQuote(lc.bto.CreateQuoteRequest(quote=lc.bto.Quote(
                deal=n("deals"), valid_until=lc.days_ahead(5), lines=[lc.bto.QuoteLine(**line)]), request_id=rid()))

        def term(**kw):
            t = dict(kind=lc.types.PAYMENT_TERM_KIND_ON_DELIVERY, share_bps=10000, due_days=0)
            t.update(kw)
            return lambda: s.bto.CreateContract(lc.bto.CreateContractRequest(contract=lc.bto.Contract(
                quote=n("quotes"), requested_delivery_date=lc.days_ahead(9), payment_terms=[lc.types.PaymentTerm(**t)]),
                request_id=rid()))

        def payment(amount):
            return lambda: s.dtc.RecordPayment(lc.dtc.RecordPaymentRequest(
                payment=lc.dtc.Payment(invoice=n("invoices"), amount=amount), request_id=rid()))

        cases = [
            ("expected_amount", qualify(expected_amount=money(-1))),
            ("win_probability_bps", qualify(win_probability_bps=-1)),
            ("requirements[0].quantity", qualify(requirements=[lc.ltb.Requirement(code="Q", quantity=-1)])),
            ("bid.amount", lambda: s.ltb.CreateBid(lc.ltb.CreateBidRequest(
                bid=lc.ltb.Bid(opportunity=n("opportunities"), amount=money(-100)), request_id=rid()))),
            ("bid.amount", lambda: s.ltb.CreateBid(lc.ltb.CreateBidRequest(
                bid=lc.ltb.Bid(opportunity=n("opportunities"), amount=money(0)), request_id=rid()))),
            ("product.list_price", product(list_price=money(-10))),
            ("product.unit_cost", product(unit_cost=money(-1))),
            ("product.lead_time_days", product(lead_time_days=-1)),
            ("quote.lines[0].quantity", quote_line(quantity=-1)),
            ("quote.lines[0].quantity", quote_line(quantity=0)),
            ("quote.lines[0].discount_bps", quote_line(discount_bps=-1)),
            ("contract.payment_terms[0].share_bps", term(share_bps=-10000)),
            ("contract.payment_terms[0].due_days", term(due_days=-1)),
            ("resource.daily_capacity", lambda: s.otd.CreateResource(lc.otd.CreateResourceRequest(
                resource=lc.otd.Resource(display_name=f"Neg {uuid.uuid4().hex[:6]}", daily_capacity=-5),
                request_id=rid()))),
            ("shipment.lines[0].quantity", lambda: s.otd.CreateShipment(lc.otd.CreateShipmentRequest(
                shipment=lc.otd.Shipment(order=n("orders"),
                                         lines=[lc.otd.ShipmentLine(product=n("products"), quantity=-2)]),
                request_id=rid()))),
            ("payment.amount", payment(money(-1))),
            ("payment.amount", payment(money(0))),
            ("payment.amount", payment(money(1, -500000000))),          # units and nanos disagree in sign
            ("payment.amount", payment(money(0, 1000000000))),          # nanos out of range
            ("payment.amount", payment(money(1, 5))),                   # finer than a fen
            ("page_size", lambda: s.ltb.ListLeads(lc.ltb.ListLeadsRequest(page_size=-1))),
        ]
        for fld, call in cases:
            with self.subTest(field=fld):
                self.refused(call, C.INVALID_ARGUMENT, fields=[fld])

    # --- unknown fields -----------------------------------------------------------------------------------------

    def test_unknown_fields_are_ignored(self):
        u = uuid.uuid4().hex[:8]
        company, email = f"Unknown Fields Co {u}", f"uf.{u}@example.com"   # a party of its own (DUPLICATE_LEAD)
        lead = good_lead(company_name=company, contact_email=email)
        # field 99 (varint) and 100 (bytes) inside the lead, 1000 (bytes) in the request: numbers the contract
        # does not define (as a newer client's fields would be)
        inner = lead.SerializeToString() + field(99, 0, 7) + field(100, 2, b"\x01\x02 not ours")
        data = field(1, 2, inner) + field(2, 2, rid().encode()) + field(1000, 2, b"\x00" * 64)
        before = self.counts()
        first = lc.ltb.CreateLeadResponse.FromString(self.stubs.call_raw(CREATE_LEAD, data))
        again = lc.ltb.CreateLeadResponse.FromString(self.stubs.call_raw(CREATE_LEAD, data))   # same bytes, same id
        self.assertEqual(first, again)
        # the same request_id without the unknown fields is the same request (they are ignored): the first answer
        plain = field(1, 2, lead.SerializeToString()) + field(2, 2, lc.ltb.CreateLeadRequest.FromString(data)
                                                             .request_id.encode())
        third = lc.ltb.CreateLeadResponse.FromString(self.stubs.call_raw(CREATE_LEAD, plain))
        self.assertEqual(first, third)
        after = self.counts()
        changed = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
        self.assertEqual(changed.pop("ltb.audit_log", 0), 3, "each of the three calls is in the audit trail")
        self.assertEqual(changed, {"ltb.leads": 1, "ltb.idempotency_keys": 1}, "only the lead and its key are stored")
        got = self.stubs.ltb.GetLead(lc.ltb.GetLeadRequest(name=first.lead.name)).lead
        self.assertEqual((got.company_name, got.contact_email, got.source),
                         (company, email, lc.ltb.LEAD_SOURCE_WEBSITE))
        self.assertEqual(len(got.UnknownFields()), 0, "a read returned unknown fields")
        self.assertEqual(len(first.lead.UnknownFields()), 0, "the response echoed unknown fields")
        row = h.sql("SELECT source, company_name, contact_name, contact_email, contact_phone, state FROM ltb.leads "
                    "WHERE id = :'id'", id=lc.name_id(got.name))
        self.assertEqual(row, [["WEBSITE", company, "", email, "", "NEW"]])
        # unknown fields on a read: ignored too
        r = self.stubs.call_raw("/ltc.ltb.v1.LeadToBidService/GetLead",
                                field(1, 2, got.name.encode()) + field(77, 0, 1))
        self.assertEqual(lc.ltb.GetLeadResponse.FromString(r).lead, got)


if __name__ == "__main__":
    h.main()
