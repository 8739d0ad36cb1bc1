-- Open receivables and payables of the Odoo 19 target, company and partner ids translated back to
-- the source's (an untranslatable partner shows as 'unmapped').
SELECT c.source_id AS company_id,
       'partner ' || CASE WHEN l.partner_id IS NULL THEN 'none' ELSE coalesce(p.source_id::text, 'unmapped') END
           || '|' || a.account_type AS subject,
       round(sum(l.amount_residual), 2) AS residual
FROM account_move_line l
JOIN account_move m ON m.id = l.move_id AND m.state = 'posted'
JOIN account_account a ON a.id = l.account_id
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = l.company_id
LEFT JOIN odoo_migrate.id_map p ON p.model = 'res.partner' AND p.target_id = l.partner_id
WHERE a.account_type IN ('asset_receivable', 'liability_payable')
GROUP BY 1, 2
HAVING round(sum(l.amount_residual), 2) <> 0
