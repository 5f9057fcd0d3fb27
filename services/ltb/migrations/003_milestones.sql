-- LTB: the CRM hub's milestones (issue #18): every stage reports what happened to a deal (quote sent, order
-- placed, promised, shipped, invoiced, paid, ...) through IntakeService/AcceptMilestone, exactly once per hand-off
-- id; LTB keeps them per deal with the time each happened at its source. The deal is the opportunity.
-- Applied with search_path = ltb: names are unqualified.

CREATE TABLE deal_milestones (
    id          uuid PRIMARY KEY,
    seq         bigserial UNIQUE,             -- arrival order (a deal's milestones from one stage arrive in order)
    deal_id     uuid NOT NULL REFERENCES opportunities (id),
    stage       text NOT NULL CHECK (stage IN ('LTB', 'BTO', 'OTD', 'DTC')),
    kind        text NOT NULL CHECK (kind ~ '^[A-Z][A-Z_]{1,62}$'),
    record      text NOT NULL CHECK (char_length(record) BETWEEN 1 AND 200),
    occur_time  timestamptz NOT NULL,         -- when it happened at its source
    actor       text NOT NULL DEFAULT '' CHECK (char_length(actor) <= 200),
    amount_minor bigint,
    currency    text CHECK (currency ~ '^[A-Z]{3}$'),
    on_date     date,
    detail      text NOT NULL DEFAULT '' CHECK (char_length(detail) <= 1000),
    handoff_id  uuid NOT NULL UNIQUE,
    receive_time timestamptz NOT NULL DEFAULT now(),
    CHECK ((amount_minor IS NULL) = (currency IS NULL))
);
CREATE INDEX deal_milestones_by_deal ON deal_milestones (deal_id, occur_time, seq);
