-- OTD order lines keep their net amount (BTO prices each line once and rounds it, so quantity x unit_price is not the
-- line's amount in general): what shipments, acceptances and returns value a part of the line from, pro rata.
-- NULL for lines received before: their amount stays quantity x unit_price. Applied in schema otd.
ALTER TABLE order_lines ADD COLUMN net_minor bigint CHECK (net_minor >= 0);
