-- Time off of the Odoo 16 source: per company (the employee's), employee and leave type, the
-- days taken (approved requests), the days requested and waiting for approval, and the days
-- allocated (approved allocations). 16 archived a request or an allocation to cancel it; 18
-- replaced that by states (cancel / refuse), and 16's draft is 19's waiting state (confirm):
--   request     active and validate                        → taken
--               active and draft, confirm or validate1     → waiting
--   allocation  active and validate                        → allocated
--               active and draft, confirm or validate1     → waiting
-- Refused and cancelled ones count nowhere.
WITH t AS (
    SELECT coalesce(l.employee_company_id, l.mode_company_id) AS company_id, l.employee_id,
           l.holiday_status_id, 'leave' AS kind, l.state, coalesce(l.active, true) AS active, l.number_of_days
    FROM hr_leave l
    UNION ALL
    SELECT coalesce(a.employee_company_id, a.mode_company_id), a.employee_id,
           a.holiday_status_id, 'allocation', a.state, coalesce(a.active, true), a.number_of_days
    FROM hr_leave_allocation a
)
SELECT company_id,
       'employee ' || coalesce(employee_id::text, 'none') || '|type ' || holiday_status_id || '|' || kind AS subject,
       round(coalesce(sum(number_of_days) FILTER (WHERE state = 'validate'), 0)::numeric, 2) AS approved,
       round(coalesce(sum(number_of_days) FILTER (WHERE state IN ('draft', 'confirm', 'validate1')), 0)::numeric, 2) AS waiting
FROM t
WHERE active AND state NOT IN ('refuse', 'cancel')
GROUP BY 1, 2
