-- Per-company copies of records that Odoo 16 shared between companies (rules' [[company_copies]]),
-- one statement per rule, completed by src/copies.rs: the braced names stand for the records'
-- target table (as identifier and as literal), its id sequence, one SELECT per referrer giving
-- (original, company) for the rows the run created, the copy's columns and their values over the
-- original `g` and the plan `p`, one UPDATE per referrer and the sum of their counts.
-- $1 run id, $2 the records' Odoo 19 model, $3 their Odoo 16 model.
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
    -- New ids are drawn in this order, the same for the same source.
    ORDER BY n.original, n.company
),
planned AS (
    -- The company's own record under that external id is used when the target has one.
    SELECT n.*, e.res_id IS NOT NULL AS existing,
           COALESCE(e.res_id, nextval({sequence}::regclass)::int) AS copy_id
    FROM named n
    LEFT JOIN public.ir_model_data e ON e.module = n.module AND e.name = n.name AND e.model = $2
),
copied AS (
    INSERT INTO public.{table} (id, {columns})
    SELECT p.copy_id, {values}
    FROM planned p JOIN public.{table} g ON g.id = p.original
    WHERE NOT p.existing
    RETURNING id
),
named_copies AS (
    INSERT INTO public.ir_model_data (module, name, model, res_id, noupdate, create_date, write_date)
    SELECT p.module, p.name, $2, p.copy_id, true, g.create_date, g.write_date
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
