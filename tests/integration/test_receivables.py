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

import harness as h
import ltc_client as lc

dtc = lc.dtc
CUR = "CNY"
K = lc.types


def money(minor):
    return lc.money(minor, CUR)


def minor(m):
    return lc.to_minor(m, CUR)


class Receivables(h.StackTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.intake = h.intake("dtc")

    @classmethod
    def tearDownClass(cls):
        cls.intake.close()
        super().tearDownClass()

    # --- helpers ------------------------------------------------------------------------------------------------

    def customer(self, name="Alpha"):
        cid = str(uuid.uuid4())
        return K.CustomerSnapshot(customer=f"customers/{cid}", legal_name=f"{name} {cid[:8]}", country_code="CN",
                                  billing_currency=CUR, account_owner="ar.recv")

    def place(self, snap, total, terms):
        """BTO's placement hand-off: the order's account opens (and its ADVANCE terms are billed)."""
        tri = K.IronTriangle(account_owner="ar.recv", solution_owner="sr.recv", fulfilment_owner="fr.recv")
        f = dict(order=f"orders/{uuid.uuid4()}", contract=f"contracts/{uuid.uuid4()}", deal=f"deals/{uuid.uuid4()}",
                 iron_triangle=tri, order_total=money(total),
                 payment_terms=[K.PaymentTerm(kind=K.PaymentTermKind.Value(k), share_bps=b, due_days=d)
                                for k, b, d in terms])
        self.intake.dtc.AcceptOrderPlaced(dtc.AcceptOrderPlacedRequest(handoff_id=lc.new_id(), customer=snap, **f))
        return f

    def ship(self, f, amount, fully=False):
        r = self.intake.dtc.AcceptShipment(dtc.AcceptShipmentRequest(
            handoff_id=lc.new_id(), shipment=f"shipments/{uuid.uuid4()}", order=f["order"], contract=f["contract"],
            deal=f["deal"], amount=money(amount), order_fully_shipped=fully,
            lines=[dtc.ReturnLine(product=f"products/{uuid.uuid4()}", sku="SKU-1", quantity=1,
                                  unit_price=money(amount))]))
        return list(r.invoices)

    def accept(self, f, snap, amount, fully=False):
        r = self.intake.dtc.AcceptDelivery(dtc.AcceptDeliveryRequest(
            handoff_id=lc.new_id(), shipment=f"shipments/{uuid.uuid4()}", customer_name=snap.legal_name,
            accepted_amount=money(amount), order_fully_accepted=fully, customer=snap, **f))
        return list(r.invoices)

    def invoices(self, f):
        return list(self.stubs.dtc.ListInvoices(dtc.ListInvoicesRequest(order=f["order"], page_size=500)).invoices)

    def invoice(self, name):
        return self.stubs.dtc.GetInvoice(dtc.GetInvoiceRequest(name=name)).invoice

    def receipt(self, snap, amount, ref=None, order="", bank="ICBC-001", request_id=None):
        r = dtc.Receipt(customer=snap.customer, amount=money(amount), bank_account=bank,
                        bank_reference=ref or f"REF-{uuid.uuid4()}", order=order)
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


if __name__ == "__main__":
    h.main()
