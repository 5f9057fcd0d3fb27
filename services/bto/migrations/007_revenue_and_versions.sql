-- BTO (issue #14): a product's revenue type for DTC (POINT_IN_TIME on acceptance, OVER_TIME across service_months)
-- and, on every quote line, the product version, revenue type and service months it was priced with (a quote keeps
-- the version it priced; the order's hand-offs to OTD and DTC carry them). Applied with search_path = bto.
ALTER TABLE products
    ADD COLUMN revenue_type text NOT NULL DEFAULT 'POINT_IN_TIME'
        CHECK (revenue_type IN ('POINT_IN_TIME', 'OVER_TIME')),
    ADD COLUMN service_months integer NOT NULL DEFAULT 0 CHECK (service_months BETWEEN 0 AND 600),
    ADD CONSTRAINT products_service_months CHECK ((revenue_type = 'OVER_TIME') = (service_months > 0));

ALTER TABLE quote_lines
    ADD COLUMN product_version integer,
    ADD COLUMN revenue_type text NOT NULL DEFAULT 'POINT_IN_TIME'
        CHECK (revenue_type IN ('POINT_IN_TIME', 'OVER_TIME')),
    ADD COLUMN service_months integer NOT NULL DEFAULT 0 CHECK (service_months BETWEEN 0 AND 600);
