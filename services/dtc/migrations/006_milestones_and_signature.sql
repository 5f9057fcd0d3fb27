-- DTC (issue #16, docs/receivables.md): MILESTONE payment terms, invoiced when their named billing milestone is
-- reported reached (ReportBillingMilestone), and the ADVANCE billed at contract signature as a billing policy
-- (BTO's AcceptContractSigned). Applied in schema dtc (search_path).

-- A MILESTONE term carries its milestone's name (unique within the order's terms); other kinds have none.
ALTER TABLE account_terms DROP CONSTRAINT account_terms_kind_check;
ALTER TABLE account_terms
    ADD COLUMN milestone text,
    ADD CONSTRAINT account_terms_kind_check
        CHECK (kind IN ('ADVANCE', 'ON_DELIVERY', 'ON_ACCEPTANCE', 'RETENTION', 'MILESTONE')),
    ADD CONSTRAINT account_terms_milestone_named CHECK ((kind = 'MILESTONE') = (milestone IS NOT NULL)),
    ADD CONSTRAINT account_terms_milestone_length CHECK (char_length(milestone) BETWEEN 1 AND 64);
CREATE UNIQUE INDEX account_terms_milestone_uniq ON account_terms (account_id, milestone) WHERE milestone IS NOT NULL;

-- Invoices of MILESTONE terms, raised by a reported milestone, and ADVANCE invoices raised at signature: neither
-- has a shipment.
ALTER TABLE invoices DROP CONSTRAINT invoices_term_kind_check;
ALTER TABLE invoices DROP CONSTRAINT invoices_billing_event_check;
ALTER TABLE invoices DROP CONSTRAINT invoices_shipment_of_event;
ALTER TABLE invoices
    ADD CONSTRAINT invoices_term_kind_check
        CHECK (term_kind IN ('ADVANCE', 'ON_DELIVERY', 'ON_ACCEPTANCE', 'RETENTION', 'MILESTONE')),
    ADD CONSTRAINT invoices_billing_event_check
        CHECK (billing_event IN ('ORDER_PLACED', 'SHIPMENT', 'ACCEPTANCE', 'RETENTION_DUE', 'MILESTONE',
                                 'CONTRACT_SIGNED')),
    ADD CONSTRAINT invoices_shipment_of_event
        CHECK ((billing_event IN ('ORDER_PLACED', 'RETENTION_DUE', 'MILESTONE', 'CONTRACT_SIGNED'))
               = (shipment_id IS NULL));

-- Billing milestones reported reached: once per order and name; the invoice its term raised.
CREATE TABLE billing_milestones (
    id            uuid PRIMARY KEY,
    seq           bigserial UNIQUE,
    account_id    uuid NOT NULL REFERENCES order_accounts (id),
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    term_position integer NOT NULL,
    invoice_id    uuid REFERENCES invoices (id),
    reached_date  date NOT NULL,
    reported_by   text NOT NULL CHECK (char_length(reported_by) BETWEEN 1 AND 128),
    request_id    text NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name)
);

-- When ADVANCE terms are invoiced: at order placement (the default) or at contract signature.
ALTER TABLE billing_policy
    ADD COLUMN advance_billing text NOT NULL DEFAULT 'AT_ORDER_PLACEMENT'
        CHECK (advance_billing IN ('AT_ORDER_PLACEMENT', 'AT_CONTRACT_SIGNATURE'));

-- Contracts BTO reported signed (AcceptContractSigned), once each, with the order id BTO fixed for them and whether
-- the advance was billed at signature (the order's account was opened then).
CREATE TABLE contract_signatures (
    contract_id    uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    order_id       uuid NOT NULL UNIQUE,
    deal_id        uuid NOT NULL,
    handoff_id     uuid NOT NULL,
    advance_billed boolean NOT NULL,
    sign_time      timestamptz NOT NULL,
    create_time    timestamptz NOT NULL DEFAULT now()
);

-- An order account opened at signature: the signature hand-off (the ADVANCE terms count as started from then).
ALTER TABLE order_accounts ADD COLUMN signed_handoff_id uuid;
