-- BTO (bid to order, 标后): the catalogue, deals handed over by LTB, quotes, contracts and orders.
-- Applied with search_path = bto: names are unqualified. Money is <x>_minor bigint + currency char(3).

CREATE TABLE products (
    id               uuid PRIMARY KEY,
    seq              bigserial UNIQUE,
    sku              text COLLATE "C" NOT NULL UNIQUE CHECK (sku ~ '^[A-Za-z0-9._-]{1,64}$'),
    display_name     text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
    list_price_minor bigint NOT NULL CHECK (list_price_minor > 0),
    unit_cost_minor  bigint NOT NULL CHECK (unit_cost_minor >= 0),
    currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    lead_time_days   integer NOT NULL CHECK (lead_time_days BETWEEN 0 AND 3650),
    create_time      timestamptz NOT NULL DEFAULT now()
);

-- A deal's id is the LTB opportunity's id.
CREATE TABLE deals (
    id               uuid PRIMARY KEY,
    seq              bigserial UNIQUE,
    opportunity_id   uuid NOT NULL CHECK (opportunity_id = id),
    bid_id           uuid NOT NULL,
    customer_name    text NOT NULL CHECK (char_length(customer_name) BETWEEN 1 AND 200),
    account_owner    text NOT NULL CHECK (char_length(account_owner) BETWEEN 1 AND 128),
    solution_owner   text NOT NULL CHECK (char_length(solution_owner) BETWEEN 1 AND 128),
    fulfilment_owner text NOT NULL CHECK (char_length(fulfilment_owner) BETWEEN 1 AND 128),
    expected_minor   bigint NOT NULL CHECK (expected_minor >= 0),
    currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    state            text NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'ORDERED', 'CLOSED')),
    handoff_id       uuid NOT NULL,
    won_time         timestamptz,
    create_time      timestamptz NOT NULL DEFAULT now(),
    update_time      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deal_requirements (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigserial UNIQUE,
    deal_id     uuid NOT NULL REFERENCES deals (id),
    position    integer NOT NULL CHECK (position BETWEEN 0 AND 99),
    code        text NOT NULL CHECK (char_length(code) BETWEEN 1 AND 64),
    description text NOT NULL CHECK (char_length(description) <= 1000),
    quantity    bigint NOT NULL CHECK (quantity >= 0),
    create_time timestamptz NOT NULL DEFAULT now(),
    UNIQUE (deal_id, position)
);

-- Quote versions 1, 2, ... per deal; at most one ACCEPTED quote per deal.
CREATE TABLE quotes (
    id          uuid PRIMARY KEY,
    seq         bigserial UNIQUE,
    deal_id     uuid NOT NULL REFERENCES deals (id),
    version     integer NOT NULL CHECK (version >= 1),
    total_minor bigint NOT NULL CHECK (total_minor >= 0),
    currency    char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    valid_until date NOT NULL,
    state       text NOT NULL DEFAULT 'DRAFT' CHECK (state IN ('DRAFT', 'ACCEPTED', 'REJECTED')),
    accept_time timestamptz,
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now(),
    UNIQUE (deal_id, version),
    CHECK ((state = 'ACCEPTED') = (accept_time IS NOT NULL))
);
CREATE UNIQUE INDEX quotes_one_accepted_per_deal ON quotes (deal_id) WHERE state = 'ACCEPTED';

-- Prices frozen when the quote is created.
CREATE TABLE quote_lines (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq              bigserial UNIQUE,
    quote_id         uuid NOT NULL REFERENCES quotes (id),
    line_no          integer NOT NULL CHECK (line_no BETWEEN 0 AND 199),
    product_id       uuid NOT NULL REFERENCES products (id),
    sku              text NOT NULL,
    quantity         bigint NOT NULL CHECK (quantity BETWEEN 1 AND 1000000),
    discount_bps     integer NOT NULL CHECK (discount_bps BETWEEN 0 AND 10000),
    unit_list_minor  bigint NOT NULL CHECK (unit_list_minor > 0),
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor BETWEEN 0 AND unit_list_minor),
    line_total_minor bigint NOT NULL CHECK (line_total_minor = quantity * unit_price_minor),
    currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    create_time      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (quote_id, line_no),
    UNIQUE (quote_id, product_id)
);
CREATE INDEX quote_lines_product_id ON quote_lines (product_id);

-- One contract per accepted quote. DRAFT -> SIGNED -> CLOSED.
CREATE TABLE contracts (
    id                      uuid PRIMARY KEY,
    seq                     bigserial UNIQUE,
    quote_id                uuid NOT NULL UNIQUE REFERENCES quotes (id),
    deal_id                 uuid NOT NULL REFERENCES deals (id),
    total_minor             bigint NOT NULL CHECK (total_minor >= 0),
    currency                char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    requested_delivery_date date NOT NULL,
    state                   text NOT NULL DEFAULT 'DRAFT' CHECK (state IN ('DRAFT', 'SIGNED', 'CLOSED')),
    signed_by               text CHECK (char_length(signed_by) BETWEEN 1 AND 200),
    sign_time               timestamptz,
    close_time              timestamptz,
    create_time             timestamptz NOT NULL DEFAULT now(),
    update_time             timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'DRAFT') = (sign_time IS NULL) AND (signed_by IS NULL) = (sign_time IS NULL)),
    CHECK ((state = 'CLOSED') = (close_time IS NOT NULL))
);
CREATE INDEX contracts_deal_id ON contracts (deal_id);

CREATE TABLE contract_payment_terms (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigserial UNIQUE,
    contract_id uuid NOT NULL REFERENCES contracts (id),
    position    integer NOT NULL CHECK (position BETWEEN 0 AND 9),
    kind        text NOT NULL CHECK (kind IN ('ADVANCE', 'ON_DELIVERY', 'ON_ACCEPTANCE', 'RETENTION')),
    share_bps   integer NOT NULL CHECK (share_bps BETWEEN 1 AND 10000),
    due_days    integer NOT NULL CHECK (due_days BETWEEN 0 AND 3650),
    create_time timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contract_id, position)
);

-- One order per signed contract. PLACED -> CLOSED.
CREATE TABLE orders (
    id                 uuid PRIMARY KEY,
    seq                bigserial UNIQUE,
    contract_id        uuid NOT NULL UNIQUE REFERENCES contracts (id),
    deal_id            uuid NOT NULL REFERENCES deals (id),
    total_minor        bigint NOT NULL CHECK (total_minor >= 0),
    currency           char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    state              text NOT NULL DEFAULT 'PLACED' CHECK (state IN ('PLACED', 'CLOSED')),
    close_time         timestamptz,
    collected_minor    bigint CHECK (collected_minor >= 0),
    collected_currency char(3) CHECK (collected_currency ~ '^[A-Z]{3}$'),
    close_handoff_id   uuid,
    create_time        timestamptz NOT NULL DEFAULT now(),
    update_time        timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'CLOSED') = (close_time IS NOT NULL)),
    CHECK ((collected_minor IS NULL) = (collected_currency IS NULL))
);
CREATE INDEX orders_deal_id ON orders (deal_id);

CREATE TABLE order_lines (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq              bigserial UNIQUE,
    order_id         uuid NOT NULL REFERENCES orders (id),
    line_no          integer NOT NULL CHECK (line_no >= 0),
    product_id       uuid NOT NULL REFERENCES products (id),
    sku              text NOT NULL,
    quantity         bigint NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
    line_total_minor bigint NOT NULL CHECK (line_total_minor = quantity * unit_price_minor),
    currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    create_time      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, line_no),
    UNIQUE (order_id, product_id)
);
CREATE INDEX order_lines_product_id ON order_lines (product_id);
