-- The sealer starts where it stopped (issue #22): a sealed row leaves a dead entry in the audit_log_unsealed index of
-- migration 011 until VACUUM removes it, and audit_chain_seal's scan from the first unsealed seq stepped over every
-- one of them at each call (about 100 ms a call with 200,000 rows sealed since the last vacuum, measured on a copy of
-- the schema). audit_chain_seal_after(from_seq, max_rows) seals the rows above a seq and says the highest it sealed;
-- audit_chain_seal(max_rows) stays, for operators and tests, as a pass from the oldest unsealed row.

-- Seals up to max_rows committed unsealed rows with a seq above from_seq (the oldest seq first); returns how many
-- and the highest seq sealed (from_seq when none). When another sealer holds the head (a replica of the stage sealing
-- now) it returns 0 at once: that one seals what is there, and this caller comes back at its next tick. Runs as the
-- schema owner (SECURITY DEFINER): the serving role calls it but still cannot move the head, nor write the chain
-- columns, itself. from_seq: a sealed row leaves a dead entry in audit_log_unsealed until VACUUM removes it, and a
-- scan from the start steps over all of them (about 100 ms a call with 200,000 sealed since the last vacuum), so
-- the sealer starts where it stopped (the highest seq it sealed) and goes over everything (0) every few seconds for
-- the rows whose transaction committed after a row with a higher seq was sealed (common/src/audit_sealer.c).
CREATE FUNCTION audit_chain_seal_after(from_seq bigint, max_rows integer, OUT sealed integer, OUT last_seq bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  head audit_chain_head%ROWTYPE;
  r audit_log;
  pos bigint;
  h bytea;
BEGIN
  sealed := 0;
  last_seq := from_seq;
  SELECT * INTO head FROM audit_chain_head WHERE one FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN RETURN; END IF;
  pos := head.position;
  h := head.hash;
  -- a fresh snapshot (this statement's): every row committed before the lock was taken, sealed or not
  FOR r IN SELECT * FROM audit_log WHERE chain_position IS NULL AND seq > GREATEST(head.legacy_seq, from_seq)
           ORDER BY seq LIMIT GREATEST(max_rows, 1) LOOP
    r.chain_position := pos + 1;
    r.prev_hash := h;
    r.row_hash := sha256(h || audit_log_canonical(r));
    UPDATE audit_log SET chain_position = r.chain_position, prev_hash = r.prev_hash, row_hash = r.row_hash
     WHERE seq = r.seq;
    pos := r.chain_position;
    h := r.row_hash;
    sealed := sealed + 1;
    last_seq := r.seq;
  END LOOP;
  IF sealed > 0 THEN
    UPDATE audit_chain_head SET position = pos, hash = h WHERE one;
  END IF;
END $$;
COMMENT ON FUNCTION audit_chain_seal_after(bigint, integer) IS 'chains committed unsealed audit_log rows above a seq after the head; the only writer of audit_chain_head';

-- Seals up to max_rows committed unsealed rows, from the oldest (an operator's or a test's call); returns how many.
CREATE OR REPLACE FUNCTION audit_chain_seal(max_rows integer) RETURNS integer LANGUAGE sql SECURITY INVOKER SET search_path FROM CURRENT AS $$
  SELECT sealed FROM audit_chain_seal_after(0, max_rows)
$$;

