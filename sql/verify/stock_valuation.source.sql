-- Stock valuation of the Odoo 16 source: per company, the value and quantity of all valuation
-- layers.
SELECT v.company_id,
       'valuation' AS subject,
       round(sum(v.value), 2) AS value,
       round(sum(v.quantity)::numeric, 4) AS quantity
FROM stock_valuation_layer v
GROUP BY 1
