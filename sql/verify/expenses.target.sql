-- Expenses of the Odoo 19 target (ids translated back): per company, the expenses and their total
-- in company currency per state, and per employee and state (see expenses.source.sql for the
-- meaning of 16's reports in 19's states).
WITH e AS (
    SELECT c.source_id AS company_id, coalesce(em.source_id::text, 'unmapped') AS employee,
           e.total_amount AS total, e.state
    FROM hr_expense e
    LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = e.company_id
    LEFT JOIN odoo_migrate.id_map em ON em.model = 'hr.employee' AND em.target_id = e.employee_id
)
SELECT company_id,
       'state|' || state AS subject,
       count(*) AS expenses,
       round(sum(total), 2) AS total
FROM e
GROUP BY 1, 2
UNION ALL
SELECT company_id, 'employee ' || employee || '|' || state, count(*), round(sum(total), 2)
FROM e
GROUP BY 1, 2
