-- The runtime's own tables, in every service schema (common/src/service.c applies common/migrations/*.sql before the
-- service's migrations, recorded under the component "runtime"): idempotency keys (request_id and hand-off ids) and
-- the outbox. Applied with search_path = the service's schema: names are unqualified.
CREATE TABLE idempotency_keys (
  method text NOT NULL,
  key text NOT NULL,
  fingerprint bytea NOT NULL,
  response bytea,
  create_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (method, key)
);
CREATE TABLE outbox (
  seq bigserial PRIMARY KEY,
  handoff_id uuid NOT NULL UNIQUE,
  deal_id text NOT NULL,
  destination text NOT NULL,
  method text NOT NULL,
  payload bytea NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_time timestamptz NOT NULL DEFAULT now(),
  delivered_time timestamptz,
  parked_time timestamptz,
  last_error text
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE delivered_time IS NULL;
CREATE INDEX outbox_pending_deal ON outbox (deal_id, destination, seq) WHERE delivered_time IS NULL;
