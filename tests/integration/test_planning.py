#!/usr/bin/python3
"""Order to delivery as planners run it (issue #15), through the gateway: the review by functions and a hold that is
cleared; routings (lead time, alternative resources) and calendars (holidays) moving the promise date; two
resources sharing load so that an urgent later order is promised earlier than first come, first served would; a
capacity cut that re-promises and flags late orders; a cancelled order freeing its capacity (its hand-offs to BTO and
DTC queued: their receivers are built by #14/#16, see test_order_events.py); and the bad input of the new RPCs.

Every scenario plans on dedicated resources of its own (7-day calendars, so that the dates are plain arithmetic),
with routings for its deals' SKUs, so that other suites' orders on the stack do not touch it.

    /usr/bin/python3 tests/integration/test_planning.py
"""
import datetime
import sys
import uuid
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))
import grpc  # noqa: E402

import harness as h  # noqa: E402
import ltc_client as lc  # noqa: E402

C = grpc.StatusCode
RUN = uuid.uuid4().hex[:8]
EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]


def rid():
    return lc.new_id()


def today():
    return datetime.date.fromisoformat(h.sql_value("SELECT to_char(current_date, 'YYYY-MM-DD')"))


def ymd(d):
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def date_msg(d):
    return lc.types.Date(year=d.year, month=d.month, day=d.day)


class PlanningTest(h.StackTestCase):

    # --- helpers ----------------------------------------------------------------------------------------------

    def resource(self, tag, capacity):
        return self.stubs.otd.CreateResource(lc.otd.CreateResourceRequest(
            resource=lc.otd.Resource(display_name=f"Planning {tag} {RUN}", daily_capacity=capacity,
                                     working_weekdays=EVERY_DAY, dedicated=True),
            request_id=rid())).resource

    def order(self):
        """A deal driven to its order RECEIVED in OTD; returns the Deal (its SKUs in deal.r["skus"])."""
        deal = h.new_deal(self.stubs)
        deal.run_until("wait_otd_order")
        return deal

    def route(self, deal, resources, lead=(0, 0)):
        """Routes the deal's two SKUs (A, then B) over `resources` (alternatives, one unit of work per unit)."""
        skus = [deal.r["skus"][deal.r["products"][k]] for k in ("A", "B")]
        for sku, days in zip(skus, lead):
            r = self.stubs.otd.SetRouting(lc.otd.SetRoutingRequest(routing=lc.otd.Routing(
                sku=sku, lead_time_days=days,
                steps=[lc.otd.RoutingStep(resource=x.name, work_per_unit=1) for x in resources]),
                request_id=rid())).routing
            self.assertEqual((r.name, r.lead_time_days, len(r.steps)), (f"routings/{sku}", days, len(resources)))

    def review(self, deal):
        return self.stubs.otd.ReviewOrder(lc.otd.ReviewOrderRequest(name=deal.r["order"], approved=True,
                                                                    comment="ok", request_id=rid())).order

    def release(self, deal, priority=0):
        return self.stubs.otd.ReleaseOrder(lc.otd.ReleaseOrderRequest(name=deal.r["order"], priority=priority,
                                                                      schedule=True, request_id=rid())).order

    def get(self, deal):
        return self.stubs.otd.GetOrder(lc.otd.GetOrderRequest(name=deal.r["order"])).order

    def checks(self, order):
        return {lc.otd.ReviewFunction.Name(c.function): (lc.otd.CheckOutcome.Name(c.outcome), list(c.reasons))
                for c in order.checks}

    def listed(self, **kw):
        names, token = set(), ""
        while True:
            resp = self.stubs.otd.ListOrders(lc.otd.ListOrdersRequest(page_size=500, page_token=token, **kw))
            names |= {o.name for o in resp.orders}
            token = resp.next_page_token
            if not token:
                return names

    def outbox(self, deal, method):
        """OTD's hand-off rows of the deal for `method`."""
        return h.sql_int("SELECT count(*) FROM otd.outbox WHERE deal_id = :'d' AND method LIKE :'m'",
                         d=deal.r["deal"].split("/")[1], m=f"%{method}")

    def assert_load_matches_bookings(self):
        """capacity_load holds, per resource and day, the sum of the bookings (the triggers of migrations 007/009
        keep it; a plan reads only it)."""
        off = h.sql_value("SELECT count(*) || coalesce(': ' || string_agg(x, '; '), '') FROM (SELECT resource_id || ' ' "
                          "|| day || ': load '"
                          " || coalesce(l.booked, 0) || ', bookings ' || coalesce(b.q, 0) AS x FROM otd.capacity_load l "
                          "FULL JOIN (SELECT resource_id, day, sum(quantity) AS q FROM otd.capacity_bookings "
                          "GROUP BY 1, 2) b USING (resource_id, day) WHERE coalesce(l.booked, 0) <> coalesce(b.q, 0) "
                          "LIMIT 5) t")
        self.assertEqual(off, "0", "capacity_load differs from the bookings (count: resource day: load, bookings)")

    def test_booking_references_checked(self):
        """A booking of an order or a resource that does not exist is refused (checked once per statement)."""
        res = self.resource("refs", 5).name.split("/")[1]
        order = self.order().r["order"].split("/")[1]
        ok = (f"INSERT INTO otd.capacity_bookings (resource_id, day, order_id, quantity) "
              f"VALUES ('{res}', current_date + 1, '{order}', 1)")
        for sql in (ok.replace(order, str(uuid.uuid4())), ok.replace(res, str(uuid.uuid4()))):
            with self.assertRaises(RuntimeError) as e:
                h.sql(sql)
            self.assertIn("does not exist", str(e.exception))
        h.sql(ok)    # both exist: written, and counted in the load
        self.assertEqual(h.sql_int("SELECT booked FROM otd.capacity_load WHERE resource_id = :'r' "
                                   "AND day = current_date + 1", r=res), 1)
        h.sql(f"DELETE FROM otd.capacity_bookings WHERE order_id = '{order}'")
        self.assert_load_matches_bookings()

    def test_promise_written_in_place(self):
        """A promise (RELEASED -> SCHEDULED with its date, resource and lateness) and a re-promise change no column
        an index of otd.orders uses, so PostgreSQL writes them as heap-only (HOT) updates: no new index entries, a
        first run's 10,000 promises 60-95 ms instead of 160-200 (OTD migration 012, docs/performance.md)."""
        written = ("state", "promise_date", "resource_id", "late", "first_promise_date", "update_time")
        blocking = h.sql_value(
            "SELECT count(*) || coalesce(': ' || string_agg(c.relname, ', '), '') FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'otd.orders'::regclass "
            "AND pg_get_indexdef(i.indexrelid) ~ :'cols'", cols=r"\m(" + "|".join(written) + r")\M")
        self.assertEqual(blocking, "0", "indexes of otd.orders on a column a promise writes")
        order = self.order().r["order"].split("/")[1]
        # What PostgreSQL does with the rows: the order released (is_open turns true: a new version), then promised
        # and re-promised as the bookings statement does, counted in the transaction's own statistics, rolled back.
        hot = h.sql_value(
            "BEGIN;\n"
            "UPDATE otd.orders SET state = 'RELEASED', update_time = now() WHERE id = :'o';\n"
            "SELECT pg_stat_get_xact_tuples_hot_updated('otd.orders'::regclass) AS before \\gset\n"
            "UPDATE otd.orders SET state = 'SCHEDULED', promise_date = current_date + 9, resource_id = :'r', "
            "late = false, first_promise_date = current_date + 9, update_time = now() WHERE id = :'o';\n"
            "UPDATE otd.orders SET promise_date = current_date + 12, resource_id = :'r2', late = true, "
            "update_time = now() WHERE id = :'o';\n"
            "SELECT pg_stat_get_xact_tuples_hot_updated('otd.orders'::regclass) - :before;\n"
            "ROLLBACK;", o=order, r=str(uuid.uuid4()), r2=str(uuid.uuid4()))
        self.assertEqual(hot, "2", "the promise and the re-promise as heap-only updates")

    # --- the scenarios ----------------------------------------------------------------------------------------

    def test_capacity_hold_cleared_and_lead_time(self):
        """The CAPACITY check fails (a 70-day material lead time misses the 60-day requested date): ON_HOLD with
        the reason; fulfilment clears it with a comment; released and scheduled, the promise is the lead time."""
        t0 = today()
        line = self.resource("lead", 10)
        deal = self.order()
        self.route(deal, [line], lead=(70, 0))
        held = self.review(deal)
        self.assertEqual(held.state, lc.otd.ORDER_STATE_ON_HOLD)
        checks = self.checks(held)
        self.assertEqual(checks["REVIEW_FUNCTION_CONFIGURATION"][0], "CHECK_OUTCOME_PASSED")
        self.assertEqual(checks["REVIEW_FUNCTION_TERMS"][0], "CHECK_OUTCOME_PASSED")
        self.assertEqual(checks["REVIEW_FUNCTION_REVIEWER"][0], "CHECK_OUTCOME_PASSED")
        self.assertEqual(checks["REVIEW_FUNCTION_CAPACITY"],
                         ("CHECK_OUTCOME_FAILED", [f"PROMISE_AFTER_REQUESTED_DATE:{ymd(t0 + datetime.timedelta(70))}"]))
        self.assertTrue(held.hold_reasons and held.hold_reasons[0].startswith("CAPACITY: PROMISE_AFTER"))
        # ON_HOLD is no dead end any more: release refuses it, the responsible role clears it
        d = h.expect_error(lambda: self.stubs.otd.ReleaseOrder(lc.otd.ReleaseOrderRequest(
            name=deal.r["order"], request_id=rid())), C.FAILED_PRECONDITION)
        self.assertEqual(d.reason, "ORDER_NOT_REVIEWED")
        d = h.expect_error(lambda: self.stubs.otd.ClearHold(lc.otd.ClearHoldRequest(
            name=deal.r["order"], function=lc.otd.REVIEW_FUNCTION_TERMS, comment="x", request_id=rid())),
            C.FAILED_PRECONDITION)
        self.assertEqual(d.reason, "CHECK_NOT_FAILED")
        d = h.expect_error(lambda: self.stubs.otd.ClearHold(lc.otd.ClearHoldRequest(
            name=deal.r["order"], function=lc.otd.REVIEW_FUNCTION_CAPACITY, request_id=rid())),
            C.INVALID_ARGUMENT)
        self.assertIn("comment", d.fields)
        cleared = self.stubs.otd.ClearHold(lc.otd.ClearHoldRequest(
            name=deal.r["order"], function=lc.otd.REVIEW_FUNCTION_CAPACITY,
            comment="customer agreed to a later date", request_id=rid())).order
        self.assertEqual(cleared.state, lc.otd.ORDER_STATE_REVIEWED)
        self.assertEqual(self.checks(cleared)["REVIEW_FUNCTION_CAPACITY"][0], "CHECK_OUTCOME_CLEARED")
        self.assertEqual(list(cleared.hold_reasons), [])
        d = h.expect_error(lambda: self.stubs.otd.ClearHold(lc.otd.ClearHoldRequest(
            name=deal.r["order"], function=lc.otd.REVIEW_FUNCTION_CAPACITY, comment="again", request_id=rid())),
            C.FAILED_PRECONDITION)
        self.assertEqual(d.reason, "ORDER_NOT_ON_HOLD")
        o = self.release(deal)
        self.assertEqual(o.state, lc.otd.ORDER_STATE_SCHEDULED)
        self.assertEqual(lc.fmt_date(o.promise_date), ymd(t0 + datetime.timedelta(70)))   # not before the material
        self.assertTrue(o.late)
        self.assertEqual(self.checks(o)["REVIEW_FUNCTION_CREDIT"][0], "CHECK_OUTCOME_PASSED")
        self.assertIn(o.name, self.listed(late_only=True))
        self.assertNotIn(o.name, self.listed(at_risk_only=True))
        # the first promise is handed to BTO and reported to LTB
        self.assertEqual(self.outbox(deal, "AcceptPromiseChanged"), 1)
        h.wait_until(lambda: h.sql_int("SELECT count(*) FROM ltb.deal_milestones WHERE record = :'r' AND kind IN "
                                       "('ORDER_REVIEWED', 'ORDER_HELD', 'ORDER_RELEASED', 'ORDER_PROMISED')",
                                       r=o.name) == 4, what="OTD's milestones in LTB")

    def test_holiday_and_capacity_cut_repromise(self):
        """Scheduled for tomorrow; a holiday tomorrow moves the promise a day; the resource down for 61 days makes
        it late: each change lists the moved order and the late ones, and the order is listed late."""
        t0 = today()
        line = self.resource("cut", 10)
        deal = self.order()
        self.route(deal, [line])
        self.assertEqual(self.review(deal).state, lc.otd.ORDER_STATE_REVIEWED)
        o = self.release(deal)
        self.assertEqual((o.state, lc.fmt_date(o.promise_date), o.late),
                         (lc.otd.ORDER_STATE_SCHEDULED, ymd(t0 + datetime.timedelta(1)), False))
        resp = self.stubs.otd.SetResourceCalendar(lc.otd.SetResourceCalendarRequest(
            name=line.name, days=[lc.otd.CalendarDay(date=date_msg(t0 + datetime.timedelta(1)), capacity=0,
                                                     note="holiday")], request_id=rid()))
        self.assertEqual([(x.date.day, x.capacity) for x in resp.resource.calendar_days],
                         [((t0 + datetime.timedelta(1)).day, 0)])
        moved = {c.order: c for c in resp.result.changes}
        self.assertIn(o.name, moved)
        self.assertEqual(lc.fmt_date(moved[o.name].previous_promise_date), ymd(t0 + datetime.timedelta(1)))
        self.assertEqual(lc.fmt_date(moved[o.name].promise_date), ymd(t0 + datetime.timedelta(2)))
        self.assertNotIn(o.name, resp.result.late_orders)
        # the resource is down for the next 61 days: past the requested date (60 days)
        down = [lc.otd.CalendarDay(date=date_msg(t0 + datetime.timedelta(k)), capacity=0, note="down")
                for k in range(1, 62)]
        resp = self.stubs.otd.SetResourceCalendar(lc.otd.SetResourceCalendarRequest(
            name=line.name, days=down, request_id=rid()))
        moved = {c.order: c for c in resp.result.changes}
        self.assertEqual(lc.fmt_date(moved[o.name].promise_date), ymd(t0 + datetime.timedelta(62)))
        self.assertTrue(moved[o.name].late)
        self.assertIn(o.name, resp.result.late_orders)
        now = self.get(deal)
        self.assertTrue(now.late)
        self.assertIn(o.name, self.listed(late_only=True))
        self.assertEqual(self.outbox(deal, "AcceptPromiseChanged"), 3)   # promised, then moved twice
        h.wait_until(lambda: h.sql_int("SELECT count(*) FROM ltb.deal_milestones WHERE record = :'r' AND "
                                       "kind = 'ORDER_REPROMISED'", r=o.name) == 2, what="ORDER_REPROMISED in LTB")
        # back to normal: the days cleared, a full reschedule brings the promise back
        self.stubs.otd.SetResourceCalendar(lc.otd.SetResourceCalendarRequest(
            name=line.name, clear_days=[x.date for x in down], request_id=rid()))
        self.assertEqual(lc.fmt_date(self.get(deal).promise_date), ymd(t0 + datetime.timedelta(1)))

    def test_two_resources_share_load_urgent_first(self):
        """Two alternative resources of 2 units a day share each line. First come, first served, the later order
        would be promised on day 3; released urgent (priority 1) and rescheduled, it is promised on day 2 and the
        earlier, normal order moves to day 3."""
        t0 = today()
        ra, rb = self.resource("share a", 2), self.resource("share b", 2)
        first, second = self.order(), self.order()
        for deal in (first, second):
            self.route(deal, [ra, rb])
            self.assertEqual(self.review(deal).state, lc.otd.ORDER_STATE_REVIEWED)
        o1 = self.release(first)
        self.assertEqual(lc.fmt_date(o1.promise_date), ymd(t0 + datetime.timedelta(2)))   # 5 units at 4 a day
        o2 = self.release(second, priority=1)        # placed behind the first: what FCFS gives it
        self.assertEqual(lc.fmt_date(o2.promise_date), ymd(t0 + datetime.timedelta(3)))
        self.assertEqual(o2.priority, 1)
        resp = self.stubs.otd.ScheduleOrders(lc.otd.ScheduleOrdersRequest(orders=[o1.name, o2.name],
                                                                           request_id=rid()))
        self.assertEqual(resp.result.scheduled_count, 2)
        moved = {c.order: lc.fmt_date(c.promise_date) for c in resp.result.changes}
        self.assertEqual(moved, {o2.name: ymd(t0 + datetime.timedelta(2)), o1.name: ymd(t0 + datetime.timedelta(3))})
        # the load is shared: the urgent order's work is on both resources
        used = h.sql_int("SELECT count(DISTINCT resource_id) FROM otd.capacity_bookings WHERE order_id = :'o'",
                         o=o2.name.split("/")[1])
        self.assertEqual(used, 2)
        # re-promising one order alone moves nobody else
        again = self.stubs.otd.ScheduleOrder(lc.otd.ScheduleOrderRequest(name=o1.name, request_id=rid())).order
        self.assertEqual(lc.fmt_date(again.promise_date), ymd(t0 + datetime.timedelta(3)))
        self.assertEqual(lc.fmt_date(self.get(second).promise_date), ymd(t0 + datetime.timedelta(2)))
        self.assert_load_matches_bookings()

    def test_cancel_frees_capacity(self):
        """A scheduled order is cancelled with a reason: its bookings go, a waiting order moves up, and the
        cancellation is queued for BTO and DTC; a cancelled order cannot be cancelled again."""
        t0 = today()
        line = self.resource("cancel", 5)
        first, second = self.order(), self.order()
        for deal in (first, second):
            self.route(deal, [line])
            self.review(deal)
        o1 = self.release(first)
        o2 = self.release(second)
        self.assertEqual((lc.fmt_date(o1.promise_date), lc.fmt_date(o2.promise_date)),
                         (ymd(t0 + datetime.timedelta(1)), ymd(t0 + datetime.timedelta(2))))
        d = h.expect_error(lambda: self.stubs.otd.CancelOrder(lc.otd.CancelOrderRequest(
            name=o1.name, request_id=rid())), C.INVALID_ARGUMENT)
        self.assertIn("reason", d.fields)
        c = self.stubs.otd.CancelOrder(lc.otd.CancelOrderRequest(name=o1.name, reason="customer withdrew",
                                                                 request_id=rid())).order
        self.assertEqual((c.state, c.cancel_reason), (lc.otd.ORDER_STATE_CANCELLED, "customer withdrew"))
        self.assertTrue(c.cancel_time.seconds > 0 and c.close_time.seconds > 0)
        self.assertEqual(h.sql_int("SELECT count(*) FROM otd.capacity_bookings WHERE order_id = :'o'",
                                   o=o1.name.split("/")[1]), 0)
        self.assert_load_matches_bookings()
        self.assertEqual(h.sql_int("SELECT count(*) FROM otd.outbox WHERE method LIKE '%AcceptOrderCancelled' AND "
                                   "deal_id = :'d'", d=first.r["deal"].split("/")[1]), 2)   # to BTO and to DTC
        self.assertEqual(h.sql_value("SELECT string_agg(destination, ',' ORDER BY destination) FROM otd.outbox "
                                     "WHERE method LIKE '%AcceptOrderCancelled' AND deal_id = :'d'",
                                     d=first.r["deal"].split("/")[1]), "bto,dtc")
        o2 = self.stubs.otd.ScheduleOrder(lc.otd.ScheduleOrderRequest(name=o2.name, request_id=rid())).order
        self.assertEqual(lc.fmt_date(o2.promise_date), ymd(t0 + datetime.timedelta(1)))   # the freed day
        d = h.expect_error(lambda: self.stubs.otd.CancelOrder(lc.otd.CancelOrderRequest(
            name=o1.name, reason="again", request_id=rid())), C.FAILED_PRECONDITION)
        self.assertEqual(d.reason, "ORDER_NOT_CANCELLABLE")
        d = h.expect_error(lambda: self.stubs.otd.ScheduleOrder(lc.otd.ScheduleOrderRequest(
            name=o1.name, request_id=rid())), C.FAILED_PRECONDITION)
        self.assertEqual(d.reason, "ORDER_NOT_RELEASED")

    def test_delivery_tolerance_and_closure(self):
        """A line with a 34% over-delivery tolerance (3 ordered: 4 may ship) refuses 5; a shipment within it is
        rejected by the customer (the order back to SCHEDULED, re-promised); the exact quantities shipped and
        accepted CLOSE the order."""
        line = self.resource("deliver", 10)
        deal = self.order()
        self.route(deal, [line])
        self.review(deal)
        o = self.release(deal)
        a, b = deal.r["products"]["A"], deal.r["products"]["B"]
        o = self.stubs.otd.SetDeliveryTolerance(lc.otd.SetDeliveryToleranceRequest(
            name=o.name, product=a, over_delivery_bps=3400, request_id=rid())).order
        self.assertEqual([(x.over_delivery_bps, x.backorder_quantity) for x in o.lines], [(3400, 3), (0, 2)])

        def ship(lines):
            return self.stubs.otd.CreateShipment(lc.otd.CreateShipmentRequest(shipment=lc.otd.Shipment(
                order=o.name, lines=[lc.otd.ShipmentLine(product=p, quantity=q) for p, q in lines]),
                request_id=rid())).shipment

        d = h.expect_error(lambda: ship([(a, 5)]), C.FAILED_PRECONDITION)
        self.assertEqual(d.reason, "OVER_SHIPMENT")
        d = h.expect_error(lambda: ship([(b, 3)]), C.FAILED_PRECONDITION)   # no tolerance on B
        self.assertEqual(d.reason, "OVER_SHIPMENT")
        s1 = ship([(a, 4), (b, 1)])
        now = self.get(deal)
        self.assertEqual(now.state, lc.otd.ORDER_STATE_PARTIALLY_SHIPPED)
        self.assertEqual([(x.shipped_quantity, x.backorder_quantity) for x in now.lines], [(4, 0), (1, 1)])
        r = self.stubs.otd.RecordAcceptance(lc.otd.RecordAcceptanceRequest(
            name=s1.name, accepted=False, note="wrong colour", request_id=rid())).order
        self.assertEqual(r.state, lc.otd.ORDER_STATE_SCHEDULED)
        self.assertTrue(r.promise_date.year > 0)
        s2 = ship([(a, 3), (b, 2)])
        done = self.stubs.otd.RecordAcceptance(lc.otd.RecordAcceptanceRequest(
            name=s2.name, accepted=True, note="ok", request_id=rid())).order
        self.assertEqual(done.state, lc.otd.ORDER_STATE_CLOSED)
        self.assertTrue(done.close_time.seconds > 0)
        self.assertEqual([(x.accepted_quantity, x.backorder_quantity) for x in done.lines], [(3, 0), (2, 0)])
        d = h.expect_error(lambda: self.stubs.otd.CancelOrder(lc.otd.CancelOrderRequest(
            name=o.name, reason="too late", request_id=rid())), C.FAILED_PRECONDITION)
        self.assertEqual(d.reason, "ORDER_NOT_CANCELLABLE")
        h.wait_until(lambda: h.sql_int("SELECT count(*) FROM ltb.deal_milestones WHERE record = :'r' AND kind IN "
                                       "('SHIPPED', 'ACCEPTED', 'ORDER_CLOSED')", r=o.name) == 4,
                     what="SHIPPED x2, ACCEPTED, ORDER_CLOSED in LTB")
        # a return (RMA) of accepted goods: handed to DTC for a credit note; no more than was delivered
        def give_back(shipment, lines):
            return self.stubs.otd.CreateReturn(lc.otd.CreateReturnRequest(rma=lc.otd.Return(
                shipment=shipment, reason="damaged in transit",
                lines=[lc.otd.ShipmentLine(product=p, quantity=q) for p, q in lines]), request_id=rid()))

        d = h.expect_error(lambda: give_back(s1.name, [(a, 1)]), C.FAILED_PRECONDITION)
        self.assertEqual(d.reason, "SHIPMENT_NOT_ACCEPTED")
        d = h.expect_error(lambda: give_back(s2.name, [(a, 4)]), C.FAILED_PRECONDITION)
        self.assertEqual(d.reason, "RETURN_EXCEEDS_ACCEPTED")
        back = give_back(s2.name, [(a, 2)])
        self.assertTrue(back.rma.name.startswith("returns/"))
        self.assertEqual(lc.to_minor(back.rma.amount), 2 * lc.to_minor(done.lines[0].unit_price))
        self.assertEqual([x.returned_quantity for x in back.order.lines], [2, 0])
        d = h.expect_error(lambda: give_back(s2.name, [(a, 2)]), C.FAILED_PRECONDITION)   # only 1 left
        self.assertEqual(d.reason, "RETURN_EXCEEDS_ACCEPTED")
        self.assertEqual(self.outbox(deal, "AcceptReturn"), 1)

    def test_bad_input(self):
        d = h.expect_error(lambda: self.stubs.otd.SetRouting(lc.otd.SetRoutingRequest(routing=lc.otd.Routing(
            sku="", lead_time_days=400, steps=[lc.otd.RoutingStep(resource="nope", work_per_unit=0)]),
            request_id=rid())), C.INVALID_ARGUMENT)
        for f in ("routing.sku", "routing.lead_time_days", "routing.steps[0].resource", "routing.steps[0].work_per_unit"):
            self.assertIn(f, d.fields)
        d = h.expect_error(lambda: self.stubs.otd.SetRouting(lc.otd.SetRoutingRequest(routing=lc.otd.Routing(
            sku=f"NOPE-{RUN}", steps=[lc.otd.RoutingStep(resource=f"resources/{uuid.uuid4()}", work_per_unit=1)]),
            request_id=rid())), C.NOT_FOUND)
        self.assertEqual(d.reason, "RESOURCE_NOT_FOUND")
        d = h.expect_error(lambda: self.stubs.otd.SetResourceCalendar(lc.otd.SetResourceCalendarRequest(
            name="resources/x", working_weekdays=[0, 8], days=[lc.otd.CalendarDay(capacity=-1)],
            request_id=rid())), C.INVALID_ARGUMENT)
        for f in ("name", "working_weekdays[0]", "working_weekdays[1]", "days[0].date", "days[0].capacity"):
            self.assertIn(f, d.fields)
        d = h.expect_error(lambda: self.stubs.otd.ClearHold(lc.otd.ClearHoldRequest(
            name="orders/x", function=lc.otd.REVIEW_FUNCTION_CREDIT, comment="", request_id=rid())),
            C.INVALID_ARGUMENT)
        for f in ("name", "function", "comment"):
            self.assertIn(f, d.fields)
        d = h.expect_error(lambda: self.stubs.otd.ScheduleOrders(lc.otd.ScheduleOrdersRequest(
            orders=["orders/x"], request_id=rid())), C.INVALID_ARGUMENT)
        self.assertIn("orders[0]", d.fields)
        d = h.expect_error(lambda: self.stubs.otd.ReleaseOrder(lc.otd.ReleaseOrderRequest(
            name="orders/x", priority=9, request_id=rid())), C.INVALID_ARGUMENT)
        self.assertIn("priority", d.fields)

    def test_availability_matches_release(self):
        """CheckAvailability (asked on OTD's own port, as BTO does; plaintext test stack) answers the date a release
        of the same lines then gets: A (3 units, 5-day lead time) on days 5-6 at 2 a day, B (2 units) on day 1."""
        import importlib
        av = importlib.import_module("ltc.otd.v1.availability_service_pb2")
        av_grpc = importlib.import_module("ltc.otd.v1.availability_service_pb2_grpc")
        t0 = today()
        line = self.resource("atp", 2)
        deal = self.order()
        self.route(deal, [line], lead=(5, 0))
        self.review(deal)
        lines = [av.AvailabilityLine(product=p, sku=deal.r["skus"][p], quantity=q) for p, q in deal.r["order_lines"]]
        with grpc.insecure_channel(h.target("otd")) as ch:
            ans = av_grpc.AvailabilityServiceStub(ch).CheckAvailability(av.CheckAvailabilityRequest(
                reference="quotes/atp", deal=deal.r["deal"], lines=lines,
                requested_date=date_msg(t0 + datetime.timedelta(3))), timeout=10)
            bad = h.expect_error(lambda: av_grpc.AvailabilityServiceStub(ch).CheckAvailability(
                av.CheckAvailabilityRequest(lines=[av.AvailabilityLine(sku="", quantity=0)]), timeout=10),
                C.INVALID_ARGUMENT)
        self.assertIn("lines[0].sku", bad.fields)
        self.assertIn("lines[0].quantity", bad.fields)
        self.assertEqual(lc.fmt_date(ans.earliest_promise_date), ymd(t0 + datetime.timedelta(6)))
        self.assertEqual([lc.fmt_date(x.earliest_date) for x in ans.lines],
                         [ymd(t0 + datetime.timedelta(6)), ymd(t0 + datetime.timedelta(1))])
        self.assertFalse(ans.meets_requested_date)
        self.assertEqual(lc.fmt_date(ans.as_of_date), ymd(t0))
        o = self.release(deal)
        self.assertEqual(lc.fmt_date(o.promise_date), lc.fmt_date(ans.earliest_promise_date))

    def test_availability_not_routed_by_gateway(self):
        """AvailabilityService is internal (BTO only): the gateway does not route it."""
        d = h.expect_error(lambda: self.stubs.call_raw("/ltc.otd.v1.AvailabilityService/CheckAvailability", b""),
                           C.UNIMPLEMENTED)
        self.assertEqual(d.code, C.UNIMPLEMENTED)


if __name__ == "__main__":
    h.main()
