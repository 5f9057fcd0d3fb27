-- OTD: the customer on every order and the credit hold at release (issue #13). ReleaseOrder asks DTC
-- (CreditService/CheckCredit, stage RELEASE); a refusal or no answer puts the order in CREDIT_HOLD with the reasons,
-- and a later ReleaseOrder that DTC approves releases it. CreateShipment asks again (stage SHIPMENT). Every answer
-- is kept in credit_checks. Applied in schema otd (search_path). Orders from before this migration keep
-- customer_id NULL (the service still asks DTC for them, by the snapshot it has: none, so DTC refuses with
-- NO_CREDIT_LIMIT unless the policy does not check release).

ALTER TABLE orders
    ADD COLUMN customer_id uuid,
    ADD COLUMN customer_legal_name text NOT NULL DEFAULT '' CHECK (char_length(customer_legal_name) <= 200),
    ADD COLUMN customer_tax_id text NOT NULL DEFAULT '' CHECK (char_length(customer_tax_id) <= 64),
    ADD COLUMN customer_country_code text NOT NULL DEFAULT '' CHECK (customer_country_code ~ '^([A-Z]{2})?$'),
    ADD COLUMN customer_billing_currency text NOT NULL DEFAULT ''
        CHECK (customer_billing_currency ~ '^([A-Z]{3})?$'),
    ADD COLUMN customer_account_owner text NOT NULL DEFAULT '' CHECK (char_length(customer_account_owner) <= 128),
    ADD COLUMN credit_hold_reasons text[] NOT NULL DEFAULT '{}'
        CHECK (credit_hold_reasons <@ ARRAY['CREDIT_REFUSAL_REASON_LIMIT_EXCEEDED', 'CREDIT_REFUSAL_REASON_INVOICE_OVERDUE',
                                            'CREDIT_REFUSAL_REASON_MANUAL_HOLD', 'CREDIT_REFUSAL_REASON_CUSTOMER_BLOCKED',
                                            'CREDIT_REFUSAL_REASON_NO_CREDIT_LIMIT',
                                            'CREDIT_REFUSAL_REASON_EXPOSURE_OVER_LIMIT',
                                            'CREDIT_SERVICE_UNAVAILABLE']::text[]),
    ADD COLUMN credit_decision_id uuid,
    ADD COLUMN credit_check_time timestamptz;

-- CREDIT_HOLD joins the states; an order in CREDIT_HOLD always says why, and only such an order has reasons.
ALTER TABLE orders DROP CONSTRAINT orders_state_check;
ALTER TABLE orders ADD CONSTRAINT orders_state_check
    CHECK (state IN ('RECEIVED', 'REVIEWED', 'RELEASED', 'SCHEDULED', 'PARTIALLY_SHIPPED', 'SHIPPED', 'ACCEPTED',
                     'ON_HOLD', 'CREDIT_HOLD'));
ALTER TABLE orders ADD CONSTRAINT orders_credit_hold_has_reasons
    CHECK ((state = 'CREDIT_HOLD') = (cardinality(credit_hold_reasons) > 0));
CREATE INDEX orders_customer_idx ON orders (customer_id, seq) WHERE customer_id IS NOT NULL;
CREATE INDEX orders_credit_hold_idx ON orders (customer_id) WHERE state = 'CREDIT_HOLD';

-- Every credit answer OTD got (or did not get) for an order, at release and at shipment. Append-only.
CREATE TABLE credit_checks (
    id                 uuid PRIMARY KEY,
    seq                bigserial UNIQUE,
    order_id           uuid NOT NULL REFERENCES orders (id),
    stage              text NOT NULL CHECK (stage IN ('RELEASE', 'SHIPMENT')),
    outcome            text NOT NULL CHECK (outcome IN ('APPROVED', 'REFUSED', 'UNAVAILABLE')),
    reasons            text[] NOT NULL DEFAULT '{}',
    credit_decision_id uuid,              -- DTC's creditDecisions/{id}; NULL when DTC did not answer
    checked_by         text NOT NULL CHECK (char_length(checked_by) BETWEEN 1 AND 128),
    request_id         text NOT NULL DEFAULT '',
    create_time        timestamptz NOT NULL DEFAULT now(),
    CHECK ((outcome = 'APPROVED') = (cardinality(reasons) = 0)),
    CHECK ((outcome = 'UNAVAILABLE') = (credit_decision_id IS NULL))
);
CREATE INDEX credit_checks_order_idx ON credit_checks (order_id, seq);

-- Customer changes received from LTB (AcceptCustomerChanged), in the order applied.
CREATE TABLE customer_changes (
    id              uuid PRIMARY KEY,
    seq             bigserial UNIQUE,
    customer_id     uuid NOT NULL,
    change          text NOT NULL CHECK (change IN ('UPDATED', 'BLOCKED', 'UNBLOCKED', 'MERGED')),
    survivor_id     uuid,
    handoff_id      uuid NOT NULL UNIQUE,
    updated_records integer NOT NULL CHECK (updated_records >= 0),
    change_time     timestamptz NOT NULL,
    create_time     timestamptz NOT NULL DEFAULT now(),
    CHECK ((change = 'MERGED') = (survivor_id IS NOT NULL))
);
CREATE INDEX customer_changes_customer_idx ON customer_changes (customer_id, seq);
