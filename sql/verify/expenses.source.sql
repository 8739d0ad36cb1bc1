-- Expenses of the Odoo 16 source, in the states of Odoo 19: per company, the expenses and their
-- total (company currency) per state, and per employee. 16 had expense reports
-- (hr.expense.sheet) and an expense's state followed its report; 19 has no reports and gives the
-- expense a state of its own. The meaning kept:
--   refused expense, or report cancelled             → refused
--   no report, or report in draft (not submitted)    → draft
--   report submitted (submit)                        → submitted
--   report approved (approve)                        → approved
--   report posted or done (post, done)               → paid when the company paid (company_account:
--                                                       nothing owed to the employee); in_payment
--                                                       when its payment is in payment or partial;
--                                                       paid when done, paid or reversed; else
--                                                       posted (entry posted, not paid)
WITH e AS (
    SELECT e.company_id, e.employee_id, e.total_amount_company AS total,
           CASE
               WHEN e.state = 'refused' OR s.state = 'cancel' THEN 'refused'
               WHEN s.id IS NULL OR s.state = 'draft' THEN 'draft'
               WHEN s.state = 'submit' THEN 'submitted'
               WHEN s.state = 'approve' THEN 'approved'
               WHEN e.payment_mode = 'company_account' THEN 'paid'
               WHEN s.payment_state IN ('in_payment', 'partial') THEN 'in_payment'
               WHEN s.state = 'done' OR s.payment_state IN ('paid', 'reversed') THEN 'paid'
               ELSE 'posted'
           END AS state
    FROM hr_expense e
    LEFT JOIN hr_expense_sheet s ON s.id = e.sheet_id
)
SELECT company_id,
       'state|' || state AS subject,
       count(*) AS expenses,
       round(sum(total), 2) AS total
FROM e
GROUP BY 1, 2
UNION ALL
SELECT company_id, 'employee ' || employee_id || '|' || state, count(*), round(sum(total), 2)
FROM e
GROUP BY 1, 2
