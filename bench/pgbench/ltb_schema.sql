-- bench/pgbench/ltb_schema.sql - the runtime's own tables in schema ltb of the scratch database, as common/src/service.c
-- creates them in every service schema (bench/run then applies services/ltb/migrations/*.sql and loads a pool of
-- SUBMITTED bids), so that pgbench can run MarkBidWon's exact statements without the service.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS ltb CASCADE;
CREATE SCHEMA ltb;
SET search_path = ltb;
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
