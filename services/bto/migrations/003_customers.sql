-- BTO: the customer travels with the deal (issue #13). The won-bid hand-off carries the customer's id and snapshot;
-- BTO keeps them on the deal and copies the id onto each order (lists filter by customer; the order-placed hand-off
-- to DTC carries it). AcceptCustomerChanged from LTB rewrites the snapshot and, on a merge, the id. Applied in
-- schema bto (search_path). Deals and orders from before this migration keep customer_id NULL and an empty
-- snapshot: every hand-off from now on carries a customer (a service rule: NOT NULL cannot be added over old rows).

ALTER TABLE deals
    ADD COLUMN customer_id uuid,
    ADD COLUMN customer_legal_name text NOT NULL DEFAULT '' CHECK (char_length(customer_legal_name) <= 200),
    ADD COLUMN customer_tax_id text NOT NULL DEFAULT '' CHECK (char_length(customer_tax_id) <= 64),
    ADD COLUMN customer_country_code text NOT NULL DEFAULT '' CHECK (customer_country_code ~ '^([A-Z]{2})?$'),
    ADD COLUMN customer_billing_currency text NOT NULL DEFAULT ''
        CHECK (customer_billing_currency ~ '^([A-Z]{3})?$'),
    ADD COLUMN customer_account_owner text NOT NULL DEFAULT '' CHECK (char_length(customer_account_owner) <= 128),
    ADD CONSTRAINT deals_customer_snapshot_complete
        CHECK (customer_id IS NULL OR customer_legal_name <> '');
CREATE INDEX deals_customer_idx ON deals (customer_id, seq) WHERE customer_id IS NOT NULL;

-- The order's customer (the deal's, copied at placement) and DTC's placement decision (NULL when the policy did not
-- check placement, or for orders from before this migration).
ALTER TABLE orders
    ADD COLUMN customer_id uuid,
    ADD COLUMN credit_decision_id uuid;
CREATE INDEX orders_customer_idx ON orders (customer_id) WHERE customer_id IS NOT NULL;

-- Customer changes received from LTB (AcceptCustomerChanged), in the order applied. The receiver's inbox is the
-- runtime's idempotency_keys table; this is the record of what was done.
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
