-- Stock valuation of manufacturing in the Odoo 16 source: per company, the value and quantity
-- of the valuation layers of manufacturing orders' moves, finished products (moves of
-- production_id) apart from components (moves of raw_material_production_id). In 19 the layers
-- are gone and each move carries its value (see stock_valuation.target.sql).
SELECT v.company_id,
       CASE WHEN m.production_id IS NOT NULL THEN 'finished products' ELSE 'components' END AS subject,
       round(sum(v.value), 2) AS value,
       round(sum(v.quantity)::numeric, 4) AS quantity
FROM stock_valuation_layer v
JOIN stock_move m ON m.id = v.stock_move_id
WHERE m.production_id IS NOT NULL OR m.raw_material_production_id IS NOT NULL
GROUP BY 1, 2
