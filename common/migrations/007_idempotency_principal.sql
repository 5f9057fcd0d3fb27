-- Idempotency keys are scoped to the principal that sent them (issue #19, finding 4): the same request_id from another
-- principal on the same method is another request, never a replay of the first one's stored response (which would
-- hand it the first caller's data). Hand-offs carry no principal (''): their keys stay per method, as before.
-- Rows stored before this migration keep principal '' and so are replayed only to callers without a principal
-- (plaintext development); a principal's retry of such an old request is then applied as new, once.
ALTER TABLE idempotency_keys ADD COLUMN principal text NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (method, principal, key);
