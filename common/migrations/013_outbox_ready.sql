-- The relay's claims read only the rows it can send (issue #22). outbox_pending (001) held every undelivered row,
-- parked ones included, and parked rows stay until an operator replays them: with 280,000 parked (a benchmark whose
-- receiver refused its hand-offs) every claim, every "when is the next retry due" and every 2-second backlog gauge
-- stepped over all of them, and the planner chose a sequential scan of the whole outbox: 0.8-1.1 s a claim, 0.4 s a
-- next-due, each relay lane polling. The index of the rows to send (delivered_time and parked_time both NULL) is as
-- small as the real backlog; the parked rows get one of their own (the backlog gauge and the parked listing), which
-- a hand-off's write does not touch (a row is inserted ready, and leaves the ready index when delivered or parked).
CREATE INDEX outbox_ready ON outbox (seq) WHERE delivered_time IS NULL AND parked_time IS NULL;
CREATE INDEX outbox_parked ON outbox (destination, seq) WHERE delivered_time IS NULL AND parked_time IS NOT NULL;
DROP INDEX outbox_pending;
