-- A state change plus its outbox row in one transaction: the minimal form of a hand-off write (MarkBidWon,
-- CreateOrder, RecordAcceptance): update the row's state, insert the hand-off (a ~300-byte payload, like
-- AcceptWonBid's), commit (synchronous_commit on).
\set n random(1, :rows)
BEGIN;
UPDATE records SET state = CASE state WHEN 'OPEN' THEN 'WON' ELSE 'OPEN' END, version = version + 1,
       update_time = now()
WHERE id = md5('r' || :n)::uuid;
INSERT INTO outbox (handoff_id, deal_id, destination, method, payload)
VALUES (gen_random_uuid(), md5('r' || :n), 'bto', '/ltc.bto.v1.IntakeService/AcceptWonBid',
        decode(repeat('0a24', 150), 'hex'));
COMMIT;
