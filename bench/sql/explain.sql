-- bench/sql/explain.sql - the plans of the hot paths' statements on the stored deals (:n of them), written to the
-- results folder by bench/run (explain.txt); bench/report.py flags every sequential scan and fails the run when one
-- reads a table that grows with the stored deals (its size is listed at the end: "size schema.table rows").
-- The statements copy the services' SQL (file and constant named on each section; keep them in step) with one
-- stored deal's ids in place of the parameters, or new ids for what a deal in flight writes. EXPLAIN ANALYZE runs
-- each statement: the writes run in a transaction that is rolled back. A section's first word is its schema.
\set ON_ERROR_STOP on
\pset pager off
\echo '== stored deals'
SELECT 'stored deals ' || :n;
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
\echo '== ltb MarkBidWon (services/ltb/bids.c SQL_BID_LOCK, SQL_BID_WIN; common/src/idempotency.c SQL_KEY_CLAIM)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) INSERT INTO idempotency_keys (method, principal, key, fingerprint)
VALUES ('/ltc.ltb.v1.LeadToBidService/MarkBidWon', 'ar.li.na', bench_id(99, :n)::text, '\x00') ON CONFLICT DO NOTHING;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT o.id::text, o.stage, o.currency, o.collected_minor, b.state
FROM opportunities o JOIN bids b ON b.opportunity_id = o.id WHERE b.id = bench_id(3, :n / 2) FOR UPDATE OF o, b;
-- (the stored deal is closed: the same rows and plan with its stage and bid state kept)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
WITH wb AS (UPDATE bids SET state = state, update_time = now() WHERE id = bench_id(3, :n / 2) RETURNING id),
     wo AS (UPDATE opportunities o SET stage = o.stage, won_bid_id = o.won_bid_id, version = o.version + 1,
            update_time = now() WHERE o.id = bench_id(1, :n / 2) RETURNING o.id),
     ws AS (INSERT INTO stage_changes (id, opportunity_id, stage, actor, reason)
            VALUES (bench_id(99, :n), bench_id(1, :n / 2), 'WON', 'ar.li.na', ''))
SELECT wo.*, wb.* FROM wo, wb;
ROLLBACK;
\echo '== ltb GetDealTimeline milestones (services/ltb/timeline.c)'
EXPLAIN (COSTS OFF) SELECT m.kind, m.occur_time FROM deal_milestones m WHERE m.deal_id = bench_id(1, :n / 2)
ORDER BY m.occur_time, m.seq;
-- GetVelocityReport runs its statement as a cursor read to the end (cursor_tuple_fraction = 1). Its period here is a
-- week holding 1% of the stored deals, as a year or more of deals spread over the weeks would: the stored deals are
-- all created on one day (399 days ago) and the mark-won pools "now", so neither day is a realistic week (the pools'
-- week is half the table, where a sequential scan of opportunities would be a right plan: docs/performance.md).
-- Every hundredth stored deal is dated into the week 30..24 days ago inside this transaction, which is rolled back.
\echo '== ltb GetVelocityReport, a week holding 1% of the stored deals (services/ltb/reports.c SQL_VELOCITY_SELECT)'
BEGIN;
UPDATE opportunities SET create_time = now() - interval '30 days' + (i % 7) * interval '1 day'
FROM generate_series(1, :n, 100) i WHERE id = bench_id(1, i);
ANALYZE opportunities;
SELECT ((now() AT TIME ZONE 'UTC')::date - 30)::text AS vfrom, ((now() AT TIME ZONE 'UTC')::date - 24)::text AS vto
\gset
SET LOCAL cursor_tuple_fraction = 1;
EXPLAIN (COSTS OFF) DECLARE ltb_velocity_rows NO SCROLL CURSOR FOR
SELECT CASE 'MONTH'::text WHEN 'CUSTOMER' THEN COALESCE('customers/' || o.customer_id::text, '') WHEN 'OWNER' THEN
o.account_owner WHEN 'PRODUCT' THEN COALESCE(ps.sku, '') ELSE to_char(o.create_time AT TIME ZONE 'UTC', 'YYYY-MM')
END AS key, (extract(epoch FROM (SELECT l.create_time FROM leads l WHERE l.id = o.lead_id)) * 1000000)::bigint,
(extract(epoch FROM sc.won) * 1000000)::bigint, (extract(epoch FROM ms.placed) * 1000000)::bigint, (extract(epoch
FROM ms.accepted) * 1000000)::bigint, (extract(epoch FROM sc.cash) * 1000000)::bigint, ((COALESCE(ms.placed_on,
ms.promised_on)) - DATE '1970-01-01'), (((ms.last_accepted AT TIME ZONE 'UTC')::date) - DATE '1970-01-01'),
ms.invoiced, ms.paid, (extract(epoch FROM ms.first_invoice) * 1000000)::bigint, (extract(epoch FROM ms.last_paid) *
1000000)::bigint, ((ms.last_due) - DATE '1970-01-01'), w.weight, w.weighted::text FROM opportunities o CROSS JOIN
LATERAL (SELECT min(s.create_time) FILTER (WHERE s.stage = 'WON') AS won, min(s.create_time) FILTER (WHERE s.stage =
'CASH_COLLECTED') AS cash FROM stage_changes s WHERE s.opportunity_id = o.id) sc CROSS JOIN LATERAL (SELECT
min(m.occur_time) FILTER (WHERE m.kind = 'ORDER_PLACED') AS placed, min(m.occur_time) FILTER (WHERE m.kind =
'ACCEPTED') AS accepted, max(m.occur_time) FILTER (WHERE m.kind = 'ACCEPTED') AS last_accepted, sum(m.amount_minor)
FILTER (WHERE m.kind = 'INVOICED') AS invoiced, sum(m.amount_minor) FILTER (WHERE m.kind = 'PAID') AS paid,
min(m.occur_time) FILTER (WHERE m.kind = 'INVOICED') AS first_invoice, max(m.occur_time) FILTER (WHERE m.kind =
'PAID') AS last_paid, max(m.on_date) FILTER (WHERE m.kind = 'INVOICED') AS last_due, (array_agg(m.on_date ORDER BY
m.occur_time, m.seq) FILTER (WHERE m.kind = 'ORDER_PLACED'  AND m.on_date IS NOT NULL))[1] AS placed_on,
(array_agg(m.on_date ORDER BY m.occur_time, m.seq) FILTER (WHERE m.kind = 'ORDER_PROMISED'  AND m.on_date IS NOT
NULL))[1] AS promised_on FROM deal_milestones m WHERE m.deal_id = o.id) ms LEFT JOIN LATERAL (SELECT DISTINCT x.sku
FROM deal_milestones m CROSS JOIN unnest(m.product_skus) AS x(sku) WHERE m.deal_id = o.id AND m.kind =
'ORDER_PLACED') ps ON 'MONTH'::text = 'PRODUCT' CROSS JOIN LATERAL (SELECT sum(pm.amount_minor) AS weight,
sum(pm.amount_minor::numeric * greatest(0, floor(extract(epoch FROM pm.occur_time - inv.t)))::bigint) AS weighted
FROM deal_milestones pm JOIN (SELECT im.record, min(im.occur_time) AS t FROM deal_milestones im WHERE im.deal_id =
o.id AND im.kind = 'INVOICED' GROUP BY im.record) inv ON inv.record = pm.record WHERE pm.deal_id = o.id AND pm.kind
= 'PAID' AND pm.amount_minor IS NOT NULL) w WHERE o.create_time >= ((:'vfrom')::date::timestamp AT TIME ZONE 'UTC')
AND o.create_time < (((:'vto')::date + 1)::timestamp AT TIME ZONE 'UTC') AND (NULL::text IS NULL OR NULL IN
(o.account_owner, o.solution_owner, o.fulfilment_owner)) ORDER BY 1, o.seq;
ROLLBACK;
\echo '== ltb relay claim (common/src/outbox.c SQL_CLAIM_DEST: the won deal to BTO)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT o.seq, o.handoff_id, o.destination, o.method, o.payload, o.attempts
FROM outbox o WHERE o.delivered_time IS NULL AND o.parked_time IS NULL AND o.next_attempt_time <= now()
  AND o.destination = 'bto'
  AND o.seq = (SELECT p.seq FROM outbox p WHERE p.deal_id = o.deal_id AND p.destination = o.destination
               AND p.delivered_time IS NULL ORDER BY p.deal_id, p.destination, p.seq LIMIT 1)
ORDER BY o.seq LIMIT 32 FOR UPDATE OF o SKIP LOCKED;
SET search_path = bto, public;
\echo '== bto GetDeal, GetOrder (services/bto)'
EXPLAIN (COSTS OFF) SELECT * FROM deals WHERE id = bench_id(1, :n / 2);
EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE id = bench_id(7, :n / 2);
\echo '== bto CreateOrder, the BTO -> OTD hand-off written (services/bto/orders.c SQL_READ_CONTRACT, SQL_LOCK_CONTRACT, SQL_ORDER_OF_CONTRACT, SQL_PENDING_AMENDMENT, SQL_LOCK_DEAL, SQL_COPY_LINES; handoffs.c SQL_ORDER, SQL_ORDER_LINES, SQL_CONTRACT_TERMS)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT k.state, k.deal_id, (SELECT o.id FROM orders o WHERE o.contract_id = k.id),
  d.customer_id FROM contracts k JOIN deals d ON d.id = k.deal_id WHERE k.id = bench_id(6, :n / 2);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT state, quote_id, deal_id, total_minor, currency, order_id FROM contracts
WHERE id = bench_id(6, :n / 2) FOR UPDATE;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM orders WHERE contract_id = bench_id(6, :n / 2);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM contracts WHERE amends_id = bench_id(6, :n / 2) AND state = 'DRAFT';
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT state, customer_id FROM deals WHERE id = bench_id(1, :n / 2) FOR UPDATE;
-- (the stored order's lines written again in place of a new order's)
DELETE FROM order_lines WHERE order_id = bench_id(7, :n / 2);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) INSERT INTO order_lines (order_id, line_no, product_id, sku, quantity,
  unit_price_minor, line_total_minor, currency)
SELECT bench_id(7, :n / 2), line_no, product_id, sku, quantity, unit_price_minor, line_total_minor, currency
FROM quote_lines WHERE quote_id = bench_id(5, :n / 2);
ROLLBACK;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT o.contract_id, o.deal_id, d.customer_name, k.requested_delivery_date
FROM orders o JOIN deals d ON d.id = o.deal_id JOIN contracts k ON k.id = o.contract_id WHERE o.id = bench_id(7, :n / 2);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT ol.product_id, ol.sku, ql.product_version, ql.tax_minor
FROM order_lines ol JOIN orders o ON o.id = ol.order_id JOIN contracts k ON k.id = o.contract_id
JOIN quote_lines ql ON ql.quote_id = k.quote_id AND ql.line_no = ol.line_no
WHERE ol.order_id = bench_id(7, :n / 2) ORDER BY ol.line_no;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT kind, share_bps, due_days, milestone FROM contract_payment_terms
WHERE contract_id = bench_id(6, :n / 2) ORDER BY position;
\echo '== bto relay claim (common/src/outbox.c SQL_CLAIM_DEST: the placed order to OTD, AcceptOrder)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT o.seq, o.handoff_id, o.destination, o.method, o.payload, o.attempts
FROM outbox o WHERE o.delivered_time IS NULL AND o.parked_time IS NULL AND o.next_attempt_time <= now()
  AND o.destination = 'otd'
  AND o.seq = (SELECT p.seq FROM outbox p WHERE p.deal_id = o.deal_id AND p.destination = o.destination
               AND p.delivered_time IS NULL ORDER BY p.deal_id, p.destination, p.seq LIMIT 1)
ORDER BY o.seq LIMIT 32 FOR UPDATE OF o SKIP LOCKED;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT (extract(epoch FROM (min(next_attempt_time) - now())) * 1000)::bigint
FROM outbox WHERE delivered_time IS NULL AND parked_time IS NULL AND destination = 'otd';
SET search_path = otd, public;
\echo '== otd AcceptOrder, the BTO -> OTD hand-off applied (common/src/idempotency.c SQL_KEY_CLAIM, SQL_KEY_READ; services/otd/intake.c SQL_ORDER_INSERT, SQL_LINES_INSERT, SQL_TERMS_INSERT)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) INSERT INTO idempotency_keys (method, principal, key, fingerprint)
VALUES ('/ltc.otd.v1.IntakeService/AcceptOrder', '', bench_id(13, :n / 2)::text, '\x00') ON CONFLICT DO NOTHING;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT fingerprint, response FROM idempotency_keys
WHERE method = '/ltc.otd.v1.IntakeService/AcceptOrder' AND principal = '' AND key = bench_id(13, :n / 2)::text;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) INSERT INTO orders (id, contract_id, deal_id, customer_name, account_owner,
  solution_owner, fulfilment_owner, total_minor, currency, requested_delivery_date, state, customer_id)
VALUES (bench_id(99, :n), bench_id(99, :n + 1), bench_id(99, :n + 2), 'c', 'a', 's', 'f', 1, 'CNY',
  current_date + 30, 'RECEIVED',
  (WITH RECURSIVE m(id, depth) AS (SELECT bench_id(99, :n + 3), 0 UNION ALL SELECT x.survivor_id, m.depth + 1
   FROM m CROSS JOIN LATERAL (SELECT survivor_id FROM customer_changes WHERE customer_id = m.id
   AND change = 'MERGED' ORDER BY seq DESC LIMIT 1) x WHERE m.depth < 16) SELECT id FROM m ORDER BY depth DESC LIMIT 1))
ON CONFLICT (id) DO NOTHING RETURNING id;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) INSERT INTO order_lines (order_id, line_no, product_id, sku, quantity,
  unit_price_minor, currency, net_minor)
SELECT bench_id(99, :n), t.n, t.p, t.s, t.q, t.u, 'CNY', t.a
FROM unnest(ARRAY[bench_id(90, 0), bench_id(91, 0)], ARRAY['BULK-A', 'BULK-B'], ARRAY[3, 2]::bigint[],
            ARRAY[123456, 45000]::bigint[], ARRAY[370368, 90000]::bigint[]) WITH ORDINALITY AS t(p, s, q, u, a, n);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) INSERT INTO order_payment_terms (order_id, position, kind, share_bps, due_days,
  milestone)
SELECT bench_id(99, :n), t.n, t.k, t.b, t.d, nullif(t.m, '')
FROM unnest(ARRAY['ADVANCE', 'ON_ACCEPTANCE'], ARRAY[3000, 7000], ARRAY[0, 30], ARRAY['', ''])
     WITH ORDINALITY AS t(k, b, d, m, n);
ROLLBACK;
\echo '== otd GetOrder (services/orders.c SQL_LINES_OF, SQL_TERMS_OF, SQL_CHECKS_OF)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT order_id, product_id FROM order_lines
WHERE order_id = ANY(ARRAY[bench_id(7, :n / 2)]) ORDER BY order_id, line_no;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT order_id, kind FROM order_payment_terms
WHERE order_id = ANY(ARRAY[bench_id(7, :n / 2)]) ORDER BY order_id, position;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT DISTINCT ON (order_id, function) * FROM order_checks
WHERE order_id = ANY(ARRAY[bench_id(7, :n / 2)]) ORDER BY order_id, function, seq DESC;
\echo '== otd ScheduleOrder (services/otd/scheduling.c SQL_ORDERS_LOCK_SET, SQL_RESOURCES_OF_LOCK, SQL_PLAN_DAYS_OF, SQL_PLACE_LINES, SQL_BOOK_DIFF)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, seq, priority, state FROM orders
WHERE id = ANY(ARRAY[bench_id(7, :n / 2)]) ORDER BY id FOR UPDATE;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, daily_capacity, working_days, dedicated FROM resources
WHERE id IN (SELECT s.resource_id FROM order_lines l JOIN routing_steps s USING (sku)
             WHERE l.order_id = ANY(ARRAY[bench_id(7, :n / 2)]) AND l.quantity > l.shipped_quantity)
   OR (NOT dedicated AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = ANY(ARRAY[bench_id(7, :n / 2)])
       AND l.quantity > l.shipped_quantity AND NOT EXISTS (SELECT 1 FROM routings r WHERE r.sku = l.sku)))
ORDER BY id FOR UPDATE;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT 0, resource_id, (day - current_date)::int, capacity FROM resource_calendar_days
WHERE day > current_date AND day < current_date + 367 AND resource_id = ANY(ARRAY[bench_id(92, 0)])
UNION ALL SELECT 1, resource_id, (day - current_date)::int, booked FROM capacity_load
WHERE day > current_date AND day < current_date + 367 AND booked > 0 AND resource_id = ANY(ARRAY[bench_id(92, 0)])
UNION ALL SELECT 2, resource_id, (day - current_date)::int, sum(quantity)::bigint FROM capacity_bookings
WHERE order_id = ANY(ARRAY[bench_id(7, :n / 2)]) AND day > current_date AND day < current_date + 367
  AND resource_id = ANY(ARRAY[bench_id(92, 0)]) GROUP BY 2, 3;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
WITH l AS MATERIALIZED (SELECT order_id, line_no, sku, quantity - shipped_quantity AS q FROM order_lines
  WHERE order_id = ANY(ARRAY[bench_id(7, :n / 2)]) AND quantity > shipped_quantity)
SELECT 0 AS kind, order_id::text AS a, sku AS b, q::bigint AS c, NULL::bigint AS d, line_no AS pos FROM l
UNION ALL SELECT 1, r.sku, s.resource_id::text, r.lead_time_days::bigint, s.work_per_unit, s.position
FROM routings r JOIN routing_steps s USING (sku) WHERE r.sku IN (SELECT sku FROM l) ORDER BY 1, 2, 6;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
WITH made AS MATERIALIZED (SELECT t.r, current_date + t.d AS day, t.o, sum(t.w) AS w
  FROM unnest(ARRAY[bench_id(92, 0)], ARRAY[20], ARRAY[bench_id(7, :n / 2)], ARRAY[5]::bigint[]) AS t(r, d, o, w)
  GROUP BY t.r, t.d, t.o),
gone AS (DELETE FROM capacity_bookings b WHERE b.order_id = ANY(ARRAY[bench_id(7, :n / 2)]) AND b.day > current_date
  AND (b.order_id, b.resource_id, b.day) NOT IN (SELECT m.o, m.r, m.day FROM made m)),
promised AS (UPDATE orders o SET promise_date = current_date + t.f, update_time = now()
  FROM unnest(ARRAY[bench_id(7, :n / 2)], ARRAY[20], ARRAY[bench_id(92, 0)]) AS t(id, f, r) WHERE o.id = t.id
  AND o.promise_date IS DISTINCT FROM current_date + t.f)
INSERT INTO capacity_bookings (resource_id, day, order_id, quantity) SELECT m.r, m.day, m.o, m.w FROM made m
WHERE NOT EXISTS (SELECT 1 FROM capacity_bookings b WHERE b.order_id = m.o AND b.resource_id = m.r
  AND b.day = m.day AND b.quantity = m.w)
ON CONFLICT (order_id, resource_id, day) DO UPDATE SET quantity = excluded.quantity;
ROLLBACK;
\echo '== otd RecordAcceptance (services/otd/shipments.c SQL_SHIPMENT_LOCK, SQL_LINES_ACCEPT, SQL_ORDER_PROGRESS, SQL_SHIPMENT_DEAL)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT state, order_id FROM shipments WHERE id = bench_id(8, :n / 2) FOR UPDATE;
-- (the stored shipment is accepted already: the same join, the quantity added and taken off again)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) UPDATE order_lines ol
SET accepted_quantity = ol.accepted_quantity + sl.quantity - sl.quantity, update_time = now() FROM shipment_lines sl WHERE sl.shipment_id = bench_id(8, :n / 2) AND ol.id = sl.order_line_id;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT bool_and(accepted_quantity >= quantity), bool_or(shipped_quantity > 0)
FROM order_lines WHERE order_id = bench_id(7, :n / 2);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT o.deal_id, s.amount_minor, EXISTS (SELECT 1 FROM order_payment_terms t
  WHERE t.order_id = o.id AND t.kind = 'ON_DELIVERY') FROM shipments s JOIN orders o ON o.id = s.order_id
WHERE s.id = bench_id(8, :n / 2);
ROLLBACK;
SET search_path = dtc, public;
\echo '== dtc CheckCredit (services/dtc/credit.c SQL_EXPOSURE, SQL_OVERDUE)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT currency, sum(invoiced_minor - paid_minor - credited_minor)
FROM order_accounts WHERE customer_id = bench_id(99, 1) AND state = 'OPEN' GROUP BY 1;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT coalesce(max(current_date - i.due_date), 0)
FROM invoices i JOIN order_accounts a ON a.id = i.account_id
WHERE a.customer_id = bench_id(99, 1) AND i.state IN ('UNPAID', 'PARTLY_PAID') AND i.due_date < current_date;
\echo '== dtc invoice creation (services/dtc/billing.c SQL_PROGRESS, SQL_TERMS, SQL_INVOICE_INSERT, SQL_TERM_BILL)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT deal_id::text, currency, order_total_minor FROM order_accounts
WHERE id = bench_id(7, :n / 2);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT t.position, t.kind, EXISTS (SELECT FROM billing_milestones b
  WHERE b.account_id = t.account_id AND b.name = t.milestone)
FROM account_terms t JOIN order_accounts a ON a.id = t.account_id CROSS JOIN billing_policy p
WHERE t.account_id = bench_id(7, :n / 2) ORDER BY t.position;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) INSERT INTO invoices (id, account_id, shipment_id, term_position, term_kind,
  currency, amount_minor, invoice_date, due_date, billing_event)
VALUES (bench_id(99, :n), bench_id(7, :n / 2), bench_id(8, :n / 2), 1, 'ON_ACCEPTANCE', 'CNY', 1, current_date,
  current_date + 30, 'ACCEPTANCE');
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) UPDATE account_terms SET invoiced_minor = invoiced_minor + 0, update_time = now()
WHERE account_id = bench_id(7, :n / 2) AND position = 1;
ROLLBACK;
\echo '== dtc RecordPayment (services/dtc/receipts.c SQL_RECEIPT_BY_REF, SQL_INVOICE_INFO, SQL_INVOICE_LOCK, SQL_OPEN_INVOICES, SQL_ADVANCES)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM receipts WHERE bank_account = 'BANK' AND bank_reference = 'REF-1'
  AND 'REF-1' <> '';
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT i.account_id::text, a.customer_id, i.currency, a.deal_id::text
FROM invoices i JOIN order_accounts a ON a.id = i.account_id WHERE i.id = bench_id(48, :n / 2);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT currency, paid_minor, state FROM invoices WHERE id = bench_id(48, :n / 2)
FOR UPDATE;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT i.id::text, i.account_id::text FROM invoices i
JOIN order_accounts a ON a.id = i.account_id WHERE a.customer_id = bench_id(120, (:n / 2 + 3) / 4) AND i.currency = 'CNY'
  AND i.state IN ('UNPAID', 'PARTLY_PAID') AND a.state = 'OPEN' ORDER BY i.due_date, i.seq;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id::text, unapplied_minor FROM receipts
WHERE account_id = bench_id(7, :n / 2) AND currency = 'CNY' AND state = 'RECEIVED' AND unapplied_minor > 0
ORDER BY seq FOR UPDATE;
ROLLBACK;
\echo '== dtc credit and ledger of a stored deal customer (services/dtc/credit.c SQL_ACCOUNT_LOCK, SQL_HOLDS_EVALUATION, SQL_EXPOSURE, SQL_OTHER_CURRENCY; ledger.c SQL_EVENT_DATE, SQL_ENTRY_INSERT, SQL_ALLOC_DOCS)'
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT a.customer_id::text, a.merged_into::text, a.customer_blocked
FROM credit_accounts a WHERE a.customer_id = coalesce((SELECT t.merged_into FROM credit_accounts t
  WHERE t.customer_id = bench_id(120, (:n / 2 + 3) / 4)), bench_id(120, (:n / 2 + 3) / 4)) FOR UPDATE OF a;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
WITH lapse AS (UPDATE credit_reservations SET released_time = now(), release_reason = 'EXPIRED', update_time = now()
  WHERE customer_id = bench_id(120, (:n / 2 + 3) / 4) AND released_time IS NULL AND expire_time <= now()),
o (days, invoice) AS (SELECT coalesce(max(current_date - i.due_date), 0)::integer,
  (array_agg(i.id::text ORDER BY i.due_date, i.seq))[1] FROM invoices i JOIN order_accounts a ON a.id = i.account_id
  WHERE a.customer_id = bench_id(120, (:n / 2 + 3) / 4) AND i.state IN ('UNPAID', 'PARTLY_PAID')
  AND i.due_date < current_date)
SELECT o.days, o.invoice, h.id::text, h.kind FROM o LEFT JOIN credit_holds h
  ON h.customer_id = bench_id(120, (:n / 2 + 3) / 4) AND h.state = 'ACTIVE' AND h.kind <> 'MANUAL' ORDER BY h.seq;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
WITH a AS (SELECT currency::text AS currency, sum(invoiced_minor - paid_minor - credited_minor) AS r
  FROM order_accounts WHERE customer_id = bench_id(120, (:n / 2 + 3) / 4) AND state = 'OPEN' GROUP BY 1),
s AS (SELECT currency::text AS currency, sum(amount_minor) AS p FROM credit_reservations
  WHERE customer_id = bench_id(120, (:n / 2 + 3) / 4) AND released_time IS NULL
  AND (expire_time IS NULL OR expire_time > now()) GROUP BY 1),
l AS (SELECT currency::text AS currency, limit_minor FROM credit_limits
  WHERE customer_id = bench_id(120, (:n / 2 + 3) / 4)),
cur AS (SELECT currency FROM a UNION SELECT currency FROM s UNION SELECT currency FROM l)
SELECT cur.currency, a.r, s.p, l.limit_minor FROM cur LEFT JOIN a USING (currency) LEFT JOIN s USING (currency)
  LEFT JOIN l USING (currency);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT currency FROM credit_decisions
WHERE reference = 'contracts/' || bench_id(6, :n / 2) AND currency <> 'CNY' LIMIT 1;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT to_char(d, 'YYYY-MM-DD'), (SELECT state FROM ledger_periods
  WHERE period = to_char(d, 'YYYY-MM') FOR SHARE) FROM (SELECT current_date AS d) x;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
WITH e AS (INSERT INTO journal_entries (id, event, source, customer_id, currency, functional_currency, event_date,
  posting_date, period, total_minor, posted_by, fx_rate_scaled) VALUES (bench_id(99, :n), 'RECEIPT',
  'receipts/' || bench_id(99, :n), bench_id(120, (:n / 2 + 3) / 4), 'CNY', 'CNY', current_date, current_date,
  to_char(current_date, 'YYYY-MM'), 1, 'bench', 10000000000) RETURNING id)
INSERT INTO journal_lines (entry_id, line_no, account_role, account_code, debit_minor, credit_minor,
  functional_debit_minor, functional_credit_minor)
SELECT e.id, t.n, t.role, a.code, t.d, t.c, t.d, t.c FROM e, unnest(ARRAY['CASH', 'UNAPPLIED_CASH'], ARRAY[1, 0],
  ARRAY[0, 1]) WITH ORDINALITY AS t(role, d, c, n) JOIN ledger_accounts a ON a.role = t.role;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT (SELECT fx_rate_scaled FROM journal_entries WHERE source = 'invoices/' || bench_id(48, :n / 2)
  AND event = 'INVOICE' ORDER BY seq LIMIT 1), (SELECT paid_minor FROM invoices WHERE id = bench_id(48, :n / 2)),
  (SELECT fx_rate_scaled FROM journal_entries WHERE source = 'receipts/' || bench_id(135, :n / 2)
  AND event = 'RECEIPT' ORDER BY seq LIMIT 1), (SELECT applied_minor FROM receipts WHERE id = bench_id(135, :n / 2));
ROLLBACK;
\echo '== dtc RunRevenueRecognition, an order contract balances (services/dtc/revenue.c SQL_CONTRACT)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT coalesce(sum(l.credit_minor - l.debit_minor) FILTER (WHERE l.account_role = 'CONTRACT_LIABILITY'), 0)::bigint,
  coalesce(sum(l.debit_minor - l.credit_minor) FILTER (WHERE l.account_role = 'CONTRACT_ASSET'), 0)::bigint
FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id WHERE e.source = ANY (ARRAY['orders/' ||
  bench_id(7, :n / 2)::text] || ARRAY(SELECT 'invoices/' || id FROM invoices WHERE account_id = bench_id(7, :n / 2))
  || ARRAY(SELECT 'creditNotes/' || id FROM credit_notes WHERE account_id = bench_id(7, :n / 2)));
\echo '== dtc ListInvoices of an order (services/dtc/accounts.c SQL_INVOICES_OF_ORDER)'
EXPLAIN (COSTS OFF) SELECT id FROM invoices WHERE account_id = bench_id(7, :n / 2) AND seq > 0 ORDER BY seq LIMIT 8;
\echo '== table sizes (live rows, for the flag of a sequential scan of a table that grows with the deals)'
SELECT 'size ' || schemaname || '.' || relname || ' ' || greatest(n_live_tup, 0) FROM pg_stat_user_tables
WHERE schemaname IN ('ltb', 'bto', 'otd', 'dtc') ORDER BY 1;
