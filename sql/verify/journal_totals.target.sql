-- General ledger totals of the Odoo 19 target, company ids translated back to the source's.
SELECT c.source_id AS company_id,
       'journal ' || j.code AS subject,
       count(DISTINCT m.id) AS entries,
       round(sum(l.debit), 2) AS debit,
       round(sum(l.credit), 2) AS credit
FROM account_move m
JOIN account_journal j ON j.id = m.journal_id
JOIN account_move_line l ON l.move_id = m.id
LEFT JOIN odoo_migrate.id_map c ON c.model = 'res.company' AND c.target_id = m.company_id
WHERE m.state = 'posted'
GROUP BY 1, 2
