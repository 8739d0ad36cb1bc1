-- Sequences owned by a table column (serial ids), and the free-standing ones (ir_sequence numbering).
SELECT s.relname AS sequence_name,
       t.relname AS table_name,
       a.attname AS column_name
FROM pg_class s
JOIN pg_namespace n ON n.oid = s.relnamespace AND n.nspname = 'public'
LEFT JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
LEFT JOIN pg_class t ON t.oid = d.refobjid
LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE s.relkind = 'S'
ORDER BY s.relname
