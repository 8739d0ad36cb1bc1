-- Time off of the Odoo 19 target (ids translated back): per company (the employee's, else the
-- request's: 16's company-wide requests had no employee), employee
-- and leave type, the days taken (validate), waiting (confirm, validate1) and allocated (validate);
-- refused and cancelled ones count nowhere (see time_off.source.sql).
WITH t AS (
    SELECT coalesce(l.employee_company_id, l.company_id) AS company_id, l.employee_id, l.holiday_status_id, 'leave' AS kind,
           l.state, l.number_of_days
    FROM hr_leave l
    UNION ALL
    SELECT a.employee_company_id, a.employee_id, a.holiday_status_id, 'allocation', a.state, a.number_of_days
    FROM hr_leave_allocation a
)
SELECT c.source_id AS company_id,
       'employee ' || CASE WHEN t.employee_id IS NULL THEN 'none' ELSE coalesce(e.source_id::text, 'unmapped') END
           || '|type ' || coalesce(ty.source_id::text, 'unmapped') || '|' || t.kind AS subject,
       round(coalesce(sum(t.number_of_days) FILTER (WHERE t.state = 'validate'), 0)::numeric, 2) AS approved,
       round(coalesce(sum(t.number_of_days) FILTER (WHERE t.state IN ('confirm', 'validate1')), 0)::numeric, 2) AS waiting
FROM t
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = t.company_id
LEFT JOIN odoo_migrate.id_map e ON e.model = 'hr.employee' AND e.target_id = t.employee_id
LEFT JOIN odoo_migrate.id_map ty ON ty.model = 'hr.leave.type' AND ty.target_id = t.holiday_status_id
WHERE t.state NOT IN ('refuse', 'cancel')
GROUP BY 1, 2
