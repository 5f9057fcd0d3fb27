-- A set-based seal (issue #22, docs/performance.md "the sealer's per-row UPDATE"): audit_chain_seal_after of
-- migration 012 chained the rows one by one, with one UPDATE a row, and each such UPDATE went through the append-only
-- trigger, which compared the whole row as to_jsonb. From here on the chain is still computed row after row (a hash
-- needs the one before it) but only into arrays, in plpgsql, with no statement a row; then ONE UPDATE ... FROM
-- unnest(...) writes every row's chain columns, and the head moves. Same signature, same lock (the head FOR UPDATE
-- SKIP LOCKED), same rows in the same order, same positions and hashes: the verifier (common/src/audit_chain.c) walks
-- a chain sealed by either version alike.

-- Seals up to max_rows committed unsealed rows with a seq above from_seq (the oldest seq first); returns how many
-- and the highest seq sealed (from_seq when none). When another sealer holds the head (a replica of the stage sealing
-- now) it returns 0 at once. Runs as the schema owner (SECURITY DEFINER): the serving role calls it but still cannot
-- move the head, nor write the chain columns, itself. The UPDATE must find every row it chained still unsealed (the
-- head's lock keeps other sealers out; only the owner could have sealed one by hand meanwhile): otherwise it raises,
-- and nothing of the round is kept.
CREATE OR REPLACE FUNCTION audit_chain_seal_after(from_seq bigint, max_rows integer, OUT sealed integer,
                                                  OUT last_seq bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  head audit_chain_head%ROWTYPE;
  r record;
  pos text;
  h bytea;
  seqs bigint[] := '{}';
  prevs bytea[] := '{}';
  hashes bytea[] := '{}';
  updated bigint;
BEGIN
  sealed := 0;
  last_seq := from_seq;
  SELECT * INTO head FROM audit_chain_head WHERE one FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN RETURN; END IF;
  h := head.hash;
  -- a fresh snapshot (this statement's): every row committed before the lock was taken, sealed or not. The
  -- canonical text of each is computed by the query, with the row as it is stored (chain_position NULL, a field
  -- audit_log_canonical leaves out); the loop puts the position's field in front: the same bytes as
  -- audit_log_canonical of the row with its position (migration 009's rule), a third less time than a call a row.
  FOR r IN SELECT a.seq, audit_log_canonical(a) AS rest FROM audit_log a
            WHERE a.chain_position IS NULL AND a.seq > GREATEST(head.legacy_seq, from_seq)
            ORDER BY a.seq LIMIT GREATEST(max_rows, 1) LOOP
    sealed := sealed + 1;
    pos := (head.position + sealed)::text;
    seqs[sealed] := r.seq;
    prevs[sealed] := h;
    h := sha256(h || convert_to(octet_length(pos) || ':' || pos || ';', 'UTF8') || r.rest);
    hashes[sealed] := h;
  END LOOP;
  IF sealed = 0 THEN RETURN; END IF;
  UPDATE audit_log a SET chain_position = head.position + t.i, prev_hash = t.prev, row_hash = t.hash
    FROM unnest(seqs, prevs, hashes) WITH ORDINALITY AS t(seq, prev, hash, i)
   WHERE a.seq = t.seq AND a.chain_position IS NULL;
  GET DIAGNOSTICS updated = ROW_COUNT;
  IF updated <> sealed THEN
    RAISE EXCEPTION 'audit_chain_seal_after: % rows chained, % of them still unsealed', sealed, updated;
  END IF;
  UPDATE audit_chain_head SET position = head.position + sealed, hash = h WHERE one;
  last_seq := seqs[sealed];
END $$;
COMMENT ON FUNCTION audit_chain_seal_after(bigint, integer) IS 'chains committed unsealed audit_log rows above a seq after the head, in one UPDATE; the only writer of audit_chain_head';

-- Append-only still, with the one exception of migration 011 (the owner filling in the chain columns of an unsealed
-- row, nothing else of it changed), checked without to_jsonb: the chain columns all NULL before and all set after,
-- then the new row with its chain columns cleared must be byte for byte the old one (*=, record_image_eq: every
-- column, whatever its type, a column added later included), and only then the owner looked up.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unsealed audit_log;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF OLD.chain_position IS NULL AND OLD.prev_hash IS NULL AND OLD.row_hash IS NULL
       AND NEW.chain_position IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.row_hash IS NOT NULL THEN
      unsealed := NEW;
      unsealed.chain_position := NULL;
      unsealed.prev_hash := NULL;
      unsealed.row_hash := NULL;
      IF unsealed *= OLD AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
        RETURN NEW;
      END IF;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
