-- A stored response compressed with lz4, not pglz (issue #15, docs/performance.md "The scheduler"). The response of
-- a write is kept with its idempotency key for replays; a scheduling run's is half a megabyte (every promise that
-- moved), and pglz spent 20 ms of the run's transaction on it only to give up (protobuf of ids barely compresses;
-- pglz stops when its first kilobytes do not shrink). lz4 takes 7-11 ms for the same bytes and keeps what it can.
-- A server built without lz4 keeps pglz. Applies to rows written from now on. Applied in each stage's schema.
DO $$
BEGIN
    ALTER TABLE idempotency_keys ALTER COLUMN response SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 not supported by this server: idempotency_keys.response stays pglz';
END
$$;
