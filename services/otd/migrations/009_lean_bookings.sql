-- OTD: capacity bookings written leanly (docs/performance.md, "The scheduler"). A full ScheduleOrders writes tens of
-- thousands of bookings in one statement; per row that cost a random-uuid primary key, a bigserial with its unique
-- index, a creation time nobody reads and two foreign-key triggers (one query each, and a share lock on the order and
-- the resource). A booking is identified by (order, resource, day), its unique key, now the primary key; the
-- references are checked once per statement, set-wise, by the triggers that keep capacity_load (migration 007).
-- Orders and resources are never deleted (no code path deletes them), so a check at write time is the whole check.
-- Existing rows keep their (order, resource, day, quantity). Applied in schema otd (search_path).
ALTER TABLE capacity_bookings
    DROP CONSTRAINT capacity_bookings_resource_id_fkey,
    DROP CONSTRAINT capacity_bookings_order_id_fkey,
    DROP COLUMN id,
    DROP COLUMN seq,
    DROP COLUMN create_time;
ALTER TABLE capacity_bookings
    DROP CONSTRAINT capacity_bookings_order_id_resource_id_day_key,
    ADD PRIMARY KEY (order_id, resource_id, day);

-- As in migration 007, plus the references of the rows written: one anti-join per statement over the distinct ids
-- (a run's 33,000 bookings name 10,000 orders and 50 resources) instead of two foreign-key queries per row.
CREATE OR REPLACE FUNCTION capacity_load_apply() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    bad text;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT coalesce((SELECT 'order ' || n.order_id FROM (SELECT DISTINCT order_id FROM new_rows) n
                         WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = n.order_id) LIMIT 1),
                        (SELECT 'resource ' || n.resource_id FROM (SELECT DISTINCT resource_id FROM new_rows) n
                         WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.id = n.resource_id) LIMIT 1))
        INTO bad;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'capacity_bookings: % does not exist', bad USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
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
