-- OTD returns (RMA, issue #15): goods the customer sends back from an accepted shipment, handed to DTC
-- (AcceptReturn), which issues a credit note for their value at the order's prices. Applied in schema otd.
CREATE TABLE returns (
    id           uuid PRIMARY KEY,
    seq          bigserial UNIQUE,
    order_id     uuid NOT NULL REFERENCES orders (id),
    shipment_id  uuid NOT NULL REFERENCES shipments (id),
    reason       text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 1000),
    amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
    currency     char(3) NOT NULL,
    handoff_id   uuid NOT NULL UNIQUE,
    received_by  text NOT NULL DEFAULT '',
    create_time  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX returns_shipment_idx ON returns (shipment_id);
CREATE TABLE return_lines (
    return_id     uuid NOT NULL REFERENCES returns (id),
    line_no       integer NOT NULL CHECK (line_no >= 1),
    order_line_id uuid NOT NULL REFERENCES order_lines (id),
    quantity      bigint NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (return_id, line_no),
    UNIQUE (return_id, order_line_id)
);
ALTER TABLE order_lines ADD COLUMN returned_quantity bigint NOT NULL DEFAULT 0
    CHECK (returned_quantity >= 0 AND returned_quantity <= accepted_quantity);
