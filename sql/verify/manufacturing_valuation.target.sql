-- Stock valuation of manufacturing in the Odoo 19 target: per company (translated back), the
-- value of manufacturing orders' valued moves and their quantity, negative for what leaves the
-- valuation (components consumed), as 16's layers count it.
SELECT c.source_id AS company_id,
       CASE WHEN m.production_id IS NOT NULL THEN 'finished products' ELSE 'components' END AS subject,
       round(sum(m.value), 2) AS value,
       round(sum(CASE WHEN m.is_out THEN -m.quantity ELSE m.quantity END)::numeric, 4) AS quantity
FROM stock_move m
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = m.company_id
WHERE m.value IS NOT NULL
  AND (m.production_id IS NOT NULL OR m.raw_material_production_id IS NOT NULL)
GROUP BY 1, 2
