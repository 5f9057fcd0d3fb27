-- bench/sql/load_bto.sql - closed deals :lo..:hi in BTO (see load_ltb.sql): the deal (CLOSED) with 2 requirements,
-- its accepted quote (2 lines from a shared 2-product catalogue, one discounted), the closed contract with 3 payment
-- terms (30% advance, 60% on acceptance, 10% retention), the closed order with 2 lines, the order hand-off to OTD
-- (delivered), and the idempotency keys of 6 client writes and 2 hand-offs.
\set ON_ERROR_STOP on
SET search_path = bto, public;
SET session_replication_role = replica;
SET synchronous_commit = off;
BEGIN;
-- (NOT EXISTS, not ON CONFLICT: the unique indexes are dropped during the load)
INSERT INTO products (id, sku, display_name, list_price_minor, unit_cost_minor, currency, lead_time_days)
SELECT * FROM (VALUES (bench_id(90, 0), 'BULK-A', 'Sorting robot arm', 123456, 80000, 'CNY', 20),
                      (bench_id(91, 0), 'BULK-B', 'Vision kit', 50000, 30000, 'CNY', 10)) AS v
WHERE NOT EXISTS (SELECT FROM products p WHERE p.id = v.column1);
INSERT INTO deals (id, opportunity_id, bid_id, customer_name, account_owner, solution_owner, fulfilment_owner,
                   expected_minor, currency, state, handoff_id, won_time, create_time, update_time)
SELECT bench_id(1, i), bench_id(1, i), bench_id(3, i), 'Bulk Customer ' || i, 'ar.li.na',
       'sr.zhang.wei', 'fr.chen.jie', 460368, 'CNY', 'CLOSED', bench_id(12, i), now() - interval '300 days',
       now() - interval '300 days', now() - interval '100 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO deal_requirements (id, deal_id, position, code, description, quantity)
SELECT bench_id(22 + p, i), bench_id(1, i), p, (ARRAY['THROUGHPUT', 'VISION'])[p + 1],
       'bulk requirement ' || p, 3 - p
FROM generate_series(:lo, :hi) i, generate_series(0, 1) p;
INSERT INTO quotes (id, deal_id, version, total_minor, currency, valid_until, state, accept_time, create_time,
                    update_time)
SELECT bench_id(5, i), bench_id(1, i), 1, 460368, 'CNY', current_date - 270, 'ACCEPTED',
       now() - interval '290 days', now() - interval '295 days', now() - interval '290 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO quote_lines (id, quote_id, line_no, product_id, sku, quantity, discount_bps, unit_list_minor,
                         unit_price_minor, line_total_minor, currency)
SELECT bench_id(30 + l, i), bench_id(5, i), l,
       CASE l WHEN 0 THEN bench_id(90, 0) ELSE bench_id(91, 0) END,
       CASE l WHEN 0 THEN 'BULK-A' ELSE 'BULK-B' END, 3 - l, CASE l WHEN 0 THEN 0 ELSE 1000 END,
       CASE l WHEN 0 THEN 123456 ELSE 50000 END, CASE l WHEN 0 THEN 123456 ELSE 45000 END,
       CASE l WHEN 0 THEN 370368 ELSE 90000 END, 'CNY'
FROM generate_series(:lo, :hi) i, generate_series(0, 1) l;
INSERT INTO contracts (id, quote_id, deal_id, total_minor, currency, requested_delivery_date, state, signed_by,
                       sign_time, close_time, create_time, update_time)
SELECT bench_id(6, i), bench_id(5, i), bench_id(1, i), 460368, 'CNY',
       current_date - 230, 'CLOSED', 'Zhao Min', now() - interval '280 days', now() - interval '100 days',
       now() - interval '285 days', now() - interval '100 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO contract_payment_terms (id, contract_id, position, kind, share_bps, due_days)
SELECT bench_id(32 + p, i), bench_id(6, i), p,
       (ARRAY['ADVANCE', 'ON_ACCEPTANCE', 'RETENTION'])[p + 1], (ARRAY[3000, 6000, 1000])[p + 1],
       (ARRAY[0, 30, 365])[p + 1]
FROM generate_series(:lo, :hi) i, generate_series(0, 2) p;
INSERT INTO orders (id, contract_id, deal_id, total_minor, currency, state, close_time, collected_minor,
                    collected_currency, close_handoff_id, create_time, update_time)
SELECT bench_id(7, i), bench_id(6, i), bench_id(1, i), 460368, 'CNY', 'CLOSED',
       now() - interval '100 days', 460368, 'CNY', bench_id(15, i), now() - interval '280 days',
       now() - interval '100 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO order_lines (id, order_id, line_no, product_id, sku, quantity, unit_price_minor, line_total_minor,
                         currency)
SELECT bench_id(35 + l, i), bench_id(7, i), l,
       CASE l WHEN 0 THEN bench_id(90, 0) ELSE bench_id(91, 0) END,
       CASE l WHEN 0 THEN 'BULK-A' ELSE 'BULK-B' END, 3 - l, CASE l WHEN 0 THEN 123456 ELSE 45000 END,
       CASE l WHEN 0 THEN 370368 ELSE 90000 END, 'CNY'
FROM generate_series(:lo, :hi) i, generate_series(0, 1) l;
INSERT INTO outbox (handoff_id, deal_id, destination, method, payload, create_time, attempts, next_attempt_time,
                    delivered_time)
SELECT bench_id(13, i), bench_id(1, i)::text, 'otd', '/ltc.otd.v1.IntakeService/AcceptOrder',
       decode(repeat('0a24', 150), 'hex'), now() - interval '280 days', 1, now() - interval '280 days',
       now() - interval '280 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO idempotency_keys (method, key, fingerprint, response, create_time)
SELECT '/ltc.bto.v1.BidToOrderService/' || m, bench_id(65 + k::int, i)::text, decode(repeat('5a', 32), 'hex'),
       decode(repeat('0a24', 100), 'hex'), now() - interval '280 days'
FROM generate_series(:lo, :hi) i,
     unnest(ARRAY['CreateQuote', 'AcceptQuote', 'CreateContract', 'SignContract', 'CreateOrder'])
         WITH ORDINALITY AS t(m, k);
INSERT INTO idempotency_keys (method, key, fingerprint, response, create_time)
SELECT '/ltc.bto.v1.IntakeService/' || m, bench_id(h, i)::text, decode(repeat('5a', 32), 'hex'),
       decode(repeat('0a24', 100), 'hex'), now() - interval '280 days'
FROM generate_series(:lo, :hi) i,
     (VALUES ('AcceptWonBid', 12), ('AcceptOrderClosure', 15)) AS v(m, h);
COMMIT;
