-- bench/sql/load_ltb.sql - closed deals :lo..:hi in LTB, as the services would have left them after lead to cash:
-- the lead (QUALIFIED), its opportunity (CASH_COLLECTED, the deal), 2 requirements, 4 stage changes, the won bid,
-- the collected order, the won-bid hand-off (delivered) and the idempotency keys of the deal's 4 client writes and
-- 1 hand-off. Ids are md5 of a tag and the deal number, so the other schemas name the same deal without a join.
-- Run by bench/run as a superuser with session_replication_role = replica (foreign keys are not re-checked: the rows
-- are consistent by construction; CHECK constraints still apply). bench/run drops the schema's indexes and keys
-- before a load and builds them again after it (bench/sql/indexes_drop.sql, indexes_restore.sql).
\set ON_ERROR_STOP on
SET search_path = ltb;
SET session_replication_role = replica;
SET synchronous_commit = off;
BEGIN;
INSERT INTO leads (id, source, company_name, contact_name, contact_email, contact_phone, state, version, create_time,
                   update_time)
SELECT md5('lead' || i)::uuid, 'REFERRAL', 'Bulk Customer ' || i, 'Wang Fang', 'buyer' || i || '@bulk.example',
       '+86 21 5555 0100', 'QUALIFIED', 2, now() - interval '400 days', now() - interval '399 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO opportunities (id, lead_id, customer_name, title, account_owner, solution_owner, fulfilment_owner,
                           expected_minor, currency, expected_close_date, win_probability_bps, stage, won_bid_id,
                           collected_minor, version, create_time, update_time)
SELECT md5('deal' || i)::uuid, md5('lead' || i)::uuid, 'Bulk Customer ' || i, 'Warehouse sorting line', 'ar.li.na',
       'sr.zhang.wei', 'fr.chen.jie', 50000000, 'CNY', current_date - 300, 6000, 'CASH_COLLECTED',
       md5('bid' || i)::uuid, 460368, 4, now() - interval '399 days', now() - interval '100 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO requirements (id, opportunity_id, position, code, description, quantity)
SELECT md5('req' || i || '.' || p)::uuid, md5('deal' || i)::uuid, p, (ARRAY['THROUGHPUT', 'VISION'])[p + 1],
       'bulk requirement ' || p, 3 - p
FROM generate_series(:lo, :hi) i, generate_series(0, 1) p;
INSERT INTO stage_changes (id, opportunity_id, stage, create_time)
SELECT md5('stage' || i || '.' || s)::uuid, md5('deal' || i)::uuid,
       (ARRAY['QUALIFIED', 'BIDDING', 'WON', 'CASH_COLLECTED'])[s], now() - interval '400 days' + s * interval '50 days'
FROM generate_series(:lo, :hi) i, generate_series(1, 4) s;
INSERT INTO bids (id, opportunity_id, amount_minor, currency, state, create_time, update_time)
SELECT md5('bid' || i)::uuid, md5('deal' || i)::uuid, 460368, 'CNY', 'WON', now() - interval '350 days',
       now() - interval '300 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO collected_orders (id, opportunity_id, order_id, amount_minor, currency, handoff_id)
SELECT md5('coll' || i)::uuid, md5('deal' || i)::uuid, md5('order' || i)::uuid, 460368, 'CNY', md5('h.cash' || i)::uuid
FROM generate_series(:lo, :hi) i;
INSERT INTO outbox (handoff_id, deal_id, destination, method, payload, create_time, attempts, next_attempt_time,
                    delivered_time)
SELECT md5('h.won' || i)::uuid, md5('deal' || i)::uuid::text, 'bto', '/ltc.bto.v1.IntakeService/AcceptWonBid',
       decode(repeat('0a24', 120), 'hex'), now() - interval '300 days', 1, now() - interval '300 days',
       now() - interval '300 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO idempotency_keys (method, key, fingerprint, response, create_time)
SELECT '/ltc.ltb.v1.LeadToBidService/' || m, md5('rid.ltb.' || m || i)::uuid::text, sha256(('fp' || i)::bytea),
       decode(repeat('0a24', 100), 'hex'), now() - interval '300 days'
FROM generate_series(:lo, :hi) i,
     unnest(ARRAY['CreateLead', 'QualifyLead', 'CreateBid', 'MarkBidWon']) m;
INSERT INTO idempotency_keys (method, key, fingerprint, response, create_time)
SELECT '/ltc.ltb.v1.IntakeService/AcceptCashCollected', md5('h.cash' || i)::uuid::text, sha256(('fp' || i)::bytea),
       decode(repeat('0a24', 100), 'hex'), now() - interval '100 days'
FROM generate_series(:lo, :hi) i;
COMMIT;
