-- The acting principal of a hand-off (docs/security.md, "The acting principal through hand-offs"): the gateway's
-- signed assertion of the user's call that wrote the row (or that the hand-off which caused that call carried), sent
-- by the relay as x-ltc-acting; NULL for rows written without one (plaintext, jobs, rows from before this migration).
ALTER TABLE outbox ADD COLUMN acting_assertion text;
COMMENT ON COLUMN outbox.acting_assertion IS
    'the gateway''s assertion naming the user whose call caused the hand-off; the receiver verifies it';
