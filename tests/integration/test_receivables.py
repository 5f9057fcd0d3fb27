"""Receivables and cash (issue #16, docs/receivables.md), through the gateway: invoices raised by each payment term's
own event (ADVANCE at placement, ON_DELIVERY at shipment, ON_ACCEPTANCE at acceptance, RETENTION at final
acceptance), receipts unique per bank reference, applied across invoices (explicit or oldest due first), advance
receipts allocated to the order's next invoice, unapplied cash, reversals, bounces and refunds, money conserved.

OTD's hand-offs (AcceptOrderPlaced from BTO, AcceptShipment and AcceptDelivery from OTD) are sent to DTC's
IntakeService on its own port (the plaintext stack has no caller check); every public call goes through the
gateway."""
import unittest
import uuid

import grpc
from google.protobuf import field_mask_pb2

import harness as h
import ltc_client as lc

dtc = lc.dtc
CUR = "CNY"
K = lc.types


def money(minor):
    return lc.money(minor, CUR)


def minor(m):
    return lc.to_minor(m, CUR)


def _ts(seconds):
    from google.protobuf import timestamp_pb2
    return timestamp_pb2.Timestamp(seconds=seconds)


def day(iso):
    """A ltc.type.v1.Date from "YYYY-MM-DD"."""
    y, m, d = (int(x) for x in iso.split("-"))
    return K.Date(year=y, month=m, day=d)


def epoch(iso):
    import datetime
    return int(datetime.datetime.fromisoformat(iso + "T09:00:00+00:00").timestamp())


def park_behind_unknown_deals():
    """The hand-offs these tests send straight to DTC name deals LTB never heard of: DTC's milestones of such a deal
    park at LTB (DEAL_NOT_FOUND) and hold back the deal's later ones (hand-offs of a deal arrive in order). Park
    those too, so that the outboxes are quiet for the suites after (test_bad_input waits for it)."""
    h.sql("UPDATE dtc.outbox o SET parked_time = now(), last_error = 'behind a parked hand-off (test deal)' "
          "WHERE o.delivered_time IS NULL AND o.parked_time IS NULL AND EXISTS (SELECT FROM dtc.outbox p "
          "WHERE p.deal_id = o.deal_id AND p.destination = o.destination AND p.parked_time IS NOT NULL "
          "AND p.seq < o.seq)")


class Receivables(h.StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.intake = h.intake("dtc")

    @classmethod
    def tearDownClass(cls):
        park_behind_unknown_deals()
        cls.intake.close()
        super().tearDownClass()

    # --- helpers ------------------------------------------------------------------------------------------------

    def customer(self, name="Alpha"):
        cid = str(uuid.uuid4())
        return K.CustomerSnapshot(customer=f"customers/{cid}", legal_name=f"{name} {cid[:8]}", country_code="CN",
                                  billing_currency=CUR, account_owner="ar.recv")

    def place(self, snap, total, terms, place_time=None):
        """BTO's placement hand-off: the order's account opens (and its ADVANCE terms are billed)."""
        tri = K.IronTriangle(account_owner="ar.recv", solution_owner="sr.recv", fulfilment_owner="fr.recv")
        f = dict(order=f"orders/{uuid.uuid4()}", contract=f"contracts/{uuid.uuid4()}", deal=f"deals/{uuid.uuid4()}",
                 iron_triangle=tri, order_total=money(total),
                 payment_terms=[K.PaymentTerm(kind=K.PaymentTermKind.Value(k), share_bps=b, due_days=d)
                                for k, b, d in terms])
        if place_time is not None:
            f["place_time"] = _ts(place_time)
        self.intake.dtc.AcceptOrderPlaced(dtc.AcceptOrderPlacedRequest(handoff_id=lc.new_id(), customer=snap, **f))
        f.pop("place_time", None)
        return f

    def ship(self, f, amount, fully=False):
        r = self.intake.dtc.AcceptShipment(dtc.AcceptShipmentRequest(
            handoff_id=lc.new_id(), shipment=f"shipments/{uuid.uuid4()}", order=f["order"], contract=f["contract"],
            deal=f["deal"], amount=money(amount), order_fully_shipped=fully,
            lines=[dtc.ReturnLine(product=f"products/{uuid.uuid4()}", sku="SKU-1", quantity=1,
                                  unit_price=money(amount))]))
        return list(r.invoices)

    def give_back(self, f, shipment, amount, rma=None):
        return self.intake.dtc.AcceptReturn(dtc.AcceptReturnRequest(
            handoff_id=lc.new_id(), rma=rma or f"returns/{uuid.uuid4()}", order=f["order"], shipment=shipment,
            deal=f["deal"], amount=money(amount), reason="damaged in transit",
            lines=[dtc.ReturnLine(product=f"products/{uuid.uuid4()}", sku="SKU-1", quantity=1,
                                  unit_price=money(amount))])).credit_note

    def accept(self, f, snap, amount, fully=False, shipment=None, on=None):
        req = dtc.AcceptDeliveryRequest(
            handoff_id=lc.new_id(), shipment=shipment or f"shipments/{uuid.uuid4()}", customer_name=snap.legal_name,
            accepted_amount=money(amount), order_fully_accepted=fully, customer=snap, **f)
        if on:
            req.accept_time.CopyFrom(_ts(epoch(on)))
        return list(self.intake.dtc.AcceptDelivery(req).invoices)

    def invoices(self, f):
        return list(self.stubs.dtc.ListInvoices(dtc.ListInvoicesRequest(order=f["order"], page_size=500)).invoices)

    def invoice(self, name):
        return self.stubs.dtc.GetInvoice(dtc.GetInvoiceRequest(name=name)).invoice

    def receipt(self, snap, amount, ref=None, order="", bank="ICBC-001", request_id=None, value_date=None):
        r = dtc.Receipt(customer=snap.customer, amount=money(amount), bank_account=bank,
                        bank_reference=ref or f"REF-{uuid.uuid4()}", order=order)
        if value_date:
            r.value_date.CopyFrom(day(value_date))
        return self.stubs.dtc.RecordReceipt(dtc.RecordReceiptRequest(receipt=r, request_id=request_id or lc.new_id()))

    def apply(self, receipt, allocations=(), date=None):
        req = dtc.ApplyReceiptRequest(name=receipt, request_id=lc.new_id(),
                                      allocations=[dtc.AllocationRequest(invoice=i, amount=money(a))
                                                   for i, a in allocations])
        if date:
            req.apply_date.CopyFrom(date)
        return self.stubs.dtc.ApplyReceipt(req)

    def assertConserved(self, rc):
        active = sum(minor(a.amount) for a in rc.allocations if a.state == dtc.ALLOCATION_STATE_ACTIVE)
        self.assertEqual(minor(rc.applied_amount), active)
        if rc.state == dtc.RECEIPT_STATE_RECEIVED:
            self.assertEqual(minor(rc.amount),
                             minor(rc.applied_amount) + minor(rc.refunded_amount) + minor(rc.unapplied_amount))

    def assertInvoiceConserved(self, inv):
        self.assertEqual(minor(inv.amount), minor(inv.paid_amount) + minor(inv.open_amount))

    # --- invoices by the term's own event --------------------------------------------------------------------------

    def test_advance_invoice_exists_right_after_placement(self):
        snap = self.customer()
        f = self.place(snap, 100_000_00, [("PAYMENT_TERM_KIND_ADVANCE", 3000, 10),
                                          ("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 6000, 30),
                                          ("PAYMENT_TERM_KIND_RETENTION", 1000, 365)])
        invs = self.invoices(f)
        self.assertEqual([(i.term_kind, minor(i.amount), i.billing_event, i.shipment, i.state) for i in invs],
                         [(K.PAYMENT_TERM_KIND_ADVANCE, 30_000_00, dtc.BILLING_EVENT_ORDER_PLACED, "",
                           dtc.INVOICE_STATE_UNPAID)])
        self.assertEqual(invs[0].customer, snap.customer)
        acct = self.stubs.dtc.GetOrderAccount(dtc.GetOrderAccountRequest(
            name="orderAccounts/" + lc.name_id(f["order"]))).order_account
        self.assertEqual(minor(acct.invoiced_amount), 30_000_00)

    def test_each_term_billed_by_its_event_and_sums_to_its_share(self):
        # 100,000.01 split 20/30/40/10: odd totals make the rounding visible; the last invoice of a term takes the rest
        snap = self.customer()
        total = 100_000_01
        f = self.place(snap, total, [("PAYMENT_TERM_KIND_ADVANCE", 2000, 0),
                                     ("PAYMENT_TERM_KIND_ON_DELIVERY", 3000, 30),
                                     ("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 4000, 30),
                                     ("PAYMENT_TERM_KIND_RETENTION", 1000, 365)])
        shares = {K.PAYMENT_TERM_KIND_ADVANCE: total * 2000 // 10000,
                  K.PAYMENT_TERM_KIND_ON_DELIVERY: total * 3000 // 10000,
                  K.PAYMENT_TERM_KIND_ON_ACCEPTANCE: total * 4000 // 10000}
        shares[K.PAYMENT_TERM_KIND_RETENTION] = total - sum(shares.values())
        # a first shipment of a third: only the ON_DELIVERY term bills, its share of the shipment
        raised = self.ship(f, 33_333_33)
        self.assertEqual(len(raised), 1)
        inv = self.invoice(raised[0])
        self.assertEqual((inv.term_kind, inv.billing_event, minor(inv.amount)),
                         (K.PAYMENT_TERM_KIND_ON_DELIVERY, dtc.BILLING_EVENT_SHIPMENT, 30_000_00 * 3333333 // 10000001))
        # its acceptance bills ON_ACCEPTANCE pro rata; retention waits for final acceptance
        raised = self.accept(f, snap, 33_333_33)
        self.assertEqual([self.invoice(n).term_kind for n in raised], [K.PAYMENT_TERM_KIND_ON_ACCEPTANCE])
        # the rest ships in full and is accepted in full
        raised = self.ship(f, total - 33_333_33, fully=True)
        self.assertEqual([self.invoice(n).term_kind for n in raised], [K.PAYMENT_TERM_KIND_ON_DELIVERY])
        raised = self.accept(f, snap, total - 33_333_33, fully=True)
        self.assertEqual(sorted(self.invoice(n).term_kind for n in raised),
                         [K.PAYMENT_TERM_KIND_ON_ACCEPTANCE, K.PAYMENT_TERM_KIND_RETENTION])
        by_kind = {}
        for i in self.invoices(f):
            by_kind[i.term_kind] = by_kind.get(i.term_kind, 0) + minor(i.amount)
        self.assertEqual(by_kind, shares)
        self.assertEqual(sum(by_kind.values()), total)
        # a shipment reported twice is refused (another hand-off id); over-shipment too
        with self.assertRaises(grpc.RpcError) as e:
            self.ship(f, 1)
        self.assertIn(lc.error_details(e.exception).reason, ("OVER_SHIPMENT", "ORDER_ACCOUNT_CLOSED"))

    # --- receipts ----------------------------------------------------------------------------------------------

    def test_money_writes_require_request_id(self):
        snap = self.customer()
        r = dtc.Receipt(customer=snap.customer, amount=money(100), bank_account="B", bank_reference="X")
        d = h.expect_error(lambda: self.stubs.dtc.RecordReceipt(dtc.RecordReceiptRequest(receipt=r)),
                           grpc.StatusCode.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["request_id"])
        d = h.expect_error(lambda: self.stubs.dtc.RecordPayment(dtc.RecordPaymentRequest(
            payment=dtc.Payment(invoice=f"invoices/{uuid.uuid4()}", amount=money(100)))),
            grpc.StatusCode.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["request_id"])
        d = h.expect_error(lambda: self.stubs.dtc.RecordReceipt(dtc.RecordReceiptRequest(
            receipt=dtc.Receipt(amount=money(-1)), request_id=lc.new_id())), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["receipt.customer", "receipt.amount", "receipt.bank_account",
                                      "receipt.bank_reference"])

    def test_same_bank_reference_never_doubles_cash(self):
        snap = self.customer()
        f = self.place(snap, 100_00, [("PAYMENT_TERM_KIND_ADVANCE", 10000, 30)])
        inv = self.invoices(f)[0]
        ref = f"BANK-{uuid.uuid4()}"
        first = self.receipt(snap, 100_00, ref=ref)
        again = self.receipt(snap, 100_00, ref=ref)   # a retry with a new request id: the first, not new cash
        self.assertFalse(first.already_recorded)
        self.assertTrue(again.already_recorded)
        self.assertEqual(again.receipt.name, first.receipt.name)
        d = h.expect_error(lambda: self.receipt(snap, 200_00, ref=ref), grpc.StatusCode.ALREADY_EXISTS)
        self.assertDetails(d, reason="DUPLICATE_BANK_REFERENCE")
        self.receipt(snap, 100_00, ref=ref, bank="OTHER-BANK")   # unique per bank account only
        listed = self.stubs.dtc.ListReceipts(dtc.ListReceiptsRequest(customer=snap.customer)).receipts
        self.assertEqual(len(listed), 2)
        # v1 RecordPayment: the same reference twice with new request ids pays once
        pref = f"PAY-{uuid.uuid4()}"
        pay = lambda: self.stubs.dtc.RecordPayment(dtc.RecordPaymentRequest(
            payment=dtc.Payment(invoice=inv.name, amount=money(100_00), reference=pref), request_id=lc.new_id()))
        p1, p2 = pay(), pay()
        self.assertEqual(p1.payment.name, p2.payment.name)
        self.assertEqual(p1.payment.receipt, p2.payment.receipt)
        inv = self.invoice(inv.name)
        self.assertEqual((minor(inv.paid_amount), inv.state), (100_00, dtc.INVOICE_STATE_PAID))
        rc = self.stubs.dtc.GetReceipt(dtc.GetReceiptRequest(name=p1.payment.receipt)).receipt
        self.assertEqual([(a.invoice, a.method) for a in rc.allocations], [(inv.name, dtc.ALLOCATION_METHOD_PAYMENT)])
        # a different amount under that reference is refused
        d = h.expect_error(lambda: self.stubs.dtc.RecordPayment(dtc.RecordPaymentRequest(
            payment=dtc.Payment(invoice=inv.name, amount=money(50_00), reference=pref), request_id=lc.new_id())),
            grpc.StatusCode.ALREADY_EXISTS)
        self.assertDetails(d, reason="DUPLICATE_BANK_REFERENCE")
        by_inv = self.stubs.dtc.ListReceipts(dtc.ListReceiptsRequest(invoice=inv.name)).receipts
        self.assertEqual([r.name for r in by_inv], [p1.payment.receipt])

    def test_betas_money_never_pays_alphas_invoice(self):
        alpha, beta = self.customer("Alpha"), self.customer("Beta")
        fa = self.place(alpha, 500_00, [("PAYMENT_TERM_KIND_ADVANCE", 10000, 30)])
        self.place(beta, 500_00, [("PAYMENT_TERM_KIND_ADVANCE", 10000, 30)])
        inv = self.invoices(fa)[0]
        d = h.expect_error(lambda: self.stubs.dtc.RecordPayment(dtc.RecordPaymentRequest(
            payment=dtc.Payment(invoice=inv.name, amount=money(500_00), reference=f"B-{uuid.uuid4()}",
                                payer=beta.customer), request_id=lc.new_id())), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertDetails(d, reason="PAYER_NOT_INVOICE_CUSTOMER")
        rb = self.receipt(beta, 500_00).receipt
        d = h.expect_error(lambda: self.apply(rb.name, [(inv.name, 500_00)]), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertDetails(d, reason="INVOICE_OF_ANOTHER_CUSTOMER")
        self.assertEqual(self.invoice(inv.name).state, dtc.INVOICE_STATE_UNPAID)

    def test_one_receipt_pays_three_invoices_and_leaves_the_rest_unapplied(self):
        snap = self.customer()
        orders = [self.place(snap, a, [("PAYMENT_TERM_KIND_ADVANCE", 10000, d)])
                  for a, d in ((300_00, 20), (200_00, 10), (100_00, 30))]
        invs = [self.invoices(f)[0] for f in orders]
        rc = self.receipt(snap, 650_00).receipt
        out = self.apply(rc.name)   # automatic: oldest due date first
        self.assertEqual([(a.invoice, minor(a.amount), a.method) for a in out.allocations],
                         [(invs[1].name, 200_00, dtc.ALLOCATION_METHOD_OLDEST_DUE),
                          (invs[0].name, 300_00, dtc.ALLOCATION_METHOD_OLDEST_DUE),
                          (invs[2].name, 100_00, dtc.ALLOCATION_METHOD_OLDEST_DUE)])
        self.assertEqual({i.state for i in out.invoices}, {dtc.INVOICE_STATE_PAID})
        self.assertEqual((minor(out.receipt.applied_amount), minor(out.receipt.unapplied_amount)), (600_00, 50_00))
        self.assertConserved(out.receipt)
        for f in orders:   # each order fully paid and, once accepted, closed
            self.accept(f, snap, minor(f["order_total"]), fully=True)
            acct = self.stubs.dtc.GetOrderAccount(dtc.GetOrderAccountRequest(
                name="orderAccounts/" + lc.name_id(f["order"]))).order_account
            self.assertEqual(acct.state, dtc.ORDER_ACCOUNT_STATE_CLOSED)
        # nothing open any more: the over-receipt stays unapplied, then is refunded
        d = h.expect_error(lambda: self.apply(rc.name), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertDetails(d, reason="NOTHING_TO_APPLY")
        d = h.expect_error(lambda: self.stubs.dtc.RefundReceipt(dtc.RefundReceiptRequest(
            name=rc.name, amount=money(50_01), reason="refund", request_id=lc.new_id())),
            grpc.StatusCode.FAILED_PRECONDITION)
        self.assertDetails(d, reason="INSUFFICIENT_UNAPPLIED_CASH")
        rf = self.stubs.dtc.RefundReceipt(dtc.RefundReceiptRequest(name=rc.name, amount=money(50_00),
                                                                   reason="over-receipt returned",
                                                                   request_id=lc.new_id())).receipt
        self.assertEqual((minor(rf.refunded_amount), minor(rf.unapplied_amount)), (50_00, 0))
        self.assertEqual([(minor(x.amount), x.reason) for x in rf.refunds], [(50_00, "over-receipt returned")])
        self.assertConserved(rf)
        # a closed order's payments are final
        d = h.expect_error(lambda: self.stubs.dtc.ReverseAllocation(dtc.ReverseAllocationRequest(
            name=out.allocations[0].name, reason="late", request_id=lc.new_id())), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertDetails(d, reason="ORDER_ACCOUNT_CLOSED")

    def test_misapplied_receipt_reversed_and_reapplied(self):
        snap = self.customer()
        fa = self.place(snap, 400_00, [("PAYMENT_TERM_KIND_ADVANCE", 10000, 30)])
        fb = self.place(snap, 400_00, [("PAYMENT_TERM_KIND_ADVANCE", 10000, 30)])
        ia, ib = self.invoices(fa)[0], self.invoices(fb)[0]
        rc = self.receipt(snap, 250_00).receipt
        out = self.apply(rc.name, [(ib.name, 250_00)])   # meant for A
        wrong = out.allocations[0]
        self.assertEqual(out.invoices[0].state, dtc.INVOICE_STATE_PARTLY_PAID)
        self.assertInvoiceConserved(out.invoices[0])
        d = h.expect_error(lambda: self.apply(rc.name, [(ia.name, 1)]), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertDetails(d, reason="INSUFFICIENT_UNAPPLIED_CASH")
        rev = self.stubs.dtc.ReverseAllocation(dtc.ReverseAllocationRequest(
            name=wrong.name, reason="applied to the wrong order", request_id=lc.new_id()))
        self.assertEqual((rev.allocation.state, rev.allocation.reverse_reason),
                         (dtc.ALLOCATION_STATE_REVERSED, "applied to the wrong order"))
        self.assertEqual((rev.invoice.state, minor(rev.invoice.paid_amount)), (dtc.INVOICE_STATE_UNPAID, 0))
        self.assertEqual(minor(rev.receipt.unapplied_amount), 250_00)
        d = h.expect_error(lambda: self.stubs.dtc.ReverseAllocation(dtc.ReverseAllocationRequest(
            name=wrong.name, reason="again", request_id=lc.new_id())), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertDetails(d, reason="ALLOCATION_ALREADY_REVERSED")
        out = self.apply(rc.name, [(ia.name, 250_00)])
        self.assertEqual((out.invoices[0].name, minor(out.invoices[0].paid_amount)), (ia.name, 250_00))
        rc = self.stubs.dtc.GetReceipt(dtc.GetReceiptRequest(name=rc.name)).receipt
        self.assertEqual([(a.invoice, a.state) for a in rc.allocations],
                         [(ib.name, dtc.ALLOCATION_STATE_REVERSED), (ia.name, dtc.ALLOCATION_STATE_ACTIVE)])
        self.assertConserved(rc)

    def test_advance_receipt_allocated_to_the_next_invoice(self):
        snap = self.customer()
        f = self.place(snap, 1_000_00, [("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 10000, 30)])
        self.assertEqual(self.invoices(f), [])
        rc = self.receipt(snap, 400_00, order=f["order"]).receipt   # cash before any invoice: unapplied, of the order
        self.assertEqual((minor(rc.unapplied_amount), rc.order), (400_00, f["order"]))
        first = self.accept(f, snap, 500_00)
        inv = self.invoice(first[0])
        self.assertEqual((minor(inv.amount), minor(inv.paid_amount), inv.state),
                         (500_00, 400_00, dtc.INVOICE_STATE_PARTLY_PAID))
        rc = self.stubs.dtc.GetReceipt(dtc.GetReceiptRequest(name=rc.name)).receipt
        self.assertEqual([(a.invoice, minor(a.amount), a.method) for a in rc.allocations],
                         [(inv.name, 400_00, dtc.ALLOCATION_METHOD_ADVANCE)])
        self.assertEqual(minor(rc.unapplied_amount), 0)
        # another customer's order cannot take this customer's advance
        other = self.customer("Beta")
        fo = self.place(other, 100_00, [("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 10000, 30)])
        d = h.expect_error(lambda: self.receipt(snap, 100_00, order=fo["order"]), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertDetails(d, reason="ORDER_OF_ANOTHER_CUSTOMER")

    def test_bounced_receipt_reverses_its_allocations(self):
        snap = self.customer()
        f = self.place(snap, 300_00, [("PAYMENT_TERM_KIND_ADVANCE", 10000, 30)])
        inv = self.invoices(f)[0]
        rc = self.receipt(snap, 300_00).receipt
        self.apply(rc.name, [(inv.name, 300_00)])
        self.assertEqual(self.invoice(inv.name).state, dtc.INVOICE_STATE_PAID)
        b = self.stubs.dtc.BounceReceipt(dtc.BounceReceiptRequest(name=rc.name, reason="cheque returned",
                                                                  request_id=lc.new_id())).receipt
        self.assertEqual((b.state, minor(b.applied_amount), minor(b.unapplied_amount)),
                         (dtc.RECEIPT_STATE_BOUNCED, 0, 0))
        self.assertEqual([a.state for a in b.allocations], [dtc.ALLOCATION_STATE_REVERSED])
        inv = self.invoice(inv.name)
        self.assertEqual((inv.state, minor(inv.open_amount)), (dtc.INVOICE_STATE_UNPAID, 300_00))
        d = h.expect_error(lambda: self.apply(rc.name), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertDetails(d, reason="RECEIPT_BOUNCED")

    # --- credit notes --------------------------------------------------------------------------------------------

    def test_return_credits_the_open_amount_and_the_rest_becomes_customer_credit(self):
        snap = self.customer()
        f = self.place(snap, 1_000_00, [("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 10000, 30)])
        shipment = f"shipments/{uuid.uuid4()}"
        inv = self.invoice(self.accept(f, snap, 600_00, shipment=shipment)[0])
        rc = self.receipt(snap, 500_00).receipt
        self.apply(rc.name, [(inv.name, 500_00)])
        rma = f"returns/{uuid.uuid4()}"
        note = self.stubs.dtc.GetCreditNote(dtc.GetCreditNoteRequest(name=self.give_back(f, shipment, 200_00, rma)))
        note = note.credit_note
        self.assertEqual((note.kind, minor(note.amount), minor(note.credited_amount), minor(note.customer_credit_amount),
                          note.source), (dtc.CREDIT_NOTE_KIND_RETURN, 200_00, 100_00, 100_00, rma))
        self.assertEqual([(x.invoice, minor(x.amount)) for x in note.lines], [(inv.name, 100_00)])
        inv = self.invoice(inv.name)   # never below what was paid: 600 = 500 paid + 0 open + 100 credited
        self.assertEqual((inv.state, minor(inv.paid_amount), minor(inv.open_amount), minor(inv.credited_amount)),
                         (dtc.INVOICE_STATE_PAID, 500_00, 0, 100_00))
        credit = self.stubs.dtc.GetReceipt(dtc.GetReceiptRequest(name=note.customer_credit_receipt)).receipt
        self.assertEqual((minor(credit.unapplied_amount), credit.customer), (100_00, snap.customer))
        # the same RMA again is refused; more than delivered too
        d = h.expect_error(lambda: self.give_back(f, shipment, 10_00, rma), grpc.StatusCode.ALREADY_EXISTS)
        self.assertDetails(d, reason="ALREADY_CREDITED")
        d = h.expect_error(lambda: self.give_back(f, shipment, 500_00), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertDetails(d, reason="RETURN_EXCEEDS_DELIVERED")
        # the customer credit pays the next invoice
        nxt = self.invoice(self.accept(f, snap, 400_00, fully=True)[0])
        out = self.apply(credit.name)
        self.assertEqual([(a.invoice, minor(a.amount)) for a in out.allocations], [(nxt.name, 100_00)])
        listed = self.stubs.dtc.ListCreditNotes(dtc.ListCreditNotesRequest(order=f["order"])).credit_notes
        self.assertEqual([n.name for n in listed], [note.name])

    def test_cancellation_credits_unpaid_and_returns_paid_cash_to_the_customer(self):
        snap = self.customer()
        f = self.place(snap, 1_000_00, [("PAYMENT_TERM_KIND_ADVANCE", 3000, 10),
                                        ("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 7000, 30)])
        adv = self.invoices(f)[0]
        rc = self.receipt(snap, 300_00).receipt
        self.apply(rc.name, [(adv.name, 300_00)])
        self.accept(f, snap, 500_00)
        with h.intake("dtc") as i:   # twice: a cancellation is a fact, the second answers the same
            for _ in range(2):
                i.dtc.AcceptOrderCancelled(dtc.AcceptOrderCancelledRequest(
                    handoff_id=lc.new_id(), order=f["order"], contract=f["contract"], deal=f["deal"],
                    reason="customer withdrew", cancelled_by="fr.recv"))
        acct = self.stubs.dtc.GetOrderAccount(dtc.GetOrderAccountRequest(
            name="orderAccounts/" + lc.name_id(f["order"]))).order_account
        self.assertEqual((acct.state, minor(acct.invoiced_amount), minor(acct.paid_amount),
                          minor(acct.credited_amount)), (dtc.ORDER_ACCOUNT_STATE_CANCELLED, 650_00, 0, 650_00))
        self.assertEqual({i.state for i in self.invoices(f)}, {dtc.INVOICE_STATE_CREDITED})
        rc = self.stubs.dtc.GetReceipt(dtc.GetReceiptRequest(name=rc.name)).receipt
        self.assertEqual(minor(rc.unapplied_amount), 300_00)   # the advance paid is the customer's credit again
        notes = self.stubs.dtc.ListCreditNotes(dtc.ListCreditNotesRequest(order=f["order"])).credit_notes
        self.assertEqual([(n.kind, minor(n.amount)) for n in notes], [(dtc.CREDIT_NOTE_KIND_CANCELLATION, 650_00)])
        exp = self.stubs.dtc.GetCreditExposure(dtc.GetCreditExposureRequest(customer=snap.customer,
                                                                            currency_code=CUR)).exposures
        for e in exp:   # the cancelled order left the exposure (no row at all when nothing else is open)
            self.assertEqual((minor(e.open_receivables), minor(e.open_orders)), (0, 0))
        d = h.expect_error(lambda: self.accept(f, snap, 100_00), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertDetails(d, reason="ORDER_ACCOUNT_CLOSED")
        self.stubs.dtc.RefundReceipt(dtc.RefundReceiptRequest(name=rc.name, amount=money(300_00),
                                                              reason="order cancelled", request_id=lc.new_id()))

    def test_price_correction_never_below_what_was_paid(self):
        snap = self.customer()
        f = self.place(snap, 1_000_00, [("PAYMENT_TERM_KIND_ADVANCE", 10000, 30)])
        inv = self.invoices(f)[0]
        fix = lambda a: self.stubs.dtc.IssueCreditNote(dtc.IssueCreditNoteRequest(
            invoice=inv.name, amount=money(a), reason="agreed discount", request_id=lc.new_id()))
        r = fix(100_00)
        self.assertEqual((minor(r.invoice.credited_amount), minor(r.invoice.open_amount)), (100_00, 900_00))
        self.stubs.dtc.RecordPayment(dtc.RecordPaymentRequest(
            payment=dtc.Payment(invoice=inv.name, amount=money(900_00), reference=f"P-{uuid.uuid4()}"),
            request_id=lc.new_id()))
        d = h.expect_error(lambda: fix(950_00), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertDetails(d, reason="CREDIT_EXCEEDS_INVOICE")
        d = h.expect_error(lambda: self.stubs.dtc.IssueCreditNote(dtc.IssueCreditNoteRequest(
            invoice=inv.name, amount=money(1), reason="x")), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["request_id"])
        r = fix(50_00)   # paid in full: the correction becomes customer credit
        self.assertEqual((minor(r.credit_note.credited_amount), minor(r.credit_note.customer_credit_amount)),
                         (0, 50_00))
        self.assertEqual((r.invoice.state, minor(r.invoice.paid_amount)), (dtc.INVOICE_STATE_PAID, 900_00))

    # --- aging and dunning ---------------------------------------------------------------------------------------

    def test_aging_at_three_dates_totals_equal_open_receivables(self):
        snap = self.customer()
        # invoiced 2026-01-10 due 2026-02-09 (30 days) and 2026-01-10 due 2026-01-20 (10 days)
        f1 = self.place(snap, 1_000_00, [("PAYMENT_TERM_KIND_ADVANCE", 10000, 30)], place_time=epoch("2026-01-10"))
        f2 = self.place(snap, 500_00, [("PAYMENT_TERM_KIND_ADVANCE", 10000, 10)], place_time=epoch("2026-01-10"))
        i1, i2 = self.invoices(f1)[0], self.invoices(f2)[0]
        self.assertEqual((i1.invoice_date, i1.due_date), (day("2026-01-10"), day("2026-02-09")))
        rc = self.receipt(snap, 200_00, value_date="2026-03-15").receipt
        self.apply(rc.name, [(i1.name, 200_00)], date=day("2026-03-15"))

        def aging(iso, **kw):
            r = self.stubs.dtc.GetAgingReport(dtc.GetAgingReportRequest(as_of_date=day(iso), customer=snap.customer,
                                                                        **kw))
            self.assertEqual([minor(t.total) for t in r.totals], [minor(o) for o in r.open_receivables])
            row = r.rows[0]
            return minor(row.not_due), [minor(b) for b in row.past_due], minor(row.total)

        self.assertEqual(aging("2026-01-15"), (1_500_00, [0, 0, 0, 0], 1_500_00))
        self.assertEqual(aging("2026-03-01"), (0, [1_000_00, 500_00, 0, 0], 1_500_00))   # 20 and 40 days past due
        self.assertEqual(aging("2026-06-01"), (0, [0, 0, 0, 1_300_00], 1_300_00))        # 112, 132 days: 90+
        self.assertEqual(aging("2026-06-01", bucket_bounds=[100, 120]), (0, [0, 800_00, 500_00], 1_300_00))
        r = self.stubs.dtc.GetAgingReport(dtc.GetAgingReportRequest(as_of_date=day("2025-12-31"),
                                                                    customer=snap.customer))
        self.assertEqual(list(r.rows), [])   # nothing invoiced yet
        # today: the totals equal the open amounts of the customer's invoices
        now = self.stubs.dtc.GetAgingReport(dtc.GetAgingReportRequest(customer=snap.customer))
        listed = self.stubs.dtc.ListInvoices(dtc.ListInvoicesRequest(customer=snap.customer)).invoices
        self.assertEqual(minor(now.totals[0].total), sum(minor(i.open_amount) for i in listed))
        d = h.expect_error(lambda: self.stubs.dtc.GetAgingReport(dtc.GetAgingReportRequest(bucket_bounds=[60, 30])),
                           grpc.StatusCode.INVALID_ARGUMENT)
        self.assertDetails(d, fields=["bucket_bounds"])

    def test_dunning_once_per_level_and_disputed_or_paid_leave_it(self):
        snap = self.customer()
        before = self.stubs.dtc.GetDunningPolicy(dtc.GetDunningPolicyRequest(name="dunningPolicy")).dunning_policy
        pol = dtc.DunningPolicy(reminder_days=1, second_days=15, final_days=30, fee_minor=50_00, interest_bps=1000,
                                day_count=dtc.DAY_COUNT_ACT_365, etag=before.etag)
        self.stubs.dtc.UpdateDunningPolicy(dtc.UpdateDunningPolicyRequest(dunning_policy=pol, request_id=lc.new_id()))
        try:
            fs = [self.place(snap, 100_000_00, [("PAYMENT_TERM_KIND_ADVANCE", 10000, 10)],
                             place_time=epoch("2025-02-01")) for _ in range(3)]
            invs = [self.invoices(f)[0].name for f in fs]   # due 2025-02-11

            def run(iso):
                r = self.stubs.dtc.RunDunning(dtc.RunDunningRequest(as_of_date=day(iso), request_id=lc.new_id()))
                return sorted(((invs.index(n.invoice), n.level, n.days_overdue) for n in r.notices
                               if n.invoice in invs)), [n for n in r.notices if n.invoice in invs]

            got, notices = run("2025-02-12")
            self.assertEqual(got, [(k, dtc.DUNNING_LEVEL_REMINDER, 1) for k in range(3)])
            self.assertEqual((minor(notices[0].fee), minor(notices[0].interest)), (50_00, 27_40))  # 1e7*1000*1/3.65e6
            self.assertEqual(run("2025-02-12")[0], [])   # the rerun the same day creates nothing
            self.assertEqual(run("2025-02-20")[0], [])   # still a reminder's days: nothing new
            # invoice 1 disputed, invoice 2 paid: only invoice 0 escalates
            self.stubs.dtc.SetInvoiceDispute(dtc.SetInvoiceDisputeRequest(name=invs[1], disputed=True,
                                                                          reason="wrong quantity",
                                                                          request_id=lc.new_id()))
            self.stubs.dtc.RecordPayment(dtc.RecordPaymentRequest(
                payment=dtc.Payment(invoice=invs[2], amount=money(100_000_00), reference=f"P-{uuid.uuid4()}"),
                request_id=lc.new_id()))
            self.assertEqual(run("2025-02-26")[0], [(0, dtc.DUNNING_LEVEL_SECOND, 15)])
            got, notices = run("2025-03-20")
            self.assertEqual(got, [(0, dtc.DUNNING_LEVEL_FINAL, 37)])
            self.assertEqual(minor(notices[0].interest), 1_013_70)   # 1e7 * 1000 * 37 / 3.65e6 = 101369.86
            self.assertEqual(run("2025-03-20")[0], [])
            listed = self.stubs.dtc.ListDunningNotices(dtc.ListDunningNoticesRequest(customer=snap.customer)).notices
            self.assertEqual(sorted((invs.index(n.invoice), n.level) for n in listed),
                             [(0, dtc.DUNNING_LEVEL_REMINDER), (0, dtc.DUNNING_LEVEL_SECOND),
                              (0, dtc.DUNNING_LEVEL_FINAL), (1, dtc.DUNNING_LEVEL_REMINDER),
                              (2, dtc.DUNNING_LEVEL_REMINDER)])
            inv = self.invoice(invs[0])
            self.assertTrue(inv.overdue)
            self.assertGreater(inv.days_overdue, 300)
            d = h.expect_error(lambda: self.stubs.dtc.UpdateDunningPolicy(dtc.UpdateDunningPolicyRequest(
                dunning_policy=dtc.DunningPolicy(reminder_days=10, second_days=5, final_days=30,
                                                 day_count=dtc.DAY_COUNT_ACT_365), request_id=lc.new_id())),
                grpc.StatusCode.INVALID_ARGUMENT)
            self.assertDetails(d, fields=["dunning_policy.second_days"])
        finally:
            now = self.stubs.dtc.GetDunningPolicy(dtc.GetDunningPolicyRequest()).dunning_policy
            before.etag = now.etag
            before.name = ""
            self.stubs.dtc.UpdateDunningPolicy(dtc.UpdateDunningPolicyRequest(dunning_policy=before,
                                                                              request_id=lc.new_id()))

    # --- the worked example of docs/receivables.md --------------------------------------------------------------

    def test_worked_example(self):
        snap = self.customer("Alpha")
        f = self.place(snap, 100_000_00, [("PAYMENT_TERM_KIND_ADVANCE", 3000, 10),
                                          ("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 6000, 30),
                                          ("PAYMENT_TERM_KIND_RETENTION", 1000, 365)], place_time=epoch("2026-01-05"))
        a = self.invoices(f)[0]
        self.assertEqual((minor(a.amount), a.due_date), (30_000_00, day("2026-01-15")))
        r1 = self.receipt(snap, 35_000_00, order=f["order"], value_date="2026-01-08").receipt
        self.assertEqual((minor(r1.applied_amount), minor(r1.unapplied_amount)), (30_000_00, 5_000_00))
        b = self.invoice(self.accept(f, snap, 40_000_00, on="2026-02-10")[0])
        self.assertEqual((minor(b.amount), minor(b.open_amount), b.due_date), (24_000_00, 19_000_00, day("2026-03-12")))
        c, d = sorted((self.invoice(n) for n in self.accept(f, snap, 60_000_00, fully=True, on="2026-03-20")),
                      key=lambda i: i.term_kind)
        self.assertEqual((c.term_kind, minor(c.amount), c.due_date),
                         (K.PAYMENT_TERM_KIND_ON_ACCEPTANCE, 36_000_00, day("2026-04-19")))
        self.assertEqual((d.term_kind, minor(d.amount), d.due_date),
                         (K.PAYMENT_TERM_KIND_RETENTION, 10_000_00, day("2027-03-20")))

        def aging(iso):
            r = self.stubs.dtc.GetAgingReport(dtc.GetAgingReportRequest(as_of_date=day(iso), customer=snap.customer))
            row = r.rows[0]
            self.assertEqual(minor(r.totals[0].total), minor(r.open_receivables[0]))
            return [minor(row.not_due)] + [minor(x) for x in row.past_due] + [minor(row.total)]

        def dun(iso):
            r = self.stubs.dtc.RunDunning(dtc.RunDunningRequest(as_of_date=day(iso), request_id=lc.new_id()))
            names = {b.name: "B", c.name: "C", d.name: "D"}
            return sorted((names[n.invoice], n.level, n.days_overdue) for n in r.notices if n.invoice in names)

        self.assertEqual(dun("2026-05-01"), [("B", dtc.DUNNING_LEVEL_FINAL, 50), ("C", dtc.DUNNING_LEVEL_REMINDER, 12)])
        self.assertEqual(dun("2026-05-01"), [])
        self.assertEqual(dun("2026-05-10"), [("C", dtc.DUNNING_LEVEL_SECOND, 21)])
        r2 = self.receipt(snap, 60_000_00, value_date="2026-05-20").receipt
        wrong = self.apply(r2.name, [(d.name, 10_000_00)], date=day("2026-05-20")).allocations[0]
        rev = dtc.ReverseAllocationRequest(name=wrong.name, reason="retention not due yet", request_id=lc.new_id())
        rev.reverse_date.CopyFrom(day("2026-05-20"))
        self.stubs.dtc.ReverseAllocation(rev)
        out = self.apply(r2.name, [(b.name, 19_000_00), (c.name, 36_000_00)], date=day("2026-05-20"))
        self.assertEqual(minor(out.receipt.unapplied_amount), 5_000_00)
        self.assertEqual(dun("2026-05-21"), [])
        self.assertEqual(aging("2026-03-01"), [19_000_00, 0, 0, 0, 0, 19_000_00])
        self.assertEqual(aging("2026-05-01"), [10_000_00, 36_000_00, 19_000_00, 0, 0, 65_000_00])
        self.assertEqual(aging("2026-06-01"), [10_000_00, 0, 0, 0, 0, 10_000_00])
        invs = self.invoices(f)
        self.assertEqual((sum(minor(i.amount) for i in invs), sum(minor(i.paid_amount) for i in invs),
                          sum(minor(i.open_amount) for i in invs), sum(minor(i.credited_amount) for i in invs)),
                         (100_000_00, 90_000_00, 10_000_00, 0))
        for rc in self.stubs.dtc.ListReceipts(dtc.ListReceiptsRequest(customer=snap.customer)).receipts:
            self.assertConserved(rc)

    def test_retention_billed_when_its_period_ends_or_released(self):
        before = self.stubs.dtc.GetBillingPolicy(dtc.GetBillingPolicyRequest(name="billingPolicy")).billing_policy
        self.assertEqual(before.retention_billing, dtc.RETENTION_BILLING_AT_FINAL_ACCEPTANCE)   # the default
        mode = lambda m: self.stubs.dtc.UpdateBillingPolicy(dtc.UpdateBillingPolicyRequest(
            billing_policy=dtc.BillingPolicy(retention_billing=m),
            update_mask=field_mask_pb2.FieldMask(paths=["retention_billing"]), request_id=lc.new_id())).billing_policy
        self.assertEqual(mode(dtc.RETENTION_BILLING_AT_PERIOD_END).retention_billing,
                         dtc.RETENTION_BILLING_AT_PERIOD_END)
        try:
            snap = self.customer()
            terms = [("PAYMENT_TERM_KIND_ON_ACCEPTANCE", 9000, 30), ("PAYMENT_TERM_KIND_RETENTION", 1000, 180)]
            f = self.place(snap, 1_000_00, terms, place_time=epoch("2026-01-05"))
            g = self.place(snap, 2_000_00, terms, place_time=epoch("2026-01-05"))
            d = h.expect_error(lambda: self.stubs.dtc.ReleaseRetention(dtc.ReleaseRetentionRequest(
                order=g["order"], reason="early", request_id=lc.new_id())), grpc.StatusCode.FAILED_PRECONDITION)
            self.assertDetails(d, reason="ORDER_NOT_FULLY_ACCEPTED")
            raised = self.accept(f, snap, 1_000_00, fully=True, on="2026-02-01")   # retention held: 180 days
            self.assertEqual([self.invoice(n).term_kind for n in raised], [K.PAYMENT_TERM_KIND_ON_ACCEPTANCE])
            self.accept(g, snap, 2_000_00, fully=True, on="2026-02-01")

            def run(iso):
                r = self.stubs.dtc.RunBilling(dtc.RunBillingRequest(as_of_date=day(iso), request_id=lc.new_id()))
                mine = {i.name for i in self.invoices(f)} | {i.name for i in self.invoices(g)}
                return [self.invoice(n) for n in r.invoices if n in mine]

            self.assertEqual(run("2026-07-30"), [])   # 179 days after final acceptance
            # finance releases g's retention early: invoiced now, dated the release, due at once
            rel = dtc.ReleaseRetentionRequest(order=g["order"], reason="warranty waived", request_id=lc.new_id())
            rel.release_date.CopyFrom(day("2026-03-01"))
            out = self.stubs.dtc.ReleaseRetention(rel)
            inv = self.invoice(out.invoices[0])
            self.assertEqual((inv.term_kind, minor(inv.amount), inv.billing_event, inv.invoice_date, inv.due_date),
                             (K.PAYMENT_TERM_KIND_RETENTION, 200_00, dtc.BILLING_EVENT_RETENTION_DUE,
                              day("2026-03-01"), day("2026-03-01")))
            got = run("2026-07-31")   # the 180th day: f's retention
            self.assertEqual([(i.name in {x.name for x in self.invoices(f)}, minor(i.amount), i.invoice_date)
                              for i in got], [(True, 100_00, day("2026-07-31"))])
            self.assertEqual(run("2026-08-31"), [])   # once
            self.assertEqual(sum(minor(i.amount) for i in self.invoices(f)), 1_000_00)
        finally:
            mode(dtc.RETENTION_BILLING_AT_FINAL_ACCEPTANCE)


if __name__ == "__main__":
    h.main()
