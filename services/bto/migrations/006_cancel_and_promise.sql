-- BTO (issue #14): a contract can be cancelled (before an order exists, or once OTD cancelled its order), OTD's
-- order events reach BTO (AcceptOrderCancelled: the order CANCELLED; AcceptPromiseChanged: the current promise date
-- and lateness on the order). Applied with search_path = bto.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
             WHERE contype = 'c' AND conrelid IN ('contracts'::regclass, 'orders'::regclass)
               AND ((pg_get_constraintdef(oid) LIKE '%state%''CLOSED''%'
                     AND pg_get_constraintdef(oid) NOT LIKE '%close_time%')
                    OR pg_get_constraintdef(oid) LIKE '%sign_time IS NULL%')
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname);
    END LOOP;
END
$$;

ALTER TABLE contracts
    ADD CONSTRAINT contracts_state_known CHECK (state IN ('DRAFT', 'SIGNED', 'CLOSED', 'CANCELLED')),
    ADD COLUMN cancel_reason text CHECK (char_length(cancel_reason) BETWEEN 1 AND 500),
    ADD COLUMN cancel_time timestamptz,
    ADD CONSTRAINT contracts_cancelled_when CHECK ((state = 'CANCELLED') = (cancel_time IS NOT NULL)),
    -- signed exactly when SIGNED or CLOSED, or CANCELLED after signing; never while DRAFT
    ADD CONSTRAINT contracts_signed_when CHECK ((signed_by IS NULL) = (sign_time IS NULL)
        AND (state <> 'DRAFT' OR sign_time IS NULL) AND (state NOT IN ('SIGNED', 'CLOSED') OR sign_time IS NOT NULL));

ALTER TABLE orders
    ADD CONSTRAINT orders_state_known CHECK (state IN ('PLACED', 'CLOSED', 'CANCELLED')),
    ADD COLUMN cancel_reason text CHECK (char_length(cancel_reason) <= 1000),
    ADD COLUMN cancel_time timestamptz,
    ADD COLUMN cancelled_by text CHECK (char_length(cancelled_by) <= 128),
    ADD COLUMN cancel_handoff_id uuid,
    ADD COLUMN promise_date date,
    ADD COLUMN promise_late boolean NOT NULL DEFAULT false,
    ADD COLUMN promise_reason text CHECK (char_length(promise_reason) <= 1000),
    ADD COLUMN promise_time timestamptz,
    ADD CONSTRAINT orders_cancelled_when CHECK ((state = 'CANCELLED') = (cancel_time IS NOT NULL));
