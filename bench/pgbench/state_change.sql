-- A state change plus its outbox row in one transaction: the minimal form of a hand-off write (MarkBidWon,
-- CreateOrder, RecordAcceptance): update the row's state, insert the hand-off (a ~300-byte payload, like
-- AcceptWonBid's), commit (synchronous_commit on).
\set n random(1, :rows)
\set r random(1, 1000000000000)
BEGIN;
UPDATE records SET state = CASE state WHEN 'OPEN' THEN 'WON' ELSE 'OPEN' END, version = version + 1,
       update_time = now()
WHERE id = bench_id(0, :n);
INSERT INTO outbox (handoff_id, deal_id, destination, method, payload)
VALUES (bench_id(100 + :client_id, :r), bench_id(0, :n)::text, 'bto', '/ltc.bto.v1.IntakeService/AcceptWonBid',
        decode(repeat('0a24', 150), 'hex'));
COMMIT;
