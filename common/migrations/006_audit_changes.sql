-- What each audited call changed (issue #18): the records it changed (targets) and every changed field with its old
-- and new value, recorded by the handler through ltc/audit.h (ltc_audit_change, ltc_audit_target) and written with
-- the call's audit row in its transaction. Secrets are never recorded (ltc_audit_secret_changed keeps only the
-- field's name). `changes` is a JSON array of {"target", "field", "old", "new"} (old or new null when there was
-- none), queryable in SQL: changes @> '[{"field": "stage"}]'. Rows from before this migration have none.
ALTER TABLE audit_log ADD COLUMN targets text[] NOT NULL DEFAULT '{}';
ALTER TABLE audit_log ADD COLUMN changes jsonb NOT NULL DEFAULT '[]';
-- ListAuditEvents by target (any of targets, or the legacy target), by time and by outcome.
CREATE INDEX audit_log_targets ON audit_log USING gin (targets);
CREATE INDEX audit_log_target ON audit_log (target, seq);
CREATE INDEX audit_log_event_time ON audit_log (event_time);
