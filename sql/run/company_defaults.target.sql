-- Writes the company-wide defaults read from the source (company_defaults.source.sql, prepared by
-- the rules) as ir_default rows: the Odoo 19 company-dependent field of the same model and name
-- (the rules' `property` columns name renamed fields), the company and many2one values through
-- the mappings. A default that the target already has for that field and company (Odoo 19's own
-- chart of accounts sets several) is kept. Each row written is mapped as a created ir.property
-- record, so that `rollback` removes it; every source default left out is recorded as a problem.
-- $1 run id; then one array per column of the source rows; $9 why a rule leaves the row out;
-- $10 the source row's date, given to the row written.
WITH source AS (
    SELECT u.*
    FROM unnest($2::int[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[])
         AS u(source_id, model, name, company_id, value_model, value_id, json_value, excluded, written_at)
),
resolved AS (
    SELECT s.*, f.id AS field_id, c.target_id AS company, v.target_id AS value,
           CASE
               WHEN s.excluded IS NOT NULL THEN s.excluded
               WHEN f.id IS NULL THEN format('Odoo 19 has no company-dependent field %s.%s', s.model, s.name)
               WHEN s.company_id IS NOT NULL AND c.target_id IS NULL THEN format('company %s is not migrated', s.company_id)
               WHEN s.value_model IS NOT NULL AND v.target_id IS NULL
                   THEN format('the value %s,%s is not migrated', s.value_model, s.value_id)
               WHEN s.value_model IS NULL AND s.json_value IS NULL THEN 'the default has no value'
           END AS left_out
    FROM source s
    LEFT JOIN public.ir_model_fields f ON f.model = s.model AND f.name = s.name AND f.company_dependent
    LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.source_id = s.company_id
    LEFT JOIN odoo_migrate.id_map v ON v.model = s.value_model AND v.source_id = s.value_id
),
wanted AS (
    SELECT DISTINCT ON (r.field_id, r.company) r.*
    FROM resolved r
    WHERE r.left_out IS NULL
      AND NOT EXISTS (
          SELECT 1 FROM public.ir_default d
          WHERE d.field_id = r.field_id AND d.company_id IS NOT DISTINCT FROM r.company
            AND d.user_id IS NULL AND d.condition IS NULL)
    ORDER BY r.field_id, r.company, r.source_id
),
inserted AS (
    INSERT INTO public.ir_default (field_id, company_id, json_value, create_uid, write_uid, create_date, write_date)
    SELECT w.field_id, w.company, COALESCE(w.json_value, w.value::text), 1, 1,
           w.written_at::timestamp, w.written_at::timestamp
    FROM wanted w
    RETURNING id, field_id, company_id
),
mapped AS (
    INSERT INTO odoo_migrate.id_map (model, source_id, target_id, how, run_id)
    SELECT 'ir.property', w.source_id, i.id, 'created', $1
    FROM inserted i
    JOIN wanted w ON w.field_id = i.field_id AND w.company IS NOT DISTINCT FROM i.company_id
    RETURNING 1
),
reported AS (
    INSERT INTO odoo_migrate.problems (run_id, severity, kind, model, table_name, source_id, message)
    SELECT $1, 'info', 'default_not_migrated', 'ir.property', 'ir_property', r.source_id,
           format('company default of %s.%s (company %s) is not migrated: %s',
                  r.model, r.name, COALESCE(r.company_id::text, 'none'), r.left_out)
    FROM resolved r
    WHERE r.left_out IS NOT NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM source), (SELECT count(*) FROM mapped), (SELECT count(*) FROM reported)
