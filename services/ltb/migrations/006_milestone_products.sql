-- LTB (issue #18): velocity grouped by product. LTB keeps no catalogue: BTO's ORDER_PLACED milestone carries the
-- SKUs of the order's lines (ltc.type.v1.Milestone.product_skus), stored with the milestone; GetVelocityReport
-- (group_by PRODUCT) counts a deal once under each SKU its orders placed. Applied with search_path = ltb.

ALTER TABLE deal_milestones ADD COLUMN product_skus text[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(product_skus) <= 200);
