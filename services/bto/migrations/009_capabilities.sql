-- BTO (issue #14): the requirement capabilities a product provides (LTB's requirement codes, quantity per unit), so
-- a quote shows per deal requirement what covers it and whether it is met. Applied with search_path = bto.
CREATE TABLE product_capabilities (
    product_id        uuid NOT NULL REFERENCES products (id),
    code              text NOT NULL CHECK (char_length(code) BETWEEN 1 AND 64),
    quantity_per_unit bigint NOT NULL CHECK (quantity_per_unit BETWEEN 1 AND 1000000),
    PRIMARY KEY (product_id, code)
);
CREATE INDEX product_capabilities_code ON product_capabilities (code);
