-- Odoo's field catalog as JSON objects, so that columns added or retyped between versions
-- (company_dependent, translate boolean -> varchar) are read the same way on both sides.
SELECT to_jsonb(f) AS field FROM ir_model_fields f ORDER BY f.model, f.name
