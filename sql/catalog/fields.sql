-- Odoo's field catalog. `{columns}` is filled by the catalog reader: the columns it needs, each as
-- text, or NULL where this version's ir_model_fields lacks it.
SELECT {columns} FROM ir_model_fields f ORDER BY f.model, f.name
