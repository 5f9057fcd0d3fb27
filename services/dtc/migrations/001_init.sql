-- DTC (deliver to cash, 回款): order accounts, their payment terms, accepted deliveries, invoices, payments and
-- closures. Applied in schema dtc (search_path), so no name is schema-qualified.

-- The receivables view of one order; id = the order's id (BTO's). Created by the order's first accepted delivery.
CREATE TABLE order_accounts (
    id                uuid PRIMARY KEY,
    seq               bigserial UNIQUE,
    contract_id       uuid NOT NULL,
    deal_id           uuid NOT NULL,
    customer_name     text NOT NULL CHECK (char_length(customer_name) BETWEEN 1 AND 200),
    account_owner     text NOT NULL CHECK (char_length(account_owner) BETWEEN 1 AND 128),
    solution_owner    text NOT NULL CHECK (char_length(solution_owner) BETWEEN 1 AND 128),
    fulfilment_owner  text NOT NULL CHECK (char_length(fulfilment_owner) BETWEEN 1 AND 128),
    currency          char(3) NOT NULL,
    order_total_minor bigint NOT NULL CHECK (order_total_minor >= 0),
    accepted_minor    bigint NOT NULL DEFAULT 0 CHECK (accepted_minor BETWEEN 0 AND order_total_minor),
    invoiced_minor    bigint NOT NULL DEFAULT 0 CHECK (invoiced_minor BETWEEN 0 AND order_total_minor),
    paid_minor        bigint NOT NULL DEFAULT 0 CHECK (paid_minor BETWEEN 0 AND invoiced_minor),
    -- Set by a delivery flagged order_fully_accepted or bringing accepted_minor to order_total_minor; from then on
    -- every term is billed in full.
    fully_accepted    boolean NOT NULL DEFAULT false,
    state             text NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'CLOSED')),
    close_time        timestamptz,
    create_time       timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'CLOSED') = (close_time IS NOT NULL)),
    CHECK (state = 'OPEN' OR (fully_accepted AND invoiced_minor = order_total_minor AND paid_minor = invoiced_minor))
);
CREATE INDEX order_accounts_contract_idx ON order_accounts (contract_id);

-- The payment terms of an account, in the contract's order (position 0..n-1), each with its share of the order
-- total (the last term takes the rounding remainder) and what it has billed so far.
CREATE TABLE account_terms (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    account_id     uuid NOT NULL REFERENCES order_accounts (id),
    position       integer NOT NULL CHECK (position BETWEEN 0 AND 9),
    kind           text NOT NULL CHECK (kind IN ('ADVANCE', 'ON_DELIVERY', 'ON_ACCEPTANCE', 'RETENTION')),
    share_bps      integer NOT NULL CHECK (share_bps BETWEEN 1 AND 10000),
    due_days       integer NOT NULL CHECK (due_days BETWEEN 0 AND 3650),
    total_minor    bigint NOT NULL CHECK (total_minor >= 0),
    invoiced_minor bigint NOT NULL DEFAULT 0 CHECK (invoiced_minor BETWEEN 0 AND total_minor),
    create_time    timestamptz NOT NULL DEFAULT now(),
    update_time    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, position)
);

-- Accepted shipments handed over by OTD; a shipment is invoiced once.
CREATE TABLE deliveries (
    id               uuid PRIMARY KEY,
    seq              bigserial UNIQUE,
    account_id       uuid NOT NULL REFERENCES order_accounts (id),
    shipment_id      uuid NOT NULL UNIQUE,
    handoff_id       uuid NOT NULL,
    currency         char(3) NOT NULL,
    accepted_minor   bigint NOT NULL CHECK (accepted_minor >= 0),
    fully_accepted   boolean NOT NULL,
    create_time      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_account_idx ON deliveries (account_id);

-- Invoices (应收) raised from a term for a delivery.
CREATE TABLE invoices (
    id            uuid PRIMARY KEY,
    seq           bigserial UNIQUE,
    account_id    uuid NOT NULL REFERENCES order_accounts (id),
    shipment_id   uuid NOT NULL,
    term_position integer NOT NULL,
    term_kind     text NOT NULL CHECK (term_kind IN ('ADVANCE', 'ON_DELIVERY', 'ON_ACCEPTANCE', 'RETENTION')),
    currency      char(3) NOT NULL,
    amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
    paid_minor    bigint NOT NULL DEFAULT 0 CHECK (paid_minor BETWEEN 0 AND amount_minor),
    invoice_date  date NOT NULL,
    due_date      date NOT NULL CHECK (due_date >= invoice_date),
    state         text NOT NULL DEFAULT 'UNPAID' CHECK (state IN ('UNPAID', 'PARTLY_PAID', 'PAID')),
    create_time   timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'UNPAID' AND paid_minor = 0)
           OR (state = 'PARTLY_PAID' AND paid_minor > 0 AND paid_minor < amount_minor)
           OR (state = 'PAID' AND paid_minor = amount_minor)),
    FOREIGN KEY (account_id, term_position) REFERENCES account_terms (account_id, position)
);
CREATE INDEX invoices_account_seq_idx ON invoices (account_id, seq);
-- Open invoices by due date (overdue, aging and dunning).
CREATE INDEX invoices_open_due_idx ON invoices (due_date) WHERE state <> 'PAID';

-- Payments (回款) applied to an invoice.
CREATE TABLE payments (
    id           uuid PRIMARY KEY,
    seq          bigserial UNIQUE,
    invoice_id   uuid NOT NULL REFERENCES invoices (id),
    account_id   uuid NOT NULL REFERENCES order_accounts (id),
    currency     char(3) NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    reference    text NOT NULL DEFAULT '' CHECK (char_length(reference) <= 100),
    create_time  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_invoice_idx ON payments (invoice_id);
CREATE INDEX payments_account_idx ON payments (account_id);

-- Closures: one ORDER row per closed order account; one CONTRACT row per contract, written when an order closes and
-- none of the contract's order accounts known to DTC is open (BTO, which knows all orders, has the final word).
CREATE TABLE closures (
    id              uuid PRIMARY KEY,
    seq             bigserial UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('ORDER', 'CONTRACT')),
    account_id      uuid NOT NULL REFERENCES order_accounts (id),
    contract_id     uuid NOT NULL,
    deal_id         uuid NOT NULL,
    currency        char(3) NOT NULL,
    collected_minor bigint NOT NULL CHECK (collected_minor >= 0),
    close_time      timestamptz NOT NULL,
    create_time     timestamptz NOT NULL DEFAULT now(),
    update_time     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX closures_order_uniq ON closures (account_id) WHERE kind = 'ORDER';
CREATE UNIQUE INDEX closures_contract_uniq ON closures (contract_id) WHERE kind = 'CONTRACT';
