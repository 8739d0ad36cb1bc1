-- Timesheets of the Odoo 19 target, ids translated back to the source's: per company, the hours
-- per project (all, of a sale order line, invoiced), per employee, per invoicing type and per
-- invoice. Odoo 19's own lines (0 hours, made by its project app) add no hours.
WITH l AS (
    SELECT c.source_id AS company_id,
           coalesce(p.source_id::text, 'unmapped') AS project,
           CASE WHEN l.employee_id IS NULL THEN 'none' ELSE coalesce(e.source_id::text, 'unmapped') END AS employee,
           l.unit_amount,
           to_jsonb(l) ->> 'so_line' AS so_line,
           to_jsonb(l) ->> 'timesheet_invoice_id' AS invoice,
           to_jsonb(l) ->> 'timesheet_invoice_type' AS invoice_type
    FROM account_analytic_line l
    LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = l.company_id
    LEFT JOIN odoo_migrate.id_map p ON p.model = 'project.project' AND p.target_id = l.project_id
    LEFT JOIN odoo_migrate.id_map e ON e.model = 'hr.employee' AND e.target_id = l.employee_id
    WHERE l.project_id IS NOT NULL
)
SELECT company_id,
       'project ' || project AS subject,
       round(sum(unit_amount)::numeric, 2) AS hours,
       round(coalesce(sum(unit_amount) FILTER (WHERE so_line IS NOT NULL), 0)::numeric, 2) AS ordered,
       round(coalesce(sum(unit_amount) FILTER (WHERE invoice IS NOT NULL), 0)::numeric, 2) AS invoiced
FROM l
GROUP BY 1, 2
UNION ALL
SELECT company_id, 'employee ' || employee, round(sum(unit_amount)::numeric, 2), NULL, NULL
FROM l
GROUP BY 1, 2
UNION ALL
SELECT company_id, 'invoicing ' || coalesce(invoice_type, 'none'), round(sum(unit_amount)::numeric, 2), NULL, NULL
FROM l
GROUP BY 1, 2
UNION ALL
SELECT l.company_id, 'invoice ' || coalesce(m.source_id::text, 'unmapped'), round(sum(l.unit_amount)::numeric, 2), NULL, NULL
FROM l
LEFT JOIN odoo_migrate.id_map m ON m.model = 'account.move' AND m.target_id = l.invoice::int
WHERE l.invoice IS NOT NULL
GROUP BY 1, 2
