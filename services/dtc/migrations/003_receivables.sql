-- DTC: receivables and cash (issue #16, docs/receivables.md). Invoices raised by each payment term's own event
-- (ADVANCE at placement, ON_DELIVERY at shipment, ON_ACCEPTANCE at acceptance, RETENTION at final acceptance), the
-- shipments OTD reports, receipts (money received, unique per bank account and bank reference) and their
-- allocations to invoices (reversible, with a reason). Every financial event is a row with its business date, amount
-- and currency, so that postings can be derived from them. Applied in schema dtc (search_path).

-- What raised an invoice: the placement (ADVANCE), a shipment (ON_DELIVERY), an acceptance (the others). An advance
-- invoice has no shipment.
ALTER TABLE invoices ALTER COLUMN shipment_id DROP NOT NULL;
ALTER TABLE invoices
    ADD COLUMN billing_event text NOT NULL DEFAULT 'ACCEPTANCE'
        CHECK (billing_event IN ('ORDER_PLACED', 'SHIPMENT', 'ACCEPTANCE')),
    ADD CONSTRAINT invoices_shipment_of_event CHECK ((billing_event = 'ORDER_PLACED') = (shipment_id IS NULL));

-- Value shipped so far (AcceptShipment) and whether every line has shipped.
ALTER TABLE order_accounts
    ADD COLUMN shipped_minor bigint NOT NULL DEFAULT 0,
    ADD COLUMN fully_shipped boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT order_accounts_shipped_range CHECK (shipped_minor BETWEEN 0 AND order_total_minor);

-- Shipments as they leave (OTD's AcceptShipment); a shipment is recorded once.
CREATE TABLE shipments (
    id            uuid PRIMARY KEY,
    seq           bigserial UNIQUE,
    account_id    uuid NOT NULL REFERENCES order_accounts (id),
    shipment_id   uuid NOT NULL UNIQUE,
    handoff_id    uuid NOT NULL,
    currency      char(3) NOT NULL,
    amount_minor  bigint NOT NULL CHECK (amount_minor >= 0),
    fully_shipped boolean NOT NULL,
    ship_date     date NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipments_account_idx ON shipments (account_id);

-- Money received (回款) from a customer into one of the company's bank accounts. The bank's reference is unique per
-- bank account (a second receipt with it is the same money: never counted twice). `order_account` set: an advance
-- receipt of that order, applied automatically to its invoices as they are raised. Conservation:
-- amount = applied + refunded + unapplied (unapplied 0 once BOUNCED, when nothing may stay applied or refunded).
CREATE TABLE receipts (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    -- NULL only for a v1 payment on an order account that never had a customer (before issue #13)
    customer_id    uuid REFERENCES credit_accounts (customer_id),
    account_id     uuid REFERENCES order_accounts (id),
    currency       char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor   bigint NOT NULL CHECK (amount_minor > 0),
    applied_minor  bigint NOT NULL DEFAULT 0 CHECK (applied_minor >= 0),
    refunded_minor bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    unapplied_minor bigint NOT NULL,
    value_date     date NOT NULL,
    bank_account   text NOT NULL CHECK (char_length(bank_account) BETWEEN 1 AND 64),
    bank_reference text NOT NULL DEFAULT '' CHECK (char_length(bank_reference) <= 100),
    note           text NOT NULL DEFAULT '' CHECK (char_length(note) <= 500),
    state          text NOT NULL DEFAULT 'RECEIVED' CHECK (state IN ('RECEIVED', 'BOUNCED')),
    bounce_reason  text CHECK (char_length(bounce_reason) BETWEEN 1 AND 500),
    bounce_time    timestamptz,
    recorded_by    text NOT NULL CHECK (char_length(recorded_by) BETWEEN 1 AND 128),
    request_id     text NOT NULL DEFAULT '',
    -- 'RECEIPT' (RecordReceipt) or 'PAYMENT' (v1's RecordPayment: a receipt applied to one invoice at once)
    origin         text NOT NULL DEFAULT 'RECEIPT' CHECK (origin IN ('RECEIPT', 'PAYMENT')),
    create_time    timestamptz NOT NULL DEFAULT now(),
    update_time    timestamptz NOT NULL DEFAULT now(),
    CHECK (customer_id IS NOT NULL OR origin = 'PAYMENT'),
    CONSTRAINT receipts_conserved CHECK (
        (state = 'RECEIVED' AND amount_minor = applied_minor + refunded_minor + unapplied_minor AND unapplied_minor >= 0)
        OR (state = 'BOUNCED' AND applied_minor = 0 AND refunded_minor = 0 AND unapplied_minor = 0)),
    CONSTRAINT receipts_bounced_says_why CHECK ((state = 'BOUNCED') = (bounce_reason IS NOT NULL AND bounce_time IS NOT NULL))
);
-- Empty references (v1 RecordPayment without one) cannot be matched, so they are not unique.
CREATE UNIQUE INDEX receipts_bank_reference_uniq ON receipts (bank_account, bank_reference) WHERE bank_reference <> '';
CREATE INDEX receipts_customer_idx ON receipts (customer_id, seq);
CREATE INDEX receipts_open_advance_idx ON receipts (account_id, seq) WHERE account_id IS NOT NULL AND unapplied_minor > 0;

-- A part of a receipt applied to one invoice of the same customer and currency. ACTIVE counts in the invoice's
-- paid amount; REVERSED (with who, why and the business date) no longer does and is kept for good.
CREATE TABLE allocations (
    id            uuid PRIMARY KEY,
    seq           bigserial UNIQUE,
    receipt_id    uuid NOT NULL REFERENCES receipts (id),
    invoice_id    uuid NOT NULL REFERENCES invoices (id),
    account_id    uuid NOT NULL REFERENCES order_accounts (id),
    currency      char(3) NOT NULL,
    amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
    -- EXPLICIT (named by the caller), OLDEST_DUE (the automatic rule), ADVANCE (an order's advance receipt applied
    -- to its new invoice), PAYMENT (v1 RecordPayment)
    method        text NOT NULL CHECK (method IN ('EXPLICIT', 'OLDEST_DUE', 'ADVANCE', 'PAYMENT')),
    apply_date    date NOT NULL,
    applied_by    text NOT NULL CHECK (char_length(applied_by) BETWEEN 1 AND 128),
    state         text NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'REVERSED')),
    reverse_reason text CHECK (char_length(reverse_reason) BETWEEN 1 AND 500),
    reversed_by   text CHECK (char_length(reversed_by) BETWEEN 1 AND 128),
    reverse_date  date,
    reverse_time  timestamptz,
    create_time   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT allocations_reversed_together CHECK ((state = 'REVERSED') = (reverse_reason IS NOT NULL
        AND reversed_by IS NOT NULL AND reverse_date IS NOT NULL AND reverse_time IS NOT NULL))
);
CREATE INDEX allocations_receipt_idx ON allocations (receipt_id, seq);
CREATE INDEX allocations_invoice_idx ON allocations (invoice_id, seq);

-- Unapplied cash refunded to the payer (RefundReceipt), one row per refund with its business date.
CREATE TABLE refunds (
    id           uuid PRIMARY KEY,
    seq          bigserial UNIQUE,
    receipt_id   uuid NOT NULL REFERENCES receipts (id),
    currency     char(3) NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    refund_date  date NOT NULL,
    reason       text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    refunded_by  text NOT NULL CHECK (char_length(refunded_by) BETWEEN 1 AND 128),
    create_time  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_receipt_idx ON refunds (receipt_id, seq);
