-- state_change.sql plus the outbox's wake-up call, as ltc_outbox_put does it (common/src/outbox.c SQL_NOTIFY):
-- pg_notify inside the transaction. PostgreSQL serialises the commits of notifying transactions (a database-wide
-- lock is held from the notify queue insert through the commit's WAL flush), so this row measures that cost.
\set n random(1, :rows)
BEGIN;
UPDATE records SET state = CASE state WHEN 'OPEN' THEN 'WON' ELSE 'OPEN' END, version = version + 1,
       update_time = now()
WHERE id = md5('r' || :n)::uuid;
INSERT INTO outbox (handoff_id, deal_id, destination, method, payload)
VALUES (gen_random_uuid(), md5('r' || :n), 'bto', '/ltc.bto.v1.IntakeService/AcceptWonBid',
        decode(repeat('0a24', 150), 'hex'));
SELECT pg_notify('ltc_outbox_bench', '');
COMMIT;
