-- Stock on hand of the Odoo 16 source: per company, product and location, the quantity of the
-- quants.
SELECT q.company_id,
       'product ' || q.product_id || '|location ' || q.location_id AS subject,
       round(sum(q.quantity)::numeric, 4) AS quantity
FROM stock_quant q
GROUP BY 1, 2
HAVING round(sum(q.quantity)::numeric, 4) <> 0
