-- DTC: the billing policy (issue #16, docs/receivables.md): when RETENTION terms are invoiced (at final acceptance,
-- or when the retention period after it ends: RunBilling, ReleaseRetention), with the date an order was fully
-- accepted and an early release by finance. Applied in schema dtc (search_path).
CREATE TABLE billing_policy (
    id                boolean PRIMARY KEY DEFAULT true CHECK (id),
    retention_billing text NOT NULL DEFAULT 'AT_FINAL_ACCEPTANCE'
        CHECK (retention_billing IN ('AT_FINAL_ACCEPTANCE', 'AT_PERIOD_END')),
    update_by         text NOT NULL DEFAULT 'default' CHECK (char_length(update_by) BETWEEN 1 AND 128),
    version           integer NOT NULL DEFAULT 1 CHECK (version > 0),
    update_time       timestamptz NOT NULL DEFAULT now()
);
INSERT INTO billing_policy DEFAULT VALUES;

-- The business date of the acceptance that completed the order (the start of its retention period), and finance's
-- early release of the retention (date and reason).
ALTER TABLE order_accounts
    ADD COLUMN fully_accepted_date date,
    ADD COLUMN retention_release_date date,
    ADD COLUMN retention_release_reason text CHECK (char_length(retention_release_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT order_accounts_release_together
        CHECK ((retention_release_date IS NULL) = (retention_release_reason IS NULL));
UPDATE order_accounts SET fully_accepted_date = update_time::date WHERE fully_accepted;

-- A retention invoice raised when its period ended (or on release) has no shipment, like an advance.
ALTER TABLE invoices DROP CONSTRAINT invoices_billing_event_check;
ALTER TABLE invoices DROP CONSTRAINT invoices_shipment_of_event;
ALTER TABLE invoices
    ADD CONSTRAINT invoices_billing_event_check
        CHECK (billing_event IN ('ORDER_PLACED', 'SHIPMENT', 'ACCEPTANCE', 'RETENTION_DUE')),
    ADD CONSTRAINT invoices_shipment_of_event
        CHECK ((billing_event IN ('ORDER_PLACED', 'RETENTION_DUE')) = (shipment_id IS NULL));
