-- DTC: credit notes (returns, cancellations, price corrections), disputes, aging and dunning (issue #16,
-- docs/receivables.md). An invoice conserves amount = paid + open + credited; an order account
-- invoiced = paid + open + credited, and a cancelled order bills nothing more. Applied in schema dtc (search_path).

-- --- invoices: credited amount, dispute flag, the CREDITED state ------------------------------------------------
ALTER TABLE invoices
    ADD COLUMN credited_minor bigint NOT NULL DEFAULT 0,
    ADD COLUMN disputed boolean NOT NULL DEFAULT false,
    ADD COLUMN dispute_reason text NOT NULL DEFAULT '' CHECK (char_length(dispute_reason) <= 500);
-- The v1 checks (state from paid alone, paid <= amount) give way to the ones with credits.
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT conname FROM pg_constraint WHERE conrelid = 'invoices'::regclass AND contype = 'c'
             AND (pg_get_constraintdef(oid) LIKE '%PARTLY_PAID%' OR pg_get_constraintdef(oid) LIKE '%paid_minor <= amount_minor%')
    LOOP
        EXECUTE format('ALTER TABLE invoices DROP CONSTRAINT %I', r.conname);
    END LOOP;
    FOR r IN SELECT conname FROM pg_constraint WHERE conrelid = 'order_accounts'::regclass AND contype = 'c'
             AND (pg_get_constraintdef(oid) LIKE '%fully_accepted%' OR pg_get_constraintdef(oid) LIKE '%''CLOSED''::text]%')
    LOOP
        EXECUTE format('ALTER TABLE order_accounts DROP CONSTRAINT %I', r.conname);
    END LOOP;
END;
$$;
ALTER TABLE invoices
    ADD CONSTRAINT invoices_conserved
        CHECK (paid_minor >= 0 AND credited_minor >= 0 AND paid_minor + credited_minor <= amount_minor),
    ADD CONSTRAINT invoices_state_of_amounts CHECK (
        (state = 'UNPAID' AND paid_minor = 0 AND credited_minor < amount_minor)
        OR (state = 'PARTLY_PAID' AND paid_minor > 0 AND paid_minor + credited_minor < amount_minor)
        OR (state = 'PAID' AND paid_minor > 0 AND paid_minor + credited_minor = amount_minor)
        OR (state = 'CREDITED' AND paid_minor = 0 AND credited_minor = amount_minor));
CREATE INDEX invoices_open_idx ON invoices (due_date) WHERE state IN ('UNPAID', 'PARTLY_PAID');

-- --- order accounts: credited amount, CANCELLED ---------------------------------------------------------------------
ALTER TABLE order_accounts
    ADD COLUMN credited_minor bigint NOT NULL DEFAULT 0,
    ADD COLUMN cancel_time timestamptz,
    ADD COLUMN cancel_reason text CHECK (char_length(cancel_reason) BETWEEN 1 AND 1000),
    ADD CONSTRAINT order_accounts_state_check2 CHECK (state IN ('OPEN', 'CLOSED', 'CANCELLED')),
    ADD CONSTRAINT order_accounts_conserved CHECK (credited_minor >= 0 AND paid_minor + credited_minor <= invoiced_minor),
    ADD CONSTRAINT order_accounts_closed_settled CHECK (state <> 'CLOSED'
        OR (fully_accepted AND invoiced_minor = order_total_minor AND paid_minor + credited_minor = invoiced_minor)),
    ADD CONSTRAINT order_accounts_cancelled_together CHECK ((state = 'CANCELLED') = (cancel_time IS NOT NULL));

-- --- receipts: customer credit from credit notes -------------------------------------------------------------------
ALTER TABLE receipts DROP CONSTRAINT receipts_origin_check;
ALTER TABLE receipts ADD CONSTRAINT receipts_origin_check CHECK (origin IN ('RECEIPT', 'PAYMENT', 'CREDIT_NOTE'));

-- --- credit notes ----------------------------------------------------------------------------------------------------
-- A credit note reduces what a customer owes on an order: `credited` against its invoices' open amounts (lines), the
-- rest (what was paid already) as customer credit: a receipt of origin CREDIT_NOTE whose unapplied cash can be
-- applied to other invoices or refunded. amount = credited + customer_credit.
CREATE TABLE credit_notes (
    id                    uuid PRIMARY KEY,
    seq                   bigserial UNIQUE,
    account_id            uuid NOT NULL REFERENCES order_accounts (id),
    customer_id           uuid REFERENCES credit_accounts (customer_id),
    kind                  text NOT NULL CHECK (kind IN ('RETURN', 'CANCELLATION', 'PRICE_CORRECTION')),
    currency              char(3) NOT NULL,
    amount_minor          bigint NOT NULL CHECK (amount_minor > 0),
    credited_minor        bigint NOT NULL CHECK (credited_minor >= 0),
    customer_credit_minor bigint NOT NULL CHECK (customer_credit_minor >= 0),
    credit_receipt_id     uuid REFERENCES receipts (id),
    issue_date            date NOT NULL,
    reason                text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 1000),
    -- what it credits: "returns/{rma}", "orders/{order}" (cancellation), "invoices/{invoice}" (correction)
    source                text NOT NULL CHECK (char_length(source) BETWEEN 1 AND 200),
    handoff_id            uuid,
    issued_by             text NOT NULL CHECK (char_length(issued_by) BETWEEN 1 AND 128),
    create_time           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT credit_notes_conserved CHECK (credited_minor + customer_credit_minor = amount_minor),
    CONSTRAINT credit_notes_credit_receipt CHECK ((customer_credit_minor > 0) = (credit_receipt_id IS NOT NULL))
);
-- a return (RMA) is credited once
CREATE UNIQUE INDEX credit_notes_return_uniq ON credit_notes (source) WHERE kind = 'RETURN';
CREATE UNIQUE INDEX credit_notes_cancellation_uniq ON credit_notes (account_id) WHERE kind = 'CANCELLATION';
CREATE INDEX credit_notes_account_idx ON credit_notes (account_id, seq);
CREATE INDEX credit_notes_customer_idx ON credit_notes (customer_id, seq);

CREATE TABLE credit_note_lines (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    credit_note_id uuid NOT NULL REFERENCES credit_notes (id),
    invoice_id     uuid NOT NULL REFERENCES invoices (id),
    currency       char(3) NOT NULL,
    amount_minor   bigint NOT NULL CHECK (amount_minor > 0)
);
CREATE INDEX credit_note_lines_note_idx ON credit_note_lines (credit_note_id, seq);
CREATE INDEX credit_note_lines_invoice_idx ON credit_note_lines (invoice_id);

-- --- dunning ---------------------------------------------------------------------------------------------------------
-- The dunning policy: one row, the documented defaults until UpdateDunningPolicy. Levels by days past due
-- (reminder < second < final); a fee per notice (in the invoice's minor units) and annual interest on the open amount
-- (basis points, ACT/365 or ACT/360) from the due date to the run's date.
CREATE TABLE dunning_policy (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    reminder_days integer NOT NULL DEFAULT 1 CHECK (reminder_days BETWEEN 1 AND 3650),
    second_days   integer NOT NULL DEFAULT 15,
    final_days    integer NOT NULL DEFAULT 30,
    fee_minor     bigint NOT NULL DEFAULT 0 CHECK (fee_minor BETWEEN 0 AND 100000000),
    interest_bps  integer NOT NULL DEFAULT 0 CHECK (interest_bps BETWEEN 0 AND 10000),
    day_count     text NOT NULL DEFAULT 'ACT_365' CHECK (day_count IN ('ACT_365', 'ACT_360')),
    update_by     text NOT NULL DEFAULT 'default' CHECK (char_length(update_by) BETWEEN 1 AND 128),
    version       integer NOT NULL DEFAULT 1 CHECK (version > 0),
    update_time   timestamptz NOT NULL DEFAULT now(),
    CHECK (reminder_days < second_days AND second_days < final_days AND final_days <= 3650)
);
INSERT INTO dunning_policy DEFAULT VALUES;

-- One notice per invoice and level, kept for good: a rerun on the same (or a later) date creates nothing new for a
-- level reached before.
CREATE TABLE dunning_notices (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    invoice_id     uuid NOT NULL REFERENCES invoices (id),
    customer_id    uuid REFERENCES credit_accounts (customer_id),
    level          text NOT NULL CHECK (level IN ('REMINDER', 'SECOND', 'FINAL')),
    as_of_date     date NOT NULL,
    days_overdue   integer NOT NULL CHECK (days_overdue > 0),
    currency       char(3) NOT NULL,
    open_minor     bigint NOT NULL CHECK (open_minor > 0),
    fee_minor      bigint NOT NULL CHECK (fee_minor >= 0),
    interest_minor bigint NOT NULL CHECK (interest_minor >= 0),
    request_id     text NOT NULL DEFAULT '',
    create_time    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (invoice_id, level)
);
CREATE INDEX dunning_notices_customer_idx ON dunning_notices (customer_id, seq);
