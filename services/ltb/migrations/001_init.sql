-- LTB (lead to bid): leads, opportunities with their requirements and stage history, bids, and the cash collected
-- per order once DTC closes the deal's orders. Applied with search_path = ltb: names are unqualified.
-- Every `version` column starts at 1 and is incremented by every UPDATE of its row; the API's etag is its hex form.

CREATE TABLE leads (
    id                uuid PRIMARY KEY,
    seq               bigserial UNIQUE,
    source            text NOT NULL CHECK (source IN ('WEBSITE', 'SOCIAL_MEDIA', 'MARKETING_AUTOMATION', 'EVENT',
                                                      'REFERRAL', 'INBOUND', 'PARTNER')),
    company_name      text NOT NULL CHECK (char_length(company_name) BETWEEN 1 AND 200),
    contact_name      text NOT NULL DEFAULT '' CHECK (char_length(contact_name) <= 200),
    contact_email     text NOT NULL DEFAULT '' CHECK (char_length(contact_email) <= 254),
    contact_phone     text NOT NULL DEFAULT '' CHECK (char_length(contact_phone) <= 40),
    state             text NOT NULL DEFAULT 'NEW' CHECK (state IN ('NEW', 'QUALIFIED', 'DISQUALIFIED')),
    disqualify_reason text NOT NULL DEFAULT '' CHECK (char_length(disqualify_reason) <= 500),
    version           integer NOT NULL DEFAULT 1 CHECK (version > 0),
    create_time       timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now(),
    -- a disqualified lead always says why, and only a disqualified one has a reason
    CONSTRAINT leads_reason_iff_disqualified CHECK ((state = 'DISQUALIFIED') = (disqualify_reason <> ''))
);

CREATE TABLE opportunities (
    id                  uuid PRIMARY KEY,  -- also the deal id carried by BTO, OTD and DTC ("deals/{id}")
    seq                 bigserial UNIQUE,
    lead_id             uuid NOT NULL UNIQUE REFERENCES leads (id),  -- one opportunity per qualified lead
    customer_name       text NOT NULL CHECK (char_length(customer_name) BETWEEN 1 AND 200),
    title               text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    account_owner       text NOT NULL CHECK (char_length(account_owner) BETWEEN 1 AND 128),
    solution_owner      text NOT NULL CHECK (char_length(solution_owner) BETWEEN 1 AND 128),
    fulfilment_owner    text NOT NULL CHECK (char_length(fulfilment_owner) BETWEEN 1 AND 128),
    expected_minor      bigint NOT NULL CHECK (expected_minor >= 0),
    currency            char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    expected_close_date date,
    win_probability_bps integer NOT NULL CHECK (win_probability_bps BETWEEN 0 AND 10000),
    stage               text NOT NULL DEFAULT 'QUALIFIED'
                        CHECK (stage IN ('QUALIFIED', 'BIDDING', 'WON', 'LOST', 'CASH_COLLECTED')),
    won_bid_id          uuid,              -- foreign key added below, once bids exists
    collected_minor     bigint NOT NULL DEFAULT 0 CHECK (collected_minor >= 0),  -- in `currency`
    version             integer NOT NULL DEFAULT 1 CHECK (version > 0),
    create_time         timestamptz NOT NULL DEFAULT now(),
    update_time         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT opportunities_won_bid_iff_won CHECK ((won_bid_id IS NOT NULL) = (stage IN ('WON', 'CASH_COLLECTED'))),
    CONSTRAINT opportunities_cash_only_when_collected CHECK (stage = 'CASH_COLLECTED' OR collected_minor = 0)
);

-- The customer's structured requirements (需求解读), in the order given.
CREATE TABLE requirements (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    opportunity_id uuid NOT NULL REFERENCES opportunities (id),
    position       integer NOT NULL CHECK (position BETWEEN 0 AND 99),
    code           text NOT NULL CHECK (char_length(code) BETWEEN 1 AND 64),
    description    text NOT NULL DEFAULT '' CHECK (char_length(description) <= 1000),
    quantity       bigint NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    create_time    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT requirements_position_unique UNIQUE (opportunity_id, position)
);

-- Every stage an opportunity entered, with when (create_time), for funnel and velocity reports. Append-only.
CREATE TABLE stage_changes (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    opportunity_id uuid NOT NULL REFERENCES opportunities (id),
    stage          text NOT NULL CHECK (stage IN ('QUALIFIED', 'BIDDING', 'WON', 'LOST', 'CASH_COLLECTED')),
    create_time    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stage_changes_opportunity_idx ON stage_changes (opportunity_id, create_time, seq);

CREATE TABLE bids (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    opportunity_id uuid NOT NULL REFERENCES opportunities (id),
    amount_minor   bigint NOT NULL CHECK (amount_minor > 0),
    currency       char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    state          text NOT NULL DEFAULT 'SUBMITTED' CHECK (state IN ('SUBMITTED', 'WON', 'LOST')),
    lost_reason    text NOT NULL DEFAULT '' CHECK (char_length(lost_reason) <= 500),
    competitor     text NOT NULL DEFAULT '' CHECK (char_length(competitor) <= 200),
    create_time    timestamptz NOT NULL DEFAULT now(),
    update_time    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bids_reason_iff_lost CHECK ((state = 'LOST') = (lost_reason <> '')),
    CONSTRAINT bids_competitor_only_when_lost CHECK (state = 'LOST' OR competitor = ''),
    CONSTRAINT bids_id_opportunity_unique UNIQUE (id, opportunity_id)  -- target of the won-bid foreign key
);
CREATE INDEX bids_opportunity_idx ON bids (opportunity_id);
-- At most one bid out (SUBMITTED) per opportunity at any time.
CREATE UNIQUE INDEX bids_one_submitted_per_opportunity ON bids (opportunity_id) WHERE state = 'SUBMITTED';

-- The won bid must be a bid of the same opportunity.
ALTER TABLE opportunities ADD CONSTRAINT opportunities_won_bid_fk
    FOREIGN KEY (won_bid_id, id) REFERENCES bids (id, opportunity_id);

-- Cash collected per closed order of a deal (AcceptCashCollected from DTC); the opportunity's collected_minor is
-- the sum of its rows. An order counts once.
CREATE TABLE collected_orders (
    id              uuid PRIMARY KEY,
    seq             bigserial UNIQUE,
    opportunity_id  uuid NOT NULL REFERENCES opportunities (id),
    order_id        uuid NOT NULL UNIQUE,  -- BTO's order id
    amount_minor    bigint NOT NULL CHECK (amount_minor >= 0),
    currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    handoff_id      uuid NOT NULL,         -- the DTC hand-off that reported it
    create_time     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX collected_orders_opportunity_idx ON collected_orders (opportunity_id);
