-- Open receivables and payables of the Odoo 16 source: per company, partner and account type,
-- the residual amount of posted items on receivable and payable accounts, where not settled.
SELECT l.company_id,
       'partner ' || coalesce(l.partner_id::text, 'none') || '|' || a.account_type AS subject,
       round(sum(l.amount_residual), 2) AS residual
FROM account_move_line l
JOIN account_move m ON m.id = l.move_id AND m.state = 'posted'
JOIN account_account a ON a.id = l.account_id
WHERE a.account_type IN ('asset_receivable', 'liability_payable')
GROUP BY 1, 2
HAVING round(sum(l.amount_residual), 2) <> 0
