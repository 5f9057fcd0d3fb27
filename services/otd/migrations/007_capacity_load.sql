-- OTD: the load per resource and day, kept beside the bookings (docs/performance.md, "The scheduler"). A plan reads
-- at most resources x horizon rows of it (a re-promise only the resources its order's routings use) instead of
-- aggregating every booking of every order. Statement-level triggers on capacity_bookings keep it equal to the sum
-- of the bookings of each resource and day, whatever statement writes them (scheduling, CancelOrder). A row at 0
-- stays (a plan reads only booked > 0). Applied in schema otd (search_path).
CREATE TABLE capacity_load (
    resource_id uuid NOT NULL,
    day         date NOT NULL,
    booked      bigint NOT NULL,
    PRIMARY KEY (resource_id, day)
);
INSERT INTO capacity_load (resource_id, day, booked)
SELECT resource_id, day, sum(quantity) FROM capacity_bookings GROUP BY 1, 2;

-- Adds each statement's change per resource and day, in (resource, day) order: two transactions changing the load
-- of the same days lock its rows in the same order.
CREATE FUNCTION capacity_load_apply() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO capacity_load AS l (resource_id, day, booked)
        SELECT resource_id, day, sum(quantity) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (resource_id, day) DO UPDATE SET booked = l.booked + excluded.booked;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO capacity_load AS l (resource_id, day, booked)
        SELECT resource_id, day, -sum(quantity) FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (resource_id, day) DO UPDATE SET booked = l.booked + excluded.booked;
    ELSE
        INSERT INTO capacity_load AS l (resource_id, day, booked)
        SELECT resource_id, day, sum(q) FROM (
            SELECT resource_id, day, quantity AS q FROM new_rows
            UNION ALL SELECT resource_id, day, -quantity FROM old_rows) t
        GROUP BY 1, 2 HAVING sum(q) <> 0 ORDER BY 1, 2
        ON CONFLICT (resource_id, day) DO UPDATE SET booked = l.booked + excluded.booked;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER capacity_bookings_load_insert AFTER INSERT ON capacity_bookings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION capacity_load_apply();
CREATE TRIGGER capacity_bookings_load_delete AFTER DELETE ON capacity_bookings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION capacity_load_apply();
CREATE TRIGGER capacity_bookings_load_update AFTER UPDATE ON capacity_bookings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION capacity_load_apply();

-- The load replaces the (resource, day) index for planning; the unique (order, resource, day) index serves the
-- per-order reads and the diff a run writes.
DROP INDEX capacity_bookings_resource_day_idx;
DROP INDEX capacity_bookings_order_idx;
