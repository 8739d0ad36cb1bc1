-- Keeps the state of every sequence of the target before a run moves any, for `rollback`.
-- One statement; each sequence is read through query_to_xml with its name quoted by format(%I).
INSERT INTO odoo_migrate.sequence_states (run_id, sequence_name, last_value, is_called)
SELECT $1,
       c.relname,
       (xpath('/row/l/text()', x))[1]::text::bigint,
       (xpath('/row/c/text()', x))[1]::text::boolean
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
CROSS JOIN LATERAL query_to_xml(
    format('SELECT last_value AS l, is_called AS c FROM public.%I', c.relname), false, true, '') AS x
WHERE c.relkind = 'S'
ON CONFLICT DO NOTHING
