-- OTD: order to delivery as planners run it (issue #15): the review by functions with holds that can be cleared,
-- cancellation, resource calendars, routings by SKU (alternative resources, work per unit, material lead time),
-- priority classes, and bookings on any calendar day the resource works. Applied in schema otd (search_path).
-- docs/planning.md explains the model.

-- Orders: priority class (1 urgent .. 3 low, 2 by default), cancellation and closure.
ALTER TABLE orders
    ADD COLUMN priority integer NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 3),
    ADD COLUMN cancel_reason text NOT NULL DEFAULT '' CHECK (char_length(cancel_reason) <= 1000),
    ADD COLUMN cancelled_by text NOT NULL DEFAULT '',
    ADD COLUMN cancel_time timestamptz,
    ADD COLUMN close_time timestamptz,
    ADD COLUMN first_promise_date date;
ALTER TABLE orders DROP CONSTRAINT orders_state_check;
ALTER TABLE orders ADD CONSTRAINT orders_state_check
    CHECK (state IN ('RECEIVED', 'REVIEWED', 'RELEASED', 'SCHEDULED', 'PARTIALLY_SHIPPED', 'SHIPPED', 'ACCEPTED',
                     'ON_HOLD', 'CREDIT_HOLD', 'CANCELLED', 'CLOSED'));
ALTER TABLE orders ADD CONSTRAINT orders_cancel_has_reason
    CHECK ((state = 'CANCELLED') = (cancel_time IS NOT NULL AND cancel_reason <> ''));
CREATE INDEX orders_open_idx ON orders (state) WHERE state IN ('RELEASED', 'SCHEDULED', 'PARTIALLY_SHIPPED');

-- The review (订单评审): one row per check of one function, appended; the latest row of a function is its outcome.
-- PASSED / FAILED are the function's verdict (automatic checks by "otd", a reviewer's by their principal);
-- CLEARED is the responsible role taking a hold off with a comment.
CREATE TABLE order_checks (
    id          uuid PRIMARY KEY,
    seq         bigserial UNIQUE,
    order_id    uuid NOT NULL REFERENCES orders (id),
    function    text NOT NULL CHECK (function IN ('CONFIGURATION', 'CREDIT', 'CAPACITY', 'TERMS', 'REVIEWER')),
    outcome     text NOT NULL CHECK (outcome IN ('PASSED', 'FAILED', 'CLEARED')),
    reasons     text[] NOT NULL DEFAULT '{}',
    reviewer    text NOT NULL CHECK (char_length(reviewer) BETWEEN 1 AND 128),
    comment     text NOT NULL DEFAULT '' CHECK (char_length(comment) <= 1000),
    create_time timestamptz NOT NULL DEFAULT now(),
    CHECK ((outcome = 'FAILED') = (cardinality(reasons) > 0)),
    CHECK (outcome <> 'CLEARED' OR comment <> '')
);
CREATE INDEX order_checks_order_idx ON order_checks (order_id, function, seq);

-- Resource calendars: the weekdays it works (ISO bits: Monday 1, Tuesday 2, .. Sunday 64; Monday to Friday 31), and
-- per-day overrides: capacity 0 is a holiday or the resource down, another value maintenance or overtime.
-- A dedicated resource only takes the SKUs whose routing names it; the others also take SKUs without a routing
-- (one unit of work per unit, no lead time: the model before routings).
ALTER TABLE resources
    ADD COLUMN working_days integer NOT NULL DEFAULT 31 CHECK (working_days BETWEEN 0 AND 127),
    ADD COLUMN dedicated boolean NOT NULL DEFAULT false,
    ADD COLUMN update_time timestamptz NOT NULL DEFAULT now();
CREATE TABLE resource_calendar_days (
    resource_id uuid NOT NULL REFERENCES resources (id),
    day         date NOT NULL,
    capacity    bigint NOT NULL CHECK (capacity BETWEEN 0 AND 1000000000),
    note        text NOT NULL DEFAULT '' CHECK (char_length(note) <= 200),
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (resource_id, day)
);

-- Routings by SKU: the material lead time before work can start and the resources that can do the work
-- (alternatives), with the work one unit takes on each.
CREATE TABLE routings (
    sku            text PRIMARY KEY CHECK (char_length(sku) BETWEEN 1 AND 64),
    seq            bigserial UNIQUE,
    lead_time_days integer NOT NULL CHECK (lead_time_days BETWEEN 0 AND 365),
    create_time    timestamptz NOT NULL DEFAULT now(),
    update_time    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE routing_steps (
    sku           text NOT NULL REFERENCES routings (sku) ON DELETE CASCADE,
    position      integer NOT NULL CHECK (position >= 1),
    resource_id   uuid NOT NULL REFERENCES resources (id),
    work_per_unit bigint NOT NULL CHECK (work_per_unit BETWEEN 1 AND 1000000),
    PRIMARY KEY (sku, resource_id),
    UNIQUE (sku, position)
);

-- Bookings fall on any day the resource's calendar gives capacity (weekends included when it works them); a
-- booking is work units, per order, resource and day.
ALTER TABLE capacity_bookings DROP CONSTRAINT capacity_bookings_day_check;
CREATE INDEX capacity_bookings_order_idx ON capacity_bookings (order_id);

