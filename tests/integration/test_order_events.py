#!/usr/bin/python3
"""OTD's order events as the other stages receive them (issue #15 with #14 and #16), through the gateway. NOT
registered in tests/integration/CMakeLists.txt on the planning branch: BTO's AcceptOrderCancelled and
AcceptPromiseChanged and DTC's AcceptOrderCancelled answer UNIMPLEMENTED there (their rows park). The lead registers
it once the receivers are merged.

- a promise made and moved is delivered to BTO (AcceptPromiseChanged), in order, nothing parked;
- a cancelled order is delivered to BTO and DTC (AcceptOrderCancelled), nothing parked; DTC raises no invoice for it;
- the milestones reach LTB's deal timeline.

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


if __name__ == "__main__":
    h.main()
