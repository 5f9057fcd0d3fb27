CREATE TABLE audit_log (
  seq bigserial PRIMARY KEY,
  event_time timestamptz NOT NULL DEFAULT clock_timestamp(),
  principal text NOT NULL,
  roles text NOT NULL,
  caller text NOT NULL,
  method text NOT NULL,
  target text NOT NULL,
  request_id text NOT NULL,
  code text NOT NULL,
  reason text NOT NULL
);
CREATE INDEX audit_log_principal ON audit_log (principal, seq);
COMMENT ON TABLE audit_log IS 'Every state-changing call: who, what, when, request id, outcome (append only)';
