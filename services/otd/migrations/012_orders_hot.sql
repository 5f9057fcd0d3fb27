-- OTD: an order's promise written in place (a heap-only tuple update, HOT) instead of as a new row version with an
-- entry in each of the table's indexes (issue #15, docs/performance.md "The scheduler"). Applied in schema otd
-- (search_path).
--
-- PostgreSQL updates a row in place on its page, with no new index entries, when no column an index uses (in its
-- key, an expression or its predicate) changes and the page has room. The scheduler's promise sets state
-- (RELEASED -> SCHEDULED), promise_date, resource_id, late, first_promise_date and update_time. Two indexes used
-- state in their predicate, so every promise wrote a new row version and an entry in all seven indexes: a first run
-- of 10,000 orders spent 160-200 ms in that UPDATE, against 60-95 ms as HOT updates (psql, the same rows both ways).
--
-- - orders_open_idx now keys the open orders by id on a stored generated column, is_open, which does not change while
--   an order moves between RELEASED, SCHEDULED and PARTIALLY_SHIPPED. A whole-table schedule locks them by id
--   through it, in the index's order.
-- - orders_credit_hold_idx goes: no statement reads it (the orders on credit hold are found by state in ListOrders,
--   and by id everywhere else), and every order's update paid for it.
-- - Half of each page is left free (fillfactor 50), so the new versions of the rows of a page fit on it. Order rows
--   are updated about eight times in their life (review, release, promise, re-promises, shipments, acceptance,
--   close); the page's dead versions are pruned as it is next visited. The table takes twice the pages (about 4 MB
--   for 10,000 orders), its indexes do not grow.
--
-- The fillfactor is set first: adding the stored column rewrites the table, with the new setting. The rewrite holds
-- an exclusive lock on orders while it runs (OTD's calls that touch orders wait for it): plan the upgrade of a large
-- table accordingly. Old OTD binaries work on the new schema (they name their columns, and no statement of theirs
-- needs the dropped index), so a rolling upgrade stays possible (docs/operations.md "Upgrades").
ALTER TABLE orders SET (fillfactor = 50);
DROP INDEX orders_open_idx;
DROP INDEX orders_credit_hold_idx;
ALTER TABLE orders ADD COLUMN is_open boolean NOT NULL
    GENERATED ALWAYS AS (state IN ('RELEASED', 'SCHEDULED', 'PARTIALLY_SHIPPED')) STORED;
CREATE INDEX orders_open_idx ON orders (id) WHERE is_open;
