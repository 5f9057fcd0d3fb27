-- BTO (issue #14): the customer group of a deal (SetDealCustomerGroup), whose price books price its quotes before
-- the default books; '' for none. Applied with search_path = bto.
ALTER TABLE deals
    ADD COLUMN customer_group text NOT NULL DEFAULT ''
        CHECK (customer_group = '' OR customer_group ~ '^[A-Z0-9_]{1,32}$');
