-- Company-wide defaults of company-dependent fields: the ir_property rows without a record
-- (res_id NULL). Many2one values come as the model and id they name, to be remapped in the target;
-- numbers, booleans and dates as the JSON text Odoo 19 keeps in ir_default.json_value; texts and
-- selections raw, for the rules' value maps.
SELECT p.id,
       f.model::text,
       f.name::text,
       p.company_id,
       p.type::text,
       CASE WHEN p.type = 'many2one' THEN NULLIF(split_part(p.value_reference, ',', 1), '') END AS value_model,
       CASE WHEN p.type = 'many2one' AND split_part(p.value_reference, ',', 2) ~ '^[0-9]+$'
            THEN split_part(p.value_reference, ',', 2)::int END AS value_id,
       CASE WHEN p.type IN ('char', 'text', 'selection', 'html') THEN p.value_text END AS value_text,
       CASE p.type
            WHEN 'float' THEN to_jsonb(p.value_float)::text
            WHEN 'monetary' THEN to_jsonb(p.value_float)::text
            WHEN 'integer' THEN to_jsonb(p.value_integer)::text
            WHEN 'boolean' THEN to_jsonb(COALESCE(p.value_integer, 0) <> 0)::text
            WHEN 'date' THEN to_jsonb(to_char(p.value_datetime, 'YYYY-MM-DD'))::text
            WHEN 'datetime' THEN to_jsonb(to_char(p.value_datetime, 'YYYY-MM-DD HH24:MI:SS'))::text
       END AS value_json,
       COALESCE(p.write_date, p.create_date)::text AS written_at
FROM public.ir_property p
JOIN public.ir_model_fields f ON f.id = p.fields_id
WHERE p.res_id IS NULL
ORDER BY p.id
