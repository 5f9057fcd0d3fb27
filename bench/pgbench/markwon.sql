-- MarkBidWon's own statements, one round trip each, in the order the server and the handler send them
-- (common/src/server.c run_method, services/ltb/bids.c ltb_mark_bid_won, common/src/outbox.c ltc_outbox_put), on a
-- copy of the ltb schema (bench/pgbench/ltb_schema.sql + services/ltb/migrations) with pool 9 of :rows bids (load_bids.sql). A bid is
-- picked at random and marked won again whatever its state: the work per transaction is the service's.
-- Needs -M prepared (variables become parameters).
\set k random(1, :rows)
\set r random(1, 1000000000000)
BEGIN;
INSERT INTO ltb.idempotency_keys (method, key, fingerprint) VALUES ('/ltc.ltb.v1.LeadToBidService/MarkBidWon',
       :client_id || '.' || :r, sha256(('fp' || :r)::bytea)) ON CONFLICT DO NOTHING;
SELECT opportunity_id::text AS opp FROM ltb.bids WHERE id = bench_id(9007, :k) \gset
SELECT id::text, stage, currency, collected_minor FROM ltb.opportunities WHERE id = :opp::uuid FOR UPDATE;
SELECT state FROM ltb.bids WHERE id = bench_id(9007, :k) FOR UPDATE;
UPDATE ltb.bids SET state = 'WON', update_time = now() WHERE id = bench_id(9007, :k);
UPDATE ltb.opportunities SET stage = 'WON', won_bid_id = COALESCE(bench_id(9007, :k), won_bid_id),
       version = version + 1, update_time = now() WHERE id = :opp::uuid;
INSERT INTO ltb.stage_changes (id, opportunity_id, stage)
VALUES (bench_id(200 + :client_id, :r), :opp::uuid, 'WON');
SELECT id::text, opportunity_id::text, amount_minor, currency, state, lost_reason, competitor,
       (extract(epoch FROM create_time) * 1000000)::bigint, (extract(epoch FROM update_time) * 1000000)::bigint
FROM ltb.bids WHERE id = bench_id(9007, :k);
SELECT o.id::text, o.lead_id::text, o.customer_name, o.title, o.account_owner, o.solution_owner, o.fulfilment_owner,
       o.expected_minor, o.currency, to_char(o.expected_close_date, 'YYYY-MM-DD'), o.win_probability_bps, o.stage,
       o.won_bid_id::text, o.collected_minor, (extract(epoch FROM o.create_time) * 1000000)::bigint,
       (extract(epoch FROM o.update_time) * 1000000)::bigint, o.version, o.seq
FROM ltb.opportunities o WHERE o.id = :opp::uuid;
SELECT p.ord, r.code, r.description, r.quantity
FROM unnest(ARRAY[:opp::uuid]) WITH ORDINALITY AS p(id, ord) JOIN ltb.requirements r ON r.opportunity_id = p.id
ORDER BY p.ord, r.position;
SELECT p.ord, s.stage, (extract(epoch FROM s.create_time) * 1000000)::bigint
FROM unnest(ARRAY[:opp::uuid]) WITH ORDINALITY AS p(id, ord) JOIN ltb.stage_changes s ON s.opportunity_id = p.id
ORDER BY p.ord, s.create_time, s.seq;
INSERT INTO ltb.outbox (handoff_id, deal_id, destination, method, payload)
VALUES (bench_id(300 + :client_id, :r), :opp, 'bto', '/ltc.bto.v1.IntakeService/AcceptWonBid',
        decode(repeat('0a24', 150), 'hex'));
SELECT pg_notify('ltc_outbox_ltb', '');
UPDATE ltb.idempotency_keys SET response = decode(repeat('0a24', 200), 'hex')
WHERE method = '/ltc.ltb.v1.LeadToBidService/MarkBidWon' AND key = :client_id || '.' || :r;
COMMIT;
