-- bench/sql/load_ltb.sql - closed deals :lo..:hi in LTB, as the services would have left them after lead to cash:
-- the lead (QUALIFIED), its opportunity (CASH_COLLECTED, the deal), 2 requirements, 4 stage changes, the won bid,
-- the collected order, the won-bid hand-off (delivered) and the idempotency keys of the deal's 4 client writes and
-- 1 hand-off, and the 8 milestones the other stages sent the CRM hub (quote sent .. paid, between WON and
-- CASH_COLLECTED; ORDER_PLACED with two SKUs) for GetDealTimeline and GetVelocityReport. Ids are bench_id(kind, deal number) (bench/sql/functions.sql: a kind per table and row of a deal), so
-- the other schemas name the same deal without a join.
-- Run by bench/run as a superuser with session_replication_role = replica (foreign keys are not re-checked: the rows
-- are consistent by construction; CHECK constraints still apply). bench/run drops the schema's indexes and keys
-- before a load and builds them again after it (bench/sql/indexes_drop.sql, indexes_restore.sql).
\set ON_ERROR_STOP on
SET search_path = ltb, public;
SET session_replication_role = replica;
SET synchronous_commit = off;
BEGIN;
INSERT INTO leads (id, source, company_name, contact_name, contact_email, contact_phone, state, version, create_time,
                   update_time)
SELECT bench_id(2, i), 'REFERRAL', 'Bulk Customer ' || i, 'Wang Fang', 'buyer' || i || '@bulk.example',
       '+86 21 5555 0100', 'QUALIFIED', 2, now() - interval '400 days', now() - interval '399 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO opportunities (id, lead_id, customer_name, title, account_owner, solution_owner, fulfilment_owner,
                           expected_minor, currency, expected_close_date, win_probability_bps, stage, won_bid_id,
                           collected_minor, version, create_time, update_time)
SELECT bench_id(1, i), bench_id(2, i), 'Bulk Customer ' || i, 'Warehouse sorting line', 'ar.li.na',
       'sr.zhang.wei', 'fr.chen.jie', 50000000, 'CNY', current_date - 300, 6000, 'CASH_COLLECTED',
       bench_id(3, i), 460368, 4, now() - interval '399 days', now() - interval '100 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO requirements (id, opportunity_id, position, code, description, quantity)
SELECT bench_id(20 + p, i), bench_id(1, i), p, (ARRAY['THROUGHPUT', 'VISION'])[p + 1],
       'bulk requirement ' || p, 3 - p
FROM generate_series(:lo, :hi) i, generate_series(0, 1) p;
INSERT INTO stage_changes (id, opportunity_id, stage, create_time)
SELECT bench_id(23 + s, i), bench_id(1, i),
       (ARRAY['QUALIFIED', 'BIDDING', 'WON', 'CASH_COLLECTED'])[s], now() - interval '400 days' + s * interval '50 days'
FROM generate_series(:lo, :hi) i, generate_series(1, 4) s;
INSERT INTO bids (id, opportunity_id, amount_minor, currency, state, create_time, update_time)
SELECT bench_id(3, i), bench_id(1, i), 460368, 'CNY', 'WON', now() - interval '350 days',
       now() - interval '300 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO collected_orders (id, opportunity_id, order_id, amount_minor, currency, handoff_id)
SELECT bench_id(4, i), bench_id(1, i), bench_id(7, i), 460368, 'CNY', bench_id(16, i)
FROM generate_series(:lo, :hi) i;
INSERT INTO outbox (handoff_id, deal_id, destination, method, payload, create_time, attempts, next_attempt_time,
                    delivered_time)
SELECT bench_id(12, i), bench_id(1, i)::text, 'bto', '/ltc.bto.v1.IntakeService/AcceptWonBid',
       decode(repeat('0a24', 120), 'hex'), now() - interval '300 days', 1, now() - interval '300 days',
       now() - interval '300 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO idempotency_keys (method, key, fingerprint, response, create_time)
SELECT '/ltc.ltb.v1.LeadToBidService/' || m, bench_id(60 + k::int, i)::text, decode(repeat('5a', 32), 'hex'),
       decode(repeat('0a24', 100), 'hex'), now() - interval '300 days'
FROM generate_series(:lo, :hi) i,
     unnest(ARRAY['CreateLead', 'QualifyLead', 'CreateBid', 'MarkBidWon']) WITH ORDINALITY AS t(m, k);
INSERT INTO deal_milestones (id, deal_id, stage, kind, record, occur_time, actor, amount_minor, currency, on_date,
                             handoff_id, receive_time, product_skus)
SELECT bench_id(100 + m.k, i), bench_id(1, i), m.stage, m.kind, m.coll || '/' || bench_id(m.rk, i)::text,
       now() - interval '250 days' + m.k * interval '5 days', lower(m.stage),
       CASE WHEN m.money THEN 460368 END, CASE WHEN m.money THEN 'CNY' END,
       CASE WHEN m.due IS NOT NULL THEN current_date - m.due END, bench_id(110 + m.k, i),
       now() - interval '250 days' + m.k * interval '5 days',
       CASE WHEN m.kind = 'ORDER_PLACED' THEN ARRAY['BULK-A', 'BULK-B'] ELSE '{}'::text[] END
FROM generate_series(:lo, :hi) i,
     (VALUES (1, 'BTO', 'QUOTE_SENT', 'quotes', 5, true, NULL::int),
             (2, 'BTO', 'CONTRACT_SIGNED', 'contracts', 6, true, NULL),
             (3, 'BTO', 'ORDER_PLACED', 'orders', 7, true, 215),
             (4, 'OTD', 'ORDER_PROMISED', 'orders', 7, false, 220),
             (5, 'OTD', 'SHIPPED', 'shipments', 44, true, NULL),
             (6, 'OTD', 'ACCEPTED', 'shipments', 44, true, NULL),
             (7, 'DTC', 'INVOICED', 'invoices', 47, true, 180),
             (8, 'DTC', 'PAID', 'invoices', 47, true, NULL)) AS m(k, stage, kind, coll, rk, money, due);
INSERT INTO idempotency_keys (method, key, fingerprint, response, create_time)
SELECT '/ltc.ltb.v1.IntakeService/AcceptCashCollected', bench_id(16, i)::text, decode(repeat('5a', 32), 'hex'),
       decode(repeat('0a24', 100), 'hex'), now() - interval '100 days'
FROM generate_series(:lo, :hi) i;
COMMIT;
