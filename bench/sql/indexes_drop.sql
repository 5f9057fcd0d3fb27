-- bench/sql/indexes_drop.sql - before a bulk load into schema :'s': records the definition of every primary key,
-- unique and foreign key constraint and every other index of the schema (public.bench_saved_ddl), then drops them.
-- Building an index once over the loaded rows is about twice as fast as maintaining it row by row for random uuid
-- keys. bench/sql/indexes_restore.sql puts everything back as it was (same names, same definitions). bench/run
-- creates public.bench_saved_ddl (schema text, ord int, ddl text, drop_ord int, drop_ddl text) once beforehand.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DELETE FROM public.bench_saved_ddl WHERE schema = :'s';
INSERT INTO public.bench_saved_ddl
SELECT :'s', CASE c.contype WHEN 'f' THEN 2 ELSE 1 END,
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)),
       CASE c.contype WHEN 'f' THEN 1 ELSE 2 END,
       format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname)
FROM pg_constraint c WHERE c.connamespace = :'s'::regnamespace AND c.contype IN ('p', 'u', 'f')
UNION ALL
SELECT :'s', 1, i.indexdef, 3, format('DROP INDEX %I.%I', i.schemaname, i.indexname)
FROM pg_indexes i WHERE i.schemaname = :'s'
  AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass);
SELECT drop_ddl FROM public.bench_saved_ddl WHERE schema = :'s' ORDER BY drop_ord \gexec
