-- bench/pgbench/setup.sql - the scratch database of the PostgreSQL baseline (database ltc_bench, role ltc_bench):
-- :rows records shaped like a service's resource row (uuid primary key, bigserial seq, text state with a CHECK,
-- version and times; ids bench_id(0, n), bench/sql/functions.sql), and an outbox with the runtime's own definition
-- (common/migrations/001_runtime.sql).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP TABLE IF EXISTS records, outbox;
CREATE TABLE records (
    id            uuid PRIMARY KEY,
    seq           bigserial UNIQUE,
    company_name  text NOT NULL CHECK (char_length(company_name) BETWEEN 1 AND 200),
    contact_name  text NOT NULL DEFAULT '',
    contact_email text NOT NULL DEFAULT '',
    state         text NOT NULL CHECK (state IN ('OPEN', 'WON')),
    version       integer NOT NULL DEFAULT 1 CHECK (version > 0),
    create_time   timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO records (id, company_name, contact_name, contact_email, state)
SELECT bench_id(0, i), 'Customer ' || i, 'Wang Fang', 'buyer' || i || '@example.com', 'OPEN'
FROM generate_series(1, :rows) i;
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
CREATE INDEX outbox_ready ON outbox (seq) WHERE delivered_time IS NULL AND parked_time IS NULL;
CREATE INDEX outbox_parked ON outbox (destination, seq) WHERE delivered_time IS NULL AND parked_time IS NOT NULL;
CREATE INDEX outbox_pending_deal ON outbox (deal_id, destination, seq) WHERE delivered_time IS NULL;
VACUUM ANALYZE records;
