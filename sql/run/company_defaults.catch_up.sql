-- A catch-up's company defaults (after company_defaults.target.sql has added the new ones, same
-- parameters): the ir_default rows earlier runs wrote follow the source's defaults. A default
-- whose value changed is updated (its before-image kept for `rollback`); a default the source no
-- longer has, or that the rules now leave out, is deleted with its mapping (both kept whole in
-- removed_rows). Returns (updated, deleted).
WITH source AS (
    SELECT u.*
    FROM unnest($2::int[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[])
         AS u(source_id, model, name, company_id, value_model, value_id, json_value, excluded, written_at)
),
resolved AS (
    SELECT s.source_id, s.written_at, f.id AS field_id, c.target_id AS company,
           COALESCE(s.json_value, v.target_id::text) AS json_value
    FROM source s
    JOIN public.ir_model_fields f ON f.model = s.model AND f.name = s.name AND f.company_dependent
    LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.source_id = s.company_id
    LEFT JOIN odoo_migrate.id_map v ON v.model = s.value_model AND v.source_id = s.value_id
    WHERE s.excluded IS NULL
      AND (s.company_id IS NULL OR c.target_id IS NOT NULL)
      AND (s.value_model IS NULL OR v.target_id IS NOT NULL)
      AND (s.value_model IS NOT NULL OR s.json_value IS NOT NULL)
),
earlier AS (
    SELECT m.source_id, m.target_id
    FROM odoo_migrate.id_map m
    JOIN odoo_migrate.runs r ON r.id = m.run_id AND r.status <> 'rolled_back'
    WHERE m.model = 'ir.property' AND m.run_id <> $1
),
changed AS (
    SELECT d.id, r.json_value, r.written_at
    FROM earlier e
    JOIN public.ir_default d ON d.id = e.target_id
    JOIN resolved r ON r.source_id = e.source_id
    WHERE d.json_value IS DISTINCT FROM r.json_value
),
imaged AS (
    INSERT INTO odoo_migrate.before_images (run_id, table_name, target_id, image)
    SELECT $1, 'ir_default', d.id, to_jsonb(d) FROM public.ir_default d JOIN changed c ON c.id = d.id
    ON CONFLICT DO NOTHING
    RETURNING 1
),
updated AS (
    UPDATE public.ir_default d SET json_value = c.json_value, write_date = c.written_at::timestamp
    FROM changed c WHERE d.id = c.id
    RETURNING d.id
),
vanished AS (
    SELECT e.* FROM earlier e WHERE NOT EXISTS (SELECT 1 FROM resolved r WHERE r.source_id = e.source_id)
),
gone AS (
    DELETE FROM public.ir_default d USING vanished v WHERE d.id = v.target_id RETURNING d.*
),
kept AS (
    INSERT INTO odoo_migrate.removed_rows (run_id, table_name, image)
    SELECT $1, 'ir_default', to_jsonb(g) FROM gone g
    RETURNING 1
),
unmapped AS (
    DELETE FROM odoo_migrate.id_map m USING vanished v
    WHERE m.model = 'ir.property' AND m.source_id = v.source_id
    RETURNING m.*
),
kept_mappings AS (
    INSERT INTO odoo_migrate.removed_rows (run_id, table_name, image)
    SELECT $1, 'odoo_migrate.id_map', to_jsonb(u) FROM unmapped u
    RETURNING 1
)
SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM gone),
       (SELECT count(*) FROM imaged) + (SELECT count(*) FROM kept) + (SELECT count(*) FROM kept_mappings) AS recorded
