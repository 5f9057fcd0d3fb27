-- bench/sql/functions.sql - the benchmark's helper in schema public of its databases (ltc and ltc_bench).
-- bench_id(kind, n): a deterministic uuid, the kind in its first 8 hex digits and n in the other 24. Every row of a
-- bulk-loaded deal gets bench_id(kind of that row, deal number), so all four schemas name the same deal, order,
-- invoice ... without a join (kinds: bench/sql/load_*.sql). Cheap on purpose: md5() goes through OpenSSL 3's EVP
-- fetch on every call here, which made it the largest cost of a bulk load and ~20% of a pgbench read.
\set ON_ERROR_STOP on
CREATE OR REPLACE FUNCTION public.bench_id(kind integer, n bigint) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (lpad(to_hex(kind), 8, '0') || lpad(to_hex(n), 24, '0'))::uuid $$;
GRANT EXECUTE ON FUNCTION public.bench_id(integer, bigint) TO PUBLIC;
