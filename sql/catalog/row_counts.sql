-- Exact row counts of the tables named in $1 (a batch of the catalog's tables, so that one
-- statement never holds a lock on every table of a large database at once: PostgreSQL's lock
-- table is sized by max_locks_per_transaction). The table name is quoted by format(%I).
SELECT t.name AS table_name,
       (xpath('/row/n/text()',
              query_to_xml(format('SELECT count(*) AS n FROM public.%I', t.name), false, true, '')))[1]::text::bigint
         AS row_count
FROM unnest($1::text[]) AS t(name)
