-- OTD (issue #16): an order's MILESTONE payment terms carry their billing milestone's name on to DTC. Applied with
-- search_path = otd.
ALTER TABLE order_payment_terms DROP CONSTRAINT order_payment_terms_kind_check;
ALTER TABLE order_payment_terms
    ADD COLUMN milestone text,
    ADD CONSTRAINT order_payment_terms_kind_check
        CHECK (kind IN ('ADVANCE', 'ON_DELIVERY', 'ON_ACCEPTANCE', 'RETENTION', 'MILESTONE')),
    ADD CONSTRAINT order_payment_terms_milestone_named CHECK ((kind = 'MILESTONE') = (milestone IS NOT NULL)),
    ADD CONSTRAINT order_payment_terms_milestone_length CHECK (char_length(milestone) BETWEEN 1 AND 64);
