-- Repairs of the Odoo 19 target (company translated back): repair orders per state, and their
-- parts (stock moves of a repair with a repair_line_type) per kind and state; see
-- repairs.source.sql for 16's states.
SELECT c.source_id AS company_id,
       'repairs|' || r.state AS subject,
       count(*) AS repairs,
       round(sum(r.product_qty), 4) AS quantity
FROM repair_order r
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = r.company_id
GROUP BY 1, 2
UNION ALL
SELECT c.source_id, 'parts|' || m.repair_line_type || '|' || m.state, count(*), round(sum(m.product_uom_qty), 4)
FROM stock_move m
JOIN repair_order r ON r.id = m.repair_id
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = r.company_id
WHERE m.repair_line_type IS NOT NULL
GROUP BY 1, 2
