-- Timesheets of the Odoo 16 source (analytic lines of a project, hr_timesheet): per company, the
-- hours per project (all of them, those of a sale order line, those invoiced), per employee, per
-- invoicing type, and per invoice that billed them. Columns sale_timesheet adds (so_line,
-- timesheet_invoice_id, timesheet_invoice_type) are read through to_jsonb, so that a database
-- without sale_timesheet gives NULL there instead of an error. Only hours are compared, not
-- lines: Odoo 19 creates two lines of its own (0 hours) when its project app is installed.
WITH l AS (
    SELECT l.company_id, l.project_id, l.employee_id, l.unit_amount,
           to_jsonb(l) ->> 'so_line' AS so_line,
           to_jsonb(l) ->> 'timesheet_invoice_id' AS invoice,
           to_jsonb(l) ->> 'timesheet_invoice_type' AS invoice_type
    FROM account_analytic_line l
    WHERE l.project_id IS NOT NULL
)
SELECT company_id,
       'project ' || project_id AS subject,
       round(sum(unit_amount)::numeric, 2) AS hours,
       round(coalesce(sum(unit_amount) FILTER (WHERE so_line IS NOT NULL), 0)::numeric, 2) AS ordered,
       round(coalesce(sum(unit_amount) FILTER (WHERE invoice IS NOT NULL), 0)::numeric, 2) AS invoiced
FROM l
GROUP BY 1, 2
UNION ALL
SELECT company_id, 'employee ' || coalesce(employee_id::text, 'none'), round(sum(unit_amount)::numeric, 2), NULL, NULL
FROM l
GROUP BY 1, 2
UNION ALL
SELECT company_id, 'invoicing ' || coalesce(invoice_type, 'none'), round(sum(unit_amount)::numeric, 2), NULL, NULL
FROM l
GROUP BY 1, 2
UNION ALL
SELECT company_id, 'invoice ' || invoice, round(sum(unit_amount)::numeric, 2), NULL, NULL
FROM l
WHERE invoice IS NOT NULL
GROUP BY 1, 2
