-- BTO quote lifecycle and discount approvals (issue #14, docs/cpq.md): DRAFT -> (PENDING_APPROVAL -> APPROVED) ->
-- SENT -> ACCEPTED | REJECTED | EXPIRED (EXPIRED is shown on read past valid_until: never stored). Each line keeps
-- the approval level its effective discount and margin need and whether it was approved; a revision carries the
-- approval of unchanged lines. Applied with search_path = bto.

-- The one discount policy (a single row).
CREATE TABLE discount_policy (
    id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
    sales_max_bps       integer NOT NULL DEFAULT 1000,
    manager_max_bps     integer NOT NULL DEFAULT 2500,
    minimum_margin_bps  integer NOT NULL DEFAULT 1000 CHECK (minimum_margin_bps BETWEEN -10000 AND 10000),
    escalation_minutes  integer NOT NULL DEFAULT 1440 CHECK (escalation_minutes BETWEEN 1 AND 525600),
    update_time         timestamptz NOT NULL DEFAULT now(),
    CHECK (0 <= sales_max_bps AND sales_max_bps <= manager_max_bps AND manager_max_bps <= 10000)
);
INSERT INTO discount_policy DEFAULT VALUES;

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT conname FROM pg_constraint
             WHERE contype = 'c' AND conrelid = 'quotes'::regclass
               AND pg_get_constraintdef(oid) LIKE '%''DRAFT''%''REJECTED''%'
    LOOP
        EXECUTE format('ALTER TABLE quotes DROP CONSTRAINT %I', r.conname);
    END LOOP;
END
$$;

ALTER TABLE quotes
    ADD CONSTRAINT quotes_state_known
        CHECK (state IN ('DRAFT', 'PENDING_APPROVAL', 'APPROVED', 'SENT', 'ACCEPTED', 'REJECTED')),
    ADD COLUMN revision_of uuid REFERENCES quotes (id),
    ADD COLUMN author text NOT NULL DEFAULT '' CHECK (char_length(author) <= 128),
    ADD COLUMN approval_level integer NOT NULL DEFAULT 0 CHECK (approval_level BETWEEN 0 AND 2),
    ADD COLUMN submit_time timestamptz,
    ADD COLUMN escalation_minutes integer,
    ADD COLUMN approver text CHECK (char_length(approver) <= 128),
    ADD COLUMN approval_comment text CHECK (char_length(approval_comment) <= 500),
    ADD COLUMN decide_time timestamptz,
    ADD COLUMN rejection_reason text CHECK (char_length(rejection_reason) <= 600),
    ADD COLUMN send_time timestamptz,
    ADD CONSTRAINT quotes_submitted_when_approval
        CHECK ((approval_level > 0) = (submit_time IS NOT NULL AND escalation_minutes IS NOT NULL));

ALTER TABLE quote_lines
    ADD COLUMN approval text NOT NULL DEFAULT 'NOT_REQUIRED' CHECK (approval IN ('NOT_REQUIRED', 'PENDING', 'APPROVED')),
    ADD COLUMN approval_level integer NOT NULL DEFAULT 0 CHECK (approval_level BETWEEN 0 AND 2),
    ADD CONSTRAINT quote_lines_approval_level CHECK ((approval = 'NOT_REQUIRED') = (approval_level = 0));
