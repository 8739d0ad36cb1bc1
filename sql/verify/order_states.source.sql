-- Sale and purchase orders of the Odoo 16 source: per company, kind and state, the orders and
-- their total. 'done' is counted under 'sale' / 'purchase', as Odoo 19 has it (locked orders).
SELECT o.company_id,
       'sale|' || CASE o.state WHEN 'done' THEN 'sale' ELSE o.state END AS subject,
       count(*) AS orders,
       round(sum(o.amount_total), 2) AS total
FROM sale_order o
GROUP BY 1, 2
UNION ALL
SELECT o.company_id,
       'purchase|' || CASE o.state WHEN 'done' THEN 'purchase' ELSE o.state END,
       count(*),
       round(sum(o.amount_total), 2)
FROM purchase_order o
GROUP BY 1, 2
