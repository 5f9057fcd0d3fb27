-- MarkBidWon's own statements, in the round trips the server and the handler send them
-- (common/src/dispatch.c: BEGIN goes out with the idempotency key in one round trip (common/src/db.c pipeline mode);
-- [handler]; then the outbox row, the audit row and the stored response go out with COMMIT in one round trip;
-- services/ltb/bids.c ltb_mark_bid_won: lock bid and opportunity, decide (one CTE: bid, opportunity, stage history
-- row), the opportunity's details (opportunities.c), the outbox row (common/src/outbox.c ltc_outbox_put, no NOTIFY:
-- the relay is woken in-process after the commit)): 9 statements in 5 round trips, on a
-- schema ltb built from the real migrations (common/migrations + services/ltb/migrations, bench/run setup_pgbench)
-- with pool 9 of :rows bids (load_bids.sql). A bid is
-- picked at random and marked won again whatever its state: the work per transaction is the service's.
-- Needs -M prepared (variables become parameters; pipelines need the extended protocol).
\set k random(1, :rows)
\set r random(1, 1000000000000)
\startpipeline
BEGIN;
INSERT INTO ltb.idempotency_keys (method, key, fingerprint) VALUES ('/ltc.ltb.v1.LeadToBidService/MarkBidWon',
       :client_id || '.' || :r, sha256(('fp' || :r)::bytea)) ON CONFLICT DO NOTHING;
\endpipeline
SELECT o.id::text AS opp, o.stage, o.currency, o.collected_minor, b.state
FROM ltb.opportunities o JOIN ltb.bids b ON b.opportunity_id = o.id WHERE b.id = bench_id(9007, :k) FOR UPDATE OF o, b \gset
WITH wb AS (UPDATE ltb.bids SET state = 'WON', update_time = now() WHERE id = bench_id(9007, :k)
            RETURNING id::text, opportunity_id::text, amount_minor, currency, state, lost_reason, competitor,
                      (extract(epoch FROM create_time) * 1000000)::bigint,
                      (extract(epoch FROM update_time) * 1000000)::bigint),
     wo AS (UPDATE ltb.opportunities o SET stage = 'WON', won_bid_id = bench_id(9007, :k), version = o.version + 1,
                   update_time = now() WHERE o.id = :opp::uuid
            RETURNING o.id::text, o.lead_id::text, o.customer_name, o.title, o.account_owner, o.solution_owner,
                      o.fulfilment_owner, o.expected_minor, o.currency, to_char(o.expected_close_date, 'YYYY-MM-DD'),
                      o.win_probability_bps, o.stage, o.won_bid_id::text, o.collected_minor,
                      (extract(epoch FROM o.create_time) * 1000000)::bigint,
                      (extract(epoch FROM o.update_time) * 1000000)::bigint, o.version, o.seq),
     ws AS (INSERT INTO ltb.stage_changes (id, opportunity_id, stage) VALUES (bench_id(200 + :client_id, :r), :opp::uuid, 'WON'))
SELECT wo.*, wb.* FROM wo, wb;
SELECT 0 AS kind, r.position::bigint AS k1, 0::bigint AS k2, r.code AS a, r.description AS b, r.quantity AS q
FROM ltb.requirements r WHERE r.opportunity_id = :opp::uuid
UNION ALL SELECT 1, (extract(epoch FROM s.create_time) * 1000000)::bigint, s.seq, s.stage, NULL, NULL
FROM ltb.stage_changes s WHERE s.opportunity_id = :opp::uuid
ORDER BY 1, 2, 3;
\startpipeline
INSERT INTO ltb.outbox (handoff_id, deal_id, destination, method, payload)
VALUES (bench_id(300 + :client_id, :r), :opp, 'bto', '/ltc.bto.v1.IntakeService/AcceptWonBid',
        decode(repeat('0a24', 150), 'hex'));
INSERT INTO ltb.audit_log (principal, roles, caller, method, target, request_id, code, reason)
VALUES ('anonymous', '', 'ipv4:127.0.0.1:40000', '/ltc.ltb.v1.LeadToBidService/MarkBidWon',
        'bids/' || bench_id(9007, :k), :client_id || '.' || :r, 'OK', '');
UPDATE ltb.idempotency_keys SET response = decode(repeat('0a24', 200), 'hex')
WHERE method = '/ltc.ltb.v1.LeadToBidService/MarkBidWon' AND key = :client_id || '.' || :r;
COMMIT;
\endpipeline
