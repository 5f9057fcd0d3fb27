-- DTC: customers' credit (信用管理, issue #13): credit accounts keyed by LTB's customer id, limits per currency
-- changed only through four-eyes limit changes, holds (manual and automatic) with their releases, reservations that
-- make concurrent checks safe, every credit decision, the credit policy with its defaults, exchange rates for
-- functional-currency limits, and the customer on every order account. Applied in schema dtc (search_path).
-- docs/credit.md explains the rules; the service keeps them, the constraints below make the worst mistakes
-- impossible even for a buggy handler.

-- Forbids UPDATE and DELETE (history tables; holds and limit changes allow the one UPDATE that decides them, see
-- their own triggers).
CREATE FUNCTION credit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- ---------------------------------------------------------------------------------------------------------------
-- Policy
-- ---------------------------------------------------------------------------------------------------------------

-- DTC's credit policy: one row, the documented defaults until UpdateCreditPolicy changes them.
CREATE TABLE credit_policy (
    id                           boolean PRIMARY KEY DEFAULT true CHECK (id),
    check_at_admission           boolean NOT NULL DEFAULT true,
    check_at_order_placement     boolean NOT NULL DEFAULT true,
    check_at_release             boolean NOT NULL DEFAULT true,
    count_admitted_opportunities boolean NOT NULL DEFAULT false,
    overdue_hold_days            integer NOT NULL DEFAULT 30 CHECK (overdue_hold_days BETWEEN 0 AND 3650),
    reservation_ttl_seconds      integer NOT NULL DEFAULT 900 CHECK (reservation_ttl_seconds BETWEEN 60 AND 86400),
    functional_currency          char(3) NOT NULL DEFAULT 'CNY' CHECK (functional_currency ~ '^[A-Z]{3}$'),
    -- no limit in the amount's currency: true refuses NO_CREDIT_LIMIT, false skips the limit check
    require_credit_limit         boolean NOT NULL DEFAULT false,
    update_by                    text NOT NULL DEFAULT 'default' CHECK (char_length(update_by) BETWEEN 1 AND 128),
    version                      integer NOT NULL DEFAULT 1 CHECK (version > 0),
    update_time                  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO credit_policy DEFAULT VALUES;

-- Every change of the credit policy: the changed fields before and after, who, when. Append-only.
CREATE TABLE credit_policy_changes (
    id          uuid PRIMARY KEY,
    seq         bigserial UNIQUE,
    old_values  jsonb NOT NULL,
    new_values  jsonb NOT NULL,
    changed_by  text NOT NULL CHECK (char_length(changed_by) BETWEEN 1 AND 128),
    request_id  text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER credit_policy_changes_append_only BEFORE UPDATE OR DELETE ON credit_policy_changes
    FOR EACH ROW EXECUTE FUNCTION credit_append_only();

-- Exchange rates into the functional currency, for limits kept in the functional currency: 1 unit of `currency`
-- = `rate` units of `functional_currency`, from `valid_from` until the next row. An exact decimal, never a float.
-- Written by finance's FX feed (no RPC in this contract: docs/credit.md); read by CheckCredit and GetCreditExposure.
CREATE TABLE exchange_rates (
    currency            char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    functional_currency char(3) NOT NULL CHECK (functional_currency ~ '^[A-Z]{3}$'),
    valid_from          date NOT NULL,
    rate                numeric(24, 12) NOT NULL CHECK (rate > 0),
    set_by              text NOT NULL CHECK (char_length(set_by) BETWEEN 1 AND 128),
    create_time         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (currency, functional_currency, valid_from),
    CHECK (currency <> functional_currency)
);

-- ---------------------------------------------------------------------------------------------------------------
-- Accounts and limits
-- ---------------------------------------------------------------------------------------------------------------

-- One row per customer (id = LTB's customer id), created by the first limit request or the first hand-off naming
-- the customer (AcceptOrderPlaced, AcceptDelivery, AcceptCustomerChanged). CheckCredit, limit approvals, holds,
-- payments and hand-offs that change a customer's exposure lock this row FOR UPDATE first: it serialises every
-- decision about one customer (and never locks two customers' rows in one transaction, except a merge, which locks
-- both in customer-id order).
CREATE TABLE credit_accounts (
    customer_id      uuid PRIMARY KEY,
    seq              bigserial UNIQUE,
    -- the customer's snapshot, as last handed over
    legal_name       text NOT NULL CHECK (char_length(legal_name) BETWEEN 1 AND 200),
    tax_id           text NOT NULL DEFAULT '' CHECK (char_length(tax_id) <= 64),
    country_code     text NOT NULL DEFAULT '' CHECK (country_code ~ '^([A-Z]{2})?$'),
    billing_currency text NOT NULL DEFAULT '' CHECK (billing_currency ~ '^([A-Z]{3})?$'),
    account_owner    text NOT NULL DEFAULT '' CHECK (char_length(account_owner) <= 128),
    customer_blocked boolean NOT NULL DEFAULT false,
    -- a merged customer's account: everything resolves to the survivor's; it keeps its history
    merged_into      uuid REFERENCES credit_accounts (customer_id),
    version          integer NOT NULL DEFAULT 1 CHECK (version > 0),
    create_time      timestamptz NOT NULL DEFAULT now(),
    update_time      timestamptz NOT NULL DEFAULT now(),
    CHECK (merged_into <> customer_id)
);
CREATE INDEX credit_accounts_merged_into_idx ON credit_accounts (merged_into) WHERE merged_into IS NOT NULL;

-- Requests to set a limit, decided by a second person. The limit in force is the last APPROVED change per
-- (customer, currency), copied into credit_limits in the approving transaction.
CREATE TABLE credit_limit_changes (
    id                   uuid PRIMARY KEY,
    seq                  bigserial UNIQUE,
    customer_id          uuid NOT NULL REFERENCES credit_accounts (customer_id),
    currency             char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    new_limit_minor      bigint NOT NULL CHECK (new_limit_minor >= 0),
    previous_limit_minor bigint CHECK (previous_limit_minor >= 0),   -- NULL: there was none
    reason               text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    state                text NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'APPROVED', 'REJECTED')),
    requested_by         text NOT NULL CHECK (char_length(requested_by) BETWEEN 1 AND 128),
    request_time         timestamptz NOT NULL DEFAULT now(),
    decided_by           text CHECK (char_length(decided_by) BETWEEN 1 AND 128),
    decision_comment     text NOT NULL DEFAULT '' CHECK (char_length(decision_comment) <= 500),
    decide_time          timestamptz,
    CONSTRAINT credit_limit_changes_decided_iff_not_pending
        CHECK ((state = 'PENDING') = (decided_by IS NULL AND decide_time IS NULL)),
    -- four eyes, in the database too: the requester never decides
    CONSTRAINT credit_limit_changes_four_eyes CHECK (decided_by IS NULL OR decided_by <> requested_by),
    CONSTRAINT credit_limit_changes_rejection_says_why CHECK (state <> 'REJECTED' OR decision_comment <> '')
);
CREATE UNIQUE INDEX credit_limit_changes_one_pending ON credit_limit_changes (customer_id, currency)
    WHERE state = 'PENDING';
CREATE INDEX credit_limit_changes_customer_idx ON credit_limit_changes (customer_id, seq);

-- A change is decided once (PENDING -> APPROVED | REJECTED) and never edited or deleted afterwards.
CREATE FUNCTION credit_limit_changes_decide_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.state <> 'PENDING' OR NEW.state = 'PENDING'
       OR (NEW.customer_id, NEW.currency, NEW.new_limit_minor, NEW.reason, NEW.requested_by, NEW.request_time)
          IS DISTINCT FROM (OLD.customer_id, OLD.currency, OLD.new_limit_minor, OLD.reason, OLD.requested_by,
                            OLD.request_time) THEN
        RAISE EXCEPTION 'a credit limit change is decided once and never edited' USING ERRCODE = 'check_violation',
            CONSTRAINT = 'credit_limit_changes_decide_once';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER credit_limit_changes_decide_once BEFORE UPDATE OR DELETE ON credit_limit_changes
    FOR EACH ROW EXECUTE FUNCTION credit_limit_changes_decide_once();

-- The limits in force, one per (customer, currency); each set by an approved change. 0 = no credit.
CREATE TABLE credit_limits (
    customer_id uuid NOT NULL REFERENCES credit_accounts (customer_id),
    currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    limit_minor bigint NOT NULL CHECK (limit_minor >= 0),
    change_id   uuid NOT NULL REFERENCES credit_limit_changes (id),
    update_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, currency)
);

-- ---------------------------------------------------------------------------------------------------------------
-- Holds
-- ---------------------------------------------------------------------------------------------------------------

-- Holds and their releases. MANUAL: placed and released by finance. OVERDUE / OVER_LIMIT: placed and released by
-- DTC ("system") whenever it evaluates the customer (CheckCredit, GetCreditExposure, RecordPayment, AcceptDelivery,
-- AcceptOrderPlaced, limit approvals), with the cause in `reason` / `release_reason`.
CREATE TABLE credit_holds (
    id               uuid PRIMARY KEY,
    seq              bigserial UNIQUE,
    customer_id      uuid NOT NULL REFERENCES credit_accounts (customer_id),
    kind             text NOT NULL CHECK (kind IN ('MANUAL', 'OVERDUE', 'OVER_LIMIT')),
    state            text NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'RELEASED')),
    reason           text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    placed_by        text NOT NULL CHECK (char_length(placed_by) BETWEEN 1 AND 128),
    place_time       timestamptz NOT NULL DEFAULT now(),
    cause_invoice_id uuid REFERENCES invoices (id),   -- OVERDUE: the oldest overdue invoice when placed
    released_by      text CHECK (char_length(released_by) BETWEEN 1 AND 128),
    release_reason   text CHECK (char_length(release_reason) BETWEEN 1 AND 500),
    release_time     timestamptz,
    CONSTRAINT credit_holds_released_iff_state
        CHECK ((state = 'RELEASED') = (released_by IS NOT NULL AND release_reason IS NOT NULL
                                       AND release_time IS NOT NULL)),
    CONSTRAINT credit_holds_automatic_by_system CHECK ((kind = 'MANUAL') = (placed_by <> 'system')),
    CONSTRAINT credit_holds_automatic_released_by_system
        CHECK (kind = 'MANUAL' OR released_by IS NULL OR released_by = 'system'),
    CONSTRAINT credit_holds_manual_released_by_a_person CHECK (kind <> 'MANUAL' OR released_by IS DISTINCT FROM 'system')
);
-- At most one ACTIVE automatic hold of each kind per customer (manual holds may stack, each with its reason).
CREATE UNIQUE INDEX credit_holds_one_active_automatic ON credit_holds (customer_id, kind)
    WHERE state = 'ACTIVE' AND kind <> 'MANUAL';
CREATE INDEX credit_holds_active_idx ON credit_holds (customer_id) WHERE state = 'ACTIVE';
CREATE INDEX credit_holds_customer_idx ON credit_holds (customer_id, seq);

-- A hold is released once and never edited or deleted.
CREATE FUNCTION credit_holds_release_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.state <> 'ACTIVE' OR NEW.state <> 'RELEASED'
       OR (NEW.customer_id, NEW.kind, NEW.reason, NEW.placed_by, NEW.place_time)
          IS DISTINCT FROM (OLD.customer_id, OLD.kind, OLD.reason, OLD.placed_by, OLD.place_time) THEN
        IF TG_OP = 'UPDATE' AND NEW.state = 'ACTIVE' AND OLD.state = 'ACTIVE' AND NEW.customer_id <> OLD.customer_id
           AND (NEW.kind, NEW.reason, NEW.placed_by, NEW.place_time)
               IS NOT DISTINCT FROM (OLD.kind, OLD.reason, OLD.placed_by, OLD.place_time) THEN
            RETURN NEW;   -- a merge moves an active hold to the survivor
        END IF;
        RAISE EXCEPTION 'a credit hold is released once and never edited' USING ERRCODE = 'check_violation',
            CONSTRAINT = 'credit_holds_release_once';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER credit_holds_release_once BEFORE UPDATE OR DELETE ON credit_holds
    FOR EACH ROW EXECUTE FUNCTION credit_holds_release_once();

-- ---------------------------------------------------------------------------------------------------------------
-- Reservations and decisions
-- ---------------------------------------------------------------------------------------------------------------

-- Every CheckCredit answer, with its inputs. Append-only (the decision trail; ListCreditDecisions).
CREATE TABLE credit_decisions (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    customer_id    uuid NOT NULL REFERENCES credit_accounts (customer_id),   -- after resolving merges
    asked_customer uuid NOT NULL,                                             -- the id the caller sent
    stage          text NOT NULL CHECK (stage IN ('ADMISSION', 'ORDER_PLACEMENT', 'RELEASE', 'SHIPMENT')),
    reference      text NOT NULL CHECK (reference ~ '^(opportunities|contracts|orders)/[0-9a-f-]{36}$'),
    deal_id        uuid,
    currency       char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor   bigint NOT NULL CHECK (amount_minor >= 0),
    outcome        text NOT NULL CHECK (outcome IN ('APPROVED', 'REFUSED')),
    reasons        text[] NOT NULL DEFAULT '{}'
                   CHECK (reasons <@ ARRAY['LIMIT_EXCEEDED', 'INVOICE_OVERDUE', 'MANUAL_HOLD', 'CUSTOMER_BLOCKED',
                                           'NO_CREDIT_LIMIT', 'EXPOSURE_OVER_LIMIT']::text[]),
    limit_minor    bigint CHECK (limit_minor >= 0),                           -- NULL: no limit in that currency
    exposure_minor bigint NOT NULL CHECK (exposure_minor >= 0),
    stage_checked  boolean NOT NULL,
    reserved       boolean NOT NULL DEFAULT false,
    caller         text NOT NULL CHECK (caller IN ('ltb', 'bto', 'otd', 'anonymous')),
    request_id     text NOT NULL DEFAULT '' CHECK (char_length(request_id) <= 128),
    as_of_date     date NOT NULL,
    decide_time    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT credit_decisions_reasons_iff_refused CHECK ((outcome = 'REFUSED') = (cardinality(reasons) > 0)),
    CONSTRAINT credit_decisions_reserve_only_approved CHECK (NOT reserved OR outcome = 'APPROVED'),
    CONSTRAINT credit_decisions_stage_reference CHECK (
        (stage = 'ADMISSION' AND reference LIKE 'opportunities/%')
        OR (stage = 'ORDER_PLACEMENT' AND reference LIKE 'contracts/%')
        OR (stage IN ('RELEASE', 'SHIPMENT') AND reference LIKE 'orders/%'))
);
CREATE INDEX credit_decisions_customer_idx ON credit_decisions (customer_id, seq);
CREATE INDEX credit_decisions_reference_idx ON credit_decisions (reference, seq);
CREATE TRIGGER credit_decisions_append_only BEFORE UPDATE OR DELETE ON credit_decisions
    FOR EACH ROW EXECUTE FUNCTION credit_append_only();

-- Amounts reserved by approved checks, keyed by (customer, reference): a repeat for the same reference replaces the
-- amount (UPDATE of the live row), never adds a second one. ORDER_PLACEMENT rows lapse at expire_time unless their
-- order arrives (AcceptOrderPlaced releases the contract's row, reason 'ORDER_PLACED'); ADMISSION rows (only when the
-- policy counts admitted opportunities) live until the deal's order is placed or the opportunity is closed
-- (AcceptOpportunityClosed). Exposure counts live rows: released_time IS NULL AND (expire_time IS NULL OR
-- expire_time > now()).
CREATE TABLE credit_reservations (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    customer_id    uuid NOT NULL REFERENCES credit_accounts (customer_id),
    stage          text NOT NULL CHECK (stage IN ('ADMISSION', 'ORDER_PLACEMENT')),
    reference      text NOT NULL CHECK (reference ~ '^(opportunities|contracts)/[0-9a-f-]{36}$'),
    deal_id        uuid,
    currency       char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor   bigint NOT NULL CHECK (amount_minor >= 0),
    decision_id    uuid NOT NULL REFERENCES credit_decisions (id),
    expire_time    timestamptz,
    released_time  timestamptz,
    release_reason text CHECK (release_reason IN ('ORDER_PLACED', 'OPPORTUNITY_LOST', 'ADMISSION_SUPERSEDED',
                                                  'EXPIRED', 'MERGED')),
    create_time    timestamptz NOT NULL DEFAULT now(),
    update_time    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT credit_reservations_stage_reference CHECK (
        (stage = 'ADMISSION' AND reference LIKE 'opportunities/%' AND expire_time IS NULL)
        OR (stage = 'ORDER_PLACEMENT' AND reference LIKE 'contracts/%' AND expire_time IS NOT NULL)),
    CONSTRAINT credit_reservations_released_has_reason CHECK ((released_time IS NULL) = (release_reason IS NULL))
);
CREATE UNIQUE INDEX credit_reservations_one_live ON credit_reservations (customer_id, reference)
    WHERE released_time IS NULL;
CREATE INDEX credit_reservations_deal_idx ON credit_reservations (deal_id) WHERE released_time IS NULL;

-- ---------------------------------------------------------------------------------------------------------------
-- The customer on order accounts; accounts opened at placement
-- ---------------------------------------------------------------------------------------------------------------

-- customer_id is NULL only on accounts from before this migration (their exposure is not attributed to a
-- customer). An account opened by AcceptOrderPlaced has placed_handoff_id and place_time and nothing accepted yet.
ALTER TABLE order_accounts
    ADD COLUMN customer_id uuid REFERENCES credit_accounts (customer_id),
    ADD COLUMN customer_tax_id text NOT NULL DEFAULT '' CHECK (char_length(customer_tax_id) <= 64),
    ADD COLUMN customer_country_code text NOT NULL DEFAULT '' CHECK (customer_country_code ~ '^([A-Z]{2})?$'),
    ADD COLUMN customer_billing_currency text NOT NULL DEFAULT ''
        CHECK (customer_billing_currency ~ '^([A-Z]{3})?$'),
    ADD COLUMN customer_account_owner text NOT NULL DEFAULT '' CHECK (char_length(customer_account_owner) <= 128),
    ADD COLUMN placed_handoff_id uuid UNIQUE,
    ADD COLUMN place_time timestamptz,
    ADD COLUMN credit_decision_id uuid REFERENCES credit_decisions (id),
    ADD CONSTRAINT order_accounts_placed_together CHECK ((placed_handoff_id IS NULL) = (place_time IS NULL));
-- Exposure of one customer: its OPEN accounts (parts: total - greatest(accepted, invoiced) open orders;
-- greatest(accepted - invoiced, 0) accepted not invoiced; invoiced - paid open receivables; they add up to
-- total - paid).
CREATE INDEX order_accounts_customer_open_idx ON order_accounts (customer_id, currency)
    WHERE state = 'OPEN' AND customer_id IS NOT NULL;
CREATE INDEX order_accounts_customer_idx ON order_accounts (customer_id, seq) WHERE customer_id IS NOT NULL;

-- Customer changes reported by LTB (AcceptCustomerChanged), in the order applied. Append-only.
CREATE TABLE customer_changes (
    id          uuid PRIMARY KEY,
    seq         bigserial UNIQUE,
    customer_id uuid NOT NULL REFERENCES credit_accounts (customer_id),
    change      text NOT NULL CHECK (change IN ('UPDATED', 'BLOCKED', 'UNBLOCKED', 'MERGED')),
    survivor_id uuid REFERENCES credit_accounts (customer_id),
    note        text NOT NULL DEFAULT '' CHECK (char_length(note) <= 500),
    handoff_id  uuid NOT NULL UNIQUE,
    change_time timestamptz NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now(),
    CHECK ((change = 'MERGED') = (survivor_id IS NOT NULL))
);
CREATE INDEX customer_changes_customer_idx ON customer_changes (customer_id, seq);
CREATE TRIGGER customer_changes_append_only BEFORE UPDATE OR DELETE ON customer_changes
    FOR EACH ROW EXECUTE FUNCTION credit_append_only();
