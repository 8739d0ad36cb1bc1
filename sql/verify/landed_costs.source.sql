-- Landed costs of the Odoo 16 source: per company (16 has none on the landed cost: its journal's),
-- one row per company (zero when it has none) and one per state: the landed costs, their amount
-- and the additional cost their valuation adjustment lines put on the moves. The states
-- (draft, done, cancel) are the same in 19. The value they added to the stock is in the
-- valuation layers, compared by stock-valuation.
WITH lc AS (
    SELECT j.company_id, l.state, l.amount_total,
           (SELECT sum(a.additional_landed_cost) FROM stock_valuation_adjustment_lines a WHERE a.cost_id = l.id) AS added
    FROM stock_landed_cost l
    JOIN account_journal j ON j.id = l.account_journal_id
)
SELECT c.id AS company_id,
       'landed costs' AS subject,
       count(lc.company_id) AS costs,
       round(coalesce(sum(lc.amount_total), 0), 2) AS amount,
       round(coalesce(sum(lc.added), 0), 2) AS added
FROM res_company c
LEFT JOIN lc ON lc.company_id = c.id
GROUP BY 1, 2
UNION ALL
SELECT company_id, 'landed costs|' || state, count(*), round(sum(amount_total), 2), round(coalesce(sum(added), 0), 2)
FROM lc
GROUP BY 1, 2
