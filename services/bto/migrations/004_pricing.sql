-- BTO pricing (issue #14, docs/cpq.md): price books per currency and customer group with validity dates and volume
-- tiers, tax rates by tax class and country, and the priced quote's breakdown. A line's amount is now rounded once
-- (book x (1 - line discount) x (1 - order discount), half away from zero), so line_total is no longer
-- quantity x unit_price (unit_price is line_total / quantity, rounded, for reading): that CHECK is dropped on quote
-- and order lines. Applied with search_path = bto.

ALTER TABLE products
    ADD COLUMN tax_class text NOT NULL DEFAULT '' CHECK (tax_class ~ '^([A-Z0-9_]{1,32})?$');

CREATE TABLE price_books (
    id             uuid PRIMARY KEY,
    seq            bigserial UNIQUE,
    display_name   text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
    currency       char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    customer_group text NOT NULL DEFAULT '' CHECK (customer_group ~ '^([A-Z0-9_]{1,32})?$'),
    valid_from     date NOT NULL,
    valid_until    date,
    create_time    timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);
CREATE INDEX price_books_pick ON price_books (currency, customer_group, valid_from);

-- tiers: arrays of the same length (min quantity, unit price); empty when tier_mode is NONE.
CREATE TABLE price_book_entries (
    price_book_id    uuid NOT NULL REFERENCES price_books (id),
    position         integer NOT NULL CHECK (position BETWEEN 0 AND 499),
    product_id       uuid NOT NULL REFERENCES products (id),
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
    tier_mode        text NOT NULL DEFAULT 'NONE' CHECK (tier_mode IN ('NONE', 'RANGE', 'SLAB')),
    tier_min_qty     bigint[] NOT NULL DEFAULT '{}',
    tier_unit_minor  bigint[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (price_book_id, product_id),
    UNIQUE (price_book_id, position),
    CHECK (cardinality(tier_min_qty) = cardinality(tier_unit_minor) AND cardinality(tier_min_qty) <= 10),
    CHECK ((tier_mode = 'NONE') = (cardinality(tier_min_qty) = 0))
);

CREATE TABLE tax_rates (
    seq         bigserial UNIQUE,
    tax_class   text NOT NULL CHECK (tax_class ~ '^[A-Z0-9_]{1,32}$'),
    country     text NOT NULL DEFAULT '' CHECK (country ~ '^([A-Z]{2})?$'),
    rate_bps    integer NOT NULL CHECK (rate_bps BETWEEN 0 AND 10000),
    update_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tax_class, country)
);

ALTER TABLE quotes
    ADD COLUMN order_discount_bps integer NOT NULL DEFAULT 0 CHECK (order_discount_bps BETWEEN 0 AND 10000),
    ADD COLUMN price_book_id uuid REFERENCES price_books (id),
    ADD COLUMN list_total_minor bigint,
    ADD COLUMN book_total_minor bigint,
    ADD COLUMN tax_total_minor bigint NOT NULL DEFAULT 0 CHECK (tax_total_minor >= 0),
    ADD COLUMN cost_total_minor bigint;

-- The CHECKs of 001 that tie unit prices and line totals together (their names were given by PostgreSQL: found by
-- the columns they name).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
             WHERE contype = 'c' AND conrelid IN ('quote_lines'::regclass, 'order_lines'::regclass)
               AND (pg_get_constraintdef(oid) LIKE '%line_total_minor%'
                    OR pg_get_constraintdef(oid) LIKE '%unit_price_minor%'
                    OR pg_get_constraintdef(oid) LIKE '%unit_list_minor%')
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname);
    END LOOP;
END
$$;
ALTER TABLE quote_lines
    ADD CONSTRAINT quote_lines_unit_list_minor_nonneg CHECK (unit_list_minor >= 0),
    ADD CONSTRAINT quote_lines_line_total_minor_nonneg CHECK (line_total_minor >= 0),
    ADD CONSTRAINT quote_lines_unit_price_minor_nonneg CHECK (unit_price_minor >= 0),
    ADD COLUMN list_minor bigint,
    ADD COLUMN book_minor bigint,
    ADD COLUMN line_discount_minor bigint,
    ADD COLUMN order_discount_minor bigint,
    ADD COLUMN tax_class text NOT NULL DEFAULT '',
    ADD COLUMN tax_rate_bps integer NOT NULL DEFAULT 0 CHECK (tax_rate_bps BETWEEN 0 AND 10000),
    ADD COLUMN tax_minor bigint NOT NULL DEFAULT 0 CHECK (tax_minor >= 0),
    ADD COLUMN unit_cost_minor bigint,
    ADD CONSTRAINT quote_lines_parts_sum CHECK (book_minor IS NULL OR
        book_minor - line_discount_minor - order_discount_minor = line_total_minor);

ALTER TABLE order_lines
    ADD CONSTRAINT order_lines_unit_price_minor_nonneg CHECK (unit_price_minor >= 0),
    ADD CONSTRAINT order_lines_line_total_minor_nonneg CHECK (line_total_minor >= 0);

-- Configuration rules (rules.h): about a subject product, with other products (REQUIRES, EXCLUDES,
-- BUNDLE_NEEDS_ONE_OF) or a quantity bound (MIN_QUANTITY, MAX_QUANTITY).
CREATE TABLE configuration_rules (
    id          uuid PRIMARY KEY,
    seq         bigserial UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('REQUIRES', 'EXCLUDES', 'MIN_QUANTITY', 'MAX_QUANTITY',
                                              'BUNDLE_NEEDS_ONE_OF')),
    product_id  uuid NOT NULL REFERENCES products (id),
    other_ids   uuid[] NOT NULL DEFAULT '{}' CHECK (cardinality(other_ids) <= 50),
    quantity    bigint NOT NULL DEFAULT 0 CHECK (quantity BETWEEN 0 AND 1000000),
    description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
    create_time timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind IN ('MIN_QUANTITY', 'MAX_QUANTITY')) = (cardinality(other_ids) = 0)),
    CHECK ((kind IN ('MIN_QUANTITY', 'MAX_QUANTITY')) = (quantity > 0))
);
CREATE INDEX configuration_rules_product ON configuration_rules (product_id, seq);
