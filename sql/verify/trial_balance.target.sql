-- Trial balance of the Odoo 19 target, company ids translated back to the source's: the account
-- code is the line's company entry of code_store.
SELECT c.source_id AS company_id,
       extract(year FROM l.date)::int || '|' || coalesce(a.code_store ->> l.company_id::text, '?') AS subject,
       round(sum(l.debit), 2) AS debit,
       round(sum(l.credit), 2) AS credit,
       round(sum(l.balance), 2) AS balance
FROM account_move_line l
JOIN account_move m ON m.id = l.move_id AND m.state = 'posted'
JOIN account_account a ON a.id = l.account_id
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = l.company_id
GROUP BY 1, 2
