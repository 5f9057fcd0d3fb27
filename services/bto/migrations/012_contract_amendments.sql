-- BTO (issue #14): contract amendments. An amendment is a new contract version (version + 1, amends_id the old one)
-- with its changes listed; signing it supersedes the old version (SUPERSEDED, superseded_by). Versions of one
-- contract may share its quote (only terms or dates changed), so a quote no longer has only one contract row; at most
-- one live amendment per version. Applied with search_path = bto.
ALTER TABLE contracts DROP CONSTRAINT contracts_quote_id_key;
CREATE INDEX contracts_quote_id ON contracts (quote_id);
ALTER TABLE contracts DROP CONSTRAINT contracts_state_known;
ALTER TABLE contracts
    ADD CONSTRAINT contracts_state_known CHECK (state IN ('DRAFT', 'SIGNED', 'CLOSED', 'CANCELLED', 'SUPERSEDED')),
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN amends_id uuid REFERENCES contracts (id),
    ADD COLUMN amend_reason text CHECK (char_length(amend_reason) BETWEEN 1 AND 500),
    ADD COLUMN amendment_changes text[] NOT NULL DEFAULT '{}',
    ADD COLUMN superseded_by uuid REFERENCES contracts (id),
    ADD CONSTRAINT contracts_amendment_says_why CHECK ((amends_id IS NULL) = (amend_reason IS NULL)),
    ADD CONSTRAINT contracts_superseded_by_whom CHECK ((state = 'SUPERSEDED') = (superseded_by IS NOT NULL));
CREATE UNIQUE INDEX contracts_one_live_amendment ON contracts (amends_id)
    WHERE amends_id IS NOT NULL AND state <> 'CANCELLED';
