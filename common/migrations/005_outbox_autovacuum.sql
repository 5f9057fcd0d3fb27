-- The outbox keeps every delivered row, so by default autovacuum would analyze it only after 10% of a table of
-- millions changed: the planner then believes the pending backlog empty whatever it holds. Analyze and vacuum it by
-- the number of changes instead.
ALTER TABLE outbox SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 2000,
  autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);
ALTER TABLE idempotency_keys SET (autovacuum_analyze_scale_factor = 0.01);
