-- LTB: customers (the CRM hub, issue #13), duplicate matching on normalised keys, merges with tombstones, the
-- order-admission gate (decisions with their checks, manager overrides) and LTB's admission policy.
-- Applied with search_path = ltb: names are unqualified. Every `version` column starts at 1 and is incremented by
-- every UPDATE of its row; the API's etag is its hex form. docs/credit.md explains the rules these tables keep.
--
-- Rows from before this migration: leads and opportunities keep customer_id NULL (the service links a legacy lead
-- when it is qualified; a legacy opportunity has no admission decision, so its next bid needs one). Every lead,
-- opportunity and bid written from now on has its customer (a service rule: NOT NULL cannot be added over old rows).

-- ---------------------------------------------------------------------------------------------------------------
-- Normalisation for matching. IMMUTABLE, so generated columns and indexes use them and the service computes a
-- probe's keys with the very same code: SELECT normalize_company_name($1), normalize_email($2),
-- normalize_phone($3, $4).
-- ---------------------------------------------------------------------------------------------------------------

-- E-mail: trimmed, lower case (ASCII and, through ICU, the rest). '' stays ''. "+tags" are kept: a different mailbox.
CREATE FUNCTION normalize_email(email text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN lower(btrim(email) COLLATE "und-x-icu");

-- Company or legal name: NFKC (full-width letters and brackets become ASCII), case folded, Chinese/Japanese legal
-- forms removed anywhere (股份有限公司, 有限责任公司, 有限公司, 株式会社), punctuation turned into spaces, Latin
-- legal-form words removed as whole words (ltd, limited, co, company, corp, corporation, inc, incorporated, llc,
-- llp, plc, gmbh, ag, kg, sa, sas, sarl, srl, spa, bv, nv, pte, pty, oy, ab, kk), then every space removed.
-- "Huaxin Logistics Co., Ltd." and "HUAXIN LOGISTICS LTD" and "Huaxin-Logistics" all give "huaxinlogistics";
-- "上海华信物流有限公司" gives "上海华信物流". When nothing but legal-form words is left, the name without
-- punctuation and spaces is used instead (so "Company Ltd" does not match every other such name).
CREATE FUNCTION normalize_company_name(company text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog
AS $$
DECLARE
    s    text := lower(normalize(company, NFKC) COLLATE "und-x-icu");
    bare text;
BEGIN
    s := regexp_replace(s, '(股份有限公司|有限责任公司|有限公司|株式会社)', ' ', 'g');
    s := regexp_replace(s, '[[:punct:]、，。・·（）【】「」《》“”‘’＆]', ' ', 'g');
    bare := regexp_replace(s, '\s+', '', 'g');
    s := regexp_replace(s, '\m(ltd|limited|co|company|corp|corporation|inc|incorporated|llc|llp|plc|gmbh|ag|kg|sa|sas|'
                           'sarl|srl|spa|bv|nv|pte|pty|oy|ab|kk)\M', ' ', 'g');
    s := regexp_replace(s, '\s+', '', 'g');
    RETURN CASE WHEN s = '' THEN bare ELSE s END;
END;
$$;

-- Phone number in E.164 ("+862155550100"), or '' when it cannot be read as one. Separators and an extension after
-- "x"/"ext" are dropped; "+..." and "00..." are international; otherwise `region` (ISO 3166-1 alpha-2) gives the
-- country calling code, after dropping one national trunk prefix "0" (NANP countries: a leading "1"). 8 to 15
-- digits after the "+", else ''. Regions not in the list below: only international numbers are read.
CREATE FUNCTION normalize_phone(phone text, region text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog
AS $$
DECLARE
    p  text := regexp_replace(lower(phone), '\s*(x|ext\.?|extension|#).*$', '');
    d  text;
    cc text;
BEGIN
    p := regexp_replace(p, '[^0-9+]', '', 'g');
    IF p = '' THEN
        RETURN '';
    ELSIF left(p, 1) = '+' THEN
        d := regexp_replace(substr(p, 2), '[^0-9]', '', 'g');
    ELSIF left(p, 2) = '00' THEN
        d := substr(p, 3);
    ELSE
        p := regexp_replace(p, '[^0-9]', '', 'g');
        cc := CASE upper(region)
            WHEN 'CN' THEN '86' WHEN 'HK' THEN '852' WHEN 'MO' THEN '853' WHEN 'TW' THEN '886' WHEN 'SG' THEN '65'
            WHEN 'JP' THEN '81' WHEN 'KR' THEN '82' WHEN 'MY' THEN '60' WHEN 'TH' THEN '66' WHEN 'VN' THEN '84'
            WHEN 'ID' THEN '62' WHEN 'PH' THEN '63' WHEN 'IN' THEN '91' WHEN 'AU' THEN '61' WHEN 'NZ' THEN '64'
            WHEN 'AE' THEN '971' WHEN 'SA' THEN '966' WHEN 'GB' THEN '44' WHEN 'DE' THEN '49' WHEN 'FR' THEN '33'
            WHEN 'IT' THEN '39' WHEN 'ES' THEN '34' WHEN 'NL' THEN '31' WHEN 'BE' THEN '32' WHEN 'CH' THEN '41'
            WHEN 'AT' THEN '43' WHEN 'SE' THEN '46' WHEN 'NO' THEN '47' WHEN 'DK' THEN '45' WHEN 'FI' THEN '358'
            WHEN 'PL' THEN '48' WHEN 'RU' THEN '7' WHEN 'BR' THEN '55' WHEN 'MX' THEN '52' WHEN 'ZA' THEN '27'
            WHEN 'US' THEN '1' WHEN 'CA' THEN '1' ELSE NULL END;
        IF cc IS NULL THEN
            RETURN '';
        ELSIF cc = '1' THEN
            d := '1' || CASE WHEN length(p) = 11 AND left(p, 1) = '1' THEN substr(p, 2) ELSE p END;
        ELSE
            d := cc || CASE WHEN left(p, 1) = '0' THEN substr(p, 2) ELSE p END;
        END IF;
    END IF;
    IF d !~ '^[1-9][0-9]{7,14}$' THEN
        RETURN '';
    END IF;
    RETURN '+' || d;
END;
$$;

-- Tax id as matched: letters and digits only, upper case ("91310000-MA1FL" -> "91310000MA1FL").
CREATE FUNCTION normalize_tax_id(tax_id text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN upper(regexp_replace(tax_id, '[^A-Za-z0-9]', '', 'g'));

-- ---------------------------------------------------------------------------------------------------------------
-- Customers
-- ---------------------------------------------------------------------------------------------------------------

CREATE TABLE customers (
    id                uuid PRIMARY KEY,
    seq               bigserial UNIQUE,
    legal_name        text NOT NULL CHECK (char_length(legal_name) BETWEEN 1 AND 200),
    normalized_name   text GENERATED ALWAYS AS (normalize_company_name(legal_name)) STORED,
    tax_id            text NOT NULL DEFAULT '' CHECK (tax_id ~ '^[A-Za-z0-9-]{0,64}$'),
    normalized_tax_id text GENERATED ALWAYS AS (normalize_tax_id(tax_id)) STORED,
    country_code      char(2) NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    billing_currency  char(3) NOT NULL CHECK (billing_currency ~ '^[A-Z]{3}$'),
    account_owner     text NOT NULL CHECK (char_length(account_owner) BETWEEN 1 AND 128),
    state             text NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'BLOCKED', 'MERGED')),
    -- BLOCKED: why, the note, who and when (kept on the row only while BLOCKED; history in customer_state_changes)
    block_reason      text CHECK (block_reason IN ('COMPLIANCE', 'SANCTIONS')),
    block_note        text NOT NULL DEFAULT '' CHECK (char_length(block_note) <= 500),
    blocked_by        text NOT NULL DEFAULT '' CHECK (char_length(blocked_by) <= 128),
    block_time        timestamptz,
    -- MERGED: the survivor (never itself a tombstone: the service merges into live customers only)
    merged_into       uuid REFERENCES customers (id),
    created_by        text NOT NULL DEFAULT '' CHECK (char_length(created_by) <= 128),
    version           integer NOT NULL DEFAULT 1 CHECK (version > 0),
    create_time       timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customers_blocked_has_reason CHECK ((state = 'BLOCKED') = (block_reason IS NOT NULL)),
    CONSTRAINT customers_blocked_has_note CHECK (state <> 'BLOCKED' OR (block_note <> '' AND block_time IS NOT NULL)),
    CONSTRAINT customers_merged_has_survivor CHECK ((state = 'MERGED') = (merged_into IS NOT NULL)),
    CONSTRAINT customers_not_merged_into_itself CHECK (merged_into <> id)
);
-- Duplicate lookups (live customers only) and the list filters.
CREATE INDEX customers_normalized_name_idx ON customers (normalized_name, id) WHERE state <> 'MERGED';
CREATE INDEX customers_tax_id_idx ON customers (country_code, normalized_tax_id)
    WHERE state <> 'MERGED' AND normalized_tax_id <> '';
CREATE INDEX customers_account_owner_idx ON customers (account_owner, normalized_name, id);
CREATE INDEX customers_state_idx ON customers (state, normalized_name, id);
CREATE INDEX customers_merged_into_idx ON customers (merged_into) WHERE merged_into IS NOT NULL;

-- The people to talk to at a customer, in the order given. `region` is the customer's country (kept equal to it by
-- the service, rewritten when the country changes) and is the default region for reading the phone.
CREATE TABLE customer_contacts (
    id               uuid PRIMARY KEY,
    seq              bigserial UNIQUE,
    customer_id      uuid NOT NULL REFERENCES customers (id),
    position         integer NOT NULL CHECK (position BETWEEN 0 AND 19),
    display_name     text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
    email            text NOT NULL DEFAULT '' CHECK (char_length(email) <= 254),
    phone            text NOT NULL DEFAULT '' CHECK (char_length(phone) <= 40),
    title            text NOT NULL DEFAULT '' CHECK (char_length(title) <= 200),
    region           char(2) NOT NULL CHECK (region ~ '^[A-Z]{2}$'),
    normalized_email text GENERATED ALWAYS AS (normalize_email(email)) STORED,
    normalized_phone text GENERATED ALWAYS AS (normalize_phone(phone, region)) STORED,
    create_time      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customer_contacts_position_unique UNIQUE (customer_id, position)
);
CREATE INDEX customer_contacts_email_idx ON customer_contacts (normalized_email) WHERE normalized_email <> '';
CREATE INDEX customer_contacts_phone_idx ON customer_contacts (normalized_phone) WHERE normalized_phone <> '';

-- Every state change of a customer (block, unblock, merge), with who, why and when. Append-only.
CREATE TABLE customer_state_changes (
    id           uuid PRIMARY KEY,
    seq          bigserial UNIQUE,
    customer_id  uuid NOT NULL REFERENCES customers (id),
    from_state   text NOT NULL CHECK (from_state IN ('ACTIVE', 'BLOCKED')),
    to_state     text NOT NULL CHECK (to_state IN ('ACTIVE', 'BLOCKED', 'MERGED')),
    block_reason text CHECK (block_reason IN ('COMPLIANCE', 'SANCTIONS')),
    note         text NOT NULL CHECK (char_length(note) BETWEEN 1 AND 500),
    changed_by   text NOT NULL CHECK (char_length(changed_by) BETWEEN 1 AND 128),
    request_id   text NOT NULL DEFAULT '',
    create_time  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customer_state_changes_is_a_change CHECK (from_state <> to_state),
    CONSTRAINT customer_state_changes_block_reason CHECK ((to_state = 'BLOCKED') = (block_reason IS NOT NULL))
);
CREATE INDEX customer_state_changes_customer_idx ON customer_state_changes (customer_id, seq);

-- Merges: `merged_id` became a tombstone resolving to `survivor_id`; what moved. One merge per merged customer.
CREATE TABLE customer_merges (
    id                  uuid PRIMARY KEY,
    seq                 bigserial UNIQUE,
    survivor_id         uuid NOT NULL REFERENCES customers (id),
    merged_id           uuid NOT NULL UNIQUE REFERENCES customers (id),
    reason              text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    merged_by           text NOT NULL CHECK (char_length(merged_by) BETWEEN 1 AND 128),
    moved_leads         integer NOT NULL CHECK (moved_leads >= 0),
    moved_opportunities integer NOT NULL CHECK (moved_opportunities >= 0),
    create_time         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customer_merges_two_customers CHECK (survivor_id <> merged_id)
);
CREATE INDEX customer_merges_survivor_idx ON customer_merges (survivor_id);

-- "These are different parties", as confirmed by a caller through distinct_from (CreateLead, CreateCustomer,
-- UpdateCustomer, QualifyLead): kept as evidence, and FindDuplicateCustomers still reports such pairs. The subject
-- is the record created or changed; the other is the match it was confirmed distinct from.
CREATE TABLE party_distinctions (
    id            uuid PRIMARY KEY,
    seq           bigserial UNIQUE,
    subject_kind  text NOT NULL CHECK (subject_kind IN ('CUSTOMER', 'LEAD')),
    subject_id    uuid NOT NULL,
    other_kind    text NOT NULL CHECK (other_kind IN ('CUSTOMER', 'LEAD')),
    other_id      uuid NOT NULL,
    confirmed_by  text NOT NULL CHECK (char_length(confirmed_by) BETWEEN 1 AND 128),
    create_time   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT party_distinctions_unique UNIQUE (subject_kind, subject_id, other_kind, other_id)
);

-- ---------------------------------------------------------------------------------------------------------------
-- Leads and opportunities refer to a customer
-- ---------------------------------------------------------------------------------------------------------------

ALTER TABLE leads
    ADD COLUMN customer_id uuid REFERENCES customers (id),
    ADD COLUMN normalized_email text GENERATED ALWAYS AS (normalize_email(contact_email)) STORED,
    ADD COLUMN normalized_phone text GENERATED ALWAYS AS (normalize_phone(contact_phone, '')) STORED,
    ADD COLUMN normalized_company_name text GENERATED ALWAYS AS (normalize_company_name(company_name)) STORED;
-- Duplicate lookups among NEW leads (qualified leads are matched through their customer).
CREATE INDEX leads_new_email_idx ON leads (normalized_email) WHERE state = 'NEW' AND normalized_email <> '';
CREATE INDEX leads_new_phone_idx ON leads (normalized_phone) WHERE state = 'NEW' AND normalized_phone <> '';
CREATE INDEX leads_new_company_idx ON leads (normalized_company_name) WHERE state = 'NEW';
CREATE INDEX leads_customer_idx ON leads (customer_id, seq) WHERE customer_id IS NOT NULL;

ALTER TABLE opportunities ADD COLUMN customer_id uuid REFERENCES customers (id);
CREATE INDEX opportunities_customer_idx ON opportunities (customer_id, seq) WHERE customer_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------------------------
-- The order-admission gate (订单准入)
-- ---------------------------------------------------------------------------------------------------------------

-- LTB's admission policy: one row, the documented defaults until UpdateAdmissionPolicy changes them.
CREATE TABLE admission_policy (
    id                        boolean PRIMARY KEY DEFAULT true CHECK (id),
    minimum_margin_bps        integer NOT NULL DEFAULT 1000 CHECK (minimum_margin_bps BETWEEN -10000 AND 10000),
    readmission_tolerance_bps integer NOT NULL DEFAULT 1000 CHECK (readmission_tolerance_bps BETWEEN 0 AND 10000),
    credit_check_deadline_ms  integer NOT NULL DEFAULT 2000 CHECK (credit_check_deadline_ms BETWEEN 100 AND 30000),
    update_by                 text NOT NULL DEFAULT 'default' CHECK (char_length(update_by) BETWEEN 1 AND 128),
    version                   integer NOT NULL DEFAULT 1 CHECK (version > 0),
    update_time               timestamptz NOT NULL DEFAULT now()
);
INSERT INTO admission_policy DEFAULT VALUES;

-- Every change of the admission policy: the values before and after (JSON objects of the changed fields). Append-only.
CREATE TABLE admission_policy_changes (
    id          uuid PRIMARY KEY,
    seq         bigserial UNIQUE,
    old_values  jsonb NOT NULL,
    new_values  jsonb NOT NULL,
    changed_by  text NOT NULL CHECK (char_length(changed_by) BETWEEN 1 AND 128),
    request_id  text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL DEFAULT now()
);

-- Admission decisions, with the inputs they were taken on. At most one current (not superseded) decision per
-- opportunity; a new RequestOrderAdmission supersedes the current one in the same transaction.
CREATE TABLE admission_decisions (
    id                        uuid PRIMARY KEY,
    seq                       bigserial UNIQUE,
    opportunity_id            uuid NOT NULL REFERENCES opportunities (id),
    customer_id               uuid NOT NULL REFERENCES customers (id),
    outcome                   text NOT NULL CHECK (outcome IN ('ADMITTED', 'REFUSED', 'OVERRIDDEN')),
    admitted_minor            bigint NOT NULL CHECK (admitted_minor > 0),
    currency                  char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    expected_margin_bps       integer NOT NULL CHECK (expected_margin_bps BETWEEN -10000 AND 10000),
    -- the policy as it was when decided
    minimum_margin_bps        integer NOT NULL CHECK (minimum_margin_bps BETWEEN -10000 AND 10000),
    readmission_tolerance_bps integer NOT NULL CHECK (readmission_tolerance_bps BETWEEN 0 AND 10000),
    -- what DTC answered (NULLs: no answer within the deadline, reason CREDIT_SERVICE_UNAVAILABLE)
    credit_decision_id        uuid,
    credit_limit_minor        bigint CHECK (credit_limit_minor >= 0),
    credit_exposure_minor     bigint CHECK (credit_exposure_minor >= 0),
    -- DTC reserved the admitted amount under the opportunity (its policy counts admitted opportunities): when this
    -- decision stops being the one that holds it, LTB tells DTC (AcceptOpportunityClosed) to drop it
    credit_reserved           boolean NOT NULL DEFAULT false,
    requested_by              text NOT NULL CHECK (char_length(requested_by) BETWEEN 1 AND 128),
    request_id                text NOT NULL DEFAULT '',
    decide_time               timestamptz NOT NULL DEFAULT now(),
    override_by               text CHECK (char_length(override_by) BETWEEN 1 AND 128),
    override_reason           text CHECK (char_length(override_reason) BETWEEN 1 AND 500),
    override_time             timestamptz,
    superseded_time           timestamptz,
    CONSTRAINT admission_decisions_override_iff_overridden
        CHECK ((outcome = 'OVERRIDDEN') = (override_by IS NOT NULL AND override_reason IS NOT NULL
                                           AND override_time IS NOT NULL)),
    CONSTRAINT admission_decisions_override_by_other_person CHECK (override_by IS NULL OR override_by <> requested_by)
);
CREATE UNIQUE INDEX admission_decisions_one_current ON admission_decisions (opportunity_id)
    WHERE superseded_time IS NULL;
CREATE INDEX admission_decisions_opportunity_idx ON admission_decisions (opportunity_id, seq);

-- The checks of a decision: CREDIT, COMPLIANCE, MARGIN, each once, with its reasons (UPPER_SNAKE, docs/credit.md).
CREATE TABLE admission_checks (
    id          uuid PRIMARY KEY,
    seq         bigserial UNIQUE,
    decision_id uuid NOT NULL REFERENCES admission_decisions (id),
    kind        text NOT NULL CHECK (kind IN ('CREDIT', 'COMPLIANCE', 'MARGIN')),
    passed      boolean NOT NULL,
    reasons     text[] NOT NULL DEFAULT '{}'
                CHECK (reasons <@ ARRAY['CREDIT_LIMIT_EXCEEDED', 'INVOICE_OVERDUE', 'CREDIT_ON_HOLD', 'NO_CREDIT_LIMIT',
                                        'EXPOSURE_OVER_LIMIT', 'CUSTOMER_BLOCKED', 'CREDIT_SERVICE_UNAVAILABLE',
                                        'MARGIN_BELOW_MINIMUM']::text[]),
    detail      text NOT NULL DEFAULT '' CHECK (char_length(detail) <= 500),
    CONSTRAINT admission_checks_once UNIQUE (decision_id, kind),
    CONSTRAINT admission_checks_reasons_iff_failed CHECK (passed = (cardinality(reasons) = 0))
);

-- A compliance refusal can never be overridden: the decision must have passed its COMPLIANCE check. Enforced in the
-- database as well as in the service.
CREATE FUNCTION admission_override_allowed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.outcome = 'OVERRIDDEN' AND EXISTS (
        SELECT 1 FROM admission_checks c WHERE c.decision_id = NEW.id AND c.kind = 'COMPLIANCE' AND NOT c.passed) THEN
        RAISE EXCEPTION 'a compliance refusal cannot be overridden' USING ERRCODE = 'check_violation',
            CONSTRAINT = 'admission_decisions_compliance_not_overridable';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER admission_decisions_override_check BEFORE UPDATE OF outcome ON admission_decisions
    FOR EACH ROW EXECUTE FUNCTION admission_override_allowed();

-- Which decision let each bid through (NULL only for bids from before this migration).
ALTER TABLE bids ADD COLUMN admission_decision_id uuid REFERENCES admission_decisions (id);
