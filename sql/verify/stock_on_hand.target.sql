-- Stock on hand of the Odoo 19 target, company, product and location ids translated back.
SELECT c.source_id AS company_id,
       'product ' || coalesce(p.source_id::text, 'unmapped') || '|location ' || coalesce(l.source_id::text, 'unmapped') AS subject,
       round(sum(q.quantity)::numeric, 4) AS quantity
FROM stock_quant q
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = q.company_id
LEFT JOIN odoo_migrate.id_map p ON p.model = 'product.product' AND p.target_id = q.product_id
LEFT JOIN odoo_migrate.id_map l ON l.model = 'stock.location' AND l.target_id = q.location_id
GROUP BY 1, 2
HAVING round(sum(q.quantity)::numeric, 4) <> 0
