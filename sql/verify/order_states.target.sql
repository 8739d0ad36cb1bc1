-- Sale and purchase orders of the Odoo 19 target, company ids translated back to the source's.
SELECT c.source_id AS company_id,
       'sale|' || o.state AS subject,
       count(*) AS orders,
       round(sum(o.amount_total), 2) AS total
FROM sale_order o
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = o.company_id
GROUP BY 1, 2
UNION ALL
SELECT c.source_id,
       'purchase|' || o.state,
       count(*),
       round(sum(o.amount_total), 2)
FROM purchase_order o
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = o.company_id
GROUP BY 1, 2
