-- bench/sql/load_bids.sql - the bids the state-change scenario marks won: :n opportunities in BIDDING, each with its
-- QUALIFIED lead, 2 requirements, 2 stage changes and one SUBMITTED bid, pool number :pool (1..999, one pool per run
-- step; ids bench_id(1000 * pool + 1..9, i)). Writes their names (bids/{uuid}) to stdout, in random order. Foreign
-- keys are checked (rows go in their order), so it also runs as a plain owner (the pgbench copy of ltb).
\set ON_ERROR_STOP on
SET search_path = ltb, public;
SET synchronous_commit = off;
\set k (1000 * :pool)
BEGIN;
INSERT INTO leads (id, source, company_name, contact_name, contact_email, state, version)
SELECT bench_id(:k + 1, i), 'EVENT', 'Pool Customer ' || :pool || '.' || i, 'Li Lei',
       'li.lei' || i || '@pool.example', 'QUALIFIED', 2
FROM generate_series(1, :n) i;
-- each opportunity's customer (the won-bid hand-off carries its snapshot: BTO refuses a won bid without one)
INSERT INTO customers (id, legal_name, country_code, billing_currency, account_owner)
SELECT bench_id(:k + 9, i), 'Pool Customer ' || :pool || '.' || i, 'CN', 'CNY', 'ar.li.na'
FROM generate_series(1, :n) i;
INSERT INTO opportunities (id, lead_id, customer_name, title, account_owner, solution_owner, fulfilment_owner,
                           expected_minor, currency, expected_close_date, win_probability_bps, stage, version,
                           customer_id)
SELECT bench_id(:k + 2, i), bench_id(:k + 1, i), 'Pool Customer ' || :pool || '.' || i, 'Conveyor retrofit',
       'ar.li.na', 'sr.zhang.wei', 'fr.chen.jie', 50000000, 'CNY', current_date + 45, 6000, 'BIDDING', 3,
       bench_id(:k + 9, i)
FROM generate_series(1, :n) i;
INSERT INTO requirements (id, opportunity_id, position, code, description, quantity)
SELECT bench_id(:k + 3 + p, i), bench_id(:k + 2, i), p, (ARRAY['THROUGHPUT', 'VISION'])[p + 1],
       'pool requirement ' || p, 3 - p
FROM generate_series(1, :n) i, generate_series(0, 1) p;
INSERT INTO stage_changes (id, opportunity_id, stage)
SELECT bench_id(:k + 4 + s, i), bench_id(:k + 2, i), (ARRAY['QUALIFIED', 'BIDDING'])[s]
FROM generate_series(1, :n) i, generate_series(1, 2) s;
INSERT INTO bids (id, opportunity_id, amount_minor, currency, state)
SELECT bench_id(:k + 7, i), bench_id(:k + 2, i), 460368, 'CNY', 'SUBMITTED'
FROM generate_series(1, :n) i;
COMMIT;
SELECT 'bids/' || bench_id(:k + 7, i) FROM generate_series(1, :n) i ORDER BY random();
