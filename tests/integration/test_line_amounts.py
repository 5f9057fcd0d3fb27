#!/usr/bin/python3
"""test_line_amounts - an order line whose amount does not divide by its quantity, from BTO's pricing to DTC's
invoices through the gateway: BTO prices each quote line once and rounds it, so its net amount is not
quantity x unit_price; OTD takes the order (nothing parked in bto.outbox), values its two partial shipments from the
lines' net amounts pro rata (the part that completes a line takes the rest), and DTC's invoices of the order add up
exactly to the order total.

    /usr/bin/python3 tests/integration/test_line_amounts.py     (LTC_STATE_DIR, LTC_PORT_OFFSET as the fixture sets)
"""

import sys
from pathlib import Path

sys.dont_write_bytecode = True   # keep the source tree free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from harness import lc, lead_to_cash  # noqa: E402

QTY_A = lead_to_cash.QTY_A           # 3 x 1,234.56
DISCOUNT_A_BPS = 50                  # 0.5% off: 3,703.68 -> 3,685.1616, rounded once to 3,685.16 (/ 3 = 1,228.386...)


class OddLineDeal(lead_to_cash.Deal):
    """The demo deal with a line discount on product A that leaves its net amount indivisible by its quantity."""

    def create_quote(self):
        a, b = self.r["products"]["A"], self.r["products"]["B"]
        q = self.s.bto.CreateQuote(lc.bto.CreateQuoteRequest(
            quote=lc.bto.Quote(deal=self.r["deal"], valid_until=lc.days_ahead(30),
                               lines=[lc.bto.QuoteLine(product=a, quantity=QTY_A, discount_bps=DISCOUNT_A_BPS),
                                      lc.bto.QuoteLine(product=b, quantity=lead_to_cash.QTY_B,
                                                       discount_bps=lead_to_cash.DISCOUNT_B_BPS)]),
            request_id=lc.new_id())).quote
        self.r["quote"] = q.name
        self.r["quote_total"] = self._minor(q.total, "quote.total")
        self.r["quote_lines"] = [(ln.product, ln.quantity, self._minor(ln.unit_price, "unit_price"),
                                  self._minor(ln.line_total, "line_total")) for ln in q.lines]
        return q


class LineAmountsTest(h.StackTestCase):
    def test_indivisible_line_reaches_dtc_exactly(self):
        d = OddLineDeal(self.stubs, log=lambda *_: None)
        d.run_until("create_products")
        a, b = d.r["products"]["A"], d.r["products"]["B"]
        d.run_until("create_quote")
        lines = {p: (qty, unit, total) for p, qty, unit, total in d.r["quote_lines"]}
        qty_a, unit_a, net_a = lines[a]
        self.assertEqual(qty_a, QTY_A)
        self.assertNotEqual(net_a % qty_a, 0, f"line A's net {net_a} divides by {qty_a}: the test proves nothing")
        self.assertNotEqual(net_a, qty_a * unit_a)
        self.assertEqual(d.r["quote_total"], sum(t for _, _, t in lines.values()))

        d.run_until("wait_otd_order")            # OTD took it: GetOrder succeeds with BTO's total
        self.assertEqual(d.r["otd_order_total"], d.r["quote_total"])
        deal_id = lc.name_id(d.r["deal"])
        self.assertEqual(h.sql_int("SELECT count(*) FROM bto.outbox WHERE deal_id = :'d' AND parked_time IS NOT NULL",
                                   d=deal_id), 0)
        self.assertEqual(h.sql_int("SELECT count(*) FROM otd.order_lines WHERE order_id = :'o' AND net_minor IS NULL",
                                   o=lc.name_id(d.r["order"])), 0)

        d.run_until("schedule")
        s1 = d.ship([(a, 2)], "shipment1")        # 2 of 3: round(net_a x 2 / 3)
        self.assertEqual(lc.to_minor(s1.amount), (net_a * 2 * 2 + qty_a) // (2 * qty_a))
        d.accept(s1.name, "shipment1", "ORDER_STATE_PARTIALLY_SHIPPED")
        s2 = d.ship([(a, 1), (b, lead_to_cash.QTY_B)], "shipment2")   # the rest of A takes the rest of its amount
        self.assertEqual(lc.to_minor(s1.amount) + lc.to_minor(s2.amount), d.r["order_total"])
        d.accept(s2.name, "shipment2", "ORDER_STATE_CLOSED")

        invs = d.wait_invoices()                 # waits until they add up to the order total
        self.assertEqual(sum(lc.to_minor(i.amount) for i in invs), d.r["order_total"])
        self.assertEqual(d.r["invoice_total"], d.r["order_total"])
        self.assertEqual(h.sql_int("SELECT count(*) FROM otd.outbox WHERE deal_id = :'d' AND parked_time IS NOT NULL",
                                   d=deal_id), 0)


if __name__ == "__main__":
    h.main()
