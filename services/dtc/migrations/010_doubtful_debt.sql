-- DTC: doubtful and bad debt (坏账/呆账, issue #17, docs/finance.md "Doubtful debt"): the provision policy (a
-- percentage per aging bucket), specific provisions per invoice, provision runs per period, write-offs requested by
-- one person and approved by another, recoveries of written-off debt; the chart gains BAD_DEBT_RECOVERY and the
-- journal the PROVISION, WRITE_OFF and RECOVERY events. An invoice conserves amount = paid + open + credited +
-- written off, and holds the allowance its last provision run gave it (the 1190 balance is their sum).
-- Numbered 010: 009 is foreign exchange's. The runner applies, in version order, every migration not yet recorded,
-- so the two widen the CHECKs below from what the database holds (whichever ran first), never from a fixed list.

-- --- the chart and the journal ----------------------------------------------------------------------------------
DO $$
DECLARE vals text[];
BEGIN
    SELECT array_agg(DISTINCT m[1]) INTO vals FROM pg_constraint c,
        regexp_matches(pg_get_constraintdef(c.oid), '''([A-Z_]+)''', 'g') m
        WHERE c.conrelid = 'ledger_accounts'::regclass AND c.conname = 'ledger_accounts_role_check';
    ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_role_check;
    EXECUTE format('ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_role_check CHECK (role = ANY (%L::text[]))',
                   vals || ARRAY['BAD_DEBT_RECOVERY']);
    SELECT array_agg(DISTINCT m[1]) INTO vals FROM pg_constraint c,
        regexp_matches(pg_get_constraintdef(c.oid), '''([A-Z_]+)''', 'g') m
        WHERE c.conrelid = 'journal_entries'::regclass AND c.conname = 'journal_entries_event_check';
    ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_event_check;
    EXECUTE format('ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_event_check CHECK (event = ANY (%L::text[]))',
                   vals || ARRAY['PROVISION', 'WRITE_OFF', 'RECOVERY']);
END;
$$;
INSERT INTO ledger_accounts (role, code, name, kind) VALUES ('BAD_DEBT_RECOVERY', '4200', 'Bad-debt recovery', 'INCOME');

-- --- invoices: written off, recovered, the allowance held; the WRITTEN_OFF state ---------------------------------
ALTER TABLE invoices
    ADD COLUMN written_off_minor bigint NOT NULL DEFAULT 0,
    ADD COLUMN recovered_minor bigint NOT NULL DEFAULT 0,
    ADD COLUMN allowance_minor bigint NOT NULL DEFAULT 0 CHECK (allowance_minor >= 0),
    DROP CONSTRAINT invoices_conserved,
    DROP CONSTRAINT invoices_state_of_amounts;
ALTER TABLE invoices
    ADD CONSTRAINT invoices_conserved CHECK (paid_minor >= 0 AND credited_minor >= 0 AND written_off_minor >= 0
        AND paid_minor + credited_minor + written_off_minor <= amount_minor),
    ADD CONSTRAINT invoices_recovered CHECK (recovered_minor BETWEEN 0 AND written_off_minor),
    ADD CONSTRAINT invoices_state_of_amounts CHECK (
        (state = 'UNPAID' AND paid_minor = 0 AND credited_minor + written_off_minor < amount_minor)
        OR (state = 'PARTLY_PAID' AND paid_minor > 0 AND paid_minor + credited_minor + written_off_minor < amount_minor)
        OR (state = 'PAID' AND paid_minor > 0 AND written_off_minor = 0 AND paid_minor + credited_minor = amount_minor)
        OR (state = 'CREDITED' AND paid_minor = 0 AND credited_minor = amount_minor)
        OR (state = 'WRITTEN_OFF' AND written_off_minor > 0
            AND paid_minor + credited_minor + written_off_minor = amount_minor));

-- --- the policy: a percentage (basis points) per bucket: not yet due, then each past-due bucket of bucket_bounds
-- (days past due, as GetAgingReport's), then beyond the last bound ------------------------------------------------
CREATE TABLE provision_policy (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    bucket_bounds integer[] NOT NULL DEFAULT '{30,60,90}',
    bucket_bps    integer[] NOT NULL DEFAULT '{0,100,500,2000,5000}',
    update_by     text NOT NULL DEFAULT 'default' CHECK (char_length(update_by) BETWEEN 1 AND 128),
    version       integer NOT NULL DEFAULT 1 CHECK (version > 0),
    update_time   timestamptz NOT NULL DEFAULT now(),
    CHECK (cardinality(bucket_bps) = cardinality(bucket_bounds) + 2)
);
INSERT INTO provision_policy DEFAULT VALUES;

-- A specific provision replaces the bucket percentage for its invoice: an amount or a percentage of what is open.
CREATE TABLE specific_provisions (
    invoice_id   uuid PRIMARY KEY REFERENCES invoices (id),
    amount_minor bigint CHECK (amount_minor >= 0),
    bps          integer CHECK (bps BETWEEN 0 AND 10000),
    reason       text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    set_by       text NOT NULL CHECK (char_length(set_by) BETWEEN 1 AND 128),
    set_time     timestamptz NOT NULL DEFAULT now(),
    CHECK ((amount_minor IS NULL) <> (bps IS NULL))
);

-- A period's provision ran (a rerun updates last_run_time).
CREATE TABLE provision_runs (
    period        char(7) PRIMARY KEY CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    run_by        text NOT NULL CHECK (char_length(run_by) BETWEEN 1 AND 128),
    run_time      timestamptz NOT NULL DEFAULT now(),
    last_run_time timestamptz NOT NULL DEFAULT now()
);

-- --- write-offs: requested by finance, approved or rejected by someone else --------------------------------------
CREATE TABLE write_offs (
    id                   uuid PRIMARY KEY,
    seq                  bigserial UNIQUE,
    invoice_id           uuid NOT NULL REFERENCES invoices (id),
    currency             char(3) NOT NULL,
    amount_minor         bigint NOT NULL CHECK (amount_minor > 0),
    reason               text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    write_off_date       date NOT NULL,
    state                text NOT NULL DEFAULT 'REQUESTED' CHECK (state IN ('REQUESTED', 'APPROVED', 'REJECTED')),
    requested_by         text NOT NULL CHECK (char_length(requested_by) BETWEEN 1 AND 128),
    request_time         timestamptz NOT NULL DEFAULT now(),
    decided_by           text CHECK (char_length(decided_by) BETWEEN 1 AND 128),
    decision_note        text NOT NULL DEFAULT '' CHECK (char_length(decision_note) <= 500),
    decide_time          timestamptz,
    from_allowance_minor bigint CHECK (from_allowance_minor >= 0),
    expense_minor        bigint CHECK (expense_minor >= 0),
    CONSTRAINT write_offs_four_eyes CHECK (decided_by IS NULL OR decided_by <> requested_by),
    CONSTRAINT write_offs_decided CHECK ((state = 'REQUESTED') = (decided_by IS NULL AND decide_time IS NULL)),
    CONSTRAINT write_offs_split CHECK ((state = 'APPROVED') = (from_allowance_minor IS NOT NULL
        AND expense_minor IS NOT NULL AND from_allowance_minor + expense_minor = amount_minor))
);
CREATE UNIQUE INDEX write_offs_one_request_idx ON write_offs (invoice_id) WHERE state = 'REQUESTED';
CREATE INDEX write_offs_invoice_idx ON write_offs (invoice_id, write_off_date) WHERE state = 'APPROVED';

-- --- recoveries: a receipt's unapplied cash taken for written-off debt (the receipt's applied cash) ---------------
CREATE TABLE bad_debt_recoveries (
    id            uuid PRIMARY KEY,
    seq           bigserial UNIQUE,
    invoice_id    uuid NOT NULL REFERENCES invoices (id),
    receipt_id    uuid NOT NULL REFERENCES receipts (id),
    currency      char(3) NOT NULL,
    amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
    recovery_date date NOT NULL,
    recorded_by   text NOT NULL CHECK (char_length(recorded_by) BETWEEN 1 AND 128),
    create_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bad_debt_recoveries_receipt_idx ON bad_debt_recoveries (receipt_id);
