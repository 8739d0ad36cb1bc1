-- The indexes of the given public tables that nothing depends on: not unique, not a primary key
-- or exclusion index, not backing a constraint, valid; with the statement that builds each.
-- $1: table names.
SELECT c.relname::text AS table_name,
       ic.relname::text AS index_name,
       pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE c.relname = ANY($1::text[])
  AND NOT i.indisunique
  AND NOT i.indisprimary
  AND NOT i.indisexclusion
  AND i.indisvalid
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY 1, 2
