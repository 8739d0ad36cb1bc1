-- Manufacturing orders of the Odoo 19 target, ids translated back to the source's: per company,
-- orders per state, quantity produced per finished product (done moves), components consumed per
-- product: done moves, and the quantity of the picked lines of moves not done yet, in the move's
-- unit (19's record of a partial consumption: validating a picked move drops its unpicked lines,
-- which are only reserved).
SELECT c.source_id AS company_id,
       'orders|' || p.state AS subject,
       count(*) AS orders,
       round(sum(p.product_qty), 4) AS to_produce,
       round(coalesce(sum(p.qty_producing), 0), 4) AS producing
FROM mrp_production p
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = p.company_id
GROUP BY 1, 2
UNION ALL
SELECT c.source_id, 'produced|product ' || coalesce(pr.source_id::text, 'unmapped'), count(*),
       round(sum(m.quantity), 4), NULL
FROM stock_move m
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = m.company_id
LEFT JOIN odoo_migrate.id_map pr ON pr.model = 'product.product' AND pr.target_id = m.product_id
WHERE m.production_id IS NOT NULL AND m.state = 'done'
GROUP BY 1, 2
UNION ALL
SELECT c.source_id, 'consumed|product ' || coalesce(pr.source_id::text, 'unmapped'), count(*),
       round(coalesce(sum(m.quantity) FILTER (WHERE m.state = 'done'), 0), 4),
       round(coalesce(sum((SELECT sum(l.quantity * lu.factor / NULLIF(mu.factor, 0)) FROM stock_move_line l
                                  JOIN uom_uom lu ON lu.id = l.product_uom_id JOIN uom_uom mu ON mu.id = m.product_uom
                                  WHERE l.move_id = m.id AND l.picked))
                          FILTER (WHERE m.state NOT IN ('done', 'cancel')), 0), 4)
FROM stock_move m
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = m.company_id
LEFT JOIN odoo_migrate.id_map pr ON pr.model = 'product.product' AND pr.target_id = m.product_id
WHERE m.raw_material_production_id IS NOT NULL
GROUP BY 1, 2
