-- Before the rules' final SQL, in its transaction: the target's tables, columns, constraints and
-- indexes, and the largest id of every table of the public schema with an integer id that the
-- statements name (the placeholder in the loop below is their text, as a literal). Compared with
-- the target after it by final_sql_after.sql.
CREATE TEMP TABLE odoo_migrate_objects_before ON COMMIT DROP AS
SELECT kind, table_name, name FROM (
    SELECT 'table' AS kind, c.relname::text AS table_name, c.relname::text AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    UNION ALL
    SELECT 'column', c.relname::text, a.attname::text
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'constraint', c.relname::text, k.conname::text
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
    UNION ALL
    SELECT 'index', c.relname::text, i.relname::text
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
) o;

CREATE TEMP TABLE odoo_migrate_last_ids (table_name text PRIMARY KEY, last_id bigint NOT NULL) ON COMMIT DROP;

DO $last_ids$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped
      WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.atttypid IN ('int4'::regtype, 'int8'::regtype)
        -- Only the tables the statements name (a name inside another counts too): the others
        -- cannot gain rows, and reading every table would lock every table until commit.
        AND strpos({statements}, c.relname) > 0 LOOP
    EXECUTE format('INSERT INTO pg_temp.odoo_migrate_last_ids SELECT %L, COALESCE(max(id), 0) FROM public.%I', t, t);
  END LOOP;
END
$last_ids$;
