-- DTC: the finance subledger and its periods (issue #17, docs/finance.md): a chart of accounts by role with
-- configurable codes, journal entries (one per financial event, posted in the event's transaction) and their lines
-- (transaction and functional amounts), and monthly periods OPEN -> CLOSED. Applied in schema dtc (search_path).

-- The chart of accounts: one row per role the postings use (services/dtc/ledger_engine.h); finance may change a
-- code or name, never a role.
CREATE TABLE ledger_accounts (
    role        text PRIMARY KEY CHECK (role IN ('CASH', 'RECEIVABLES', 'CHARGES_RECEIVABLE', 'CONTRACT_ASSET',
                'ALLOWANCE', 'UNAPPLIED_CASH', 'CONTRACT_LIABILITY', 'TAX_PAYABLE', 'REVENUE', 'CHARGES_INCOME',
                'BAD_DEBT', 'FX_REALISED', 'FX_UNREALISED')),
    code        text NOT NULL UNIQUE CHECK (code ~ '^[0-9A-Za-z._-]{1,20}$'),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    kind        text NOT NULL CHECK (kind IN ('ASSET', 'CONTRA_ASSET', 'LIABILITY', 'INCOME', 'EXPENSE')),
    update_by   text NOT NULL DEFAULT 'default' CHECK (char_length(update_by) BETWEEN 1 AND 128),
    version     integer NOT NULL DEFAULT 1 CHECK (version > 0),
    update_time timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ledger_accounts (role, code, name, kind) VALUES
    ('CASH', '1010', 'Cash clearing (bank)', 'ASSET'),
    ('RECEIVABLES', '1100', 'Accounts receivable (control)', 'ASSET'),
    ('CHARGES_RECEIVABLE', '1120', 'Dunning fees and interest receivable', 'ASSET'),
    ('CONTRACT_ASSET', '1150', 'Contract assets', 'ASSET'),
    ('ALLOWANCE', '1190', 'Allowance for doubtful debts', 'CONTRA_ASSET'),
    ('UNAPPLIED_CASH', '2100', 'Unapplied cash / customer credit', 'LIABILITY'),
    ('CONTRACT_LIABILITY', '2200', 'Contract liabilities (deferred revenue)', 'LIABILITY'),
    ('TAX_PAYABLE', '2300', 'Output tax payable', 'LIABILITY'),
    ('REVENUE', '4000', 'Revenue', 'INCOME'),
    ('CHARGES_INCOME', '4100', 'Dunning fees and interest', 'INCOME'),
    ('BAD_DEBT', '6100', 'Bad-debt expense', 'EXPENSE'),
    ('FX_REALISED', '7100', 'Realised FX gain/loss', 'INCOME'),
    ('FX_UNREALISED', '7110', 'Unrealised FX gain/loss', 'INCOME');

-- Accounting periods, one per calendar month "YYYY-MM". A period with no row is OPEN; a posting inserts its row
-- (OPEN) and holds it FOR SHARE, so a ClosePeriod (UPDATE) waits for the postings under way and no posting lands in
-- a period once it is CLOSED. Reopening needs a request and an approval by someone else.
CREATE TABLE ledger_periods (
    period          char(7) PRIMARY KEY CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    state           text NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'CLOSED')),
    closed_by       text CHECK (char_length(closed_by) BETWEEN 1 AND 128),
    close_time      timestamptz,
    reopen_requested_by text CHECK (char_length(reopen_requested_by) BETWEEN 1 AND 128),
    reopen_reason   text CHECK (char_length(reopen_reason) BETWEEN 1 AND 500),
    reopen_request_time timestamptz,
    reopened_by     text CHECK (char_length(reopened_by) BETWEEN 1 AND 128),
    reopen_time     timestamptz,
    version         integer NOT NULL DEFAULT 1 CHECK (version > 0),
    CONSTRAINT ledger_periods_closed_says_who CHECK ((state = 'CLOSED') <= (closed_by IS NOT NULL AND close_time IS NOT NULL)),
    CONSTRAINT ledger_periods_reopen_request CHECK ((reopen_requested_by IS NULL) = (reopen_reason IS NULL)),
    CONSTRAINT ledger_periods_four_eyes CHECK (reopened_by IS NULL OR reopened_by <> reopen_requested_by)
);

-- A journal entry: one financial event (source: the record that made it, e.g. "invoices/{id}"), in the event's
-- currency, balanced (debits = credits, in the transaction currency and, where converted, the functional currency).
-- event_date is the event's own business date; posting_date is in the first period not CLOSED on or after it.
CREATE TABLE journal_entries (
    id                  uuid PRIMARY KEY,
    seq                 bigserial UNIQUE,
    event               text NOT NULL CHECK (event IN ('INVOICE', 'RECEIPT', 'ALLOCATION', 'ALLOCATION_REVERSAL',
                        'BOUNCE', 'REFUND', 'CREDIT_NOTE', 'DUNNING_CHARGE')),
    source              text NOT NULL CHECK (char_length(source) BETWEEN 1 AND 200),
    customer_id         uuid,
    currency            char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    functional_currency char(3) NOT NULL CHECK (functional_currency ~ '^[A-Z]{3}$'),
    event_date          date NOT NULL,
    posting_date        date NOT NULL CHECK (posting_date >= event_date),
    period              char(7) NOT NULL REFERENCES ledger_periods (period),
    total_minor         bigint NOT NULL CHECK (total_minor > 0),
    posted_by           text NOT NULL CHECK (char_length(posted_by) BETWEEN 1 AND 128),
    create_time         timestamptz NOT NULL DEFAULT now(),
    CHECK (period = to_char(posting_date, 'YYYY-MM'))
);
CREATE INDEX journal_entries_period_idx ON journal_entries (period, seq);
CREATE INDEX journal_entries_source_idx ON journal_entries (source);
CREATE INDEX journal_entries_customer_idx ON journal_entries (customer_id, seq);

-- Its lines: the account's role and its code at posting time, exactly one side positive. functional amounts are
-- the transaction amounts when the currency is the functional one, NULL otherwise (no exchange rates: FX is not
-- built; the trial balance is per currency).
CREATE TABLE journal_lines (
    entry_id          uuid NOT NULL REFERENCES journal_entries (id),
    line_no           integer NOT NULL CHECK (line_no BETWEEN 1 AND 16),
    account_role      text NOT NULL REFERENCES ledger_accounts (role),
    account_code      text NOT NULL,
    debit_minor       bigint NOT NULL CHECK (debit_minor >= 0),
    credit_minor      bigint NOT NULL CHECK (credit_minor >= 0),
    functional_debit_minor  bigint,
    functional_credit_minor bigint,
    PRIMARY KEY (entry_id, line_no),
    CHECK ((debit_minor > 0) <> (credit_minor > 0)),
    CHECK ((functional_debit_minor IS NULL) = (functional_credit_minor IS NULL))
);
CREATE INDEX journal_lines_role_idx ON journal_lines (account_role);

-- Every entry balances, checked at commit (the lines are inserted after their entry): debits = credits = total.
CREATE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE d bigint; c bigint; fd bigint; fc bigint; t bigint;
BEGIN
    SELECT coalesce(sum(debit_minor), 0), coalesce(sum(credit_minor), 0), sum(functional_debit_minor),
           sum(functional_credit_minor) INTO d, c, fd, fc FROM journal_lines WHERE entry_id = NEW.entry_id;
    SELECT total_minor INTO t FROM journal_entries WHERE id = NEW.entry_id;
    IF d <> c OR d <> t OR fd IS DISTINCT FROM fc THEN
        RAISE EXCEPTION 'journal entry % does not balance: debits %, credits %, total %', NEW.entry_id, d, c, t
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER journal_lines_balanced AFTER INSERT OR UPDATE ON journal_lines
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced();
-- The journal is append-only: a correction is a new entry.
CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only' USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION journal_append_only();
