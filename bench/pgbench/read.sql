-- A primary-key read of one record (the shape of GetLead's query: every column, times as microseconds).
\set n random(1, :rows)
SELECT id::text, company_name, contact_name, contact_email, state, version, seq,
       (extract(epoch FROM create_time) * 1000000)::bigint, (extract(epoch FROM update_time) * 1000000)::bigint
FROM records WHERE id = bench_id(0, :n);
