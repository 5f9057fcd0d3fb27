-- Audit rows spooled locally while the database was unreachable (common/src/audit_spool.c) carry the id they were
-- spooled under: ingesting a spool file again after a crash adds none of its rows twice.
ALTER TABLE audit_log ADD COLUMN spool_id uuid;
CREATE UNIQUE INDEX audit_log_spool_id ON audit_log (spool_id) WHERE spool_id IS NOT NULL;
COMMENT ON COLUMN audit_log.spool_id IS 'set when the row was spooled locally during a database outage and ingested later';
