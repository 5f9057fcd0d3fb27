-- bench/sql/load_otd.sql - closed deals :lo..:hi in OTD (see load_ltb.sql): the order (ACCEPTED) with 2 lines
-- (shipped and accepted in full), 3 payment terms, its review, a capacity booking on a shared resource (a past
-- Monday), one shipment of both lines (ACCEPTED), the acceptance hand-off to DTC (delivered), and the idempotency
-- keys of 6 client writes and 1 hand-off.
\set ON_ERROR_STOP on
SET search_path = otd, public;
SET session_replication_role = replica;
SET synchronous_commit = off;
BEGIN;
-- (NOT EXISTS, not ON CONFLICT: the unique indexes are dropped during the load)
INSERT INTO resources (id, display_name, daily_capacity)
SELECT bench_id(92, 0), 'Bulk assembly line', 1000000000
WHERE NOT EXISTS (SELECT FROM resources WHERE id = bench_id(92, 0));
INSERT INTO orders (id, contract_id, deal_id, customer_name, account_owner, solution_owner, fulfilment_owner,
                    total_minor, currency, requested_delivery_date, promise_date, late, resource_id, state,
                    create_time, update_time)
SELECT bench_id(7, i), bench_id(6, i), bench_id(1, i), 'Bulk Customer ' || i,
       'ar.li.na', 'sr.zhang.wei', 'fr.chen.jie', 460368, 'CNY', current_date - 230, current_date - 240, false,
       bench_id(92, 0), 'ACCEPTED', now() - interval '280 days', now() - interval '200 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO order_lines (id, order_id, line_no, product_id, sku, quantity, unit_price_minor, currency,
                         shipped_quantity, accepted_quantity)
SELECT bench_id(36 + l, i), bench_id(7, i), l,
       CASE l WHEN 1 THEN bench_id(90, 0) ELSE bench_id(91, 0) END,
       CASE l WHEN 1 THEN 'BULK-A' ELSE 'BULK-B' END, 4 - l, CASE l WHEN 1 THEN 123456 ELSE 45000 END, 'CNY',
       4 - l, 4 - l
FROM generate_series(:lo, :hi) i, generate_series(1, 2) l;
INSERT INTO order_payment_terms (id, order_id, position, kind, share_bps, due_days)
SELECT bench_id(38 + p, i), bench_id(7, i), p,
       (ARRAY['ADVANCE', 'ON_ACCEPTANCE', 'RETENTION'])[p], (ARRAY[3000, 6000, 1000])[p], (ARRAY[0, 30, 365])[p]
FROM generate_series(:lo, :hi) i, generate_series(1, 3) p;
INSERT INTO reviews (id, order_id, approved, comment)
SELECT bench_id(10, i), bench_id(7, i), true, 'configuration, credit, capacity, terms ok'
FROM generate_series(:lo, :hi) i;
INSERT INTO capacity_bookings (resource_id, day, order_id, quantity)
SELECT bench_id(92, 0), date '2020-01-06' + (i % 150) * 7,
       bench_id(7, i), 5
FROM generate_series(:lo, :hi) i;
INSERT INTO shipments (id, order_id, state, amount_minor, currency, acceptance_note, handoff_id, create_time,
                       decide_time, update_time)
SELECT bench_id(8, i), bench_id(7, i), 'ACCEPTED', 460368, 'CNY', 'inspected on site, accepted',
       bench_id(14, i), now() - interval '250 days', now() - interval '245 days', now() - interval '245 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO shipment_lines (id, shipment_id, line_no, order_line_id, quantity)
SELECT bench_id(41 + l, i), bench_id(8, i), l, bench_id(36 + l, i),
       4 - l
FROM generate_series(:lo, :hi) i, generate_series(1, 2) l;
INSERT INTO outbox (handoff_id, deal_id, destination, method, payload, create_time, attempts, next_attempt_time,
                    delivered_time)
SELECT bench_id(14, i), bench_id(1, i)::text, 'dtc', '/ltc.dtc.v1.IntakeService/AcceptDelivery',
       decode(repeat('0a24', 150), 'hex'), now() - interval '245 days', 1, now() - interval '245 days',
       now() - interval '245 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO idempotency_keys (method, key, fingerprint, response, create_time)
SELECT '/ltc.otd.v1.OrderToDeliveryService/' || m, bench_id(70 + k::int, i)::text, decode(repeat('5a', 32), 'hex'),
       decode(repeat('0a24', 100), 'hex'), now() - interval '250 days'
FROM generate_series(:lo, :hi) i,
     unnest(ARRAY['ReviewOrder', 'ReleaseOrder', 'ScheduleOrder', 'CreateShipment', 'RecordAcceptance'])
         WITH ORDINALITY AS t(m, k);
INSERT INTO idempotency_keys (method, key, fingerprint, response, create_time)
SELECT '/ltc.otd.v1.IntakeService/AcceptOrder', bench_id(13, i)::text, decode(repeat('5a', 32), 'hex'),
       decode(repeat('0a24', 100), 'hex'), now() - interval '280 days'
FROM generate_series(:lo, :hi) i;
COMMIT;
