#!/usr/bin/python3
"""OTD's order events as the other stages receive them (issue #15 with #14 and #16), through the gateway:

- a promise made and moved is delivered to BTO (AcceptPromiseChanged), in order, nothing parked;
- a cancelled order is delivered to BTO and DTC (AcceptOrderCancelled), nothing parked; DTC raises no invoice for it;
- the milestones reach LTB's deal timeline;
- a return (OTD CreateReturn) of accepted goods becomes a RETURN credit note in DTC (AcceptReturn), visible through
  DTC's ListCreditNotes and GetCreditNote, of the RMA's value, crediting the order's invoices or the customer.

    /usr/bin/python3 tests/integration/test_order_events.py
"""
import datetime
import sys
import uuid
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))

import harness as h  # noqa: E402
import ltc_client as lc  # noqa: E402

RUN = uuid.uuid4().hex[:8]


def rid():
    return lc.new_id()


def rows(deal, method):
    """(destination, delivered, parked) of OTD's hand-offs of the deal for `method`, in order."""
    return [(r[0], r[1] == "t", r[2] == "t") for r in h.sql(
        "SELECT destination, delivered_time IS NOT NULL, parked_time IS NOT NULL FROM otd.outbox "
        "WHERE deal_id = :'d' AND method LIKE :'m' ORDER BY seq", d=deal.r["deal"].split("/")[1], m=f"%{method}")]


class OrderEventsTest(h.StackTestCase):

    def deal_on(self, line):
        deal = h.new_deal(self.stubs)
        deal.run_until("wait_otd_order")
        for k in ("A", "B"):
            self.stubs.otd.SetRouting(lc.otd.SetRoutingRequest(routing=lc.otd.Routing(
                sku=deal.r["skus"][deal.r["products"][k]],
                steps=[lc.otd.RoutingStep(resource=line.name, work_per_unit=1)]), request_id=rid()))
        self.stubs.otd.ReviewOrder(lc.otd.ReviewOrderRequest(name=deal.r["order"], approved=True, comment="ok",
                                                             request_id=rid()))
        return deal

    def test_promise_and_cancellation_delivered(self):
        line = self.stubs.otd.CreateResource(lc.otd.CreateResourceRequest(
            resource=lc.otd.Resource(display_name=f"Events {RUN}", daily_capacity=10,
                                     working_weekdays=[1, 2, 3, 4, 5, 6, 7], dedicated=True),
            request_id=rid())).resource
        kept, cancelled = self.deal_on(line), self.deal_on(line)
        for deal in (kept, cancelled):
            self.stubs.otd.ReleaseOrder(lc.otd.ReleaseOrderRequest(name=deal.r["order"], schedule=True,
                                                                   request_id=rid()))
        t0 = datetime.date.fromisoformat(h.sql_value("SELECT to_char(current_date, 'YYYY-MM-DD')"))
        tomorrow = t0 + datetime.timedelta(1)
        self.stubs.otd.SetResourceCalendar(lc.otd.SetResourceCalendarRequest(
            name=line.name, days=[lc.otd.CalendarDay(
                date=lc.types.Date(year=tomorrow.year, month=tomorrow.month, day=tomorrow.day), capacity=0)],
            request_id=rid()))
        self.stubs.otd.CancelOrder(lc.otd.CancelOrderRequest(name=cancelled.r["order"], reason="withdrawn",
                                                             request_id=rid()))
        # every hand-off delivered, none parked
        h.wait_until(lambda: all(d and not p for _, d, p in rows(kept, "AcceptPromiseChanged")) and
                     len(rows(kept, "AcceptPromiseChanged")) == 2, what="the promises delivered to BTO")
        h.wait_until(lambda: [(x, d, p) for x, d, p in rows(cancelled, "AcceptOrderCancelled")] ==
                     [("bto", True, False), ("dtc", True, False)], what="the cancellation delivered to BTO and DTC")
        # nothing more is billed for the cancelled order, and nothing of it stays owed: its advance invoice (billed
        # at placement, docs/receivables.md) is credited in full, no other term is billed, the account is CANCELLED
        def settled():
            invs = self.stubs.dtc.ListInvoices(lc.dtc.ListInvoicesRequest(order=cancelled.r["order"])).invoices
            return list(invs) if all(lc.to_minor(i.open_amount) == 0 for i in invs) else None
        invoices = h.wait_until(settled, what="the cancelled order's invoices credited")
        self.assertEqual({lc.types.PaymentTermKind.Name(i.term_kind) for i in invoices} - {"PAYMENT_TERM_KIND_ADVANCE"},
                         set(), "only the advance was billed before the cancellation")
        for i in invoices:
            self.assertEqual(lc.to_minor(i.credited_amount), lc.to_minor(i.amount) - lc.to_minor(i.paid_amount))
        account = self.stubs.dtc.GetOrderAccount(lc.dtc.GetOrderAccountRequest(
            name="orderAccounts/" + lc.name_id(cancelled.r["order"]))).order_account
        self.assertEqual(lc.dtc.OrderAccountState.Name(account.state), "ORDER_ACCOUNT_STATE_CANCELLED")
        # LTB's timeline has the order's story
        want = {"ORDER_REVIEWED", "ORDER_RELEASED", "ORDER_PROMISED", "ORDER_CANCELLED", "ORDER_CLOSED"}
        h.wait_until(lambda: want <= {r[0] for r in h.sql("SELECT kind FROM ltb.deal_milestones WHERE record = :'r'",
                                                          r=cancelled.r["order"])}, what="the milestones in LTB")

    def test_return_becomes_credit_note(self):
        line = self.stubs.otd.CreateResource(lc.otd.CreateResourceRequest(
            resource=lc.otd.Resource(display_name=f"Returns {RUN}", daily_capacity=100,
                                     working_weekdays=[1, 2, 3, 4, 5, 6, 7], dedicated=True),
            request_id=rid())).resource
        deal = self.deal_on(line)
        o = self.stubs.otd.ReleaseOrder(lc.otd.ReleaseOrderRequest(name=deal.r["order"], schedule=True,
                                                                   request_id=rid())).order
        lines = [(x.product, x.quantity) for x in o.lines]
        s = self.stubs.otd.CreateShipment(lc.otd.CreateShipmentRequest(shipment=lc.otd.Shipment(
            order=o.name, lines=[lc.otd.ShipmentLine(product=p, quantity=q) for p, q in lines]),
            request_id=rid())).shipment
        done = self.stubs.otd.RecordAcceptance(lc.otd.RecordAcceptanceRequest(
            name=s.name, accepted=True, note="all there", request_id=rid())).order
        self.assertEqual(done.state, lc.otd.ORDER_STATE_CLOSED)
        product, qty = lines[0]
        back = self.stubs.otd.CreateReturn(lc.otd.CreateReturnRequest(rma=lc.otd.Return(
            shipment=s.name, reason="damaged in transit", lines=[lc.otd.ShipmentLine(product=product, quantity=1)]),
            request_id=rid()))
        value = lc.to_minor(back.rma.amount)
        self.assertGreater(value, 0)
        self.assertLess(value, lc.to_minor(o.total))

        # one flow: OTD's AcceptReturn reaches DTC, which issues the credit note; read it back through DTC's API
        def note():
            ns = [n for n in self.stubs.dtc.ListCreditNotes(lc.dtc.ListCreditNotesRequest(order=o.name)).credit_notes
                  if n.kind == lc.dtc.CREDIT_NOTE_KIND_RETURN]
            return ns or None
        notes = h.wait_until(note, what="the return's credit note in DTC")
        self.assertEqual(len(notes), 1, "an RMA is credited once")
        n = self.stubs.dtc.GetCreditNote(lc.dtc.GetCreditNoteRequest(name=notes[0].name)).credit_note
        self.assertEqual(n.source, back.rma.name)
        self.assertEqual(n.reason, "damaged in transit")
        self.assertEqual(n.issued_by, "dtc")
        self.assertEqual(lc.to_minor(n.amount), value)
        self.assertEqual(lc.to_minor(n.credited_amount) + lc.to_minor(n.customer_credit_amount), value)
        self.assertEqual(sum(lc.to_minor(x.amount) for x in n.lines), lc.to_minor(n.credited_amount))
        self.assertEqual(rows(deal, "AcceptReturn"), [("dtc", True, False)])


if __name__ == "__main__":
    h.main()
