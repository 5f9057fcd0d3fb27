-- bench/sql/explain.sql - the plans of the hot paths' statements on the stored deals (:n of them), written to the
-- results folder by bench/run; bench/report.py flags any sequential scan. The statements copy the FROM and WHERE
-- clauses of the services' SQL (file named on each) with one stored deal's ids in place of the parameters: keep them
-- in step.
\set ON_ERROR_STOP on
\pset pager off
SET search_path = ltb, public;
\echo '== ltb GetLead (services/ltb/leads.c SQL_LEAD_GET)'
EXPLAIN (COSTS OFF) SELECT l.id::text, l.state, o.id::text FROM leads l LEFT JOIN opportunities o ON o.lead_id = l.id
WHERE l.id = bench_id(2, :n / 2);
\echo '== ltb GetOpportunity (services/ltb/opportunities.c SQL_OPP_GET, SQL_REQS_OF, SQL_HISTORY_OF)'
EXPLAIN (COSTS OFF) SELECT o.id::text, o.stage FROM opportunities o WHERE o.id = bench_id(1, :n / 2);
EXPLAIN (COSTS OFF) SELECT p.ord, r.code, r.description, r.quantity
FROM unnest(ARRAY[bench_id(1, :n / 2)]) WITH ORDINALITY AS p(id, ord) JOIN requirements r ON r.opportunity_id = p.id
ORDER BY p.ord, r.position;
EXPLAIN (COSTS OFF) SELECT p.ord, s.stage FROM unnest(ARRAY[bench_id(1, :n / 2)]) WITH ORDINALITY AS p(id, ord)
JOIN stage_changes s ON s.opportunity_id = p.id ORDER BY p.ord, s.create_time, s.seq;
\echo '== ltb MarkBidWon (services/ltb/bids.c SQL_BID_OPPORTUNITY, SQL_BID_LOCK; opportunities.c SQL_OPP_LOCK)'
EXPLAIN (COSTS OFF) SELECT opportunity_id::text FROM bids WHERE id = bench_id(3, :n / 2);
EXPLAIN (COSTS OFF) SELECT state FROM bids WHERE id = bench_id(3, :n / 2) FOR UPDATE;
EXPLAIN (COSTS OFF) SELECT id::text, stage, currency, collected_minor FROM opportunities
WHERE id = bench_id(1, :n / 2) FOR UPDATE;
\echo '== ltb GetDealTimeline milestones, GetVelocityReport (services/ltb/timeline.c, reports.c SQL_VELOCITY)'
EXPLAIN (COSTS OFF) SELECT m.kind, m.occur_time FROM deal_milestones m WHERE m.deal_id = bench_id(1, :n / 2)
ORDER BY m.occur_time, m.seq;
EXPLAIN (COSTS OFF) SELECT o.id, ps.sku, w.weight FROM opportunities o JOIN leads l ON l.id = o.lead_id
LEFT JOIN LATERAL (SELECT DISTINCT x.sku FROM deal_milestones m CROSS JOIN unnest(m.product_skus) AS x(sku)
  WHERE m.deal_id = o.id AND m.kind = 'ORDER_PLACED') ps ON true
CROSS JOIN LATERAL (SELECT sum(pm.amount_minor) AS weight FROM deal_milestones pm JOIN (SELECT im.record,
  min(im.occur_time) AS t FROM deal_milestones im WHERE im.deal_id = o.id AND im.kind = 'INVOICED'
  GROUP BY im.record) inv ON inv.record = pm.record WHERE pm.deal_id = o.id AND pm.kind = 'PAID') w
WHERE o.create_time >= now() - interval '7 days' AND o.create_time < now() ORDER BY 1, o.seq;
\echo '== runtime idempotency key (common/src/server.c SQL_KEY_READ) and outbox claim (common/src/outbox.c SQL_CLAIM)'
EXPLAIN (COSTS OFF) SELECT fingerprint, response FROM idempotency_keys
WHERE method = '/ltc.ltb.v1.LeadToBidService/MarkBidWon' AND key = bench_id(64, :n / 2)::text;
EXPLAIN (COSTS OFF) SELECT o.seq, o.handoff_id, o.destination, o.method, o.payload, o.attempts FROM outbox o
WHERE o.delivered_time IS NULL AND o.parked_time IS NULL AND o.next_attempt_time <= now()
  AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.deal_id = o.deal_id AND p.destination = o.destination
                  AND p.seq < o.seq AND p.delivered_time IS NULL)
ORDER BY o.seq LIMIT 32 FOR UPDATE OF o SKIP LOCKED;
SET search_path = bto, public;
\echo '== bto GetDeal, GetOrder (services/bto)'
EXPLAIN (COSTS OFF) SELECT * FROM deals WHERE id = bench_id(1, :n / 2);
EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE id = bench_id(7, :n / 2);
SET search_path = otd, public;
\echo '== otd GetOrder lines, ScheduleOrder capacity (services/otd/orders.c SQL_LINES_OF, scheduling.c SQL_PLAN_DAYS_OF)'
EXPLAIN (COSTS OFF) SELECT order_id, product_id FROM order_lines WHERE order_id = ANY(ARRAY[bench_id(7, :n / 2)])
ORDER BY order_id, line_no;
EXPLAIN (COSTS OFF) SELECT (day - current_date)::int, booked FROM capacity_load
WHERE resource_id = ANY(ARRAY[bench_id(92, 0)]) AND day > current_date AND day < current_date + 367 AND booked > 0;
EXPLAIN (COSTS OFF) SELECT resource_id, (day - current_date)::int, sum(quantity)::bigint FROM capacity_bookings
WHERE order_id = ANY(ARRAY[bench_id(7, :n / 2)]) AND day > current_date AND day < current_date + 367 GROUP BY 1, 2;
SET search_path = dtc, public;
\echo '== dtc ListInvoices of an order, RecordPayment (services/dtc/accounts.c SQL_INVOICES_OF_ORDER)'
EXPLAIN (COSTS OFF) SELECT id FROM invoices WHERE account_id = bench_id(7, :n / 2) AND seq > 0 ORDER BY seq LIMIT 8;
EXPLAIN (COSTS OFF) SELECT * FROM invoices WHERE id = bench_id(47, :n / 2) FOR UPDATE;
