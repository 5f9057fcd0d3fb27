-- The seal's UPDATE bounded by the round's own seqs (issue #22, docs/performance.md "The audit sealer under lead to
-- cash"). Migration 014's UPDATE joined the round's arrays with audit_log on seq and "chain_position IS NULL"; the plan
-- (a hash join, or a merge join) read the whole partial index audit_log_unsealed to find the round's rows. Under load
-- that index holds an entry for every row sealed since the table's last vacuum (a sealed row leaves its entry
-- behind until then), so each round read thousands of dead entries to update a handful of rows: 2.6 ms a round in
-- LTB for 6 rows on average, more than the rows' own work. The rows of a round are chained in seq order, so their
-- seqs lie between the first and the last: the same UPDATE with that range reads only the round's part of the index.
-- Nothing else changes: same rows, same order, same positions and hashes. Applied in each stage's schema.

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
   WHERE a.seq = t.seq AND a.chain_position IS NULL AND a.seq BETWEEN seqs[1] AND seqs[sealed];
  GET DIAGNOSTICS updated = ROW_COUNT;
  IF updated <> sealed THEN
    RAISE EXCEPTION 'audit_chain_seal_after: % rows chained, % of them still unsealed', sealed, updated;
  END IF;
  UPDATE audit_chain_head SET position = head.position + sealed, hash = h WHERE one;
  last_seq := seqs[sealed];
END $$;
COMMENT ON FUNCTION audit_chain_seal_after(bigint, integer) IS 'chains committed unsealed audit_log rows above a seq after the head, in one UPDATE; the only writer of audit_chain_head';
