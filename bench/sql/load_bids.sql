-- bench/sql/load_bids.sql - the bids the state-change scenario marks won: :n opportunities in BIDDING, each with its
-- QUALIFIED lead, 2 requirements, 2 stage changes and one SUBMITTED bid, tagged :'tag' (one pool per run step).
-- Writes their names (bids/{uuid}) to stdout, in random order. Foreign keys are checked (rows go in their order),
-- so it also runs as a plain owner (the pgbench copy of ltb in database ltc_bench).
\set ON_ERROR_STOP on
SET search_path = ltb;
SET synchronous_commit = off;
BEGIN;
INSERT INTO leads (id, source, company_name, contact_name, contact_email, state, version)
SELECT md5(:'tag' || '.lead' || i)::uuid, 'EVENT', 'Pool Customer ' || :'tag' || '.' || i, 'Li Lei',
       'li.lei' || i || '@pool.example', 'QUALIFIED', 2
FROM generate_series(1, :n) i;
INSERT INTO opportunities (id, lead_id, customer_name, title, account_owner, solution_owner, fulfilment_owner,
                           expected_minor, currency, expected_close_date, win_probability_bps, stage, version)
SELECT md5(:'tag' || '.opp' || i)::uuid, md5(:'tag' || '.lead' || i)::uuid, 'Pool Customer ' || :'tag' || '.' || i,
       'Conveyor retrofit', 'ar.li.na', 'sr.zhang.wei', 'fr.chen.jie', 50000000, 'CNY', current_date + 45, 6000,
       'BIDDING', 3
FROM generate_series(1, :n) i;
INSERT INTO requirements (id, opportunity_id, position, code, description, quantity)
SELECT md5(:'tag' || '.req' || i || '.' || p)::uuid, md5(:'tag' || '.opp' || i)::uuid, p,
       (ARRAY['THROUGHPUT', 'VISION'])[p + 1], 'pool requirement ' || p, 3 - p
FROM generate_series(1, :n) i, generate_series(0, 1) p;
INSERT INTO stage_changes (id, opportunity_id, stage)
SELECT md5(:'tag' || '.stage' || i || '.' || s)::uuid, md5(:'tag' || '.opp' || i)::uuid,
       (ARRAY['QUALIFIED', 'BIDDING'])[s]
FROM generate_series(1, :n) i, generate_series(1, 2) s;
INSERT INTO bids (id, opportunity_id, amount_minor, currency, state)
SELECT md5(:'tag' || '.bid' || i)::uuid, md5(:'tag' || '.opp' || i)::uuid, 460368, 'CNY', 'SUBMITTED'
FROM generate_series(1, :n) i;
COMMIT;
SELECT 'bids/' || md5(:'tag' || '.bid' || i)::uuid FROM generate_series(1, :n) i ORDER BY random();
