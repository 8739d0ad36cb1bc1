-- Manufacturing orders of the Odoo 16 source: per company, the orders per state (count, quantity
-- to produce, quantity being produced), the quantity produced per finished product (done moves
-- of an order's finished products) and the components consumed per product (done moves of an
-- order's raw materials, and what was recorded as consumed on moves not done yet: 16's
-- quantity_done, which 19 keeps as the quantity of a picked move). The states are the same in
-- 16 and 19 (draft, confirmed, progress, to_close, done, cancel).
SELECT p.company_id,
       'orders|' || p.state AS subject,
       count(*) AS orders,
       round(sum(p.product_qty), 4) AS to_produce,
       round(coalesce(sum(p.qty_producing), 0), 4) AS producing
FROM mrp_production p
GROUP BY 1, 2
UNION ALL
SELECT m.company_id, 'produced|product ' || m.product_id, count(*),
       round(sum(m.quantity_done) FILTER (WHERE m.state = 'done'), 4), NULL
FROM stock_move m
WHERE m.production_id IS NOT NULL AND m.state = 'done'
GROUP BY 1, 2
UNION ALL
SELECT m.company_id, 'consumed|product ' || m.product_id, count(*),
       round(coalesce(sum(m.quantity_done) FILTER (WHERE m.state = 'done'), 0), 4),
       round(coalesce(sum(m.quantity_done) FILTER (WHERE m.state NOT IN ('done', 'cancel')), 0), 4)
FROM stock_move m
WHERE m.raw_material_production_id IS NOT NULL
GROUP BY 1, 2
