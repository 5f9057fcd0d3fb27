-- DTC: foreign exchange (issue #17, docs/finance.md "Foreign exchange"): exchange rates by date to the functional
-- currency (the table of 002, now written and read), the rate each journal entry converted at, lines that carry only functional amounts (the realised gain or
-- loss of an allocation, a rounding difference, a revaluation), the revaluation runs per period and what each run
-- revalued per invoice.

-- The exchange rates of 002_credit.sql (1 unit of `currency` = `rate` units of `functional_currency` from
-- `valid_from` on; the rate of a day is the latest on or before it), now written by FinanceService.SetExchangeRate
-- (which replaces a day's rate; entries already posted keep the rate they converted at, journal_entries.fx_rate_scaled)
-- and read by the ledger at 10 decimals (round(rate * 10^10)). seq orders ListExchangeRates.
ALTER TABLE exchange_rates ADD COLUMN seq bigserial UNIQUE,
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0),
    ADD COLUMN update_time timestamptz NOT NULL DEFAULT now();

-- The rate an entry converted its transaction amounts at (10^10 for the functional currency); NULL when it was not
-- converted (a foreign currency without a rate on or before its event date, or an entry posted before 009).
ALTER TABLE journal_entries ADD COLUMN fx_rate_scaled bigint CHECK (fx_rate_scaled > 0);
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_event_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_event_check CHECK (event IN ('INVOICE', 'RECEIPT',
    'ALLOCATION', 'ALLOCATION_REVERSAL', 'BOUNCE', 'REFUND', 'CREDIT_NOTE', 'DUNNING_CHARGE', 'REVENUE',
    'CONTRACT_NETTING', 'FX_REVALUATION', 'FX_REVALUATION_REVERSAL'));
-- a revaluation moves functional amounts only: its transaction total is 0
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_total_minor_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_total_minor_check CHECK (total_minor > 0
    OR (total_minor = 0 AND event IN ('FX_REVALUATION', 'FX_REVALUATION_REVERSAL')));
-- a line has one positive transaction side, or (an FX or rounding line) none and one positive functional side
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_check;
ALTER TABLE journal_lines ADD CONSTRAINT journal_lines_check CHECK ((debit_minor > 0) <> (credit_minor > 0)
    OR (debit_minor = 0 AND credit_minor = 0 AND (functional_debit_minor > 0) <> (functional_credit_minor > 0)));

-- Revaluation runs: a period's revaluation ran (ClosePeriod requires it while foreign-currency invoices are open).
CREATE TABLE fx_revaluation_runs (
    period        char(7) PRIMARY KEY CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    run_by        text NOT NULL CHECK (char_length(run_by) BETWEEN 1 AND 128),
    run_time      timestamptz NOT NULL DEFAULT now(),
    last_run_time timestamptz NOT NULL DEFAULT now()
);
-- What a run revalued: one row per period and invoice (a rerun skips those), with the amounts of its two entries.
CREATE TABLE fx_revaluations (
    period           char(7) NOT NULL REFERENCES fx_revaluation_runs (period),
    invoice_id       uuid NOT NULL REFERENCES invoices (id),
    currency         char(3) NOT NULL,
    open_minor       bigint NOT NULL CHECK (open_minor > 0),
    rate_scaled      bigint NOT NULL CHECK (rate_scaled > 0),
    carried_minor    bigint NOT NULL,
    unrealised_minor bigint NOT NULL,
    PRIMARY KEY (period, invoice_id)
);
