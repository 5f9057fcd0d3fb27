-- state_change.sql plus the outbox's wake-up call, as ltc_outbox_put does it (common/src/outbox.c SQL_NOTIFY):
-- pg_notify inside the transaction. PostgreSQL serialises the commits of notifying transactions (a database-wide
-- lock is held from the notify queue insert through the commit's WAL flush), so this row measures that cost.
\set n random(1, :rows)
\set r random(1, 1000000000000)
BEGIN;
UPDATE records SET state = CASE state WHEN 'OPEN' THEN 'WON' ELSE 'OPEN' END, version = version + 1,
       update_time = now()
WHERE id = bench_id(0, :n);
INSERT INTO outbox (handoff_id, deal_id, destination, method, payload)
VALUES (bench_id(100 + :client_id, :r), bench_id(0, :n)::text, 'bto', '/ltc.bto.v1.IntakeService/AcceptWonBid',
        decode(repeat('0a24', 150), 'hex'));
SELECT pg_notify('ltc_outbox_bench', '');
COMMIT;
