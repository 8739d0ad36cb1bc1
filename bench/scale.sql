-- Grows an Odoo 16 database by a factor, inside PostgreSQL, for the benchmark.
--
--   psql -v factor=100 -d DATABASE -f bench/scale.sql      (bench/run.sh runs it)
--
-- Every business record of the tables listed below is copied factor - 1 times. Copy k of a row
-- gets the id `id + k * span(table)`, where span is the table's largest id before scaling, and
-- every reference to a scaled table is shifted the same way: many2one columns (found through the
-- foreign keys of the catalog), `res_model`/`res_id` and `model`/`res_id` pairs naming a scaled
-- model, and the many2many tables between them. A copy therefore points only at its own copies of
-- partners, products, moves, orders, pickings and messages, and at the shared reference data
-- (companies, accounts, taxes, journals, units, locations): journal entries still balance,
-- invoices keep their taxes, quants their products. Text columns under a unique index (document
-- names) get a `-k` suffix so that they stay unique.
--
-- Foreign keys are not checked row by row during the load (session_replication_role = replica);
-- every single-column foreign key that touches a scaled table is checked at the end, and the
-- script fails if one row points nowhere, as it does if a journal entry does not balance.

\set ON_ERROR_STOP on
\if :{?factor}
\else
  \echo 'usage: psql -v factor=N -d DATABASE -f bench/scale.sql'
  \quit
\endif

SELECT set_config('odoo_migrate_bench.factor', :'factor', false);
SET session_replication_role = replica;
SET synchronous_commit = off;

BEGIN;

CREATE TEMP TABLE scaled (table_name text PRIMARY KEY, model text, span bigint, keep text);
INSERT INTO scaled (table_name, model)
SELECT t, replace(t, '_', '.')
FROM unnest(ARRAY[
    'res_partner', 'product_template', 'product_product', 'product_supplierinfo',
    'account_move', 'account_move_line', 'account_partial_reconcile', 'account_full_reconcile',
    'account_payment', 'account_bank_statement_line',
    'sale_order', 'sale_order_line', 'purchase_order', 'purchase_order_line',
    'procurement_group', 'stock_picking', 'stock_move', 'stock_move_line', 'stock_quant',
    'stock_valuation_layer', 'crm_lead',
    'mail_message', 'mail_followers', 'mail_tracking_value', 'mail_notification', 'mail_activity'
]) AS t
WHERE to_regclass(format('public.%I', t)) IS NOT NULL;

-- Model names from Odoo's own catalog, where the table name does not say it.
UPDATE scaled s SET model = m.model FROM ir_model m
WHERE replace(m.model, '.', '_') = s.table_name;

-- The conditions under which a row of `relation` is copied: each of its references to a scaled
-- table whose rows are not all copied must point at a copied row.
CREATE FUNCTION pg_temp.kept_references(relation regclass) RETURNS text[] LANGUAGE sql AS $$
    SELECT coalesce(array_agg(format('(x.%1$I IS NULL OR EXISTS (SELECT 1 FROM public.%2$I p WHERE p.id = x.%1$I AND %3$s))',
                                     a.attname, s.table_name, replace(s.keep, '{t}', 'p'))), ARRAY[]::text[])
    FROM pg_constraint f
    JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = f.conkey[1]
    JOIN pg_class p ON p.oid = f.confrelid
    JOIN scaled s ON s.table_name = p.relname AND s.keep IS NOT NULL
    WHERE f.contype = 'f' AND f.conrelid = relation AND array_length(f.conkey, 1) = 1
$$;

DO $scale$
DECLARE
    max_id bigint;
    orphans bigint;
    factor int := current_setting('odoo_migrate_bench.factor')::int;
    entry record;
    rel record;
    col record;
    expressions text[];
    columns text[];
    shift_res_id text;
    model_column text;
    sql text;
    conditions text[];
BEGIN
    IF factor IS NULL OR factor < 2 THEN
        RAISE EXCEPTION 'factor must be 2 or more, got %', factor;
    END IF;
    IF to_regclass('odoo_migrate_bench.scaled') IS NOT NULL THEN
        RAISE EXCEPTION 'this database was already scaled (odoo_migrate_bench.scaled exists); restore the dump again';
    END IF;

    FOR entry IN SELECT table_name FROM scaled LOOP
        EXECUTE format('SELECT coalesce(max(id), 0) FROM public.%I', entry.table_name) INTO max_id;
        UPDATE scaled SET span = max_id WHERE table_name = entry.table_name;
    END LOOP;
    DELETE FROM scaled WHERE span = 0;

    -- Chatter, followers and activities are copied only for the records that are copied: a
    -- message about a chart template copied a hundred times would be no one's data. The predicate
    -- is written for the alias {t}; rows that point at a row left out are left out as well.
    UPDATE scaled s SET keep = format('({t}.%1$I IS NULL OR {t}.%1$I IN (%2$s))', a.attname,
                                      (SELECT string_agg(quote_literal(model), ', ') FROM scaled))
    FROM pg_attribute a
    WHERE a.attrelid = format('public.%I', s.table_name)::regclass
      AND a.attname IN ('res_model', 'model') AND NOT a.attisdropped;

    -- Tables with an id: one INSERT … SELECT per table for all copies at once.
    FOR entry IN SELECT * FROM scaled ORDER BY table_name LOOP
        expressions := ARRAY[]::text[];
        columns := ARRAY[]::text[];
        conditions := ARRAY[format('x.id <= %s', entry.span)]
                      || coalesce(replace(entry.keep, '{t}', 'x'), 'true')
                      || pg_temp.kept_references(format('public.%I', entry.table_name)::regclass);
        model_column := NULL;
        SELECT a.attname INTO model_column FROM pg_attribute a
        WHERE a.attrelid = format('public.%I', entry.table_name)::regclass
          AND a.attname IN ('res_model', 'model') AND NOT a.attisdropped
        ORDER BY a.attname DESC LIMIT 1;
        FOR col IN
            SELECT a.attname, t.typcategory,
                   (SELECT s.span FROM pg_constraint c JOIN pg_class p ON p.oid = c.confrelid
                    JOIN scaled s ON s.table_name = p.relname
                    WHERE c.contype = 'f' AND c.conrelid = a.attrelid AND c.conkey = ARRAY[a.attnum]
                    LIMIT 1) AS referenced_span,
                   EXISTS (SELECT 1 FROM pg_index i
                           WHERE i.indrelid = a.attrelid AND i.indisunique AND NOT i.indisprimary
                             AND a.attnum = ANY(i.indkey)) AS in_unique_index
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = format('public.%I', entry.table_name)::regclass
              AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
            ORDER BY a.attnum
        LOOP
            columns := columns || format('%I', col.attname);
            IF col.attname = 'id' THEN
                expressions := expressions || format('id + k * %s', entry.span);
            ELSIF col.referenced_span IS NOT NULL THEN
                expressions := expressions || format('%I + k * %s', col.attname, col.referenced_span);
            ELSIF col.attname = 'res_id' AND model_column IS NOT NULL THEN
                SELECT format('CASE WHEN res_id IS NULL OR res_id = 0 THEN res_id %s ELSE res_id END',
                              coalesce(string_agg(format('WHEN %I = %L THEN res_id + k * %s',
                                                         model_column, s.model, s.span), ' '), ''))
                INTO shift_res_id FROM scaled s;
                expressions := expressions || shift_res_id;
            ELSIF col.in_unique_index AND col.typcategory = 'S'
                  AND col.attname NOT IN ('res_model', 'model', 'combination_indices') THEN
                expressions := expressions || format('%I || ''-'' || k', col.attname);
            ELSE
                expressions := expressions || format('%I', col.attname);
            END IF;
        END LOOP;
        sql := format('INSERT INTO public.%I (%s) SELECT %s FROM public.%I x CROSS JOIN generate_series(1, %s) AS k WHERE %s',
                      entry.table_name, array_to_string(columns, ', '), array_to_string(expressions, ', '),
                      entry.table_name, factor - 1, array_to_string(conditions, ' AND '));
        EXECUTE sql;
        EXECUTE format('SELECT setval(%L, (SELECT max(id) FROM public.%I))',
                       pg_get_serial_sequence(format('public.%I', entry.table_name), 'id'), entry.table_name);
    END LOOP;

    -- Many2many tables (no id of their own) with a side in a scaled table: copy k joins copy k.
    FOR rel IN
        SELECT c.oid::regclass AS relation, c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
        WHERE c.relkind = 'r'
          AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'id')
          AND EXISTS (SELECT 1 FROM pg_constraint f JOIN pg_class p ON p.oid = f.confrelid
                      JOIN scaled s ON s.table_name = p.relname
                      WHERE f.conrelid = c.oid AND f.contype = 'f')
        ORDER BY c.relname
    LOOP
        expressions := ARRAY[]::text[];
        columns := ARRAY[]::text[];
        FOR col IN
            SELECT a.attname,
                   (SELECT s.span FROM pg_constraint f JOIN pg_class p ON p.oid = f.confrelid
                    JOIN scaled s ON s.table_name = p.relname
                    WHERE f.contype = 'f' AND f.conrelid = a.attrelid AND f.conkey = ARRAY[a.attnum]
                    LIMIT 1) AS referenced_span
            FROM pg_attribute a
            WHERE a.attrelid = rel.relation AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
        LOOP
            columns := columns || format('%I', col.attname);
            IF col.referenced_span IS NOT NULL THEN
                expressions := expressions || format('%I + k * %s', col.attname, col.referenced_span);
            ELSE
                expressions := expressions || format('%I', col.attname);
            END IF;
        END LOOP;
        EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM %s x CROSS JOIN generate_series(1, %s) AS k WHERE %s',
                       rel.relation, array_to_string(columns, ', '), array_to_string(expressions, ', '),
                       rel.relation, factor - 1, array_to_string(pg_temp.kept_references(rel.relation) || 'true'::text, ' AND '));
        INSERT INTO scaled (table_name, model, span) VALUES (rel.relname, NULL, NULL);
    END LOOP;

    -- Every single-column foreign key from or to a scaled table must hold.
    FOR rel IN
        SELECT f.conname, c.relname AS child, a.attname AS child_column, p.relname AS parent,
               pa.attname AS parent_column
        FROM pg_constraint f
        JOIN pg_class c ON c.oid = f.conrelid
        JOIN pg_class p ON p.oid = f.confrelid
        JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = f.conkey[1]
        JOIN pg_attribute pa ON pa.attrelid = f.confrelid AND pa.attnum = f.confkey[1]
        WHERE f.contype = 'f' AND array_length(f.conkey, 1) = 1
          AND (c.relname IN (SELECT table_name FROM scaled) OR p.relname IN (SELECT table_name FROM scaled))
    LOOP
        EXECUTE format('SELECT count(*) FROM public.%I x WHERE x.%I IS NOT NULL AND NOT EXISTS '
                       '(SELECT 1 FROM public.%I y WHERE y.%I = x.%I)',
                       rel.child, rel.child_column, rel.parent, rel.parent_column, rel.child_column)
            INTO orphans;
        IF orphans > 0 THEN
            RAISE EXCEPTION 'scaling broke foreign key % (%.% → %): % row(s) point nowhere',
                rel.conname, rel.child, rel.child_column, rel.parent, orphans;
        END IF;
    END LOOP;

    IF EXISTS (SELECT 1 FROM account_move_line GROUP BY move_id
               HAVING round(sum(debit) - sum(credit), 2) <> 0) THEN
        RAISE EXCEPTION 'scaling produced an unbalanced journal entry';
    END IF;

    -- Outside `public`, so that the migration does not see it.
    CREATE SCHEMA odoo_migrate_bench;
    CREATE TABLE odoo_migrate_bench.scaled AS SELECT factor, now() AS scaled_at;
END
$scale$;

COMMIT;
RESET session_replication_role;
ANALYZE;

SELECT table_name, span AS largest_id_before, (SELECT factor FROM odoo_migrate_bench.scaled) AS factor
FROM scaled WHERE span IS NOT NULL ORDER BY table_name;
