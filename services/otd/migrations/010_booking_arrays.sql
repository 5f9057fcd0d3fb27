-- OTD: capacity bookings as one row per (order, resource) with its days and the work on each as two parallel arrays
-- (docs/performance.md, "The scheduler"). A full ScheduleOrders books 10,000 orders on 2-3 resources each over a few
-- days: one row per (order, resource, day) was 33,000 rows, each with its heap tuple and primary-key entry; now it is
-- about 20,000, and a run writes only the (order, resource) rows whose days or work changed. The days are sorted and
-- distinct (the writer sorts them: a rerun compares the arrays as wholes). capacity_load (migration 007) stays the sum
-- per resource and day, kept by the same statement-level triggers, now unnesting the arrays; the references of the
-- rows written are checked once per statement as in migration 009. Existing bookings are carried over (capacity_load,
-- already their sum, is unchanged). Applied in schema otd (search_path).
CREATE TABLE capacity_bookings_arr (
    order_id    uuid NOT NULL,
    resource_id uuid NOT NULL,
    days        date[] NOT NULL,
    work        bigint[] NOT NULL,
    PRIMARY KEY (order_id, resource_id),
    CHECK (cardinality(days) > 0 AND cardinality(days) = cardinality(work) AND 0 < ALL (work)
           AND array_position(days, NULL) IS NULL)
);
INSERT INTO capacity_bookings_arr (order_id, resource_id, days, work)
SELECT order_id, resource_id, array_agg(day ORDER BY day), array_agg(quantity ORDER BY day)
FROM capacity_bookings GROUP BY order_id, resource_id;
DROP TABLE capacity_bookings; -- and its triggers (migration 007)
ALTER TABLE capacity_bookings_arr RENAME TO capacity_bookings;
ALTER INDEX capacity_bookings_arr_pkey RENAME TO capacity_bookings_pkey;

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
        SELECT n.resource_id, x.day, sum(x.w) FROM new_rows n, unnest(n.days, n.work) AS x(day, w)
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (resource_id, day) DO UPDATE SET booked = l.booked + excluded.booked;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO capacity_load AS l (resource_id, day, booked)
        SELECT o.resource_id, x.day, -sum(x.w) FROM old_rows o, unnest(o.days, o.work) AS x(day, w)
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (resource_id, day) DO UPDATE SET booked = l.booked + excluded.booked;
    ELSE
        INSERT INTO capacity_load AS l (resource_id, day, booked)
        SELECT resource_id, day, sum(q) FROM (
            SELECT n.resource_id, x.day, x.w AS q FROM new_rows n, unnest(n.days, n.work) AS x(day, w)
            UNION ALL SELECT o.resource_id, x.day, -x.w FROM old_rows o, unnest(o.days, o.work) AS x(day, w)) t
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
