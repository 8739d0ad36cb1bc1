-- After the rules' final SQL, in its transaction: records in odoo_migrate.final_sql_objects what it
-- created — the tables, columns, constraints and indexes that were not there before
-- (final_sql_before.sql), and the rows past each table's largest id of before ({run_id} is
-- replaced by the run's id). Objects of a table it created are dropped with the table.
INSERT INTO odoo_migrate.final_sql_objects (run_id, kind, table_name, name)
SELECT {run_id}, o.kind, o.table_name, o.name FROM (
    SELECT 'table' AS kind, c.relname::text AS table_name, c.relname::text AS name, 1 AS step
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    UNION ALL
    SELECT 'column', c.relname::text, a.attname::text, 2
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'constraint', c.relname::text, k.conname::text, 3
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
    UNION ALL
    SELECT 'index', c.relname::text, i.relname::text, 4
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
) o
WHERE NOT EXISTS (SELECT 1 FROM pg_temp.odoo_migrate_objects_before b
                  WHERE b.kind = o.kind AND b.table_name = o.table_name AND b.name = o.name)
  AND (o.kind = 'table' OR EXISTS (SELECT 1 FROM pg_temp.odoo_migrate_objects_before b
                                   WHERE b.kind = 'table' AND b.table_name = o.table_name))
ORDER BY o.step, o.table_name, o.name
ON CONFLICT DO NOTHING;

DO $new_rows$
DECLARE
  t text;
  last bigint;
BEGIN
  FOR t, last IN SELECT table_name, last_id FROM pg_temp.odoo_migrate_last_ids ORDER BY table_name LOOP
    EXECUTE format('INSERT INTO odoo_migrate.final_sql_objects (run_id, kind, table_name, name) '
                   'SELECT %s, ''row'', %L, id::text FROM public.%I WHERE id > %s ORDER BY id ON CONFLICT DO NOTHING',
                   {run_id}, t, t, last);
  END LOOP;
END
$new_rows$;
