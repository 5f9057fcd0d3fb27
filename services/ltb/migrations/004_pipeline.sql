-- LTB: the opportunity's whole life (issue #18): stage default win probabilities with manual overrides kept apart,
-- competitors, bid/no-bid decisions (NOT_PURSUED), lost at any open stage, withdrawn bids, reopening, stale
-- opportunities, lead scoring (rules, engagement events, routes); who moved each stage and why; indexes for the
-- deal timeline and the reports. Applied with search_path = ltb: names are unqualified.

-- New stage NOT_PURSUED (a no-bid decision) and bid state WITHDRAWN.
ALTER TABLE opportunities DROP CONSTRAINT opportunities_stage_check;
ALTER TABLE opportunities ADD CONSTRAINT opportunities_stage_check
    CHECK (stage IN ('QUALIFIED', 'BIDDING', 'WON', 'LOST', 'CASH_COLLECTED', 'NOT_PURSUED'));
ALTER TABLE stage_changes DROP CONSTRAINT stage_changes_stage_check;
ALTER TABLE stage_changes ADD CONSTRAINT stage_changes_stage_check
    CHECK (stage IN ('QUALIFIED', 'BIDDING', 'WON', 'LOST', 'CASH_COLLECTED', 'NOT_PURSUED'));
ALTER TABLE bids DROP CONSTRAINT bids_state_check;
ALTER TABLE bids ADD CONSTRAINT bids_state_check CHECK (state IN ('SUBMITTED', 'WON', 'LOST', 'WITHDRAWN'));
ALTER TABLE bids DROP CONSTRAINT bids_reason_iff_lost;
ALTER TABLE bids ADD CONSTRAINT bids_reason_iff_lost CHECK ((state IN ('LOST', 'WITHDRAWN')) = (lost_reason <> ''));
ALTER TABLE bids ADD COLUMN created_by text NOT NULL DEFAULT '' CHECK (char_length(created_by) <= 128);

-- Who moved a stage, and why (lost, not pursued, reopened, withdrawn).
ALTER TABLE stage_changes ADD COLUMN actor text NOT NULL DEFAULT '' CHECK (char_length(actor) <= 200);
ALTER TABLE stage_changes ADD COLUMN reason text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 2000);

ALTER TABLE leads ADD COLUMN created_by text NOT NULL DEFAULT '' CHECK (char_length(created_by) <= 128);

-- The manual probability, kept apart from the stage default: it applies only while stage = probability_override_stage.
-- The legacy column win_probability_bps keeps the last value written through QualifyLead/UpdateOpportunity.
ALTER TABLE opportunities
    ADD COLUMN probability_override_bps integer CHECK (probability_override_bps BETWEEN 0 AND 10000),
    ADD COLUMN probability_override_reason text CHECK (char_length(probability_override_reason) BETWEEN 1 AND 500),
    ADD COLUMN probability_override_by text CHECK (char_length(probability_override_by) BETWEEN 1 AND 128),
    ADD COLUMN probability_override_time timestamptz,
    ADD COLUMN probability_override_stage text,
    ADD CONSTRAINT opportunities_override_all_or_none CHECK (
        (probability_override_bps IS NULL) = (probability_override_reason IS NULL)
        AND (probability_override_bps IS NULL) = (probability_override_by IS NULL)
        AND (probability_override_bps IS NULL) = (probability_override_time IS NULL)
        AND (probability_override_bps IS NULL) = (probability_override_stage IS NULL)),
    -- competitors: names and notes in step (no control characters in either, checked by the service)
    ADD COLUMN competitor_names text[] NOT NULL DEFAULT '{}',
    ADD COLUMN competitor_notes text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT opportunities_competitors_in_step
        CHECK (cardinality(competitor_names) = cardinality(competitor_notes) AND cardinality(competitor_names) <= 20),
    ADD COLUMN lost_reason text NOT NULL DEFAULT '' CHECK (char_length(lost_reason) <= 2000),
    ADD COLUMN lost_competitor text NOT NULL DEFAULT '' CHECK (char_length(lost_competitor) <= 200),
    ADD CONSTRAINT opportunities_lost_reason_only_when_lost
        CHECK (stage IN ('LOST', 'NOT_PURSUED') OR (lost_reason = '' AND lost_competitor = ''));
-- Opportunities lost through MarkBidLost before this migration: their bid's reason.
UPDATE opportunities o SET lost_reason = b.lost_reason, lost_competitor = b.competitor
    FROM bids b WHERE b.opportunity_id = o.id AND b.state = 'LOST' AND o.stage = 'LOST';

-- Every manual probability set or cleared (bps NULL: cleared). Append-only.
CREATE TABLE probability_overrides (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    opportunity_id uuid NOT NULL REFERENCES opportunities (id),
    stage          text NOT NULL,
    bps            integer CHECK (bps BETWEEN 0 AND 10000),
    reason         text NOT NULL DEFAULT '' CHECK (char_length(reason) <= 500),
    set_by         text NOT NULL CHECK (char_length(set_by) BETWEEN 1 AND 128),
    create_time    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX probability_overrides_opportunity_idx ON probability_overrides (opportunity_id, seq);

-- Bid/no-bid decisions, newest last.
CREATE TABLE bid_decisions (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    opportunity_id uuid NOT NULL REFERENCES opportunities (id),
    outcome        text NOT NULL CHECK (outcome IN ('BID', 'NO_BID')),
    reasons        text[] NOT NULL CHECK (cardinality(reasons) BETWEEN 1 AND 10),
    decided_by     text NOT NULL CHECK (char_length(decided_by) BETWEEN 1 AND 128),
    decide_time    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bid_decisions_opportunity_idx ON bid_decisions (opportunity_id, seq);

-- The pipeline policy: one row, plus its stage probabilities, lead-scoring rules and routes.
CREATE TABLE pipeline_policy (
    id               boolean PRIMARY KEY DEFAULT true CHECK (id),
    stale_after_days integer NOT NULL DEFAULT 30 CHECK (stale_after_days BETWEEN 1 AND 3650),
    update_by        text NOT NULL DEFAULT 'default' CHECK (char_length(update_by) BETWEEN 1 AND 128),
    version          integer NOT NULL DEFAULT 1 CHECK (version > 0),
    update_time      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO pipeline_policy DEFAULT VALUES;

CREATE TABLE stage_probabilities (
    stage text PRIMARY KEY CHECK (stage IN ('QUALIFIED', 'BIDDING', 'WON', 'LOST', 'CASH_COLLECTED', 'NOT_PURSUED')),
    bps   integer NOT NULL CHECK (bps BETWEEN 0 AND 10000)
);
INSERT INTO stage_probabilities VALUES ('QUALIFIED', 1000), ('BIDDING', 4000), ('WON', 10000), ('LOST', 0),
    ('CASH_COLLECTED', 10000), ('NOT_PURSUED', 0);

CREATE TABLE lead_score_rules (
    position   integer PRIMARY KEY CHECK (position BETWEEN 0 AND 99),
    factor     text NOT NULL CHECK (factor IN ('SOURCE', 'COMPLETENESS', 'COMPANY_DATA', 'ENGAGEMENT')),
    key        text NOT NULL CHECK (key ~ '^[A-Z_]{1,64}$'),
    points     integer NOT NULL CHECK (points BETWEEN -100 AND 100),
    max_points integer NOT NULL DEFAULT 0 CHECK (max_points BETWEEN 0 AND 100),
    CONSTRAINT lead_score_rules_once UNIQUE (factor, key)
);
INSERT INTO lead_score_rules VALUES
    (0, 'SOURCE', 'REFERRAL', 25, 0), (1, 'SOURCE', 'PARTNER', 20, 0), (2, 'SOURCE', 'INBOUND', 20, 0),
    (3, 'SOURCE', 'EVENT', 15, 0), (4, 'SOURCE', 'WEBSITE', 10, 0), (5, 'SOURCE', 'MARKETING_AUTOMATION', 10, 0),
    (6, 'SOURCE', 'SOCIAL_MEDIA', 5, 0),
    (7, 'COMPLETENESS', 'CONTACT_NAME', 5, 0), (8, 'COMPLETENESS', 'CONTACT_EMAIL', 10, 0),
    (9, 'COMPLETENESS', 'CONTACT_PHONE', 5, 0),
    (10, 'COMPANY_DATA', 'CUSTOMER_KNOWN', 15, 0), (11, 'COMPANY_DATA', 'TAX_ID', 10, 0),
    (12, 'ENGAGEMENT', 'EMAIL_OPENED', 2, 10), (13, 'ENGAGEMENT', 'EMAIL_REPLIED', 5, 15),
    (14, 'ENGAGEMENT', 'WEBSITE_VISIT', 2, 10), (15, 'ENGAGEMENT', 'CONTENT_DOWNLOAD', 5, 15),
    (16, 'ENGAGEMENT', 'EVENT_ATTENDED', 10, 20), (17, 'ENGAGEMENT', 'MEETING_HELD', 15, 30),
    (18, 'ENGAGEMENT', 'DEMO_REQUESTED', 20, 20);

CREATE TABLE lead_routes (
    min_score integer PRIMARY KEY CHECK (min_score BETWEEN 0 AND 100),
    queue     text NOT NULL CHECK (char_length(queue) BETWEEN 1 AND 64)
);
INSERT INTO lead_routes VALUES (0, 'nurture'), (40, 'inside-sales'), (70, 'field-sales');

-- Engagement events on leads.
CREATE TABLE lead_engagements (
    id          uuid PRIMARY KEY,
    seq         bigserial UNIQUE,
    lead_id     uuid NOT NULL REFERENCES leads (id),
    kind        text NOT NULL CHECK (kind IN ('EMAIL_OPENED', 'EMAIL_REPLIED', 'WEBSITE_VISIT', 'CONTENT_DOWNLOAD',
                                              'EVENT_ATTENDED', 'MEETING_HELD', 'DEMO_REQUESTED')),
    occur_time  timestamptz NOT NULL,
    note        text NOT NULL DEFAULT '' CHECK (char_length(note) <= 500),
    recorded_by text NOT NULL CHECK (char_length(recorded_by) BETWEEN 1 AND 128),
    create_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_engagements_lead_idx ON lead_engagements (lead_id, seq);

-- Stale opportunities and the reports: open opportunities by last change; opportunities by creation time; a
-- deal's bids by opportunity (bids_opportunity_idx exists); its admission decisions (admission_decisions_opportunity_idx).
CREATE INDEX opportunities_open_update_idx ON opportunities (update_time) WHERE stage IN ('QUALIFIED', 'BIDDING');
CREATE INDEX opportunities_create_time_idx ON opportunities (create_time);
CREATE INDEX deal_milestones_by_deal_kind ON deal_milestones (deal_id, kind, occur_time);
