-- Tamper-evident audit trail (issue #19): every audit_log row from here on is chained to the one before it by hash,
-- per stage. A BEFORE INSERT trigger locks the chain head (one row) for the rest of the inserting transaction, so
-- concurrent writers make one linear chain: each row gets the next chain_position, the head's hash as prev_hash, and
-- row_hash = sha256(prev_hash || its canonical text) (audit_log_canonical, which common/src/audit_chain.c rebuilds
-- byte for byte to verify). The audit spool's ingestion and every other insert pass through the same trigger.
-- ltc.audit.v1.AuditService/GetAuditTrailIntegrity recomputes the chain and reports a gap, an edited row, a row outside the
-- chain, a head that does not match, and an anchor (a position and hash recorded earlier) that no longer holds.
-- server_request_id: the id the serving process gave the call itself, recorded beside the client's request_id.
ALTER TABLE audit_log ADD COLUMN server_request_id text NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN chain_position bigint;
ALTER TABLE audit_log ADD COLUMN prev_hash bytea;
ALTER TABLE audit_log ADD COLUMN row_hash bytea;
CREATE UNIQUE INDEX audit_log_chain_position ON audit_log (chain_position) WHERE chain_position IS NOT NULL;
COMMENT ON COLUMN audit_log.chain_position IS 'position in the stage''s hash chain (1, 2, ...); NULL only for rows from before migration 009';
COMMENT ON COLUMN audit_log.row_hash IS 'sha256(prev_hash || audit_log_canonical(row)); prev_hash: the row_hash of the row at chain_position - 1';

CREATE TABLE audit_chain_head (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  position bigint NOT NULL,
  hash bytea NOT NULL,
  -- the highest seq of the rows written before the chain started (those stay outside it)
  legacy_seq bigint NOT NULL
);
INSERT INTO audit_chain_head (position, hash, legacy_seq)
  SELECT 0, decode(repeat('00', 32), 'hex'), COALESCE(max(seq), 0) FROM audit_log;
COMMENT ON TABLE audit_chain_head IS 'the last link of the audit_log hash chain; written only by the audit_log_chain trigger';

-- The canonical text of a row: each field as <octets>:<text>; in this order. common/src/audit_chain.c builds the same.
CREATE FUNCTION audit_log_canonical(r audit_log) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT convert_to(string_agg(octet_length(f)::text || ':' || f || ';', '' ORDER BY i), 'UTF8')
  FROM unnest(ARRAY[r.chain_position::text, r.seq::text,
                    ((extract(epoch FROM r.event_time) * 1000000)::bigint)::text,
                    r.principal, r.roles, r.caller, r.method, r.target, r.request_id, r.server_request_id, r.code,
                    r.reason, r.targets::text, r.changes::text, COALESCE(r.spool_id::text, '')])
       WITH ORDINALITY AS x(f, i)
$$;

-- Runs as the schema owner (SECURITY DEFINER): the serving role inserts audit rows but cannot move the head itself.
CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  head audit_chain_head%ROWTYPE;
BEGIN
  SELECT * INTO head FROM audit_chain_head WHERE one FOR UPDATE;
  NEW.chain_position := head.position + 1;
  NEW.prev_hash := head.hash;
  NEW.row_hash := sha256(NEW.prev_hash || audit_log_canonical(NEW));
  UPDATE audit_chain_head SET position = NEW.chain_position, hash = NEW.row_hash WHERE one;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

-- Only the chain's trigger (which runs as the owner) moves the head: whatever rights another role is granted on it
-- (deploy/postgres/init.sql grants the serving role every table of its schema again at each bootstrap), its
-- INSERT, UPDATE, DELETE or TRUNCATE is refused. The owner can disable this too; the verification then finds the
-- head and the rows disagree.
CREATE FUNCTION audit_chain_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_user <> (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
    RAISE EXCEPTION 'audit_chain_head is moved only by the audit_log_chain trigger' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_chain_head_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_chain_head
  FOR EACH ROW EXECUTE FUNCTION audit_chain_head_guard();
CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
  FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_head_guard();

-- And the serving role (granted every table of the schema by default privileges) keeps only SELECT on the head.
DO $$
DECLARE g record;
BEGIN
  FOR g IN SELECT DISTINCT grantee FROM information_schema.role_table_grants
           WHERE table_schema = current_schema() AND table_name = 'audit_chain_head' AND grantee <> current_user
  LOOP
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_chain_head FROM %I', g.grantee);
  END LOOP;
END $$;
