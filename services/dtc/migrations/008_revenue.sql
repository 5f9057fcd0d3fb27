-- DTC: revenue recognition (IFRS 15, issue #17, docs/finance.md "Revenue recognition"): the performance
-- obligations of each placed order (one per line of BTO's AcceptOrderPlaced, its transaction price allocated by
-- relative standalone selling price), the date each acceptance happened, the recognition runs per period and what
-- each run recognised per obligation; the journal takes the REVENUE and CONTRACT_NETTING events.

CREATE TABLE revenue_obligations (
    account_id     uuid NOT NULL REFERENCES order_accounts (id),
    line_no        integer NOT NULL CHECK (line_no BETWEEN 1 AND 1000),
    product        text NOT NULL CHECK (char_length(product) <= 200),
    sku            text NOT NULL CHECK (char_length(sku) <= 200),
    revenue_type   text NOT NULL CHECK (revenue_type IN ('POINT_IN_TIME', 'OVER_TIME')),
    service_months integer NOT NULL CHECK (service_months BETWEEN 0 AND 1200),
    currency       char(3) NOT NULL,
    ssp_minor      bigint NOT NULL CHECK (ssp_minor >= 0),
    net_minor      bigint NOT NULL CHECK (net_minor >= 0),
    allocated_minor  bigint NOT NULL CHECK (allocated_minor >= 0),
    recognised_minor bigint NOT NULL DEFAULT 0 CHECK (recognised_minor BETWEEN 0 AND allocated_minor),
    PRIMARY KEY (account_id, line_no),
    CHECK ((revenue_type = 'OVER_TIME') = (service_months > 0))
);
CREATE INDEX revenue_obligations_open_idx ON revenue_obligations (account_id) WHERE recognised_minor < allocated_minor;

-- The business date of each acceptance (the point-in-time share accepted by a period's end); older rows take the
-- day they were received.
ALTER TABLE deliveries ADD COLUMN accept_date date;
UPDATE deliveries SET accept_date = create_time::date;
ALTER TABLE deliveries ALTER COLUMN accept_date SET NOT NULL, ALTER COLUMN accept_date SET DEFAULT current_date;

-- A period's recognition ran (ClosePeriod requires it); a rerun updates last_run_time.
CREATE TABLE revenue_runs (
    period        char(7) PRIMARY KEY CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    run_by        text NOT NULL CHECK (char_length(run_by) BETWEEN 1 AND 128),
    run_time      timestamptz NOT NULL DEFAULT now(),
    last_run_time timestamptz NOT NULL DEFAULT now()
);

-- What a run recognised for an obligation (the journal entry is the order's, source "orders/{id}").
CREATE TABLE revenue_postings (
    seq          bigserial PRIMARY KEY,
    account_id   uuid NOT NULL,
    line_no      integer NOT NULL,
    period       char(7) NOT NULL REFERENCES revenue_runs (period),
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    FOREIGN KEY (account_id, line_no) REFERENCES revenue_obligations (account_id, line_no)
);
CREATE INDEX revenue_postings_period_idx ON revenue_postings (period);

ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_event_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_event_check CHECK (event IN ('INVOICE', 'RECEIPT',
    'ALLOCATION', 'ALLOCATION_REVERSAL', 'BOUNCE', 'REFUND', 'CREDIT_NOTE', 'DUNNING_CHARGE', 'REVENUE',
    'CONTRACT_NETTING'));
