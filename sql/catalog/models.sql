-- Odoo's model catalog; abstract exists only from 17 on, so the row is read as JSON.
SELECT to_jsonb(m) AS model FROM ir_model m ORDER BY m.model
