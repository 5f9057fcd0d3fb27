-- BTO (issues #14/#16): a contract's MILESTONE payment terms name their billing milestone (unique per contract), and
-- a contract fixes the id of its order when it is signed, so that DTC can open that order's account and bill the
-- ADVANCE at signature (AcceptContractSigned) and the later placement finds it. Applied with search_path = bto.
ALTER TABLE contract_payment_terms DROP CONSTRAINT contract_payment_terms_kind_check;
ALTER TABLE contract_payment_terms
    ADD COLUMN milestone text,
    ADD CONSTRAINT contract_payment_terms_kind_check
        CHECK (kind IN ('ADVANCE', 'ON_DELIVERY', 'ON_ACCEPTANCE', 'RETENTION', 'MILESTONE')),
    ADD CONSTRAINT contract_payment_terms_milestone_named CHECK ((kind = 'MILESTONE') = (milestone IS NOT NULL)),
    ADD CONSTRAINT contract_payment_terms_milestone_length CHECK (char_length(milestone) BETWEEN 1 AND 64);
CREATE UNIQUE INDEX contract_payment_terms_milestone_uniq ON contract_payment_terms (contract_id, milestone)
    WHERE milestone IS NOT NULL;

-- The order id a contract's order takes, fixed at signature (NULL: signed before this migration; CreateOrder then
-- draws a new one).
ALTER TABLE contracts ADD COLUMN order_id uuid UNIQUE;
