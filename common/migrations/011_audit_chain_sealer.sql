-- The audit chain's head lock out of the write path (issue #22, docs/performance.md lever 5): since migration 009 a
-- BEFORE INSERT trigger took audit_chain_head FOR UPDATE until the inserting transaction committed, so every audited
-- write of a stage committed one at a time. From here on a row is inserted unsealed (chain_position, prev_hash and
-- row_hash NULL, whatever the writer sent) and audit_chain_seal() chains the committed unsealed rows after their
-- commit: it takes the head, gives the visible unsealed rows the next positions in seq order, the head's hash as the
-- first prev_hash, row_hash = sha256(prev_hash || audit_log_canonical(row)) as before, and moves the head. Every
-- stage process calls it in the background (common/src/audit_sealer.c); replicas take turns on the head's lock.
-- Rows already chained stay as they are; rows inserted from here on wait unsealed (pending) until a sealer runs.
-- GetAuditTrailIntegrity reports the pending rows (how many, the oldest's age from inserted_at) and a row pending
-- longer than the configured bound as a problem (docs/security.md, "The sealing window").

-- When the row reached the table (its event_time may be older: a spooled row keeps its original time). Added without
-- a default first, so the existing rows are not rewritten (they keep NULL: they are chained already).
ALTER TABLE audit_log ADD COLUMN inserted_at timestamptz;
ALTER TABLE audit_log ALTER COLUMN inserted_at SET DEFAULT clock_timestamp();
COMMENT ON COLUMN audit_log.inserted_at IS 'when the row was inserted (the sealing window is measured from it); NULL for rows from before migration 011';
-- The sealer's work list.
CREATE INDEX audit_log_unsealed ON audit_log (seq) WHERE chain_position IS NULL;

-- The insert trigger keeps its name (audit_log_chain) but no longer locks anything: the row is stored unsealed.
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.chain_position := NULL;
  NEW.prev_hash := NULL;
  NEW.row_hash := NULL;
  NEW.inserted_at := clock_timestamp();
  RETURN NEW;
END $$;

-- Append-only still, with one exception: the sealer (audit_chain_seal, running as the schema owner) fills in the chain
-- columns of an unsealed row once, and nothing else of it.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.chain_position IS NULL AND NEW.chain_position IS NOT NULL
     AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID)
     AND to_jsonb(NEW) - 'chain_position' - 'prev_hash' - 'row_hash' = to_jsonb(OLD) - 'chain_position' - 'prev_hash' - 'row_hash' THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;

-- Seals up to max_rows committed unsealed rows (the oldest seq first) and returns how many. When another sealer holds
-- the head (a replica of the stage sealing now) it returns 0 at once: that one seals what is there, and this caller
-- comes back at its next tick. Runs as the schema owner (SECURITY DEFINER): the serving role calls it but still
-- cannot move the head, nor write the chain columns, itself.
CREATE FUNCTION audit_chain_seal(max_rows integer) RETURNS integer LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT AS $$
DECLARE
  head audit_chain_head%ROWTYPE;
  r audit_log;
  pos bigint;
  h bytea;
  n integer := 0;
BEGIN
  SELECT * INTO head FROM audit_chain_head WHERE one FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN RETURN 0; END IF;
  pos := head.position;
  h := head.hash;
  -- a fresh snapshot (this statement's): every row committed before the lock was taken, sealed or not
  FOR r IN SELECT * FROM audit_log WHERE chain_position IS NULL AND seq > head.legacy_seq
           ORDER BY seq LIMIT GREATEST(max_rows, 1) LOOP
    r.chain_position := pos + 1;
    r.prev_hash := h;
    r.row_hash := sha256(h || audit_log_canonical(r));
    UPDATE audit_log SET chain_position = r.chain_position, prev_hash = r.prev_hash, row_hash = r.row_hash
     WHERE seq = r.seq;
    pos := r.chain_position;
    h := r.row_hash;
    n := n + 1;
  END LOOP;
  IF n > 0 THEN
    UPDATE audit_chain_head SET position = pos, hash = h WHERE one;
  END IF;
  RETURN n;
END $$;
COMMENT ON FUNCTION audit_chain_seal(integer) IS 'chains committed unsealed audit_log rows after the head; the only writer of audit_chain_head';

CREATE OR REPLACE FUNCTION audit_chain_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_user <> (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
    RAISE EXCEPTION 'audit_chain_head is moved only by audit_chain_seal' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;
COMMENT ON TABLE audit_chain_head IS 'the last link of the audit_log hash chain; written only by audit_chain_seal()';
