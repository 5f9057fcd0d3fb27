-- OTD (order to deliver): orders received from BTO, their review, release, finite-capacity scheduling, shipments
-- and customer acceptance. Applied in schema "otd" (search_path), so names are unqualified.

-- Production resources with a finite daily capacity (units of work per working day).
CREATE TABLE resources (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    display_name   text NOT NULL UNIQUE CHECK (char_length(display_name) BETWEEN 1 AND 200),
    daily_capacity bigint NOT NULL CHECK (daily_capacity BETWEEN 1 AND 1000000000),
    create_time    timestamptz NOT NULL DEFAULT now()
);

-- Orders handed over by BTO; id = BTO's order id.
CREATE TABLE orders (
    id                      uuid PRIMARY KEY,
    seq                     bigserial UNIQUE,
    contract_id             uuid NOT NULL,
    deal_id                 uuid NOT NULL,
    customer_name           text NOT NULL CHECK (char_length(customer_name) BETWEEN 1 AND 200),
    account_owner           text NOT NULL DEFAULT '',
    solution_owner          text NOT NULL DEFAULT '',
    fulfilment_owner        text NOT NULL DEFAULT '',
    total_minor             bigint NOT NULL CHECK (total_minor >= 0),
    currency                char(3) NOT NULL,
    requested_delivery_date date NOT NULL,
    promise_date            date,
    late                    boolean NOT NULL DEFAULT false,
    resource_id             uuid REFERENCES resources (id),
    state                   text NOT NULL CHECK (state IN ('RECEIVED', 'REVIEWED', 'RELEASED', 'SCHEDULED',
                                                           'PARTIALLY_SHIPPED', 'SHIPPED', 'ACCEPTED', 'ON_HOLD')),
    hold_reason             text NOT NULL DEFAULT '',
    create_time             timestamptz NOT NULL DEFAULT now(),
    update_time             timestamptz NOT NULL DEFAULT now(),
    -- scheduled and later states carry a promise date and the resource they are booked on
    CHECK (state NOT IN ('SCHEDULED', 'PARTIALLY_SHIPPED', 'SHIPPED', 'ACCEPTED')
           OR (promise_date IS NOT NULL AND resource_id IS NOT NULL))
);
CREATE INDEX orders_deal_idx ON orders (deal_id);
CREATE INDEX orders_contract_idx ON orders (contract_id);

-- The lines of an order; one line per product (shipments name lines by product).
CREATE TABLE order_lines (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq               bigserial UNIQUE,
    order_id          uuid NOT NULL REFERENCES orders (id),
    line_no           integer NOT NULL CHECK (line_no >= 1),
    product_id        uuid NOT NULL,
    sku               text NOT NULL,
    quantity          bigint NOT NULL CHECK (quantity > 0),
    unit_price_minor  bigint NOT NULL CHECK (unit_price_minor >= 0),
    currency          char(3) NOT NULL,
    shipped_quantity  bigint NOT NULL DEFAULT 0,
    accepted_quantity bigint NOT NULL DEFAULT 0,
    create_time       timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now(),
    CHECK (0 <= accepted_quantity AND accepted_quantity <= shipped_quantity AND shipped_quantity <= quantity),
    UNIQUE (order_id, line_no),
    UNIQUE (order_id, product_id)
);

-- The contract's payment terms, carried on to DTC.
CREATE TABLE order_payment_terms (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigserial UNIQUE,
    order_id    uuid NOT NULL REFERENCES orders (id),
    position    integer NOT NULL CHECK (position >= 1),
    kind        text NOT NULL CHECK (kind IN ('ADVANCE', 'ON_DELIVERY', 'ON_ACCEPTANCE', 'RETENTION')),
    share_bps   integer NOT NULL CHECK (share_bps BETWEEN 1 AND 10000),
    due_days    integer NOT NULL CHECK (due_days BETWEEN 0 AND 3650),
    create_time timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, position)
);

-- Order reviews (订单评审): one row per decision.
CREATE TABLE reviews (
    id          uuid PRIMARY KEY,
    seq         bigserial UNIQUE,
    order_id    uuid NOT NULL REFERENCES orders (id),
    approved    boolean NOT NULL,
    comment     text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL DEFAULT now(),
    CHECK (approved OR comment <> '')
);
CREATE INDEX reviews_order_idx ON reviews (order_id);

-- Capacity booked by scheduled orders, per resource and working day.
CREATE TABLE capacity_bookings (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigserial UNIQUE,
    resource_id uuid NOT NULL REFERENCES resources (id),
    day         date NOT NULL CHECK (extract(isodow FROM day) < 6),
    order_id    uuid NOT NULL REFERENCES orders (id),
    quantity    bigint NOT NULL CHECK (quantity > 0),
    create_time timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, resource_id, day)
);
CREATE INDEX capacity_bookings_resource_day_idx ON capacity_bookings (resource_id, day);

-- Shipments (发货) and the customer's decision on them (验收).
CREATE TABLE shipments (
    id              uuid PRIMARY KEY,
    seq             bigserial UNIQUE,
    order_id        uuid NOT NULL REFERENCES orders (id),
    state           text NOT NULL CHECK (state IN ('SHIPPED', 'ACCEPTED', 'REJECTED')),
    amount_minor    bigint NOT NULL CHECK (amount_minor >= 0),
    currency        char(3) NOT NULL,
    acceptance_note text NOT NULL DEFAULT '',
    handoff_id      uuid UNIQUE,
    create_time     timestamptz NOT NULL DEFAULT now(),
    decide_time     timestamptz,
    update_time     timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'SHIPPED') = (decide_time IS NULL)),
    CHECK ((state = 'ACCEPTED') = (handoff_id IS NOT NULL)),
    CHECK (state <> 'REJECTED' OR acceptance_note <> '')
);
CREATE INDEX shipments_order_idx ON shipments (order_id);

CREATE TABLE shipment_lines (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq           bigserial UNIQUE,
    shipment_id   uuid NOT NULL REFERENCES shipments (id),
    line_no       integer NOT NULL CHECK (line_no >= 1),
    order_line_id uuid NOT NULL REFERENCES order_lines (id),
    quantity      bigint NOT NULL CHECK (quantity > 0),
    create_time   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shipment_id, line_no),
    UNIQUE (shipment_id, order_line_id)
);
CREATE INDEX shipment_lines_order_line_idx ON shipment_lines (order_line_id);
