-- OTD delivery (issue #15): an over-delivery tolerance per line (basis points of the ordered quantity that may ship
-- beyond it; 0 by default: exactly the quantity), and the order's closure when every line is delivered and accepted.
-- Applied in schema otd (search_path).
ALTER TABLE order_lines ADD COLUMN over_delivery_bps integer NOT NULL DEFAULT 0
    CHECK (over_delivery_bps BETWEEN 0 AND 10000);
ALTER TABLE order_lines DROP CONSTRAINT order_lines_check;
ALTER TABLE order_lines ADD CONSTRAINT order_lines_check
    CHECK (0 <= accepted_quantity AND accepted_quantity <= shipped_quantity
           AND shipped_quantity <= quantity + quantity * over_delivery_bps / 10000);
