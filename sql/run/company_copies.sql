-- Per-company copies of records that Odoo 16 shared between companies (rules' [[company_copies]]),
-- one statement per rule, completed by src/copy/company_copies.rs: the braced names stand for the
-- records' target table (as identifier and as literal), one SELECT per referrer giving
-- (original, company) for the rows the run created, the copy's columns and their values over the
-- original `g` and the plan `p`, one UPDATE per referrer and the sum of their counts.
-- $1 run id, $2 the records' Odoo 19 model, $3 their Odoo 16 model.
--
-- New ids (of the copies and of their external ids) follow the largest id of their table, in the
-- order (original, company), instead of being drawn from the sequences: a sequence keeps what a
-- killed transaction drew, so a resumed run would give other ids. The caller moves the sequences
-- past them in the same transaction.
WITH needed AS (
    SELECT DISTINCT n.original, n.company
    FROM ({references}) AS n(original, company)
    JOIN public.{table} g ON g.id = n.original
    WHERE n.company IS NOT NULL AND n.company <> g.company_id
),
named AS (
    -- A company-prefixed external id of the original (`<company>_<name>`) names the copy's.
    SELECT n.*, x.module, n.company || substr(x.name, length(g.company_id::text) + 1) AS name
    FROM needed n
    JOIN public.{table} g ON g.id = n.original
    LEFT JOIN LATERAL (
        SELECT d.module, d.name FROM public.ir_model_data d
        WHERE d.model = $2 AND d.res_id = g.id AND d.name LIKE g.company_id || '\_%'
        ORDER BY d.id LIMIT 1
    ) x ON true
    -- New ids follow this order, the same for the same source.
    ORDER BY n.original, n.company
),
found AS (
    -- The company's own record under that external id is used when the target has one.
    SELECT n.*, e.res_id AS own_id
    FROM named n
    LEFT JOIN public.ir_model_data e ON e.module = n.module AND e.name = n.name AND e.model = $2
),
planned AS (
    SELECT f.original, f.company, f.module, f.name, f.own_id IS NOT NULL AS existing,
           COALESCE(f.own_id, (SELECT coalesce(max(id), 0) FROM public.{table})::int
               + (row_number() OVER (PARTITION BY f.own_id IS NULL ORDER BY f.original, f.company))::int) AS copy_id,
           (SELECT coalesce(max(id), 0) FROM public.ir_model_data)::int
               + (row_number() OVER (PARTITION BY f.own_id IS NULL AND f.name IS NOT NULL
                                     ORDER BY f.original, f.company))::int AS xmlid_id
    FROM found f
),
copied AS (
    INSERT INTO public.{table} (id, {columns})
    SELECT p.copy_id, {values}
    FROM planned p JOIN public.{table} g ON g.id = p.original
    WHERE NOT p.existing
    RETURNING id
),
named_copies AS (
    INSERT INTO public.ir_model_data (id, module, name, model, res_id, noupdate, create_date, write_date)
    SELECT p.xmlid_id, p.module, p.name, $2, p.copy_id, true, g.create_date, g.write_date
    FROM planned p JOIN public.{table} g ON g.id = p.original
    WHERE NOT p.existing AND p.name IS NOT NULL
    ORDER BY p.copy_id
    RETURNING id
),
recorded AS (
    INSERT INTO odoo_migrate.copied_rows (run_id, model, target_model, table_name, target_id, copy_of, company_id)
    SELECT $1, $3, $2, {table_name}, p.copy_id, p.original, p.company
    FROM planned p
    WHERE NOT p.existing
    RETURNING 1
){repoint}
SELECT (SELECT count(*) FROM copied), (SELECT count(*) FROM planned WHERE existing),
       (SELECT count(*) FROM named_copies), {repointed}
