-- OTD: an order's resource checked through its bookings, not row by row (issue #15, docs/performance.md "The
-- scheduler"). orders.resource_id is written by the scheduler only: the bookings statement sets it to the resource
-- of the order's last booked day (so to a resource the order has a booking on), a run that no longer fits the order
-- clears it. Every booking's resource is checked when the booking is written, once per statement, by the
-- capacity_load triggers (migrations 009, 010), and resources are never deleted (no code path deletes them). The
-- foreign key re-proved per row what the bookings had proved: a full run over 10,000 orders paid 10,000 key lookups
-- for it, each taking a share lock on a resource row, about 50 ms of the run. Applied in schema otd (search_path).
ALTER TABLE orders DROP CONSTRAINT orders_resource_id_fkey;
