-- bench/sql/indexes_restore.sql - after a bulk load into schema :'s': recreates what indexes_drop.sql recorded, indexes
-- and unique constraints first, then the foreign keys (each validated over the whole table).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET maintenance_work_mem = '256MB';
SELECT ddl FROM public.bench_saved_ddl WHERE schema = :'s' ORDER BY ord \gexec
DELETE FROM public.bench_saved_ddl WHERE schema = :'s';
