#!/usr/bin/python3
"""bench/scheduler_db.py - the scheduler end to end, database included (docs/performance.md, "The scheduler"): loads
N released orders (default 10,000) on 50 resources with Monday-to-Friday calendars and ten holidays each, and 200
routed SKUs, straight into the otd schema of a running stack (SQL, like bench/sql/load_otd.sql), then times through
the gateway ScheduleOrders (every open order from nothing: lock, read the plan, schedule in memory, write the
bookings, the promises, and one AcceptPromiseChanged plus one milestone per order) and ScheduleOrder (one order
re-promised, 35 times: the first 10 apart, as each meets a database connection that has not planned its
statements yet). Compare with build/bin/ltc-bench-scheduler, the in-memory part alone. The client's channel is
opened by a first cheap call, outside the figures.

    LTC_STATE_DIR=... LTC_PORT_OFFSET=... /usr/bin/python3 bench/scheduler_db.py [orders]

On demand only; it leaves 10,000 orders in the stack (their promise hand-offs to BTO park until BTO serves
AcceptPromiseChanged): run it on a throw-away stack.
"""
import json
import sys
import time
import uuid
from pathlib import Path

sys.dont_write_bytecode = True
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "clients" / "python"))
import harness as h  # noqa: E402
import ltc_client as lc  # noqa: E402

RUN = uuid.uuid4().hex[:8]
COLD = 10  # re-promises timed apart: more than OTD's workers, so each connection has served one


def load(n):
    h.sql(f"""
INSERT INTO otd.resources (id, display_name, daily_capacity, working_days, dedicated)
SELECT md5('{RUN}r' || r)::uuid, 'Sched bench {RUN} ' || r, 40, 31, true FROM generate_series(1, 50) r;
INSERT INTO otd.resource_calendar_days (resource_id, day, capacity, note)
SELECT DISTINCT ON (1, 2) md5('{RUN}r' || r)::uuid, current_date + 1 + ((r * 37 + k * 53) % 360), 0, 'holiday'
FROM generate_series(1, 50) r, generate_series(1, 10) k;
INSERT INTO otd.routings (sku, lead_time_days) SELECT 'SB-{RUN}-' || s, s % 31 FROM generate_series(1, 200) s;
INSERT INTO otd.routing_steps (sku, position, resource_id, work_per_unit)
SELECT 'SB-{RUN}-' || s, a, md5('{RUN}r' || (1 + (s + a * 7) % 50))::uuid, 1 + (s + a) % 3
FROM generate_series(1, 200) s, generate_series(1, 2 + s % 2) a;
INSERT INTO otd.orders (id, contract_id, deal_id, customer_name, total_minor, currency, requested_delivery_date,
                        state, priority)
SELECT md5('{RUN}o' || i)::uuid, md5('{RUN}c' || i)::uuid, md5('{RUN}d' || i)::uuid, 'Bench customer ' || i, 0,
       'CNY', current_date + 20 + (i * 7919) % 281, 'RELEASED', CASE WHEN i % 10 = 0 THEN 1 WHEN i % 9 = 0 THEN 3
       ELSE 2 END
FROM generate_series(1, {n}) i;
INSERT INTO otd.order_lines (order_id, line_no, product_id, sku, quantity, unit_price_minor, currency)
SELECT md5('{RUN}o' || i)::uuid, l, md5('{RUN}p' || i || '-' || l)::uuid, 'SB-{RUN}-' || (1 + (i * 31 + l * 17) % 200),
       1 + (i + l) % 20, 0, 'CNY'
FROM generate_series(1, {n}) i, generate_series(1, 1 + i % 3) l;
ANALYZE otd.orders; ANALYZE otd.order_lines; ANALYZE otd.capacity_bookings;
""")


def otd_time(method):
    """OTD's own time for its last call of method, from its rpc log line (written as the reply starts: from the
    request's receipt to the reply's start, so without the reply's sending, the gateway's hop and the client's
    decoding), or None when the log is not at hand (a stack whose logs are elsewhere)."""
    log = h.state_dir() / "logs" / "otd.log"
    for _ in range(20):  # the line is written as the reply goes: give it a moment
        if log.exists():
            for line in reversed(log.read_text(errors="replace").splitlines()):
                if '"event":"rpc"' in line and f"/{method}" in line:
                    return json.loads(line).get("duration_ms")
        time.sleep(0.1)
    return None


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    h.ensure_up()
    t0 = time.monotonic()
    load(n)
    print(f"loaded {n} released orders in {time.monotonic() - t0:.1f} s")
    s = h.gateway()
    # the client's channel set up first (connection, HTTP/2 settings: 20-50 ms), outside the figure
    s.otd.ListOrders(lc.otd.ListOrdersRequest(page_size=1))
    t0 = time.monotonic()
    r = s.otd.ScheduleOrders(lc.otd.ScheduleOrdersRequest(request_id=lc.new_id()), timeout=300).result
    full = time.monotonic() - t0
    print(f"ScheduleOrders (all, from nothing): {full * 1000:.0f} ms, {r.scheduled_count} placed, "
          f"{len(r.changes)} promises changed, {len(r.late_orders)} late")
    own = otd_time("ltc.otd.v1.OrderToDeliveryService/ScheduleOrders")
    if own is not None:
        print(f"ScheduleOrders in OTD (its rpc log: receipt to reply): {own:.0f} ms")
    oid = h.sql_value("SELECT md5(:'x')::uuid", x=f"{RUN}o{n // 2}")
    one = f"orders/{oid}"
    # let the relays deliver (or park) the promises' hand-offs first: they compete for the same two cores
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and h.sql_int(
            "SELECT count(*) FROM otd.outbox WHERE delivered_time IS NULL AND parked_time IS NULL") > 0:
        time.sleep(1)
    t0 = time.monotonic()
    r = s.otd.ScheduleOrders(lc.otd.ScheduleOrdersRequest(request_id=lc.new_id()), timeout=300).result
    again = time.monotonic() - t0
    print(f"ScheduleOrders again (nothing moves, no hand-off): {again * 1000:.0f} ms, {len(r.changes)} changed")
    # The first calls meet OTD's database connections (one a worker, LTC_WORKERS, 8 by default) before any call
    # has planned their statements; they are shown apart, the service's steady state after them.
    times = []
    for _ in range(COLD + 25):
        t0 = time.monotonic()
        s.otd.ScheduleOrder(lc.otd.ScheduleOrderRequest(name=one, request_id=lc.new_id()), timeout=60)
        times.append(time.monotonic() - t0)
    cold, warm = sorted(times[:COLD]), sorted(times[COLD:])
    print(f"ScheduleOrder (one re-promise), {len(warm)} calls after {COLD} first ones: median "
          f"{warm[len(warm) // 2] * 1000:.1f} ms, p90 {warm[int(len(warm) * 0.9)] * 1000:.1f} ms, best "
          f"{warm[0] * 1000:.1f} ms; the first {COLD}: median {cold[COLD // 2] * 1000:.1f} ms, "
          f"worst {cold[-1] * 1000:.1f} ms")
    s.close()


if __name__ == "__main__":
    main()
