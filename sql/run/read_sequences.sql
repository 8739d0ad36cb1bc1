-- The state of every sequence of the public schema, read in one statement; each sequence is read
-- through query_to_xml with its name quoted by format(%I).
SELECT c.relname::text,
       (xpath('/row/l/text()', x))[1]::text::bigint,
       (xpath('/row/c/text()', x))[1]::text::boolean
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
CROSS JOIN LATERAL query_to_xml(
    format('SELECT last_value AS l, is_called AS c FROM public.%I', c.relname), false, true, '') AS x
WHERE c.relkind = 'S'
