-- Landed costs of the Odoo 19 target (company translated back): one row per company and one per
-- state, with the landed costs, their amount and the additional cost of their adjustment lines.
-- Odoo 19's landed cost has a company of its own: it is its journal's. A company of the target's
-- own (not migrated) shows only when it has landed costs.
WITH lc AS (
    SELECT l.company_id, l.state, l.amount_total,
           (SELECT sum(a.additional_landed_cost) FROM stock_valuation_adjustment_lines a WHERE a.cost_id = l.id) AS added
    FROM stock_landed_cost l
)
SELECT m.source_id AS company_id,
       'landed costs' AS subject,
       count(lc.company_id) AS costs,
       round(coalesce(sum(lc.amount_total), 0), 2) AS amount,
       round(coalesce(sum(lc.added), 0), 2) AS added
FROM res_company c
LEFT JOIN odoo_migrate.id_map m ON m.model = 'res.company' AND m.target_id = c.id
LEFT JOIN lc ON lc.company_id = c.id
GROUP BY 1, 2
HAVING bool_or(m.source_id IS NOT NULL) OR count(lc.company_id) > 0
UNION ALL
SELECT m.source_id, 'landed costs|' || lc.state, count(*), round(sum(lc.amount_total), 2), round(coalesce(sum(lc.added), 0), 2)
FROM lc
LEFT JOIN odoo_migrate.id_map m ON m.model = 'res.company' AND m.target_id = lc.company_id
GROUP BY 1, 2
