-- Stock valuation of the Odoo 19 target, where valuation layers are gone and each stock move
-- carries its value: per company, the value of the moves that have one and their quantity. A
-- layer of the source that belonged to no move has no place here and shows as a difference.
SELECT c.source_id AS company_id,
       'valuation' AS subject,
       round(sum(m.value), 2) AS value,
       round(sum(CASE WHEN m.is_out THEN -m.quantity ELSE m.quantity END)::numeric, 4) AS quantity
FROM stock_move m
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = m.company_id
WHERE m.value IS NOT NULL
GROUP BY 1
